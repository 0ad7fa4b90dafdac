//! Building the CloudTrail record of one call. A typed action's `requestParameters` and `responseElements` are
//! what the generated `write_json` made of its decoded input and typed output
//! ([`crate::action::audit_slot`]): sensitive
//! members (secret keys, session tokens, passwords, MFA codes, assertions) are never written, and a last check
//! blanks any sensitive value of the output that still turned up anywhere in the record. The audit code reads
//! no response XML.
//!
//! The raw-parameter path ([`request_parameters`]: a deny-list of secret-bearing names, a hand list of numeric
//! members) remains only for calls with no typed input — every Query action is typed, so these are the requests
//! refused before their input was decoded (undecodable, unknown action, failed authentication, invalid
//! parameters): CloudTrail records what such a request asked for too, and nothing but the raw parameters has it.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::identity::{Caller, RequestMeta};
use crate::node::Node;
use crate::protocol::query::Params;
use crate::store::AuditRow;
use crate::tokens::SessionKind;

use crate::action::audit_slot::{Federated, TypedAudit};

/// CloudTrail's record format version.
pub const EVENT_VERSION: &str = "1.08";
/// What AWS writes in place of a value it will not log.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";
/// Longest parameter value kept verbatim.
const MAX_VALUE_CHARS: usize = 8192;

/// Parameter names (last dotted segment, case-insensitive) never recorded.
const SECRET_PARAMS: &[&str] = &[
    "secretaccesskey",
    "sessiontoken",
    "securitytoken",
    "tokencode",
    "authenticationcode1",
    "authenticationcode2",
    "samlassertion",
    "webidentitytoken",
    "password",
    "newpassword",
    "oldpassword",
    "privatekey",
    "signature",
    "awsaccesskeyid",
    "signaturemethod",
    "signatureversion",
    "timestamp",
];

/// Everything the pipeline knows about one call.
pub struct CallInfo<'a> {
    /// `eventSource`: `sts.amazonaws.com`, `iam.amazonaws.com`, `cloudtrail.amazonaws.com`.
    pub event_source: &'a str,
    /// `eventName`: the action (for a request refused before its action was known, what it named, if anything).
    pub action: &'a str,
    /// Query parameters (empty for JSON-protocol calls).
    pub params: &'a Params,
    /// The request of a JSON-protocol call (`requestParameters` as sent; LookupEvents carries no secrets).
    pub request_json: Option<&'a Value>,
    pub meta: &'a RequestMeta,
    /// The authenticated caller, if authentication succeeded.
    pub caller: Option<&'a Caller>,
    /// Access key ID and region from the signature scope (known even when authentication failed).
    pub scope_key_id: Option<&'a str>,
    pub region: Option<&'a str>,
    pub request_id: &'a str,
    pub now: i64,
    /// The typed input and output, when the call reached a typed action (`None`: refused before one, or not a
    /// typed Query action).
    pub typed: Option<&'a TypedAudit>,
    /// Success, or the error.
    pub result: Result<(), CallError<'a>>,
}

/// A failed call's `errorCode` and `errorMessage`, whatever its protocol.
#[derive(Debug, Clone, Copy)]
pub struct CallError<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

impl<'a> From<&'a ApiError> for CallError<'a> {
    fn from(e: &'a ApiError) -> Self {
        CallError {
            code: e.code.as_str(),
            message: &e.message,
        }
    }
}

/// Build the events of a call and queue them (blocking while the audit queue is full).
pub fn record_call(node: &Node, audit: &super::Audit, info: &CallInfo<'_>) {
    if !audit.is_recording() {
        return;
    }
    let rows = build_rows(node, info);
    audit.submit(rows);
}

/// Access key ID and region from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/svc/...` or the
/// presigned `X-Amz-Credential` parameter.
pub fn signature_scope<'a>(
    authorization: Option<&'a str>,
    params: &'a Params,
) -> (Option<&'a str>, Option<&'a str>) {
    let cred = authorization
        .and_then(|h| h.split_once("Credential="))
        .map(|(_, rest)| rest.split([',', ' ']).next().unwrap_or(""))
        .or_else(|| params.get("X-Amz-Credential"));
    let Some(cred) = cred else {
        return (None, None);
    };
    let mut parts = cred.split('/');
    let key = parts.next().filter(|k| !k.is_empty());
    let region = parts.nth(1).filter(|r| !r.is_empty());
    (key, region)
}

/// `t` (Unix seconds) as CloudTrail prints times, `2023-11-14T22:13:20Z`: plain arithmetic (days to civil
/// date, H. Hinnant's algorithm) — the `time` crate's formatting machinery was ~1 % of an AssumeRole's CPU.
/// Years outside 0..=9999 print as the `time` crate would not; no event carries one (the clock is real).
pub(crate) fn iso(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn is_secret_name(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    let full = name.to_ascii_lowercase();
    full.starts_with("x-amz-") || SECRET_PARAMS.contains(&last.as_str())
}

fn is_numeric_name(name: &str) -> bool {
    matches!(
        name,
        "durationSeconds" | "maxSessionDuration" | "maxItems" | "passwordReusePrevention"
    )
}

enum Seg {
    Key(String),
    Index(usize),
}

/// Deepest parameter nesting any served operation has (`ContextEntries.member.N.ContextKeyValues.member.N` is
/// four levels). A deeper name cannot be a member of any operation; it is recorded flat under its own
/// (shortened) name, so neither building nor writing nor dropping the event recurses with the input.
const MAX_PARAM_DEPTH: usize = 8;
/// Longest parameter name kept when a name is recorded flat.
const MAX_FLAT_NAME: usize = 256;

fn segments(name: &str) -> Vec<Seg> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 * MAX_PARAM_DEPTH {
        let flat: String = name.chars().take(MAX_FLAT_NAME).collect();
        return vec![Seg::Key(flat)];
    }
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&p) = parts.get(i) {
        let next_is_index = parts
            .get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n >= 1 && *n <= crate::protocol::query::MAX_LIST_INDEX);
        if (p == "member" || p == "entry") && next_is_index.is_some() {
            out.push(Seg::Index(next_is_index.unwrap_or(1) - 1));
            i += 2;
            continue;
        }
        out.push(Seg::Key(crate::protocol::query::lower_camel(p)));
        i += 1;
    }
    out
}

