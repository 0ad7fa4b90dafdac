//! The credential scope (`AKID/date/region/service/aws4_request`) and the clock checks
//! (reference §1.6.3, §1.6.6, §1.6.8).

use crate::date::format_amz_date;
use crate::{MAX_FIELD_LEN, MAX_SKEW_SECS, ParsedAuth, SigV4Error, SignatureForm};

/// The credential scope: `AKID/date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    /// `YYYYMMDD`, must equal the date part of the request time.
    pub date: String,
    /// Any non-empty region is accepted (clients sign with their configured region, reference §1.5).
    pub region: String,
    pub service: String,
    /// Must be `aws4_request`; kept so the check can report it.
    pub terminator: String,
}

impl Credential {
    /// `date/region/service/terminator`, as it appears in the string to sign.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.date, self.region, self.service, self.terminator
        )
    }
}

/// Parse the `Credential` value. The key ID is everything before the first `/`; exactly four scope
/// parts must follow.
pub(crate) fn parse_credential(value: &str) -> Result<Credential, SigV4Error> {
    if value.len() > MAX_FIELD_LEN {
        return Err(SigV4Error::incomplete("Credential is too long."));
    }
    let mut parts = value.split('/');
    let (Some(key), Some(date), Some(region), Some(service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SigV4Error::incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{value}'"
        )));
    };
    if key.is_empty() {
        return Err(SigV4Error::incomplete(format!(
            "Credential must contain an access key ID, got '{value}'"
        )));
    }
    Ok(Credential {
        access_key_id: key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        terminator: terminator.to_string(),
    })
}

/// `N min.` when whole minutes, else `N sec.`, as in AWS's expiry messages.
fn describe_window(secs: i64) -> String {
    if secs % 60 == 0 {
        format!("{} min.", secs / 60)
    } else {
        format!("{secs} sec.")
    }
}

fn not_yet_current(auth: &ParsedAuth, now: i64) -> SigV4Error {
    SigV4Error::mismatch(format!(
        "Signature not yet current: {} is still later than {} ({} + 15 min.)",
        auth.amz_date,
        format_amz_date(now.saturating_add(MAX_SKEW_SECS)),
        format_amz_date(now)
    ))
}

fn expired(auth: &ParsedAuth, now: i64, window: i64) -> SigV4Error {
    SigV4Error::mismatch(format!(
        "Signature expired: {} is now earlier than {} ({} - {})",
        auth.amz_date,
        format_amz_date(now.saturating_sub(window)),
        format_amz_date(now),
        describe_window(window)
    ))
}

