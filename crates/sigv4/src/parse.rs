//! Finding and parsing the signature: the `Authorization` header or the presigned query parameters.

use crate::canonical::{decode_component, header_values};
use crate::date::{format_amz_date, parse_amz_date, parse_http_date};
use crate::{
    Credential, HttpRequest, ParsedAuth, SigV4Error, SignatureForm, ALGORITHM, MAX_EXPIRES_SECS,
};

/// Bound on signed headers, so a hostile header list cannot make canonicalization expensive.
pub(crate) const MAX_SIGNED_HEADERS: usize = 64;
/// Bound on a header/credential value we are willing to look at.
const MAX_FIELD_LEN: usize = 8 * 1024;

fn incomplete(msg: impl Into<String>) -> SigV4Error {
    SigV4Error::IncompleteSignature(msg.into())
}

/// Find and parse the request's signature. `Ok(None)`: the request is not signed at all.
pub fn parse(req: &HttpRequest<'_>) -> Result<Option<ParsedAuth>, SigV4Error> {
    let auth_headers: Vec<&str> = header_values(req.headers, "authorization").collect();
    let presigned = query_has_algorithm(req.query)?;
    match (auth_headers.as_slice(), presigned) {
        ([], false) => Ok(None),
        ([h], false) => parse_header(h, req).map(Some),
        ([], true) => parse_presigned(req).map(Some),
        (_, true) => Err(incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")),
        (_, false) => Err(incomplete("Only one Authorization header is allowed.")),
    }
}

fn query_has_algorithm(query: &str) -> Result<bool, SigV4Error> {
    for item in query.split('&') {
        let name = item.split('=').next().unwrap_or("");
        if decode_component(name)? == "X-Amz-Algorithm" {
            return Ok(true);
        }
    }
    Ok(false)
}

fn parse_credential(value: &str) -> Result<Credential, SigV4Error> {
    if value.len() > MAX_FIELD_LEN {
        return Err(incomplete("Credential is too long."));
    }
    let parts: Vec<&str> = value.split('/').collect();
    let [key, date, region, service, terminator] = parts.as_slice() else {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{value}'"
        )));
    };
    if key.is_empty() {
        return Err(incomplete("Credential must contain an access key ID."));
    }
    Ok(Credential {
        access_key_id: (*key).to_string(),
        date: (*date).to_string(),
        region: (*region).to_string(),
        service: (*service).to_string(),
        terminator: (*terminator).to_string(),
    })
}

fn parse_signed_headers(value: &str) -> Result<Vec<String>, SigV4Error> {
    let names: Vec<String> = value.split(';').map(str::to_string).collect();
    if names.len() > MAX_SIGNED_HEADERS || names.iter().any(|n| n.is_empty() || n.len() > 256) {
        return Err(incomplete(format!(
            "Invalid SignedHeaders value '{value}'."
        )));
    }
    Ok(names)
}

fn parse_header(header: &str, req: &HttpRequest<'_>) -> Result<ParsedAuth, SigV4Error> {
    if header.len() > MAX_FIELD_LEN {
        return Err(incomplete("Authorization header is too long."));
    }
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme != ALGORITHM {
        if scheme == "AWS4-ECDSA-P256-SHA256" {
            return Err(incomplete(
                "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported; sign with AWS4-HMAC-SHA256.",
            ));
        }
        return Err(incomplete(format!(
            "Unsupported Authorization Type '{scheme}'."
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(incomplete(format!("Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization={header}")));
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
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
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(missing.join(" ")));
    };
    let credential = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed)?;
    let (amz_date, timestamp, date_from_amz_header) = match header_values(req.headers, "x-amz-date").next() {
        Some(d) => {
            let t = parse_amz_date(d.trim())
                .ok_or_else(|| incomplete(format!("Invalid X-Amz-Date '{d}': must be in ISO 8601 basic format YYYYMMDDTHHMMSSZ.")))?;
            (d.trim().to_string(), t, true)
        }
        None => match header_values(req.headers, "date").next() {
            Some(d) => {
                let t = parse_http_date(d.trim()).ok_or_else(|| incomplete(format!("Invalid Date header '{d}'.")))?;
                (format_amz_date(t), t, false)
            }
            None => {
                return Err(incomplete(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                ))
            }
        },
    };
    let security_token = header_values(req.headers, "x-amz-security-token")
        .next()
        .map(|t| t.trim().to_string());
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

fn parse_presigned(req: &HttpRequest<'_>) -> Result<ParsedAuth, SigV4Error> {
    let mut fields: [Option<String>; 7] = Default::default();
    const NAMES: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Expires",
        "X-Amz-Security-Token",
    ];
    for item in req.query.split('&') {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        let k = decode_component(k)?;
        if let Some(i) = NAMES.iter().position(|n| *n == k) {
            if let Some(slot) = fields.get_mut(i) {
                if slot.is_some() {
                    return Err(incomplete(format!("Duplicate query parameter {k}.")));
                }
                *slot = Some(decode_component(v)?);
            }
        }
    }
    let [algorithm, credential, date, signed, signature, expires, token] = fields;
    if algorithm.as_deref() != Some(ALGORITHM) {
        return Err(incomplete(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\", got \"{}\".",
            algorithm.unwrap_or_default()
        )));
    }
    let mut missing = Vec::new();
    for (name, v) in [
        ("X-Amz-Credential", &credential),
        ("X-Amz-Date", &date),
        ("X-Amz-SignedHeaders", &signed),
        ("X-Amz-Signature", &signature),
        ("X-Amz-Expires", &expires),
    ] {
        if v.is_none() {
            missing.push(format!(
                "AWS query-string parameters must include '{name}'."
            ));
        }
    }
    let (Some(credential), Some(date), Some(signed), Some(signature), Some(expires)) =
        (credential, date, signed, signature, expires)
    else {
        return Err(incomplete(missing.join(" ")));
    };
    let expires_secs: u64 = expires
        .parse()
        .ok()
        .filter(|e| (1..=MAX_EXPIRES_SECS).contains(e))
        .ok_or_else(|| {
            incomplete(format!(
                "X-Amz-Expires must be between 1 and {MAX_EXPIRES_SECS} seconds, got '{expires}'."
            ))
        })?;
    let timestamp = parse_amz_date(&date).ok_or_else(|| {
        incomplete(format!(
            "Invalid X-Amz-Date '{date}': must be in ISO 8601 basic format YYYYMMDDTHHMMSSZ."
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
