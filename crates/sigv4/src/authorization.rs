//! The `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` form
//! (reference §1.6.1), with the date from `X-Amz-Date` or, failing that, the RFC 1123 `Date` header.

use crate::canonical::{parse_signed_headers, single_header};
use crate::date::{format_amz_date, parse_amz_date, parse_http_date};
use crate::scope::parse_credential;
use crate::{
    ALGORITHM, HttpRequest, MAX_FIELD_LEN, MAX_SIGNATURE_LEN, ParsedAuth, SIGV4A_ALGORITHM,
    SigV4Error, SignatureForm,
};

/// Parse an `Authorization` header value (the request supplies the date and token headers).
pub(crate) fn parse_header(header: &str, req: &HttpRequest<'_>) -> Result<ParsedAuth, SigV4Error> {
    if header.len() > MAX_FIELD_LEN {
        return Err(SigV4Error::incomplete(format!(
            "Authorization header is too long (at most {MAX_FIELD_LEN} bytes)."
        )));
    }
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme == SIGV4A_ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "SigV4a ({SIGV4A_ALGORITHM}) is not supported; sign with {ALGORITHM}."
        )));
    }
    if scheme != ALGORITHM {
        let shown: String = scheme.chars().take(64).collect();
        return Err(SigV4Error::incomplete(format!(
            "Unsupported Authorization Type '{shown}'; only {ALGORITHM} is supported."
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            let shown: String = part.chars().take(64).collect();
            return Err(SigV4Error::incomplete(format!(
                "Authorization header component '{shown}' is not of the form key=value."
            )));
        };
        let slot = match k.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(SigV4Error::incomplete(format!(
                "Authorization header repeats the '{}' parameter.",
                k.trim()
            )));
        }
        *slot = Some(v.trim());
    }

    let amz_date = single_header(req.headers, "x-amz-date")?;
    let http_date = single_header(req.headers, "date")?;
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if amz_date.is_none() && http_date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(SigV4Error::incomplete(missing.join(" ")));
    };
    if !missing.is_empty() {
        return Err(SigV4Error::incomplete(missing.join(" ")));
    }
    if signature.len() > MAX_SIGNATURE_LEN {
        return Err(SigV4Error::incomplete("Signature is too long."));
    }
    let credential = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed)?;

    let (amz_date, timestamp, date_from_amz_header) = match (amz_date, http_date) {
        (Some(d), _) => {
            let d = d.trim();
            let t = parse_amz_date(d).ok_or_else(|| bad_date(d))?;
            (d.to_string(), t, true)
        }
        (None, Some(d)) => {
            let t = parse_http_date(d.trim()).ok_or_else(|| bad_date(d))?;
            (format_amz_date(t), t, false)
        }
        // Reported above with the other missing parts.
        (None, None) => return Err(SigV4Error::incomplete("Missing date.")),
    };
    let security_token =
        single_header(req.headers, "x-amz-security-token")?.map(|t| t.trim().to_string());
    Ok(ParsedAuth {
        credential,
        amz_date,
        timestamp,
        signed_headers,
        signature: signature.to_string(),
        security_token,
        form: SignatureForm::Header,
        date_from_amz_header,
    })
}

fn bad_date(d: &str) -> SigV4Error {
    let shown: String = d.chars().take(64).collect();
    SigV4Error::incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{shown}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=56d8bbcf1736acb0406130933210476d5d968106ecd9b703fedbb2de5ba5c246";

    fn parse_with(auth: &str, extra: &[(&str, &str)]) -> Result<ParsedAuth, SigV4Error> {
        let mut h = vec![("Host", "h")];
        h.extend_from_slice(extra);
        let req = HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: b"",
        };
        parse_header(auth, &req)
    }

    #[test]
    fn botocore_header() {
        let a = parse_with(GOOD, &[("X-Amz-Date", "20250315T120000Z")]).unwrap();
        assert_eq!(a.credential.access_key_id, "AKIABTX3GSDSQBHCDE22");
        assert_eq!(a.credential.region, "us-east-1");
        assert_eq!(a.signed_headers, ["content-type", "host", "x-amz-date"]);
        assert_eq!(a.timestamp, 1_742_040_000);
        assert!(a.date_from_amz_header);
        assert_eq!(a.form, SignatureForm::Header);
        // No space after commas is fine too.
        let compact = GOOD.replace(", ", ",");
        assert_eq!(
            parse_with(&compact, &[("x-amz-date", "20250315T120000Z")]).unwrap(),
            a
        );
    }

    #[test]
    fn date_header_fallback() {
        let a = parse_with(GOOD, &[("Date", "Sat, 15 Mar 2025 12:00:00 GMT")]).unwrap();
        assert_eq!(a.amz_date, "20250315T120000Z");
        assert!(!a.date_from_amz_header);
    }

    #[test]
    fn every_missing_part_is_reported() {
        let e = parse_with("AWS4-HMAC-SHA256 SignedHeaders=host", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        );
        let e = parse_with(GOOD, &[]).unwrap_err();
        assert!(e.to_string().contains("'X-Amz-Date' or a 'Date'"), "{e}");
    }

    #[test]
    fn malformed_values() {
        let date = [("x-amz-date", "20250315T120000Z")];
        let cases = [
            "AWS4-ECDSA-P256-SHA256 Credential=AKIA/20250315/sts/aws4_request, SignedHeaders=host, Signature=00",
            "AWS AKIA:abc",
            "Bearer x",
            "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature=00",
        ];
        for c in cases {
            let e = parse_with(c, &date).unwrap_err();
            assert_eq!(e.code(), "IncompleteSignature", "{c}");
        }
        let e = parse_with(GOOD, &[("x-amz-date", "2025-03-15T12:00:00Z")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Date must be in ISO-8601 'basic format'")
        );
        let e = parse_with(
            GOOD,
            &[
                ("x-amz-date", "20250315T120000Z"),
                ("X-Amz-Date", "20250315T120000Z"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code(), "IncompleteSignature");
        let long = format!("{GOOD}{}", "a".repeat(MAX_FIELD_LEN));
        assert_eq!(
            parse_with(&long, &date).unwrap_err().code(),
            "IncompleteSignature"
        );
    }
}