/// Check the credential scope and the clock, before any key lookup (reference §1.6.9 steps 3-4).
///
/// * scope date = date part of the request time, terminator `aws4_request`, a non-empty region (any),
///   service = `expected_service` — else `SignatureDoesNotMatch` with AWS's messages;
/// * header form: `|now - X-Amz-Date| <= 15 min`;
/// * presigned form: `X-Amz-Date <= now + 15 min` and `now <= X-Amz-Date + min(X-Amz-Expires, max_presign_secs)`.
pub fn check_scope_and_time(
    auth: &ParsedAuth,
    expected_service: &str,
    now_unix: i64,
    max_presign_secs: u64,
) -> Result<(), SigV4Error> {
    let c = &auth.credential;
    let http_date = auth.amz_date.get(..8).unwrap_or("");
    if http_date != c.date {
        return Err(SigV4Error::mismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            c.date, http_date, auth.amz_date
        )));
    }
    if c.terminator != "aws4_request" {
        return Err(SigV4Error::mismatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            c.terminator
        )));
    }
    if c.region.is_empty() {
        return Err(SigV4Error::mismatch(
            "Credential should be scoped to a valid region.",
        ));
    }
    if c.service != expected_service {
        return Err(SigV4Error::mismatch(format!(
            "Credential should be scoped to correct service: '{expected_service}'."
        )));
    }
    let now = now_unix;
    if auth.timestamp > now.saturating_add(MAX_SKEW_SECS) {
        return Err(not_yet_current(auth, now));
    }
    match auth.form {
        SignatureForm::Header => {
            if auth.timestamp < now.saturating_sub(MAX_SKEW_SECS) {
                return Err(expired(auth, now, MAX_SKEW_SECS));
            }
        }
        SignatureForm::Presigned { expires_secs } => {
            let window = i64::try_from(expires_secs.min(max_presign_secs)).unwrap_or(i64::MAX);
            if now > auth.timestamp.saturating_add(window) {
                return Err(expired(auth, now, window));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_742_040_000; // 20250315T120000Z

    fn auth(form: SignatureForm, scope: &str) -> ParsedAuth {
        ParsedAuth {
            credential: parse_credential(&format!("AKIAEXAMPLE/{scope}")).unwrap(),
            amz_date: "20250315T120000Z".into(),
            timestamp: T,
            signed_headers: vec!["host".into()],
            signature: String::new(),
            security_token: None,
            form,
            date_from_amz_header: true,
        }
    }

    fn err(a: &ParsedAuth, now: i64) -> String {
        check_scope_and_time(a, "sts", now, 900)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn credential_parts() {
        let c = parse_credential("AKIA/20250315/eu-west-1/iam/aws4_request").unwrap();
        assert_eq!(c.access_key_id, "AKIA");
        assert_eq!(c.scope(), "20250315/eu-west-1/iam/aws4_request");
        for bad in ["AKIA/20250315/us-east-1/sts", "a/b/c/d/e/f", "/a/b/c/d", ""] {
            assert_eq!(
                parse_credential(bad).unwrap_err().code(),
                "IncompleteSignature"
            );
        }
    }

    #[test]
    fn scope_messages() {
        let h = SignatureForm::Header;
        assert_eq!(
            err(&auth(h, "20250316/us-east-1/sts/aws4_request"), T),
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20250316' != '20250315', from '20250315T120000Z'."
        );
        assert_eq!(
            err(&auth(h, "20250315/us-east-1/sts/aws5_request"), T),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
        );
        assert_eq!(
            err(&auth(h, "20250315//sts/aws4_request"), T),
            "Credential should be scoped to a valid region."
        );
        assert_eq!(
            err(&auth(h, "20250315/us-east-1/iam/aws4_request"), T),
            "Credential should be scoped to correct service: 'sts'."
        );
        check_scope_and_time(
            &auth(h, "20250315/mars-north-7/sts/aws4_request"),
            "sts",
            T,
            0,
        )
        .unwrap();
    }

    #[test]
    fn header_clock_skew_messages() {
        let a = auth(SignatureForm::Header, "20250315/us-east-1/sts/aws4_request");
        check_scope_and_time(&a, "sts", T + 900, 0).unwrap();
        check_scope_and_time(&a, "sts", T - 900, 0).unwrap();
        assert_eq!(
            err(&a, T + 901),
            "Signature expired: 20250315T120000Z is now earlier than 20250315T120001Z (20250315T121501Z - 15 min.)"
        );
        assert_eq!(
            err(&a, T - 901),
            "Signature not yet current: 20250315T120000Z is still later than 20250315T115959Z (20250315T114459Z + 15 min.)"
        );
    }

    #[test]
    fn presigned_window() {
        let scope = "20250315/us-east-1/sts/aws4_request";
        let a = auth(SignatureForm::Presigned { expires_secs: 60 }, scope);
        check_scope_and_time(&a, "sts", T + 60, 900).unwrap();
        check_scope_and_time(&a, "sts", T - 900, 900).unwrap();
        assert!(err(&a, T + 61).starts_with("Signature expired: 20250315T120000Z"));
        assert!(err(&a, T - 901).starts_with("Signature not yet current"));
        // X-Amz-Expires is capped by the server's maximum.
        let a = auth(
            SignatureForm::Presigned {
                expires_secs: 604_800,
            },
            scope,
        );
        check_scope_and_time(&a, "sts", T + 900, 900).unwrap();
        assert_eq!(
            err(&a, T + 901),
            "Signature expired: 20250315T120000Z is now earlier than 20250315T120001Z (20250315T121501Z - 15 min.)"
        );
        let e = check_scope_and_time(&a, "sts", T + 61, 60).unwrap_err();
        assert!(
            e.to_string().ends_with("(20250315T120101Z - 1 min.)"),
            "{e}"
        );
        let e = check_scope_and_time(&a, "sts", T + 31, 30).unwrap_err();
        assert!(e.to_string().ends_with("- 30 sec.)"), "{e}");
    }

    #[test]
    fn extreme_clocks_do_not_overflow() {
        let a = auth(
            SignatureForm::Presigned {
                expires_secs: u64::MAX,
            },
            "20250315/r/sts/aws4_request",
        );
        // An unbounded window is the caller's choice; it must merely not overflow.
        assert!(check_scope_and_time(&a, "sts", i64::MAX, u64::MAX).is_ok());
        assert!(check_scope_and_time(&a, "sts", i64::MIN, u64::MAX).is_err());
        let a = auth(SignatureForm::Header, "20250315/r/sts/aws4_request");
        assert!(check_scope_and_time(&a, "sts", i64::MAX, 0).is_err());
        assert!(check_scope_and_time(&a, "sts", i64::MIN, 0).is_err());
    }
}
