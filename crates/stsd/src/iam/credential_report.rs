//! The credential report (`GenerateCredentialReport`, `GetCredentialReport`): AWS's CSV of every user's
//! credentials, the account root first as `<root_account>`, in AWS's column order and value vocabulary
//! (`true`/`false`, `N/A`, `not_supported`, `no_information`, times as `2006-01-02T15:04:05+00:00`).
//!
//! States: a report is generated within the `GenerateCredentialReport` call that starts it (`STARTED`), so
//! `INPROGRESS`/`ReportInProgress` never occur; a later call within [`REUSE_SECS`] answers `COMPLETE` and
//! keeps the report. `GetCredentialReport` answers `ReportNotPresent` before the first report and
//! `ReportExpired` once the report is older than [`EXPIRES_SECS`]. The report is stored
//! (`store::Kind::CredentialReport`), so it survives restarts.

use stsd_wire::generated::iam as w;

use super::{Ctx, fmt_time};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{AccessKey, Account, CredentialReport, KeyStatus, MfaOwner};
use crate::store::Kind;

/// A report younger than this is reused (AWS: "as often as once every four hours").
pub const REUSE_SECS: i64 = 4 * 3600;
/// A report older than this is `ReportExpired` (AWS does not say when reports expire; tools such as Cloud
/// Custodian read reports up to a day old and regenerate older ones themselves).
pub const EXPIRES_SECS: i64 = 30 * 86_400;

/// The CSV header, AWS's columns in AWS's order.
pub const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,\
password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,\
access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,\
access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,\
access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

const NA: &str = "N/A";

/// Report time format: ISO 8601 with a numeric UTC offset, as AWS writes it in the CSV.
fn report_time(t: i64) -> String {
    let mut s = fmt_time(t);
    if s.ends_with('Z') {
        s.pop();
        s.push_str("+00:00");
    }
    s
}