fn insert(slot: &mut Value, segs: &[Seg], leaf: Value) {
    let Some((head, rest)) = segs.split_first() else {
        *slot = leaf;
        return;
    };
    match head {
        Seg::Key(k) => {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Some(m) = slot.as_object_mut() {
                insert(m.entry(k.clone()).or_insert(Value::Null), rest, leaf);
            }
        }
        Seg::Index(i) => {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Some(a) = slot.as_array_mut() {
                if a.len() <= *i {
                    a.resize(i + 1, Value::Null);
                }
                if let Some(item) = a.get_mut(*i) {
                    insert(item, rest, leaf);
                }
            }
        }
    }
}

/// `requestParameters`: lowerCamel names, lists as arrays, secrets/tokens/TOTP codes/signature fields removed.
pub fn request_parameters(params: &Params) -> Value {
    let mut root = Value::Object(Map::new());
    for (name, value) in params.iter() {
        if name == "Action" || name == "Version" || is_secret_name(name) {
            continue;
        }
        let segs = segments(name);
        let leaf_name = match segs.last() {
            Some(Seg::Key(k)) => k.as_str(),
            _ => "",
        };
        let leaf = if is_numeric_name(leaf_name) {
            value
                .parse::<i64>()
                .map_or_else(|_| Value::String(value.to_string()), Value::from)
        } else if value.chars().count() > MAX_VALUE_CHARS {
            let cut: String = value.chars().take(MAX_VALUE_CHARS).collect();
            Value::String(format!("{cut}…[truncated]"))
        } else {
            Value::String(value.to_string())
        };
        // INVARIANT: `segs` has at most 2 × MAX_PARAM_DEPTH elements, which bounds `insert`'s recursion and
        // the depth of the JSON value.
        insert(&mut root, &segs, leaf);
    }
    match &root {
        Value::Object(m) if m.is_empty() => Value::Null,
        _ => root,
    }
}

fn account_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// `userIdentity` of an authenticated caller as JSON text, and the `Username` LookupEvents reports. Written
/// field by field in the order a `serde_json::Value` map prints (sorted keys), which earlier builds stored:
/// building that map and printing it was ~1 % of an AssumeRole's CPU.
pub fn user_identity(caller: &Caller) -> (Vec<u8>, String) {
    use crate::identity::CallerKind;
    let kind = match caller.kind {
        CallerKind::Root => "Root",
        CallerKind::User { .. } => "IAMUser",
        CallerKind::AssumedRole { .. } => "AssumedRole",
        CallerKind::FederatedUser { .. } => "FederatedUser",
    };
    let username = match &caller.kind {
        CallerKind::Root => "root".to_string(),
        CallerKind::User { name, .. } | CallerKind::FederatedUser { name, .. } => name.clone(),
        CallerKind::AssumedRole { .. } => caller
            .session
            .as_deref()
            .map(|c| c.session_name.clone())
            .unwrap_or_default(),
    };
    let mut m = JsonObject::with_capacity(512);
    m.str("accessKeyId", &caller.access_key_id);
    m.str("accountId", &caller.account);
    m.str("arn", &caller.arn);
    m.str("principalId", &caller.user_id);
    if let Some(claims) = caller.session.as_deref() {
        let mut ctx = JsonObject::with_capacity(256);
        let mut attributes = JsonObject::with_capacity(64);
        attributes.str("creationDate", &iso(claims.issued));
        attributes.str(
            "mfaAuthenticated",
            if claims.mfa_at.is_some() {
                "true"
            } else {
                "false"
            },
        );
        ctx.raw("attributes", &attributes.finish_bytes());
        let mut issuer = JsonObject::with_capacity(192);
        match &claims.kind {
            SessionKind::Role {
                role_name, role_id, ..
            } => {
                issuer.str("accountId", &caller.account);
                issuer.str("arn", &caller.role_arn().unwrap_or_default());
                issuer.str("principalId", role_id);
                issuer.str("type", "Role");
                issuer.str("userName", role_name);
            }
            SessionKind::Federated { user_arn, .. } => {
                issuer.str("accountId", &caller.account);
                issuer.str("arn", user_arn);
                issuer.str("type", "IAMUser");
                issuer.str("userName", user_arn.rsplit('/').next().unwrap_or(""));
            }
            SessionKind::User { .. } | SessionKind::Root => {}
        }
        ctx.raw("sessionIssuer", &issuer.finish_bytes());
        if let Some(si) = &claims.source_identity {
            ctx.str("sourceIdentity", si);
        }
        if let Some(p) = &claims.federated_provider {
            let mut web = JsonObject::with_capacity(96);
            web.raw("attributes", b"{}");
            web.str("federatedProvider", p);
            ctx.raw("webIdFederationData", &web.finish_bytes());
        }
        m.raw("sessionContext", &ctx.finish_bytes());
    }
    m.str("type", kind);
    if let CallerKind::User { name, .. } = &caller.kind {
        m.str("userName", name);
    }
    (m.finish_bytes(), username)
}

/// `userIdentity` of an unsigned federation call (AssumeRoleWithWebIdentity / AssumeRoleWithSAML), from its
/// typed input and output.
fn federated_identity(federated: &Federated) -> (Value, String) {
    match federated {
        Federated::Saml {
            subject,
            name_qualifier,
            provider_arn,
        } => {
            let v = json!({
                "type": "SAMLUser",
                "principalId": if subject.is_empty() { String::new() } else { format!("{name_qualifier}:{subject}") },
                "userName": subject,
                "identityProvider": provider_arn,
            });
            (v, subject.clone())
        }
        Federated::WebIdentity {
            subject,
            provider,
            audience,
        } => {
            let v = json!({
                "type": "WebIdentityUser",
                "principalId": if subject.is_empty() { String::new() } else { format!("{provider}:{audience}:{subject}") },
                "userName": subject,
                "identityProvider": provider,
            });
            (v, subject.clone())
        }
        Federated::None => (Value::Null, String::new()),
    }
}

