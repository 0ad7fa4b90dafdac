//! A small SigV4 signer: what our own CLI (`stsd account create`) and tests use. Verified against the
//! reference vectors and against the verifier in this crate.

use sha2::{Digest, Sha256};

use crate::canonical::{canonical_query, canonical_request, uri_encode};
use crate::date::format_amz_date;
use crate::{signature, signing_key, string_to_sign, SigV4Error, ALGORITHM, EMPTY_SHA256};

/// What to sign.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    pub method: &'a str,
    /// `Host` header value, with a non-default port.
    pub host: &'a str,
    pub path: &'a str,
    /// Raw query string (without `?`).
    pub query: &'a str,
    /// Extra headers to sign (lower-case names), e.g. `content-type`.
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

/// Sign with the `Authorization` header. Returns the headers to add to the request:
/// `x-amz-date`, `x-amz-security-token` (when a token is given) and `authorization`.
pub fn sign_request(p: &SigningParams<'_>) -> Result<Vec<(String, String)>, SigV4Error> {
    let amz_date = format_amz_date(p.timestamp);
    let date = amz_date.get(..8).unwrap_or_default().to_string();
    let mut headers: Vec<(String, String)> = p
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_string()))
        .collect();
    headers.push(("host".into(), p.host.to_string()));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(t) = p.session_token {
        headers.push(("x-amz-security-token".into(), t.to_string()));
    }
    headers.sort();
    let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    let view: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let payload = hex::encode(Sha256::digest(p.body));
    let canonical = canonical_request(
        p.method,
        p.path,
        &canonical_query(p.query, false)?,
        &view,
        &signed,
        &payload,
    )?;
    let scope = format!("{date}/{}/{}/aws4_request", p.region, p.service);
    let key = signing_key(p.secret_access_key, &date, p.region, p.service);
    let sig = signature(&key, &string_to_sign(&amz_date, &scope, &canonical));
    let mut out = vec![("x-amz-date".to_string(), amz_date)];
    if let Some(t) = p.session_token {
        out.push(("x-amz-security-token".to_string(), t.to_string()));
    }
    out.push((
        "authorization".to_string(),
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
            p.access_key_id,
            signed.join(";")
        ),
    ));
    Ok(out)
}

/// Presign: returns the full query string (the given query plus the `X-Amz-*` parameters and signature).
/// Signs only `host` and an empty payload, as SDK presigners do for GET.
pub fn presign_url_query(p: &SigningParams<'_>, expires_secs: u64) -> Result<String, SigV4Error> {
    let amz_date = format_amz_date(p.timestamp);
    let date = amz_date.get(..8).unwrap_or_default().to_string();
    let scope = format!("{date}/{}/{}/aws4_request", p.region, p.service);
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
    add("X-Amz-SignedHeaders", "host");
    let headers = [("host", p.host)];
    let canonical = canonical_request(
        p.method,
        p.path,
        &canonical_query(&query, false)?,
        &headers,
        &["host".to_string()],
        EMPTY_SHA256,
    )?;
    let key = signing_key(p.secret_access_key, &date, p.region, p.service);
    let sig = signature(&key, &string_to_sign(&amz_date, &scope, &canonical));
    query.push_str("&X-Amz-Signature=");
    query.push_str(&sig);
    Ok(query)
}
