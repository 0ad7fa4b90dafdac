//! The CloudTrail action: `LookupEvents` over the stored events, in the JSON 1.1 protocol
//! (`X-Amz-Target: CloudTrail_20131101.LookupEvents`, SigV4 service `cloudtrail`; the pipeline that
//! authenticates and records it is `pipeline::serve_cloudtrail`).

use serde_json::{Value, json};

use crate::action::Ctx;
use crate::error::{ApiError, ErrorCode};
use crate::store::{AuditFilter, AuditQuery};

pub const TARGET_PREFIX: &str = "CloudTrail_20131101.";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// CloudTrail's own event source.
pub const EVENT_SOURCE: &str = "cloudtrail.amazonaws.com";
/// CloudTrail's page size limit.
const MAX_RESULTS: usize = 50;

/// A JSON-protocol error: `{"__type": ty, "message": ...}` with an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub status: u16,
    pub ty: String,
    pub message: String,
}

impl JsonError {
    pub fn bad(ty: &str, message: impl Into<String>) -> JsonError {
        JsonError {
            status: 400,
            ty: ty.to_string(),
            message: message.into(),
        }
    }

    pub fn body(&self) -> String {
        json!({"__type": self.ty, "message": self.message}).to_string()
    }
}

impl From<ApiError> for JsonError {
    fn from(e: ApiError) -> JsonError {
        let (status, ty) = match e.code {
            ErrorCode::AccessDenied => (400, "AccessDeniedException"),
            ErrorCode::InvalidClientTokenId => (400, "UnrecognizedClientException"),
            ErrorCode::SignatureDoesNotMatch => (400, "InvalidSignatureException"),
            ErrorCode::IncompleteSignature => (400, "IncompleteSignature"),
            ErrorCode::ExpiredToken => (400, "ExpiredTokenException"),
            ErrorCode::MissingAuthenticationToken => (400, "MissingAuthenticationTokenException"),
            code if code.status() >= 500 => (500, "InternalFailure"),
            code => (code.status(), code.as_str()),
        };
        JsonError {
            status,
            ty: ty.to_string(),
            message: e.message,
        }
    }
}

/// `LookupEvents` for the caller of `ctx`: authorized as `cloudtrail:LookupEvents`, limited to the caller's
/// account. `flush` stores the events still queued first (read-your-writes); the audit writer lives above the
/// actions, so it is handed in.
pub fn lookup_events(
    ctx: &Ctx<'_>,
    input: &Value,
    flush: &dyn Fn() -> bool,
) -> Result<Value, JsonError> {
    let caller = ctx.caller;
    {
        let st = ctx.node.read()?;
        ctx.authorize(&st, "cloudtrail:LookupEvents", "*")?;
    }
    let mut q = parse_lookup(input)?;
    q.account = Some(caller.account.clone());
    // Read-your-writes: events of calls answered before this one are stored first.
    if !flush() {
        tracing::warn!("audit queue did not drain within 5s; lookup may miss recent events");
    }
    let limit = q.limit;
    q.limit = limit + 1;
    let mut rows = stsd_core::trail_query::lookup(ctx.node.store(), &q).map_err(|e| {
        tracing::error!(error = %e, "reading audit events failed");
        JsonError::from(ApiError::internal())
    })?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(|r| encode_token(r.seq))
    } else {
        None
    };
    let events: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut e = json!({
                "EventId": r.event_id,
                "EventName": r.event_name,
                "ReadOnly": if r.read_only { "true" } else { "false" },
                "EventTime": r.event_time,
                "EventSource": r.event_source,
                "Resources": r.resources.iter().map(|(t, n)| json!({"ResourceType": t, "ResourceName": n})).collect::<Vec<_>>(),
                "CloudTrailEvent": r.body,
            });
            if let Some(fields) = e.as_object_mut() {
                if !r.access_key_id.is_empty() {
                    fields.insert("AccessKeyId".into(), json!(r.access_key_id));
                }
                if !r.username.is_empty() {
                    fields.insert("Username".into(), json!(r.username));
                }
            }
            e
        })
        .collect();
    let mut out = serde_json::Map::new();
    out.insert("Events".into(), Value::Array(events));
    if let Some(t) = next {
        out.insert("NextToken".into(), json!(t));
    }
    Ok(Value::Object(out))
}

fn encode_token(seq: i64) -> String {
    data_encoding::BASE64URL_NOPAD.encode(format!("stsd-ct-v1:{seq}").as_bytes())
}