/// [`federated_identity`] of a federation call whose input never decoded (invalid parameters): the provider it
/// named is all there is, and only the raw parameters have it.
fn federated_identity_undecoded(info: &CallInfo<'_>) -> (Value, String) {
    let federated = if info.action == "AssumeRoleWithSAML" {
        Federated::Saml {
            subject: String::new(),
            name_qualifier: String::new(),
            provider_arn: info.params.get("PrincipalArn").unwrap_or("").to_string(),
        }
    } else {
        Federated::WebIdentity {
            subject: String::new(),
            provider: info.params.get("ProviderId").unwrap_or("").to_string(),
            audience: String::new(),
        }
    };
    federated_identity(&federated)
}

/// `userIdentity` when authentication failed: what the signature scope and the key table tell.
fn unauthenticated_identity(app: &Node, key_id: Option<&str>) -> (Value, String, String) {
    let mut m = Map::new();
    m.insert("type".into(), json!("Unknown"));
    let mut account = String::new();
    let mut username = String::new();
    if let Some(k) = key_id {
        m.insert("accessKeyId".into(), json!(k));
        if let Ok(st) = app.read()
            && let Some(owner) = st.keys.get(k)
        {
            account.clone_from(&owner.account);
            if let Some(u) = owner
                .user
                .as_ref()
                .and_then(|lname| st.accounts.get(&owner.account)?.users.get(lname))
            {
                username.clone_from(&u.name);
                m.insert("userName".into(), json!(u.name));
            }
        }
        if account.is_empty() {
            account = crate::ids::account_from_key_id(k).unwrap_or_default();
        }
        if !account.is_empty() {
            m.insert("accountId".into(), json!(account));
        }
    }
    (Value::Object(m), username, account)
}

fn is_read_only(action: &str) -> bool {
    [
        "Get",
        "List",
        "Lookup",
        "Describe",
        "Simulate",
        "Generate",
        "Decode",
        "AssumeRole",
    ]
    .iter()
    .any(|p| action.starts_with(p))
}

/// Resources named by the call (LookupEvents' `Resources`, and the `ResourceName` filter): those its
/// parameters name, then those its typed output issued (keys, sessions).
fn resources(info: &CallInfo<'_>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |t: &str, n: &str| {
        if !n.is_empty() && !out.iter().any(|(a, b)| a == t && b == n) {
            out.push((t.to_string(), n.to_string()));
        }
    };
    let p = info.params;
    for (param, kind) in [
        ("RoleArn", "AWS::IAM::Role"),
        ("RoleName", "AWS::IAM::Role"),
        ("UserName", "AWS::IAM::User"),
        ("GroupName", "AWS::IAM::Group"),
        ("PolicyArn", "AWS::IAM::Policy"),
        ("AccessKeyId", "AWS::IAM::AccessKey"),
        ("SerialNumber", "AWS::IAM::MFADevice"),
        ("PrincipalArn", "AWS::IAM::SAMLProvider"),
        ("InstanceProfileName", "AWS::IAM::InstanceProfile"),
    ] {
        if let Some(v) = p.get(param) {
            add(kind, v);
        }
    }
    for (kind, name) in info.typed.map_or(&[][..], |t| t.issued.as_slice()) {
        add(kind, name);
    }
    out
}

/// What a decision about another service's resource (`/_stsd/authorize`) adds to its event.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceEvent<'a> {
    /// The resources the request touched: (type, ARN), e.g. (`AWS::S3::Object`, `arn:aws:s3:::b/k`).
    pub resources: &'a [(String, String)],
    /// The account owning the resource receives the event too (a cross-account request is seen by both).
    pub owner_account: Option<&'a str>,
    /// Whether the operation only reads (else guessed from the action name).
    pub read_only: Option<bool>,
}

/// A JSON object written field by field, in CloudTrail's order, straight into its text (building a
/// `serde_json::Value` map first, then printing it, was a fifth of an AssumeRole's CPU).
struct JsonObject {
    buf: Vec<u8>,
}

impl JsonObject {
    fn with_capacity(n: usize) -> JsonObject {
        let mut buf = Vec::with_capacity(n);
        buf.push(b'{');
        JsonObject { buf }
    }

    fn key(&mut self, k: &str) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        self.string(k);
        self.buf.push(b':');
    }

    fn string(&mut self, v: &str) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, v);
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.string(v);
    }

    fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.buf
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
    }

    fn value(&mut self, k: &str, v: &Value) {
        self.key(k);
        let _ = serde_json::to_writer(&mut self.buf, v);
    }

    /// A member whose value is JSON text written elsewhere (the generated `write_json`).
    fn raw(&mut self, k: &str, json: &[u8]) {
        self.key(k);
        self.buf.extend_from_slice(json);
    }

    fn finish_bytes(mut self) -> Vec<u8> {
        self.buf.push(b'}');
        self.buf
    }

    fn finish(self) -> String {
        // Only whole UTF-8 strings and JSON punctuation were written.
        String::from_utf8(self.finish_bytes()).unwrap_or_default()
    }
}

/// A `serde_json::Value` as JSON text (writing into a `Vec` cannot fail).
fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec())
}

