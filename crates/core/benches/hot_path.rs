//! Criterion benchmarks of the per-request pieces stsd-core owns (issue #14): `cargo bench -p stsd-core`.
//!
//! * `token/seal`: seal an AssumeRole session's claims (what every AssumeRole answer carries).
//! * `token/open_remembered`: open a token the key ring opened before (a session's second and later request).
//! * `token/open_first`: open a token not seen before (decrypt and parse; 20,000 distinct sessions in turn, more
//!   than the ring remembers, so every open is a first one).
//! * `audit/encode_block_1`, `audit/encode_block_18`: compress one AssumeRole CloudTrail event, and a group
//!   commit's 18, into a stored block.
//! * `audit/append_block_18`: store an encoded block of 18 events in the embedded store (one SQLite transaction:
//!   the block row, its group span and index keys, the head; the WAL frames written at `COMMIT`).
#![expect(
    clippy::unwrap_used,
    reason = "bench code: a failed unwrap fails the bench"
)]
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stsd_core::store::sqlite::SqliteStore;
use stsd_core::tokens::{Claims, KeyRing, SessionKind};
use stsd_core::trail::{AuditRow, Codec};

const NOW: i64 = 1_700_000_000;

fn claims() -> Claims {
    Claims {
        account: "111122223333".into(),
        kind: SessionKind::Role {
            role_name: "bench-role".into(),
            role_path: "/".into(),
            role_id: "AROAEXAMPLEEXAMPLE01".into(),
        },
        session_name: "bench-session".into(),
        issued: NOW,
        expires: NOW + 3600,
        policy: None,
        policy_arns: vec![],
        policy_ids: vec![],
        tags: vec![("team".into(), "platform".into())],
        transitive: vec![],
        source_identity: None,
        mfa_at: None,
        chained: false,
        issuer_arn: "arn:aws:iam::111122223333:user/bench".into(),
        federated_provider: None,
        federation_keys: vec![],
        console: false,
    }
}

fn tokens(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
    let ring = KeyRing::load(&store, NOW).unwrap();
    let claims = claims();
    let mut g = c.benchmark_group("token");
    g.bench_function("seal", |b| {
        b.iter(|| {
            ring.seal(black_box("ASIAEXAMPLEEXAMPLE01"), black_box(&claims))
                .unwrap()
        });
    });
    let (_, token) = ring.seal("ASIAEXAMPLEEXAMPLE01", &claims).unwrap();
    g.bench_function("open_remembered", |b| {
        b.iter(|| {
            ring.open(black_box("ASIAEXAMPLEEXAMPLE01"), black_box(&token), NOW)
                .unwrap()
        });
    });
    let sessions: Vec<(String, String)> = (0..20_000)
        .map(|i| {
            let key_id = format!("ASIA{i:016}");
            let (_, token) = ring.seal(&key_id, &claims).unwrap();
            (key_id, token)
        })
        .collect();
    let mut next = sessions.iter().cycle();
    g.bench_function("open_first", |b| {
        b.iter(|| {
            let (key_id, token) = next.next().unwrap();
            ring.open(black_box(key_id), black_box(token), NOW).unwrap()
        });
    });
    g.finish();
}

/// An AssumeRole event as the server records it (field order and sizes of a real one).
fn assume_role_row() -> AuditRow {
    let body = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEEXAMPLE01","arn":"arn:aws:iam::111122223333:user/bench","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEEXAMPLE01","userName":"bench"},"eventTime":"2026-11-30T12:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"127.0.0.1","userAgent":"aws-sdk-rust/1.3.9 os/linux lang/rust/1.95.0","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/bench-role","roleSessionName":"bench-session","durationSeconds":3600},"responseElements":{"credentials":{"accessKeyId":"ASIAEXAMPLEEXAMPLE02","expiration":"2026-11-30T13:00:00Z"},"assumedRoleUser":{"assumedRoleId":"AROAEXAMPLEEXAMPLE01:bench-session","arn":"arn:aws:sts::111122223333:assumed-role/bench-role/bench-session"},"packedPolicySize":0},"requestID":"0192f2a1-7c3e-7b21-9e55-4f5a6b7c8d9e","eventID":"0192f2a1-7c3e-7b21-9e55-4f5a6b7c8d9f","readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::IAM::Role","ARN":"arn:aws:iam::111122223333:role/bench-role"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"clientProvidedHostHeader":"127.0.0.1:8556"}}"#;
    AuditRow {
        seq: 0,
        account: "111122223333".into(),
        event_id: "0192f2a1-7c3e-7b21-9e55-4f5a6b7c8d9f".into(),
        event_time: NOW,
        event_name: "AssumeRole".into(),
        event_source: "sts.amazonaws.com".into(),
        username: "bench".into(),
        access_key_id: "AKIAEXAMPLEEXAMPLE01".into(),
        read_only: true,
        resources: vec![(
            "AWS::IAM::Role".into(),
            "arn:aws:iam::111122223333:role/bench-role".into(),
        )],
        body: body.into(),
    }
}

fn audit(c: &mut Criterion) {
    let row = assume_role_row();
    let mut codec = Codec::new();
    // One event alone: a lone client's commit.
    c.bench_function("audit/encode_block_1", |b| {
        b.iter(|| codec.encode(black_box(std::slice::from_ref(&row))));
    });
    // 18 events (distinct IDs, as the server writes them): the mean group commit at c=64.
    let rows: Vec<AuditRow> = (0..18)
        .map(|i| {
            let id = format!("{:08x}-5d2a-7c1e-9f3b-4a6d8e0c1b2{}", i, i % 10);
            AuditRow {
                event_id: id.clone(),
                body: row.body.replace(&row.event_id, &id),
                ..row.clone()
            }
        })
        .collect();
    c.bench_function("audit/encode_block_18", |b| {
        b.iter(|| codec.encode(black_box(&rows)));
    });
    // Store a commit's block (encoded beforehand) in the embedded store: what the writer does after encoding.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
    let mut t = NOW;
    c.bench_function("audit/append_block_18", |b| {
        b.iter_batched(
            || {
                t += 1;
                let rows: Vec<AuditRow> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| AuditRow {
                        event_id: format!("{t:x}-{i}"),
                        event_time: t,
                        ..r.clone()
                    })
                    .collect();
                codec.encode(&rows)
            },
            |blocks| stsd_core::store::Store::audit_append(&store, &blocks).unwrap(),
            criterion::BatchSize::SmallInput,
        );
    });
    let bytes: usize = codec.encode(&rows).iter().map(|b| b.data.len()).sum();
    eprintln!(
        "audit/encode_block_18: {} bytes per event",
        bytes / rows.len()
    );
}

criterion_group!(benches, tokens, audit);
criterion_main!(benches);
