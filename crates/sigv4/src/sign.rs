//! A small SigV4 signer: what our own CLI (`stsd account create`) and tests use. Checked against the
//! reference vectors, the AWS test suite and `aws-sigv4` (see `tests/`).

use crate::canonical::{
    canonical_query, canonical_request, parse_signed_headers, single_header, uri_encode,
};
use crate::content_hash::hash_body;
use crate::date::format_amz_date;
use crate::key::{signature, signing_key, string_to_sign};
use crate::{ALGORITHM, MAX_FIELD_LEN, SigV4Error};

/// What to sign.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    pub method: &'a str,
    /// `Host` header value, with a non-default port.
    pub host: &'a str,
    /// Path as it will be sent (already percent-encoded).
    pub path: &'a str,
    /// Raw query string (without `?`) as it will be sent.
    pub query: &'a str,
    /// Extra headers to sign, e.g. `content-type`. Include `x-amz-content-sha256` (a hash or
    /// `UNSIGNED-PAYLOAD`) to have it signed and used as the payload hash. `host`, `x-amz-date`,
    /// `x-amz-security-token` and `authorization` here are ignored (the signer sets them).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
}

impl SigningParams<'_> {
    fn scope(&self, date: &str) -> String {
        format!("{date}/{}/{}/aws4_request", self.region, self.service)
    }

    /// The caller's headers (lower-cased), minus the ones the signer owns.
    fn user_headers(&self) -> Vec<(String, String)> {
        const OWNED: [&str; 4] = [
            "host",
            "x-amz-date",
            "x-amz-security-token",
            "authorization",
        ];
        self.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_string()))
            .filter(|(k, _)| !OWNED.contains(&k.as_str()))
            .collect()
    }
}

/// The payload hash: the `x-amz-content-sha256` value when given, else the body hash.
fn payload_hash(headers: &[(&str, &str)], body: &[u8]) -> Result<String, SigV4Error> {
    Ok(match single_header(headers, "x-amz-content-sha256")? {
        Some(v) => v.trim().to_string(),
        None => hash_body(body),
    })
}

/// Sorted, de-duplicated names of `headers`, refused if the verifier would refuse them (invalid names,
/// more than [`crate::MAX_SIGNED_HEADERS`]).
fn signed_names(headers: &[(String, String)]) -> Result<Vec<String>, SigV4Error> {
    let mut names: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    names.sort();
    names.dedup();
    parse_signed_headers(&names.join(";"))
}

fn view(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Sign with the `Authorization` header. Returns the headers to add to the request, in this order:
/// `x-amz-date`, `x-amz-security-token` (when a token is given) and `authorization`. Every header in
/// `p.headers` plus `host`, `x-amz-date` and the token is signed.
pub fn sign_request(p: &SigningParams<'_>) -> Result<Vec<(String, String)>, SigV4Error> {
    let amz_date = format_amz_date(p.timestamp);
    let date = amz_date.get(..8).unwrap_or_default().to_string();
    let mut headers = p.user_headers();
    headers.push(("host".into(), p.host.to_string()));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(t) = p.session_token {
        headers.push(("x-amz-security-token".into(), t.to_string()));
    }
    let signed = signed_names(&headers)?;
    let headers = view(&headers);
    let canonical = canonical_request(
        p.method,
        p.path,
        &canonical_query(p.query, false)?,
        &headers,
        &signed,
        &payload_hash(&headers, p.body)?,
    )?;
    let scope = p.scope(&date);
    let key = signing_key(p.secret_access_key, &date, p.region, p.service);
    let sig = signature(&key, &string_to_sign(&amz_date, &scope, &canonical));
    let mut out = vec![("x-amz-date".to_string(), amz_date)];
    if let Some(t) = p.session_token {
        out.push(("x-amz-security-token".to_string(), t.to_string()));
    }
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
        p.access_key_id,
        signed.join(";")
    );
    if authorization.len() > MAX_FIELD_LEN {
        return Err(SigV4Error::incomplete(format!(
            "Authorization header is too long (at most {MAX_FIELD_LEN} bytes)."
        )));
    }
    out.push(("authorization".to_string(), authorization));
    Ok(out)
}

/// Presign: returns the full query string to send — `p.query` followed by `X-Amz-Algorithm`,
/// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-Security-Token` (with a token),
/// `X-Amz-SignedHeaders` and finally `X-Amz-Signature`. Signs `host` plus `p.headers` (which must then be
/// sent with the request); the payload hash is the body's (empty for a GET), as botocore does for STS.
pub fn presign_url_query(p: &SigningParams<'_>, expires_secs: u64) -> Result<String, SigV4Error> {
    let amz_date = format_amz_date(p.timestamp);
    let date = amz_date.get(..8).unwrap_or_default().to_string();
    let scope = p.scope(&date);
    let mut headers = p.user_headers();
    headers.push(("host".into(), p.host.to_string()));
    let signed = signed_names(&headers)?;
    let headers = view(&headers);

    let mut query = p.query.to_string();
    let mut add = |k: &str, v: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(&uri_encode(v));
    };
    add("X-Amz-Algorithm", ALGORITHM);
    add("X-Amz-Credential", &format!("{}/{scope}", p.access_key_id));
    add("X-Amz-Date", &amz_date);
    add("X-Amz-Expires", &expires_secs.to_string());
    if let Some(t) = p.session_token {
        add("X-Amz-Security-Token", t);
    }
    add("X-Amz-SignedHeaders", &signed.join(";"));
    let canonical = canonical_request(
        p.method,
        p.path,
        &canonical_query(&query, false)?,
        &headers,
        &signed,
        &payload_hash(&headers, p.body)?,
    )?;
    let key = signing_key(p.secret_access_key, &date, p.region, p.service);
    let sig = signature(&key, &string_to_sign(&amz_date, &scope, &canonical));
    query.push_str("&X-Amz-Signature=");
    query.push_str(&sig);
    Ok(query)
}