/// Where an event's `requestParameters` come from.
#[derive(Clone, Copy)]
enum Parameters<'x> {
    /// A JSON-protocol request as sent, or the raw Query parameters of a call with no typed input.
    Json(&'x Value),
    /// JSON text the generated `write_json` made of the decoded input.
    Typed(&'x [u8]),
}

/// The stored rows of one call: one per recipient account (a cross-account AssumeRole has two).
pub fn build_rows(app: &Node, info: &CallInfo<'_>) -> Vec<AuditRow> {
    build_rows_for(app, info, &ResourceEvent::default())
}

/// [`build_rows`] for a decision about another service's resource: its resources, its owner as a
/// recipient, and a data event (`eventCategory` `Data`) when resources are named.
pub fn build_rows_for(app: &Node, info: &CallInfo<'_>, extra: &ResourceEvent<'_>) -> Vec<AuditRow> {
    let typed = info.typed;
    // `userIdentity` as JSON text, the Username and AccessKeyId LookupEvents filter on, the caller's account.
    let (identity, username, access_key_id, caller_account) = match info.caller {
        Some(c) => {
            let (v, u) = user_identity(c);
            (v, u, c.access_key_id.clone(), c.account.clone())
        }
        None if info.action == "AssumeRoleWithWebIdentity"
            || info.action == "AssumeRoleWithSAML" =>
        {
            let (v, u) = match typed {
                Some(t) if t.federated != Federated::None => federated_identity(&t.federated),
                _ => federated_identity_undecoded(info),
            };
            (json_bytes(&v), u, String::new(), String::new())
        }
        None => {
            let (v, u, account) = unauthenticated_identity(app, info.scope_key_id);
            let key = v
                .get("accessKeyId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            (json_bytes(&v), u, key, account)
        }
    };
    // `requestParameters`: the JSON protocol's request as sent, a typed action's decoded input, or — for a
    // request with no typed input (see the module docs) — the raw parameters.
    let raw_parameters;
    let request_parameters = match (info.request_json, typed.and_then(|t| t.request.as_deref())) {
        (Some(v), _) => Parameters::Json(v),
        (None, Some(json)) => Parameters::Typed(json),
        (None, None) => {
            raw_parameters = request_parameters(info.params);
            Parameters::Json(&raw_parameters)
        }
    };
    // `responseElements`: only from a typed output (a response body is never read).
    let response: &[u8] = match (info.result, typed.and_then(|t| t.response.as_deref())) {
        (Ok(()), Some(json)) => json,
        _ => b"null",
    };
    let resources = if extra.resources.is_empty() {
        resources(info)
    } else {
        extra.resources.to_vec()
    };
    let role_account = if info.action.starts_with("AssumeRole") {
        info.params
            .get("RoleArn")
            .and_then(account_of_arn)
            .map(str::to_string)
    } else {
        None
    };
    let role_account = role_account.or_else(|| extra.owner_account.map(str::to_string));
    let mut recipients: Vec<String> = Vec::new();
    if !caller_account.is_empty() || role_account.is_none() {
        recipients.push(caller_account.clone());
    }
    if let Some(r) = role_account {
        // Only an account that exists receives events (a typo in RoleArn must not create a mailbox).
        let exists = app.read().is_ok_and(|st| st.accounts.contains_key(&r));
        if exists && !recipients.contains(&r) {
            recipients.push(r);
        }
    }
    let read_only = extra.read_only.unwrap_or_else(|| is_read_only(info.action));
    let data_event = !extra.resources.is_empty();
    let shared_id = (recipients.len() > 1).then(crate::ids::request_id);
    let secrets: &[String] = typed.map_or(&[], |t| t.secrets.as_slice());
    let mut rows = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        let event_id = super::trail::new_event_id(info.now);
        let mut out = JsonObject::with_capacity(1536);
        out.str("eventVersion", EVENT_VERSION);
        out.raw("userIdentity", &identity);
        out.str("eventTime", &iso(info.now));
        out.str("eventSource", info.event_source);
        out.str("eventName", info.action);
        out.str("awsRegion", info.region.unwrap_or("us-east-1"));
        out.str("sourceIPAddress", &info.meta.source_ip);
        out.str("userAgent", &info.meta.user_agent);
        if let Err(e) = info.result {
            out.str("errorCode", e.code);
            out.str("errorMessage", e.message);
        }
        match request_parameters {
            Parameters::Json(v) => out.value("requestParameters", v),
            Parameters::Typed(json) => out.raw("requestParameters", json),
        }
        out.raw("responseElements", response);
        out.str("requestID", info.request_id);
        out.str("eventID", &event_id);
        out.bool("readOnly", read_only);
        out.key("resources");
        out.buf.push(b'[');
        for (i, (t, n)) in resources.iter().enumerate() {
            if i > 0 {
                out.buf.push(b',');
            }
            let mut r = JsonObject::with_capacity(128);
            if let Some(a) = account_of_arn(n) {
                r.str("accountId", a);
            }
            r.str("type", t);
            r.str("ARN", n);
            out.buf.extend_from_slice(&r.finish_bytes());
        }
        out.buf.push(b']');
        out.str("eventType", "AwsApiCall");
        out.bool("managementEvent", !data_event);
        out.str("recipientAccountId", &recipient);
        if let Some(s) = &shared_id {
            out.str("sharedEventID", s);
        }
        out.str(
            "eventCategory",
            if data_event { "Data" } else { "Management" },
        );
        let mut body = out.finish();
        for s in secrets {
            // Probe with a short prefix first: a full search for a ~1 KB token on every event is costly.
            let probe = s.get(..s.len().min(24)).unwrap_or(s.as_str());
            if body.contains(probe) && body.contains(s.as_str()) {
                body = body.replace(s.as_str(), HIDDEN);
            }
        }
        rows.push(AuditRow {
            seq: 0,
            account: recipient,
            event_id,
            event_time: info.now,
            event_name: info.action.to_string(),
            event_source: info.event_source.to_string(),
            username: username.clone(),
            access_key_id: access_key_id.clone(),
            read_only,
            resources: resources.clone(),
            body,
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    #![expect(clippy::string_slice, reason = "test code: a bad index fails the test")]
    use super::*;
    use crate::action::audit_slot::AuditSlot;

    #[test]
    fn request_parameters_drop_secrets_and_nest_lists() {
        let p = Params::from_pairs([
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::111122223333:role/r"),
            ("RoleSessionName", "s"),
            ("DurationSeconds", "900"),
            ("TokenCode", "123456"),
            ("SerialNumber", "arn:aws:iam::111122223333:mfa/d"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "blue"),
            ("Tags.member.2.Key", "env"),
            (
                "PolicyArns.member.1.arn",
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
            ),
            ("X-Amz-Security-Token", "tok"),
            (
                "X-Amz-Credential",
                "AKIA/20260101/us-east-1/sts/aws4_request",
            ),
            ("AuthenticationCode1", "111111"),
            ("AuthenticationCode2", "222222"),
            ("SAMLAssertion", "PHNhbWw+"),
            ("WebIdentityToken", "eyJ"),
            ("SecretAccessKey", "s3cr3t"),
        ]);
        let v = request_parameters(&p);
        assert_eq!(v["roleArn"], "arn:aws:iam::111122223333:role/r");
        assert_eq!(v["roleSessionName"], "s");
        assert_eq!(v["durationSeconds"], 900);
        assert_eq!(v["tags"][0]["key"], "team");
        assert_eq!(v["tags"][0]["value"], "blue");
        assert_eq!(v["tags"][1]["key"], "env");
        assert_eq!(
            v["policyArns"][0]["arn"],
            "arn:aws:iam::aws:policy/ReadOnlyAccess"
        );
        let text = v.to_string();
        for secret in [
            "123456", "tok", "111111", "222222", "PHNhbWw+", "eyJ", "s3cr3t", "AKIA/",
        ] {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
        assert!(v.get("action").is_none() && v.get("version").is_none());
        assert_eq!(
            request_parameters(&Params::from_pairs([("Action", "X")])),
            Value::Null
        );
    }

    /// A name thousands of levels deep is recorded flat, on a small stack, without recursing per level.
    #[test]
    fn deep_parameter_names_are_recorded_flat() {
        let worker = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let name = format!("Tags{}.Key", ".member.1".repeat(50_000));
                let p = Params::from_pairs([("Action", "CreateUser"), (name.as_str(), "k")]);
                let v = request_parameters(&p);
                let text = v.to_string();
                assert!(text.len() < 1_000, "{}", text.len());
                drop(v);
                let ok = Params::from_pairs([
                    ("ContextEntries.member.1.ContextKeyValues.member.1", "v"),
                    ("ContextEntries.member.1.ContextKeyName", "aws:x"),
                ]);
                assert_eq!(
                    request_parameters(&ok)["contextEntries"][0]["contextKeyValues"][0],
                    "v"
                );
            })
            .unwrap();
        worker.join().unwrap();
    }

    /// The typed output's `responseElements`: the issued key ID, never the secret or the token (which are
    /// collected for the event's last check), and the resources it issued.
    #[test]
    fn response_elements_keep_key_id_never_secret_or_token() {
        use stsd_wire::generated::{iam as wi, sts as ws};
        let slot = AuditSlot::default();
        slot.input(&ws::AssumeRoleRequest {
            role_arn: "arn:aws:iam::1:role/r".into(),
            role_session_name: "s".into(),
            ..Default::default()
        });
        slot.output(&ws::AssumeRoleResponse {
            credentials: Some(ws::Credentials {
                access_key_id: "ASIAXYZ".into(),
                secret_access_key: "verysecretvalue".into(),
                session_token: "sessiontokenvalue".into(),
                expiration: 1_767_225_600,
            }),
            assumed_role_user: Some(ws::AssumedRoleUser {
                assumed_role_id: "AROAX:s".into(),
                arn: "arn:aws:sts::1:assumed-role/r/s".into(),
            }),
            packed_policy_size: Some(6),
            source_identity: Some("me".into()),
        });
        let t = slot.get().unwrap();
        let v: Value = serde_json::from_slice(t.response.as_deref().unwrap()).unwrap();
        assert_eq!(v["credentials"]["accessKeyId"], "ASIAXYZ");
        assert_eq!(v["credentials"]["expiration"], "2026-01-01T00:00:00Z");
        assert_eq!(v["assumedRoleUser"]["assumedRoleId"], "AROAX:s");
        assert_eq!(v["packedPolicySize"], 6);
        assert_eq!(v["sourceIdentity"], "me");
        let text = v.to_string();
        assert!(!text.contains("verysecretvalue") && !text.contains("sessiontokenvalue"));
        assert_eq!(t.secrets, ["verysecretvalue", "sessiontokenvalue"]);
        assert_eq!(
            t.issued,
            [
                ("AWS::IAM::AccessKey", "ASIAXYZ".to_string()),
                (
                    "AWS::STS::AssumedRole",
                    "arn:aws:sts::1:assumed-role/r/s".to_string()
                )
            ]
        );
        drop(t);

        let slot = AuditSlot::default();
        slot.input(&wi::CreateAccessKeyRequest::default());
        slot.output(&wi::CreateAccessKeyResponse {
            access_key: wi::AccessKey {
                user_name: Some("u".into()),
                access_key_id: "AKIAQ".into(),
                status: "Active".into(),
                secret_access_key: "verysecretvalue".into(),
                create_date: None,
            },
        });
        let t = slot.get().unwrap();
        let v: Value = serde_json::from_slice(t.response.as_deref().unwrap()).unwrap();
        assert_eq!(v["accessKey"]["accessKeyId"], "AKIAQ");
        assert!(!v.to_string().contains("verysecretvalue"));
        drop(t);

        // An answer that issues nothing is not recorded.
        let slot = AuditSlot::default();
        slot.input(&wi::ListUsersRequest::default());
        slot.output(&wi::ListUsersResponse::default());
        assert_eq!(slot.get().unwrap().response, None);
    }

    /// A decoded input's `requestParameters` are the bytes the raw-parameter path printed for the same request
    /// (same names, order, numbers, truncation and omissions), so records keep the shape the trail's
    /// dictionary was trained on.
    #[test]
    fn typed_request_parameters_match_the_raw_parameter_path() {
        fn same<I: stsd_wire::Input>(pairs: &[(&str, &str)]) {
            let p = Params::from_pairs(pairs.iter().copied());
            let input = I::decode(&p).unwrap();
            let mut typed = Vec::new();
            input.write_audit(&mut typed);
            let raw = serde_json::to_vec(&request_parameters(&p)).unwrap();
            assert_eq!(
                String::from_utf8(typed).unwrap(),
                String::from_utf8(raw).unwrap()
            );
        }
        use stsd_wire::generated::{iam as wi, sts as ws};
        let long_policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{}é"}}]}}"#,
            "b".repeat(9000)
        );
        same::<ws::AssumeRoleRequest>(&[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::111122223333:role/deploy"),
            ("RoleSessionName", "ci-session"),
            ("DurationSeconds", "0900"),
            ("SourceIdentity", "alice"),
            ("ExternalId", "ext-1:x"),
            ("SerialNumber", "arn:aws:iam::111122223333:mfa/d"),
            ("TokenCode", "123456"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "blue"),
            ("Tags.member.2.Key", "env"),
            ("Tags.member.2.Value", "prod"),
            ("TransitiveTagKeys.member.1", "team"),
            (
                "PolicyArns.member.1.arn",
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
            ),
            ("Policy", r#"{"Version":"2012-10-17","Statement":[]}"#),
        ]);
        same::<ws::AssumeRoleRequest>(&[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::111122223333:role/deploy"),
            ("RoleSessionName", "ci-session"),
        ]);
        same::<ws::AssumeRoleWithSAMLRequest>(&[
            ("Action", "AssumeRoleWithSAML"),
            ("RoleArn", "arn:aws:iam::111122223333:role/deploy"),
            (
                "PrincipalArn",
                "arn:aws:iam::111122223333:saml-provider/idp",
            ),
            (
                "SAMLAssertion",
                "PHNhbWxwOlJlc3BvbnNlPjwvc2FtbHA6UmVzcG9uc2U+",
            ),
        ]);
        same::<wi::CreateUserRequest>(&[
            ("Action", "CreateUser"),
            ("UserName", "alice"),
            ("Path", "/eng/"),
            ("Tags.member.1.Key", "k"),
            ("Tags.member.1.Value", "v"),
        ]);
        same::<wi::PutRolePolicyRequest>(&[
            ("Action", "PutRolePolicy"),
            ("RoleName", "deploy"),
            ("PolicyName", "p"),
            ("PolicyDocument", &long_policy),
        ]);
        same::<wi::ListUsersRequest>(&[("Action", "ListUsers"), ("MaxItems", "10")]);
        same::<wi::ListUsersRequest>(&[("Action", "ListUsers")]);
        same::<wi::EnableMFADeviceRequest>(&[
            ("Action", "EnableMFADevice"),
            ("UserName", "alice"),
            ("SerialNumber", "arn:aws:iam::111122223333:mfa/alice"),
            ("AuthenticationCode1", "123456"),
            ("AuthenticationCode2", "654321"),
        ]);
        same::<wi::CreateRoleRequest>(&[
            ("Action", "CreateRole"),
            ("RoleName", "r"),
            (
                "AssumeRolePolicyDocument",
                r#"{"Version":"2012-10-17","Statement":[]}"#,
            ),
            ("MaxSessionDuration", "7200"),
        ]);
    }

    /// No value of a sensitive member — input (passwords, MFA codes, assertions, web identity tokens) or
    /// output (secret keys, session tokens, MFA seeds) — ever appears in an event, whether the call succeeds or
    /// is refused after its input decoded.
    #[test]
    fn no_sensitive_value_ever_appears_in_an_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
        let app = crate::app::App::new(
            Box::new(store),
            crate::app::Config::default(),
            crate::app::Clock::fixed(1_700_000_000),
        )
        .unwrap();
        crate::iam::create_account_for_management(&app, "111122223333", None).unwrap();
        let root = Caller {
            account: "111122223333".into(),
            kind: crate::identity::CallerKind::Root,
            arn: "arn:aws:iam::111122223333:root".into(),
            user_id: "111122223333".into(),
            access_key_id: "AKIAROOTROOTROOTROOT".into(),
            session: None,
            region: "us-east-1".into(),
        };
        let meta = RequestMeta {
            source_ip: "127.0.0.1".into(),
            secure_transport: true,
            user_agent: "test".into(),
        };
        // Run one call as the dispatch does and build its events: (answer XML, event bodies).
        let call = |action: &str, pairs: &[(&str, &str)]| -> (Option<String>, Vec<String>) {
            let mut all = vec![("Action", action)];
            all.extend_from_slice(pairs);
            let params = Params::from_pairs(all);
            let slot = AuditSlot::default();
            let (source, result) = if let Some(h) = crate::sts::unsigned_handler(action) {
                let ctx = crate::sts::UnsignedCtx {
                    node: &app,
                    meta: &meta,
                    now: app.clock.now(),
                    audit: &slot,
                };
                ("sts.amazonaws.com", h(&ctx, &params))
            } else {
                let ctx = crate::iam::Ctx {
                    node: &app,
                    caller: &root,
                    meta: &meta,
                    now: app.clock.now(),
                    audit: &slot,
                };
                match crate::sts::handler(action) {
                    Some(h) => ("sts.amazonaws.com", h(&ctx, &params)),
                    None => (
                        "iam.amazonaws.com",
                        crate::iam::handler(action).unwrap()(&ctx, &params),
                    ),
                }
            };
            let typed = slot.get().unwrap();
            assert!(typed.request.is_some(), "{action}: input decoded");
            let unsigned = crate::sts::unsigned_handler(action).is_some();
            let info = CallInfo {
                event_source: source,
                action,
                params: &params,
                request_json: None,
                meta: &meta,
                caller: (!unsigned).then_some(&root),
                scope_key_id: None,
                region: None,
                request_id: "req",
                now: app.clock.now(),
                typed: Some(&typed),
                result: result.as_ref().map(|_| ()).map_err(CallError::from),
            };
            let bodies = build_rows(&app, &info)
                .into_iter()
                .map(|r| r.body)
                .collect();
            (result.ok().flatten(), bodies)
        };
        let between = |xml: &str, tag: &str| -> String {
            let open = format!("<{tag}>");
            let start = xml.find(&open).unwrap() + open.len();
            let end = start + xml[start..].find(&format!("</{tag}>")).unwrap();
            xml[start..end].to_string()
        };
        let mut events: Vec<String> = Vec::new();
        let mut secrets: Vec<String> = Vec::new();

        let (_, e) = call("CreateUser", &[("UserName", "alice")]);
        events.extend(e);
        let password = "Corr3ct-Horse-Battery-Staple!";
        let (_, e) = call(
            "CreateLoginProfile",
            &[("UserName", "alice"), ("Password", password)],
        );
        secrets.push(password.into());
        events.extend(e);
        let (xml, e) = call("CreateAccessKey", &[("UserName", "alice")]);
        let xml = xml.unwrap();
        secrets.push(between(&xml, "SecretAccessKey"));
        let key_id = between(&xml, "AccessKeyId");
        assert!(
            e[0].contains(&format!(r#""accessKey":{{"accessKeyId":"{key_id}""#)),
            "{}",
            e[0]
        );
        events.extend(e);
        let (xml, e) = call("GetSessionToken", &[("DurationSeconds", "900")]);
        let xml = xml.unwrap();
        secrets.push(between(&xml, "SecretAccessKey"));
        secrets.push(between(&xml, "SessionToken"));
        let session_key = between(&xml, "AccessKeyId");
        assert!(
            e[0].contains(&format!(r#""credentials":{{"accessKeyId":"{session_key}""#)),
            "{}",
            e[0]
        );
        assert!(
            e[0].contains(&format!(
                r#"{{"type":"AWS::IAM::AccessKey","ARN":"{session_key}"}}"#
            )),
            "{}",
            e[0]
        );
        events.extend(e);
        let (xml, e) = call(
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "alice-mfa")],
        );
        let xml = xml.unwrap();
        secrets.push(between(&xml, "Base32StringSeed"));
        events.extend(e);
        // Refused after decoding: recorded with their parameters, never with their codes, tokens or assertions.
        let (_, e) = call(
            "EnableMFADevice",
            &[
                ("UserName", "alice"),
                ("SerialNumber", "arn:aws:iam::111122223333:mfa/alice-mfa"),
                ("AuthenticationCode1", "918273"),
                ("AuthenticationCode2", "645546"),
            ],
        );
        assert!(e[0].contains(r#""requestParameters":{"serialNumber":"arn:aws:iam::111122223333:mfa/alice-mfa","userName":"alice"}"#), "{}", e[0]);
        events.extend(e);
        let (_, e) = call(
            "AssumeRole",
            &[
                ("RoleArn", "arn:aws:iam::111122223333:role/none"),
                ("RoleSessionName", "s1"),
                ("SerialNumber", "arn:aws:iam::111122223333:mfa/alice-mfa"),
                ("TokenCode", "918273"),
            ],
        );
        events.extend(e);
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZW5zaXRpdmUtdG9rZW4tc3ViamVjdCJ9.c2lnbmF0dXJlLXZhbHVl";
        let (_, e) = call(
            "AssumeRoleWithWebIdentity",
            &[
                ("RoleArn", "arn:aws:iam::111122223333:role/none"),
                ("RoleSessionName", "s1"),
                ("WebIdentityToken", token),
            ],
        );
        secrets.push(token.into());
        events.extend(e);
        let assertion = "PHNhbWxwOlJlc3BvbnNlIHNlbnNpdGl2ZT0idHJ1ZSI+PC9zYW1scDpSZXNwb25zZT4=";
        let (_, e) = call(
            "AssumeRoleWithSAML",
            &[
                ("RoleArn", "arn:aws:iam::111122223333:role/none"),
                (
                    "PrincipalArn",
                    "arn:aws:iam::111122223333:saml-provider/idp",
                ),
                ("SAMLAssertion", assertion),
            ],
        );
        assert!(
            e[0].contains(r#""identityProvider":"arn:aws:iam::111122223333:saml-provider/idp""#),
            "{}",
            e[0]
        );
        secrets.push(assertion.into());
        events.extend(e);

        assert!(events.len() >= 9 && secrets.len() == 7);
        for body in &events {
            for secret in &secrets {
                assert!(
                    secret.len() >= 8 && !body.contains(secret.as_str()),
                    "{secret} in {body}"
                );
            }
            let v: Value = serde_json::from_str(body).unwrap();
            let params = v["requestParameters"].to_string();
            for code in ["918273", "645546"] {
                assert!(!params.contains(code), "{params}");
            }
            for name in [
                "password",
                "authenticationCode1",
                "authenticationCode2",
                "tokenCode",
                "webIdentityToken",
                "sAMLAssertion",
                "secretAccessKey",
                "sessionToken",
                "base32StringSeed",
            ] {
                assert!(!body.contains(&format!("\"{name}\"")), "{name} in {body}");
            }
        }
    }

    #[test]
    fn scope_from_header_or_presigned_query() {
        let p = Params::default();
        let h = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/eu-west-1/sts/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(
            signature_scope(Some(h), &p),
            (Some("AKIAEXAMPLE"), Some("eu-west-1"))
        );
        let p = Params::from_pairs([(
            "X-Amz-Credential",
            "ASIAX/20260101/ap-south-1/sts/aws4_request",
        )]);
        assert_eq!(
            signature_scope(None, &p),
            (Some("ASIAX"), Some("ap-south-1"))
        );
        assert_eq!(signature_scope(None, &Params::default()), (None, None));
    }

    /// The old `userIdentity`: a `serde_json::Value` map, printed. The direct writer must print the same.
    fn user_identity_value(caller: &Caller) -> Value {
        let mut m = Map::new();
        let kind = match caller.kind {
            crate::identity::CallerKind::Root => "Root",
            crate::identity::CallerKind::User { .. } => "IAMUser",
            crate::identity::CallerKind::AssumedRole { .. } => "AssumedRole",
            crate::identity::CallerKind::FederatedUser { .. } => "FederatedUser",
        };
        m.insert("type".into(), json!(kind));
        m.insert("principalId".into(), json!(caller.user_id));
        m.insert("arn".into(), json!(caller.arn));
        m.insert("accountId".into(), json!(caller.account));
        m.insert("accessKeyId".into(), json!(caller.access_key_id));
        if let crate::identity::CallerKind::User { name, .. } = &caller.kind {
            m.insert("userName".into(), json!(name));
        }
        if let Some(claims) = caller.session.as_deref() {
            let issuer = match &claims.kind {
                SessionKind::Role {
                    role_name, role_id, ..
                } => json!({
                    "type": "Role",
                    "principalId": role_id,
                    "arn": caller.role_arn().unwrap_or_default(),
                    "accountId": caller.account,
                    "userName": role_name,
                }),
                SessionKind::Federated { user_arn, .. } => json!({
                    "type": "IAMUser",
                    "arn": user_arn,
                    "accountId": caller.account,
                    "userName": user_arn.rsplit('/').next().unwrap_or(""),
                }),
                SessionKind::User { .. } | SessionKind::Root => json!({}),
            };
            let mut ctx = Map::new();
            ctx.insert("sessionIssuer".into(), issuer);
            if let Some(p) = &claims.federated_provider {
                ctx.insert(
                    "webIdFederationData".into(),
                    json!({"federatedProvider": p, "attributes": {}}),
                );
            }
            ctx.insert(
                "attributes".into(),
                json!({
                    "creationDate": iso(claims.issued),
                    "mfaAuthenticated": if claims.mfa_at.is_some() { "true" } else { "false" },
                }),
            );
            if let Some(si) = &claims.source_identity {
                ctx.insert("sourceIdentity".into(), json!(si));
            }
            m.insert("sessionContext".into(), Value::Object(ctx));
        }
        Value::Object(m)
    }

    #[test]
    fn user_identity_is_written_as_the_value_map_printed_it() {
        use crate::identity::CallerKind;
        let claims = |kind: Value, extra: Value| -> Option<std::sync::Arc<crate::tokens::Claims>> {
            let mut c = json!({"account": "111122223333", "kind": kind, "session_name": "s\u{e9}ss \"q\"",
                "issued": 1_700_000_000, "expires": 1_700_003_600});
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            Some(std::sync::Arc::new(serde_json::from_value(c).unwrap()))
        };
        let base = Caller {
            account: "111122223333".into(),
            kind: CallerKind::Root,
            arn: "arn:aws:iam::111122223333:root".into(),
            user_id: "111122223333".into(),
            access_key_id: "AKIAEXAMPLE".into(),
            session: None,
            region: "us-east-1".into(),
        };
        let role =
            json!({"t": "Role", "role_name": "R<&>", "role_path": "/p/", "role_id": "AROAX"});
        let callers = [
            base.clone(),
            Caller {
                kind: CallerKind::User {
                    key: "alice".into(),
                    name: "Alice\u{1F600}".into(),
                },
                ..base.clone()
            },
            Caller {
                kind: CallerKind::User {
                    key: "bob".into(),
                    name: "bob".into(),
                },
                session: claims(
                    json!({"t": "User", "user_key": "bob", "user_name": "bob", "user_id": "AIDAB", "user_path": "/"}),
                    json!({"mfa_at": 1_700_000_000}),
                ),
                ..base.clone()
            },
            Caller {
                kind: CallerKind::AssumedRole {
                    role_key: "r".into(),
                    role_name: "R".into(),
                },
                session: claims(role.clone(), json!({})),
                ..base.clone()
            },
            Caller {
                kind: CallerKind::AssumedRole {
                    role_key: "r".into(),
                    role_name: "R".into(),
                },
                session: claims(
                    role,
                    json!({"source_identity": "src", "federated_provider": "token.actions.githubusercontent.com", "mfa_at": 5}),
                ),
                ..base.clone()
            },
            Caller {
                kind: CallerKind::FederatedUser {
                    user_key: "bob".into(),
                    name: "fed".into(),
                },
                session: claims(
                    json!({"t": "Federated", "name": "fed", "user_key": "bob", "user_arn": "arn:aws:iam::111122223333:user/x/bob"}),
                    json!({}),
                ),
                ..base.clone()
            },
            Caller {
                kind: CallerKind::Root,
                session: claims(json!({"t": "Root"}), json!({})),
                ..base
            },
        ];
        for c in &callers {
            let (text, _) = user_identity(c);
            assert_eq!(
                String::from_utf8(text).unwrap(),
                serde_json::to_string(&user_identity_value(c)).unwrap(),
                "{c:?}"
            );
        }
    }

    proptest::proptest! {
        /// The arithmetic date matches the `time` crate's formatting for every second of years 1970–9999.
        #[test]
        fn iso_matches_the_time_crate(t in 0i64..253_402_300_800) {
            let expected = time::OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(&time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                ))
                .unwrap();
            let rfc3339 = time::OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            // Digests printed their times with the RFC 3339 formatter before they shared this function.
            proptest::prop_assert_eq!(&expected, &rfc3339);
            proptest::prop_assert_eq!(iso(t), expected);
        }
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
