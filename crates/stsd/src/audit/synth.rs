//! Synthetic audit events for benchmarks (`stsd audit generate`): a trail of millions of events shaped like
//! real traffic — mostly AssumeRole by IAM users, GetCallerIdentity by role sessions, some IAM reads and a few
//! IAM writes — spread over a time window, appended through the same encoder and store path as the server's
//! writer. Measuring bytes per event uses real traffic (`scripts/bench-audit.sh`); this only fills a trail
//! large enough to time lookups on.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::store::{AuditRow, Store, StoreError};

use super::trail::Codec;

/// How many distinct users, roles and access keys the synthetic traffic uses.
pub const USERS: usize = 1000;
pub const ROLES: usize = 200;
const KEYS_PER_USER: usize = 3;
const AGENTS: [&str; 4] = [
    "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe command/sts.assume-role",
    "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.0",
    "aws-sdk-rust/1.3.3 os/linux lang/rust/1.82.0",
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.3",
];

/// Deterministic names, so a benchmark can ask for values that exist.
pub fn user_name(i: usize) -> String {
    format!("svc-user-{i:04}")
}
pub fn role_name(i: usize) -> String {
    format!("app-role-{i:03}")
}
pub fn user_key(user: usize, k: usize) -> String {
    format!("AKIA{:016}", user * KEYS_PER_USER + k)
}

fn time_text(t: i64) -> String {
    stsd_wire::time::iso8601(t)
}

/// A random element of a non-empty list.
fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items
        .get(rng.random_range(0..items.len().max(1)))
        .copied()
        .unwrap_or_default()
}

