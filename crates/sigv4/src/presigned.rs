//! The presigned-URL form (reference §1.6.6): `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
//! `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature` and optional `X-Amz-Security-Token` in the
//! query string.

use crate::canonical::{
    MAX_QUERY_PARAMS, decode_query_component, decode_query_text, parse_signed_headers, query_items,
};
use crate::date::parse_amz_date;
use crate::scope::parse_credential;
use crate::{
    ALGORITHM, HttpRequest, MAX_EXPIRES_SECS, MAX_FIELD_LEN, MAX_SIGNATURE_LEN, ParsedAuth,
    SIGV4A_ALGORITHM, SigV4Error, SignatureForm,
};

const NAMES: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Expires",
    "X-Amz-Security-Token",
];

/// Parse the presign parameters of the query.
pub(crate) fn parse_query(req: &HttpRequest<'_>) -> Result<ParsedAuth, SigV4Error> {
    let mut fields: [Option<String>; 7] = Default::default();
    for (n, (k, v)) in query_items(req.query).enumerate() {
        if n >= MAX_QUERY_PARAMS {
            return Err(SigV4Error::malformed_query(format!(
                "Too many query parameters (at most {MAX_QUERY_PARAMS})."
            )));
        }
        let k = decode_query_component(k)?;
        let Some(i) = NAMES
            .iter()
            .position(|name| name.as_bytes() == k.as_slice())
        else {
            continue;
        };
        if v.len() > MAX_FIELD_LEN {
            return Err(SigV4Error::incomplete(format!(
                "Query parameter {} is too long.",
                NAMES.get(i).unwrap_or(&"")
            )));
        }
        if let Some(slot) = fields.get_mut(i) {
            if slot.is_some() {
                return Err(SigV4Error::incomplete(format!(
                    "Duplicate query parameter {}.",
                    NAMES.get(i).unwrap_or(&"")
                )));
            }
            *slot = Some(decode_query_text(v)?);
        }
    }
    let [
        algorithm,
        credential,
        date,
        signed,
        signature,
        expires,
        token,
    ] = fields;
    match algorithm.as_deref() {
        None | Some(ALGORITHM) => {}
        Some(SIGV4A_ALGORITHM) => {
            return Err(SigV4Error::incomplete(format!(
                "SigV4a ({SIGV4A_ALGORITHM}) is not supported; sign with {ALGORITHM}."
            )));
        }
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            return Err(SigV4Error::incomplete(format!(
                "X-Amz-Algorithm only supports \"{ALGORITHM}\", got \"{shown}\"."
            )));
        }
    }
    let missing: Vec<String> = [
        ("X-Amz-Algorithm", algorithm.is_none()),
        ("X-Amz-Credential", credential.is_none()),
        ("X-Amz-Signature", signature.is_none()),
        ("X-Amz-Date", date.is_none()),
        ("X-Amz-SignedHeaders", signed.is_none()),
        ("X-Amz-Expires", expires.is_none()),
    ]
    .iter()
    .filter(|(_, absent)| *absent)
    .map(|(name, _)| format!("'{name}'"))
    .collect();
    let (Some(credential), Some(date), Some(signed), Some(signature), Some(expires), false) = (
        credential,
        date,
        signed,
        signature,
        expires,
        algorithm.is_none(),
    ) else {
        return Err(SigV4Error::incomplete(format!(
            "AWS query-string parameters must include {}. Re-examine the query-string parameters.",
            missing.join(", ")
        )));
    };
    if signature.len() > MAX_SIGNATURE_LEN {
        return Err(SigV4Error::incomplete("Signature is too long."));
    }
    let expires_secs: u64 = expires
        .parse()
        .ok()
        .filter(|e| (1..=MAX_EXPIRES_SECS).contains(e))
        .ok_or_else(|| {
            let shown: String = expires.chars().take(32).collect();
            SigV4Error::incomplete(format!(
                "X-Amz-Expires must be an integer between 1 and {MAX_EXPIRES_SECS} seconds, got '{shown}'."
            ))
        })?;
    let timestamp = parse_amz_date(&date).ok_or_else(|| {
        let shown: String = date.chars().take(64).collect();
        SigV4Error::incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{shown}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    })?;
    Ok(ParsedAuth {
        credential: parse_credential(&credential)?,
        amz_date: date,
        timestamp,
        signed_headers: parse_signed_headers(&signed)?,
        signature,
        security_token: token,
        form: SignatureForm::Presigned { expires_secs },
        date_from_amz_header: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIABTX3GSDSQCODWEHH%2F20250315%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20250315T120000Z&X-Amz-Expires=60&X-Amz-Security-Token=IQoFAKEsessionTOKEN%2B%2F%3D&X-Amz-SignedHeaders=host&X-Amz-Signature=8ddf618c94dae82a361aed154b97bcad1a253b84a483fac6dc3698205c916776";

    fn parse_q(q: &str) -> Result<ParsedAuth, SigV4Error> {
        parse_query(&HttpRequest {
            method: "GET",
            path: "/",
            query: q,
            headers: &[("host", "h")],
            body: b"",
        })
    }

    #[test]
    fn botocore_presigned_url() {
        let a = parse_q(Q).unwrap();
        assert_eq!(a.credential.access_key_id, "ASIABTX3GSDSQCODWEHH");
        assert_eq!(a.security_token.as_deref(), Some("IQoFAKEsessionTOKEN+/="));
        assert_eq!(a.form, SignatureForm::Presigned { expires_secs: 60 });
        assert_eq!(a.signed_headers, ["host"]);
        assert!(!a.date_from_amz_header);
    }

    #[test]
    fn missing_parameters_listed() {
        let e = parse_q("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=60").unwrap_err();
        assert_eq!(
            e.to_string(),
            "AWS query-string parameters must include 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
        );
        let e = parse_q("X-Amz-Signature=00").unwrap_err();
        assert!(e.to_string().contains("'X-Amz-Algorithm'"), "{e}");
    }

    #[test]
    fn bad_values() {
        let cases = [
            Q.replace("X-Amz-Expires=60", "X-Amz-Expires=0"),
            Q.replace("X-Amz-Expires=60", "X-Amz-Expires=604801"),
            Q.replace("X-Amz-Expires=60", "X-Amz-Expires=-1"),
            Q.replace("X-Amz-Date=20250315T120000Z", "X-Amz-Date=20250315"),
            Q.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
            Q.replace("AWS4-HMAC-SHA256", "HMAC"),
            format!("{Q}&X-Amz-Date=20250315T120000Z"),
            Q.replace("%2Fsts%2Faws4_request", "%2Fsts"),
        ];
        for q in &cases {
            assert_eq!(parse_q(q).unwrap_err().code(), "IncompleteSignature", "{q}");
        }
        let e = parse_q(&format!("{Q}&%G0=a")).unwrap_err();
        assert_eq!(e.code(), "MalformedQueryString");
    }
}