fn flag(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// RFC 4180 quoting for the rare field that needs it (names may contain `,`).
fn push_field(line: &mut String, field: &str) {
    if !line.is_empty() {
        line.push(',');
    }
    if field.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

/// The eight access-key columns of one row: up to two keys in creation order.
fn key_fields(ctx: &Ctx<'_>, acct: &Account, keys: &[AccessKey]) -> Vec<String> {
    let mut out = Vec::with_capacity(10);
    for slot in 0..2 {
        match keys.get(slot) {
            Some(k) => {
                out.push(flag(k.status == KeyStatus::Active).to_string());
                out.push(report_time(k.created));
                match crate::usage::key_last_used(&ctx.node.usage, acct, &k.id) {
                    Some(u) => {
                        out.push(report_time(u.date));
                        out.push(if u.region.is_empty() {
                            NA.to_string()
                        } else {
                            u.region
                        });
                        out.push(if u.service.is_empty() {
                            NA.to_string()
                        } else {
                            u.service
                        });
                    }
                    None => out.extend([NA, NA, NA].map(String::from)),
                }
            }
            None => out.extend(["false", NA, NA, NA, NA].map(String::from)),
        }
    }
    out
}

/// The whole CSV for `acct` as it is now (stored uses merged with pending ones).
pub fn build(ctx: &Ctx<'_>, acct: &Account) -> String {
    let mut out = String::from(HEADER);
    let no_certs = ["false", NA, "false", NA];
    // The account root.
    let mut row = vec![
        "<root_account>".to_string(),
        acct.root_arn(),
        report_time(acct.meta.created),
        "not_supported".into(),
        "no_information".into(),
        "not_supported".into(),
        "not_supported".into(),
        flag(acct.mfa_devices_of(&MfaOwner::Root).next().is_some()).into(),
    ];
    row.extend(key_fields(ctx, acct, &acct.meta.root_keys));
    row.extend(no_certs.map(String::from));
    push_row(&mut out, &row);
    for u in acct.users.values() {
        let owner = MfaOwner::User { id: u.id.clone() };
        let mut row = vec![
            u.name.clone(),
            acct.user_arn(u),
            report_time(u.created),
            // password_enabled, password_last_used, password_last_changed, password_next_rotation.
            flag(u.login_profile.is_some()).into(),
            match (&u.login_profile, u.password_last_used) {
                (None, _) => NA.into(),
                (Some(_), None) => "no_information".into(),
                (Some(_), Some(t)) => report_time(t),
            },
            u.login_profile
                .as_ref()
                .map_or_else(|| NA.into(), |lp| report_time(lp.changed)),
            match (
                &u.login_profile,
                acct.meta
                    .password_policy
                    .as_ref()
                    .and_then(|p| p.max_age_days),
            ) {
                (Some(lp), Some(days)) => report_time(lp.changed + i64::from(days) * 86_400),
                _ => NA.into(),
            },
            flag(acct.mfa_devices_of(&owner).next().is_some()).into(),
        ];
        row.extend(key_fields(ctx, acct, &u.keys));
        row.extend(no_certs.map(String::from));
        push_row(&mut out, &row);
    }
    out
}

fn push_row(out: &mut String, fields: &[String]) {
    let mut line = String::new();
    for f in fields {
        push_field(&mut line, f);
    }
    out.push('\n');
    out.push_str(&line);
}

pub fn generate_credential_report(
    ctx: &Ctx<'_>,
    _input: w::GenerateCredentialReportRequest,
) -> ApiResult<w::GenerateCredentialReportResponse> {
    ctx.node.write(|st, t| {
        ctx.authorize(st, "iam:GenerateCredentialReport", "*")?;
        let acct = ctx.account(st)?;
        let previous = acct.credential_report.as_ref().map(|r| r.generated);
        if previous.is_some_and(|g| ctx.now - g < REUSE_SECS) {
            return Ok(w::GenerateCredentialReportResponse {
                state: Some("COMPLETE".into()),
                description: None,
            });
        }
        let content = build(ctx, acct);
        ctx.account_mut(st)?.credential_report = Some(CredentialReport {
            generated: ctx.now,
            content,
        });
        t.touch(
            Kind::CredentialReport,
            &ctx.caller.account,
            &ctx.caller.account,
        );
        Ok(w::GenerateCredentialReportResponse {
            state: Some("STARTED".into()),
            description: previous
                .is_none()
                .then(|| "No report exists. Starting a new report generation task".into()),
        })
    })
}

pub fn get_credential_report(
    ctx: &Ctx<'_>,
    _input: w::GetCredentialReportRequest,
) -> ApiResult<w::GetCredentialReportResponse> {
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:GetCredentialReport", "*")?;
    let acct = ctx.account(&st)?;
    let Some(report) = &acct.credential_report else {
        return Err(ApiError::new(
            ErrorCode::ReportNotPresent,
            "The request was rejected because the credential report does not exist. To generate a credential report, use GenerateCredentialReport.",
        ));
    };
    if ctx.now - report.generated > EXPIRES_SECS {
        return Err(ApiError::new(
            ErrorCode::ReportExpired,
            "The request was rejected because the most recent credential report has expired. To generate a new credential report, use GenerateCredentialReport.",
        ));
    }
    // `Content` is a blob: the encoder base64-encodes it.
    Ok(w::GetCredentialReportResponse {
        content: Some(report.content.as_bytes().to_vec()),
        report_format: Some("text/csv".into()),
        generated_time: Some(report.generated),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut line = String::new();
        push_field(&mut line, "alice");
        push_field(&mut line, "a,b");
        push_field(&mut line, "say \"hi\"");
        assert_eq!(line, "alice,\"a,b\",\"say \"\"hi\"\"\"");
    }

    #[test]
    fn times_carry_a_numeric_offset() {
        assert_eq!(report_time(1_497_062_107), "2017-06-10T02:35:07+00:00");
    }

    #[test]
    fn header_has_all_of_awss_columns() {
        let cols: Vec<&str> = HEADER.split(',').collect();
        assert_eq!(cols.len(), 22);
        assert_eq!(cols.first(), Some(&"user"));
        assert_eq!(cols.get(12), Some(&"access_key_1_last_used_service"));
        assert_eq!(cols.last(), Some(&"cert_2_last_rotated"));
    }
}
