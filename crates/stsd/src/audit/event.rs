//! Building the CloudTrail record of one call. Request parameters pass a deny-list of secret-bearing names;
//! response elements pass an allow-list of fields (so a secret key or session token can never get in), and a
//! last check blanks any issued secret that still turned up anywhere in the record.

use serde_json::{json, Map, Value};

use crate::app::App;
use crate::error::ApiError;
use crate::identity::{Caller, RequestMeta};
use crate::protocol::query::Params;
use crate::store::AuditRow;
use crate::tokens::SessionKind;

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
    /// The response body on success, the error otherwise.
    pub result: Result<&'a str, CallError<'a>>,
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
pub fn record_call(app: &App, info: &CallInfo<'_>) {
    if !app.audit.is_recording() {
        return;
    }
    let rows = build_rows(app, info);
    app.audit.submit(rows);
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

fn iso(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
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
    while i < parts.len() {
        let p = parts[i];
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
                insert(&mut a[*i], rest, leaf);
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

/// Entity-decoded `raw` element text.
fn unescape(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_string();
    }
    raw.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// One text-only element of a response: `<tag>raw</tag>` directly inside `<parent>`.
struct Leaf<'x> {
    parent: &'x str,
    tag: &'x str,
    raw: &'x str,
}

/// Deepest element nesting followed in a response (ours nest at most five levels).
const MAX_RESPONSE_DEPTH: usize = 16;

/// The text-only elements of a response we wrote, in document order: one pass over the XML (each `<` found
/// with memchr, so a long session token costs nothing), instead of one search per field.
fn leaves(xml: &str) -> Vec<Leaf<'_>> {
    let mut out = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    let mut rest = xml;
    let mut text_start: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        let text = rest.get(..lt).unwrap_or("");
        let after = rest.get(lt + 1..).unwrap_or("");
        let Some(gt) = after.find('>') else { break };
        let inner = after.get(..gt).unwrap_or("");
        rest = after.get(gt + 1..).unwrap_or("");
        if let Some(name) = inner.strip_prefix('/') {
            if let (Some(_), Some(&tag)) = (text_start.take(), open.last()) {
                if tag == name {
                    let parent = open.len().checked_sub(2).and_then(|i| open.get(i));
                    out.push(Leaf {
                        parent: parent.copied().unwrap_or(""),
                        tag,
                        raw: text,
                    });
                }
            }
            open.pop();
        } else if inner.starts_with('?') || inner.starts_with('!') || inner.ends_with('/') {
            text_start = None;
        } else {
            let name = inner.split([' ', '\t', '\n']).next().unwrap_or(inner);
            if open.len() >= MAX_RESPONSE_DEPTH {
                break;
            }
            open.push(name);
            text_start = Some(name);
        }
    }
    out
}