/// One synthetic event at time `t`.
pub fn event(rng: &mut StdRng, account: &str, t: i64) -> AuditRow {
    let user = rng.random_range(0..USERS);
    let role = rng.random_range(0..ROLES);
    let key = user_key(user, rng.random_range(0..KEYS_PER_USER));
    let user_name = user_name(user);
    let role_name = role_name(role);
    let agent = pick(rng, &AGENTS);
    let ip = format!(
        "10.{}.{}.{}",
        user % 7,
        user % 251,
        rng.random_range(1..255)
    );
    let event_id = super::trail::new_event_id(t);
    let request_id = uuid::Uuid::new_v4().to_string();
    let when = time_text(t);
    let user_identity = format!(
        r#"{{"accessKeyId":"{key}","accountId":"{account}","arn":"arn:aws:iam::{account}:user/{user_name}","principalId":"AIDA{:017}","type":"IAMUser","userName":"{user_name}"}}"#,
        user
    );
    let common = |name: &str,
                  source: &str,
                  read_only: bool,
                  identity: &str,
                  params: &str,
                  resources: &str,
                  response: &str| {
        format!(
            r#"{{"awsRegion":"us-east-1","eventCategory":"Management","eventID":"{event_id}","eventName":"{name}","eventSource":"{source}","eventTime":"{when}","eventType":"AwsApiCall","eventVersion":"1.08","managementEvent":true,"readOnly":{read_only},"recipientAccountId":"{account}","requestID":"{request_id}","requestParameters":{params},"resources":{resources},"responseElements":{response},"sourceIPAddress":"{ip}","userAgent":"{agent}","userIdentity":{identity}}}"#
        )
    };
    let roll = rng.random_range(0..100);
    let mut row = AuditRow {
        account: account.to_string(),
        event_id: event_id.clone(),
        event_time: t,
        ..AuditRow::default()
    };
    if roll < 60 {
        let session = format!("job-{}", rng.random_range(0..100_000));
        let temp = format!(
            "ASIA{:016}",
            rng.random_range(0..u64::MAX / 16) % 10_000_000_000_000_000
        );
        let role_arn = format!("arn:aws:iam::{account}:role/{role_name}");
        let assumed = format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}");
        row.body = common(
            "AssumeRole",
            "sts.amazonaws.com",
            true,
            &user_identity,
            &format!(r#"{{"roleArn":"{role_arn}","roleSessionName":"{session}"}}"#),
            &format!(
                r#"[{{"ARN":"{role_arn}","accountId":"{account}","type":"AWS::IAM::Role"}},{{"ARN":"{temp}","type":"AWS::IAM::AccessKey"}},{{"ARN":"{assumed}","accountId":"{account}","type":"AWS::STS::AssumedRole"}}]"#
            ),
            &format!(
                r#"{{"assumedRoleUser":{{"arn":"{assumed}","assumedRoleId":"AROA{role:017}:{session}"}},"credentials":{{"accessKeyId":"{temp}","expiration":"{when}"}}}}"#
            ),
        );
        row.event_name = "AssumeRole".into();
        row.event_source = "sts.amazonaws.com".into();
        row.username = user_name;
        row.access_key_id = key;
        row.read_only = true;
        row.resources = vec![
            ("AWS::IAM::Role".into(), role_arn),
            ("AWS::IAM::AccessKey".into(), temp),
            ("AWS::STS::AssumedRole".into(), assumed),
        ];
    } else if roll < 85 {
        let session = format!("job-{}", rng.random_range(0..100_000));
        let temp = format!("ASIA{:016}", rng.random_range(0..10_000_000_000_000_000u64));
        let identity = format!(
            r#"{{"accessKeyId":"{temp}","accountId":"{account}","arn":"arn:aws:sts::{account}:assumed-role/{role_name}/{session}","principalId":"AROA{role:017}:{session}","sessionContext":{{"attributes":{{"creationDate":"{when}","mfaAuthenticated":"false"}},"sessionIssuer":{{"accountId":"{account}","arn":"arn:aws:iam::{account}:role/{role_name}","principalId":"AROA{role:017}","type":"Role","userName":"{role_name}"}}}},"type":"AssumedRole"}}"#
        );
        row.body = common(
            "GetCallerIdentity",
            "sts.amazonaws.com",
            true,
            &identity,
            "null",
            "[]",
            "null",
        );
        row.event_name = "GetCallerIdentity".into();
        row.event_source = "sts.amazonaws.com".into();
        row.username = session;
        row.access_key_id = temp;
        row.read_only = true;
    } else if roll < 95 {
        let name = if roll < 90 { "GetUser" } else { "ListRoles" };
        let params = if name == "GetUser" {
            format!(r#"{{"userName":"{user_name}"}}"#)
        } else {
            "null".to_string()
        };
        row.body = common(
            name,
            "iam.amazonaws.com",
            true,
            &user_identity,
            &params,
            "[]",
            "null",
        );
        row.event_name = name.into();
        row.event_source = "iam.amazonaws.com".into();
        row.username = user_name;
        row.access_key_id = key;
        row.read_only = true;
    } else {
        let names = [
            "CreateUser",
            "PutUserPolicy",
            "DeleteUser",
            "AttachRolePolicy",
        ];
        let name = pick(rng, &names);
        let target = self::user_name(rng.random_range(0..USERS));
        let arn = format!("arn:aws:iam::{account}:user/{target}");
        row.body = common(
            name,
            "iam.amazonaws.com",
            false,
            &user_identity,
            &format!(r#"{{"userName":"{target}"}}"#),
            &format!(r#"[{{"ARN":"{arn}","accountId":"{account}","type":"AWS::IAM::User"}}]"#),
            "null",
        );
        row.event_name = name.into();
        row.event_source = "iam.amazonaws.com".into();
        row.username = user_name;
        row.access_key_id = key;
        row.read_only = false;
        row.resources = vec![("AWS::IAM::User".into(), arn)];
    }
    row
}

/// Events per block of a synthetic trail: the writer's mean group commit under AssumeRole load at c=64
/// (`stsd_audit_committed_events_total / stsd_audit_commits_total`, 18–19 on two cores).
const SYNTH_BLOCK: usize = 18;

/// Append `n` synthetic events for `account`, evenly spaced over `[from, to]`, in batches of
/// [`super::MAX_BATCH`]. Returns the number appended.
pub fn generate(
    store: &dyn Store,
    account: &str,
    n: u64,
    from: i64,
    to: i64,
    seed: u64,
) -> Result<u64, StoreError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut codec = Codec::new();
    let span = (to - from).max(0);
    let mut done = 0u64;
    while done < n {
        let batch = (n - done).min(super::MAX_BATCH as u64);
        let rows: Vec<_> = (done..done + batch)
            .map(|i| {
                // An interpolated time between two i64 times: it fits an i64.
                let t = from + ((i as i128 * i128::from(span)) / i128::from(n.max(1))) as i64;
                event(&mut rng, account, t)
            })
            .collect();
        // Blocks of the size the writer's group commits reach under load.
        let encoded: Vec<_> = rows
            .chunks(SYNTH_BLOCK)
            .flat_map(|c| codec.encode(c))
            .collect();
        store.audit_append(&encoded)?;
        done += batch;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_events_are_valid_cloudtrail_json_and_decode() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut codec = Codec::new();
        let mut names = std::collections::BTreeSet::new();
        for i in 0..2000 {
            let row = event(&mut rng, "111122223333", 1_700_000_000 + i);
            let v: serde_json::Value = serde_json::from_str(&row.body).unwrap();
            assert_eq!(v["eventName"], row.event_name.as_str());
            assert_eq!(v["eventID"], row.event_id.as_str());
            let enc = codec.encode(std::slice::from_ref(&row));
            let block = crate::store::StoredBlock {
                seq: 1,
                count: 1,
                hash: Vec::new(),
                data: enc[0].data.clone(),
            };
            assert_eq!(codec.decode(&block).unwrap()[0].body, row.body);
            names.insert(row.event_name);
        }
        assert!(names.contains("AssumeRole") && names.contains("CreateUser"));
    }
}