fn decode_token(t: &str) -> Option<i64> {
    let raw = data_encoding::BASE64URL_NOPAD.decode(t.as_bytes()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    s.strip_prefix("stsd-ct-v1:")?.parse().ok()
}

/// A JSON timestamp: epoch seconds (number) or an RFC 3339 string.
fn timestamp(v: &Value, name: &str) -> Result<i64, JsonError> {
    let bad = || JsonError::bad("ValidationException", format!("Invalid {name}."));
    match v {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "epoch seconds as CloudTrail sends them; out-of-range floats saturate"
        )]
        Value::Number(n) => n.as_f64().map(|f| f.floor() as i64).ok_or_else(bad),
        Value::String(s) => parse_time(s).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// RFC 3339 or epoch seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(n) = s.trim().parse::<i64>() {
        return Some(n);
    }
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// Validate the `LookupEvents` input into a query (without the account).
pub fn parse_lookup(input: &Value) -> Result<AuditQuery, JsonError> {
    let obj = input.as_object().ok_or_else(|| {
        JsonError::bad(
            "SerializationException",
            "The request body must be a JSON object.",
        )
    })?;
    let mut q = AuditQuery {
        limit: MAX_RESULTS,
        ..AuditQuery::default()
    };
    if let Some(v) = obj.get("StartTime").filter(|v| !v.is_null()) {
        q.since = Some(timestamp(v, "StartTime")?);
    }
    if let Some(v) = obj.get("EndTime").filter(|v| !v.is_null()) {
        q.until = Some(timestamp(v, "EndTime")?);
    }
    if let (Some(a), Some(b)) = (q.since, q.until)
        && a > b
    {
        return Err(JsonError::bad(
            "InvalidTimeRangeException",
            "Start time must be before end time.",
        ));
    }
    if let Some(v) = obj.get("MaxResults").filter(|v| !v.is_null()) {
        let n = v.as_i64().unwrap_or(0);
        if !(1..=50).contains(&n) {
            return Err(JsonError::bad(
                "InvalidMaxResultsException",
                "MaxResults must be between 1 and 50.",
            ));
        }
        q.limit = usize::try_from(n).unwrap_or(MAX_RESULTS);
    }
    if let Some(v) = obj.get("NextToken").filter(|v| !v.is_null()) {
        let seq = v
            .as_str()
            .and_then(decode_token)
            .ok_or_else(|| JsonError::bad("InvalidNextTokenException", "Invalid NextToken."))?;
        q.cursor = Some(seq);
    }
    if let Some(v) = obj.get("EventCategory").filter(|v| !v.is_null()) {
        if v.as_str() != Some("insight") {
            return Err(JsonError::bad(
                "InvalidEventCategoryException",
                "EventCategory must be insight.",
            ));
        }
        // No insight events exist: an empty page.
        q.filter = Some(AuditFilter::EventId(String::new()));
    }
    if let Some(attrs) = obj.get("LookupAttributes").filter(|v| !v.is_null()) {
        let list = attrs.as_array().ok_or_else(|| {
            JsonError::bad(
                "InvalidLookupAttributesException",
                "LookupAttributes must be a list.",
            )
        })?;
        if list.len() > 1 {
            return Err(JsonError::bad(
                "InvalidLookupAttributesException",
                "You cannot specify more than one lookup attribute.",
            ));
        }
        if let Some(a) = list.first() {
            let key = a.get("AttributeKey").and_then(Value::as_str).unwrap_or("");
            let value = a
                .get("AttributeValue")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if value.is_empty() || value.len() > 2000 {
                return Err(JsonError::bad(
                    "InvalidLookupAttributesException",
                    "AttributeValue must be 1 to 2000 characters.",
                ));
            }
            q.filter = Some(match key {
                "EventName" => AuditFilter::EventName(value),
                "Username" => AuditFilter::Username(value),
                "AccessKeyId" => AuditFilter::AccessKeyId(value),
                "ResourceName" => AuditFilter::ResourceName(value),
                "EventSource" => AuditFilter::EventSource(value),
                "EventId" => AuditFilter::EventId(value),
                "ReadOnly" => match value.as_str() {
                    "true" => AuditFilter::ReadOnly(true),
                    "false" => AuditFilter::ReadOnly(false),
                    _ => {
                        return Err(JsonError::bad(
                            "InvalidLookupAttributesException",
                            "ReadOnly must be true or false.",
                        ));
                    }
                },
                "ResourceType" => AuditFilter::ResourceType(value),
                _ => {
                    return Err(JsonError::bad(
                        "InvalidLookupAttributesException",
                        format!("Invalid AttributeKey {key}."),
                    ));
                }
            });
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lookup_input() {
        let q = parse_lookup(&json!({
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}],
            "StartTime": 1_700_000_000.5,
            "EndTime": "2030-01-01T00:00:00Z",
            "MaxResults": 5,
            "NextToken": encode_token(42),
        }))
        .unwrap();
        assert_eq!(q.filter, Some(AuditFilter::EventName("AssumeRole".into())));
        assert_eq!(q.since, Some(1_700_000_000));
        assert_eq!(q.until, Some(1_893_456_000));
        assert_eq!(q.limit, 5);
        assert_eq!(q.cursor, Some(42));
    }

    #[test]
    fn rejects_bad_input() {
        let ty = |v: Value| parse_lookup(&v).unwrap_err().ty;
        assert_eq!(ty(json!({"MaxResults": 51})), "InvalidMaxResultsException");
        assert_eq!(
            ty(json!({"StartTime": 10, "EndTime": 5})),
            "InvalidTimeRangeException"
        );
        assert_eq!(
            ty(json!({"NextToken": "garbage"})),
            "InvalidNextTokenException"
        );
        assert_eq!(
            ty(json!({"LookupAttributes": [{"AttributeKey": "Nope", "AttributeValue": "x"}]})),
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            ty(json!({"LookupAttributes": [
                {"AttributeKey": "EventName", "AttributeValue": "x"},
                {"AttributeKey": "Username", "AttributeValue": "y"}]})),
            "InvalidLookupAttributesException"
        );
    }

    #[test]
    fn maps_api_errors_to_json_types() {
        let e: JsonError = ApiError::access_denied("no").into();
        assert_eq!((e.status, e.ty.as_str()), (400, "AccessDeniedException"));
        assert_eq!(
            serde_json::from_str::<Value>(&e.body()).unwrap()["__type"],
            "AccessDeniedException"
        );
    }
}