/// Entity-decoded text of the first `<tag>` of a response, wherever it is.
fn leaf_text(leaves: &[Leaf<'_>], tag: &str) -> Option<String> {
    leaves
        .iter()
        .find(|l| l.tag == tag)
        .map(|l| unescape(l.raw))
}

/// Pick allow-listed `(xml tag, json name)` fields of the elements directly inside `<parent>` into an object
/// (the first of each).
fn pick(leaves: &[Leaf<'_>], parent: &str, fields: &[(&str, &str)]) -> Option<Value> {
    let mut m = Map::new();
    for (tag, name) in fields {
        if let Some(l) = leaves.iter().find(|l| l.parent == parent && l.tag == *tag) {
            let v = unescape(l.raw);
            let v = if *name == "packedPolicySize" {
                v.parse::<i64>().map_or(Value::String(v), Value::from)
            } else {
                Value::String(v)
            };
            m.insert((*name).to_string(), v);
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// `responseElements`: only allow-listed fields (issued access key ID, expiration, assumed-role user, …).
/// Secret keys and session tokens are never read.
fn response_elements_of(action: &str, leaves: &[Leaf<'_>]) -> Value {
    let mut m = Map::new();
    if let Some(v) = pick(
        leaves,
        "Credentials",
        &[("AccessKeyId", "accessKeyId"), ("Expiration", "expiration")],
    ) {
        m.insert("credentials".into(), v);
    }
    if let Some(v) = pick(
        leaves,
        "AssumedRoleUser",
        &[("AssumedRoleId", "assumedRoleId"), ("Arn", "arn")],
    ) {
        m.insert("assumedRoleUser".into(), v);
    }
    if let Some(v) = pick(
        leaves,
        "FederatedUser",
        &[("FederatedUserId", "federatedUserId"), ("Arn", "arn")],
    ) {
        m.insert("federatedUser".into(), v);
    }
    if action == "CreateAccessKey" {
        if let Some(v) = pick(
            leaves,
            "AccessKey",
            &[
                ("AccessKeyId", "accessKeyId"),
                ("Status", "status"),
                ("UserName", "userName"),
                ("CreateDate", "createDate"),
            ],
        ) {
            m.insert("accessKey".into(), v);
        }
    }
    if action.starts_with("AssumeRole") || action == "GetFederationToken" {
        // Only the result's own scalars, not those of its nested sections.
        let result = format!("{action}Result");
        if let Some(Value::Object(extra)) = pick(
            leaves,
            &result,
            &[
                ("PackedPolicySize", "packedPolicySize"),
                ("SourceIdentity", "sourceIdentity"),
                ("SubjectFromWebIdentityToken", "subjectFromWebIdentityToken"),
                ("Provider", "provider"),
                ("Audience", "audience"),
                ("Subject", "subject"),
                ("SubjectType", "subjectType"),
                ("Issuer", "issuer"),
                ("NameQualifier", "nameQualifier"),
            ],
        ) {
            m.extend(extra);
        }
    }
    if m.is_empty() {
        Value::Null
    } else {
        Value::Object(m)
    }
}

/// Values that must never appear in a record: the secrets and tokens a response issued.
fn secrets_of(leaves: &[Leaf<'_>]) -> Vec<String> {
    leaves
        .iter()
        .filter(|l| matches!(l.tag, "SecretAccessKey" | "SessionToken") && l.raw.len() >= 8)
        .map(|l| unescape(l.raw))
        .collect()
}

fn account_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// `userIdentity` of an authenticated caller, and the `Username` LookupEvents reports.
pub fn user_identity(caller: &Caller) -> (Value, String) {
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
    let username = match &caller.kind {
        crate::identity::CallerKind::Root => "root".to_string(),
        crate::identity::CallerKind::User { name, .. } => {
            m.insert("userName".into(), json!(name));
            name.clone()
        }
        crate::identity::CallerKind::AssumedRole { .. } => caller
            .session
            .as_deref()
            .map(|c| c.session_name.clone())
            .unwrap_or_default(),
        crate::identity::CallerKind::FederatedUser { name, .. } => name.clone(),
    };
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
    (Value::Object(m), username)
}

/// `userIdentity` of an unsigned federation call (AssumeRoleWithWebIdentity / AssumeRoleWithSAML).
fn federated_identity(info: &CallInfo<'_>, response: &[Leaf<'_>]) -> (Value, String) {
    if info.action == "AssumeRoleWithSAML" {
        let sub = leaf_text(response, "Subject").unwrap_or_default();
        let nq = leaf_text(response, "NameQualifier").unwrap_or_default();
        let idp = info.params.get("PrincipalArn").unwrap_or("");
        let v = json!({
            "type": "SAMLUser",
            "principalId": if sub.is_empty() { String::new() } else { format!("{nq}:{sub}") },
            "userName": sub,
            "identityProvider": idp,
        });
        return (v, sub);
    }
    let sub = leaf_text(response, "SubjectFromWebIdentityToken").unwrap_or_default();
    let provider = leaf_text(response, "Provider")
        .or_else(|| info.params.get("ProviderId").map(str::to_string))
        .unwrap_or_default();
    let aud = leaf_text(response, "Audience").unwrap_or_default();
    let v = json!({
        "type": "WebIdentityUser",
        "principalId": if sub.is_empty() { String::new() } else { format!("{provider}:{aud}:{sub}") },
        "userName": sub,
        "identityProvider": provider,
    });
    (v, sub)
}

/// `userIdentity` when authentication failed: what the signature scope and the key table tell.
fn unauthenticated_identity(app: &App, key_id: Option<&str>) -> (Value, String, String) {
    let mut m = Map::new();
    m.insert("type".into(), json!("Unknown"));
    let mut account = String::new();
    let mut username = String::new();
    if let Some(k) = key_id {
        m.insert("accessKeyId".into(), json!(k));
        if let Ok(st) = app.read() {
            if let Some(owner) = st.keys.get(k) {
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

/// Resources named by the call (LookupEvents' `Resources`, and the `ResourceName` filter).
fn resources(info: &CallInfo<'_>, response: &Value) -> Vec<(String, String)> {
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
    if let Some(k) = response
        .pointer("/credentials/accessKeyId")
        .and_then(Value::as_str)
    {
        add("AWS::IAM::AccessKey", k);
    }
    if let Some(k) = response
        .pointer("/accessKey/accessKeyId")
        .and_then(Value::as_str)
    {
        add("AWS::IAM::AccessKey", k);
    }
    if let Some(a) = response
        .pointer("/assumedRoleUser/arn")
        .and_then(Value::as_str)
    {
        add("AWS::STS::AssumedRole", a);
    }
    if let Some(a) = response
        .pointer("/federatedUser/arn")
        .and_then(Value::as_str)
    {
        add("AWS::STS::FederatedUser", a);
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

    fn finish_bytes(mut self) -> Vec<u8> {
        self.buf.push(b'}');
        self.buf
    }

    fn finish(self) -> String {
        // Only whole UTF-8 strings and JSON punctuation were written.
        String::from_utf8(self.finish_bytes()).unwrap_or_default()
    }
}

/// The stored rows of one call: one per recipient account (a cross-account AssumeRole has two).
pub fn build_rows(app: &App, info: &CallInfo<'_>) -> Vec<AuditRow> {
    build_rows_for(app, info, &ResourceEvent::default())
}

/// [`build_rows`] for a decision about another service's resource: its resources, its owner as a
/// recipient, and a data event (`eventCategory` `Data`) when resources are named.
pub fn build_rows_for(app: &App, info: &CallInfo<'_>, extra: &ResourceEvent<'_>) -> Vec<AuditRow> {
    // The answer is read once: identity (federation), response elements and issued secrets all come from it.
    let response_leaves = match info.result {
        Ok(xml) => leaves(xml),
        Err(_) => Vec::new(),
    };
    let (identity, username, caller_account) = match info.caller {
        Some(c) => {
            let (v, u) = user_identity(c);
            (v, u, c.account.clone())
        }
        None if info.action == "AssumeRoleWithWebIdentity"
            || info.action == "AssumeRoleWithSAML" =>
        {
            let (v, u) = federated_identity(info, &response_leaves);
            (v, u, String::new())
        }
        None => unauthenticated_identity(app, info.scope_key_id),
    };
    let request_parameters = match info.request_json {
        Some(v) => v.clone(),
        None => request_parameters(info.params),
    };
    let response = match info.result {
        Ok(_) => response_elements_of(info.action, &response_leaves),
        Err(_) => Value::Null,
    };
    let resources = if extra.resources.is_empty() {
        resources(info, &response)
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
    let access_key_id = identity
        .get("accessKeyId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let read_only = extra.read_only.unwrap_or_else(|| is_read_only(info.action));
    let data_event = !extra.resources.is_empty();
    let shared_id = (recipients.len() > 1).then(crate::ids::request_id);
    let secrets = secrets_of(&response_leaves);
    let mut rows = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        let event_id = super::trail::new_event_id(info.now);
        let mut out = JsonObject::with_capacity(1536);
        out.str("eventVersion", EVENT_VERSION);
        out.value("userIdentity", &identity);
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
        out.value("requestParameters", &request_parameters);
        out.value("responseElements", &response);
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
        for s in &secrets {
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
    use super::*;

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

    #[test]
    fn response_elements_keep_key_id_never_secret_or_token() {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><SourceIdentity>me</SourceIdentity>\
            <AssumedRoleUser><AssumedRoleId>AROAX:s</AssumedRoleId><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser>\
            <Credentials><AccessKeyId>ASIAXYZ</AccessKeyId><SecretAccessKey>verysecretvalue</SecretAccessKey>\
            <SessionToken>sessiontokenvalue</SessionToken><Expiration>2026-01-01T00:00:00Z</Expiration></Credentials>\
            <PackedPolicySize>6</PackedPolicySize></AssumeRoleResult></AssumeRoleResponse>";
        let v = response_elements_of("AssumeRole", &leaves(xml));
        assert_eq!(v["credentials"]["accessKeyId"], "ASIAXYZ");
        assert_eq!(v["credentials"]["expiration"], "2026-01-01T00:00:00Z");
        assert_eq!(v["assumedRoleUser"]["assumedRoleId"], "AROAX:s");
        assert_eq!(v["packedPolicySize"], 6);
        assert_eq!(v["sourceIdentity"], "me");
        let text = v.to_string();
        assert!(!text.contains("verysecretvalue") && !text.contains("sessiontokenvalue"));
        assert_eq!(
            secrets_of(&leaves(xml)),
            ["verysecretvalue", "sessiontokenvalue"]
        );

        let xml = "<CreateAccessKeyResult><AccessKey><UserName>u</UserName><AccessKeyId>AKIAQ</AccessKeyId>\
            <Status>Active</Status><SecretAccessKey>verysecretvalue</SecretAccessKey></AccessKey></CreateAccessKeyResult>";
        let v = response_elements_of("CreateAccessKey", &leaves(xml));
        assert_eq!(v["accessKey"]["accessKeyId"], "AKIAQ");
        assert!(!v.to_string().contains("verysecretvalue"));
        assert_eq!(
            response_elements_of("ListUsers", &leaves("<Users/>")),
            Value::Null
        );
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

    #[test]
    fn iso_times() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
