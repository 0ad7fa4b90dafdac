//! Route tables: what a request to another service means in IAM terms — one operation, the actions it needs on
//! which resources, and the condition keys the request carries. Built in: `s3` ([`s3`]). Custom
//! services come from a JSON file (`stsd serve --routes FILE`, format in `docs/authorizer.md`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

pub mod s3;

use s3::S3Table;

/// Largest route file read.
pub const MAX_ROUTE_FILE_BYTES: u64 = 1024 * 1024;
/// Most services in a route file.
pub const MAX_SERVICES: usize = 64;
/// Most routes of one service.
pub const MAX_ROUTES: usize = 1000;
/// Longest template (path, ARN, condition value).
pub const MAX_TEMPLATE_LEN: usize = 2048;
/// Longest value a template expands to.
pub const MAX_EXPANDED_LEN: usize = 4096;

/// The request as the proxy saw it, after authentication.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub method: &'a str,
    /// Raw path as sent (percent-encoded).
    pub path: &'a str,
    /// Raw query without `?`.
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    /// The `Host` header.
    pub host: &'a str,
    /// The authenticated caller's account (`{account}` when nothing else names one).
    pub caller_account: &'a str,
    /// The region of the signature scope (`{region}` unless the service fixes one).
    pub region: &'a str,
}

/// One authorization question of an operation: all of an operation's checks must allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `service:Action`.
    pub action: String,
    pub resource: String,
    /// Whose resource-based policy applies (the bucket of an S3 object).
    pub policy_arn: String,
    pub keys: Vec<(String, Vec<String>)>,
}

/// What a route table made of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// The operation (`GetObject`): the audit event's `eventName`.
    pub operation: String,
    pub checks: Vec<Check>,
    /// The audit event's `requestParameters` (never a secret: only what the table picked).
    pub request_parameters: Value,
    /// The audit event's `resources`: (type, ARN).
    pub resources: Vec<(String, String)>,
    pub read_only: bool,
}

/// A request a route table refuses: `code` is the service's error code (`AccessDenied`, `InvalidBucketName`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

impl Refused {
    pub fn new(code: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            code,
            message: message.into(),
        }
    }
}

/// A named route table.
#[derive(Debug, Clone, Copy)]
pub enum Table<'a> {
    S3(&'a S3Table),
    Custom(&'a CustomService),
}

impl Table<'_> {
    /// The SigV4 service name requests must be signed for.
    pub fn signing_name(&self) -> &str {
        match self {
            Table::S3(_) => "s3",
            Table::Custom(c) => &c.signing_name,
        }
    }

    /// The audit events' `eventSource`.
    pub fn event_source(&self) -> &str {
        match self {
            Table::S3(_) => "s3.amazonaws.com",
            Table::Custom(c) => &c.event_source,
        }
    }

    /// Whether S3's signing rules and error format apply.
    pub fn is_s3(&self) -> bool {
        matches!(self, Table::S3(_))
    }

    pub fn route(&self, req: &RouteRequest<'_>) -> Result<Routed, Refused> {
        match self {
            Table::S3(t) => t.route(req),
            Table::Custom(c) => c.route(req),
        }
    }
}

/// Every route table this server knows: the built-in `s3` and the custom services of `--routes`.
#[derive(Debug, Clone, Default)]
pub struct RouteTables {
    pub s3: S3Table,
    custom: BTreeMap<String, CustomService>,
}

impl RouteTables {
    /// The built-in tables; `s3_domains` are the base domains of virtual-hosted-style S3 requests.
    pub fn new(s3_domains: Vec<String>) -> RouteTables {
        RouteTables {
            s3: S3Table::new(s3_domains),
            custom: BTreeMap::new(),
        }
    }

    /// Add the services of a route file (JSON). A service may not be named `s3`, and names are unique.
    pub fn load_file(&mut self, path: &std::path::Path) -> Result<(), String> {
        use std::io::Read;
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut text = String::new();
        f.take(MAX_ROUTE_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if text.len() as u64 > MAX_ROUTE_FILE_BYTES {
            return Err(format!(
                "{}: larger than {MAX_ROUTE_FILE_BYTES} bytes",
                path.display()
            ));
        }
        self.load_str(&text)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// [`RouteTables::load_file`] from text.
    pub fn load_str(&mut self, text: &str) -> Result<(), String> {
        let file: RouteFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.services.len() > MAX_SERVICES {
            return Err(format!("more than {MAX_SERVICES} services"));
        }
        for s in file.services {
            let svc = CustomService::compile(s)?;
            if svc.name == "s3" || self.custom.contains_key(&svc.name) {
                return Err(format!("service `{}` is defined twice", svc.name));
            }
            self.custom.insert(svc.name.clone(), svc);
        }
        Ok(())
    }

    /// The table an `X-Stsd-Service` value names.
    pub fn get(&self, name: &str) -> Option<Table<'_>> {
        if name == "s3" {
            return Some(Table::S3(&self.s3));
        }
        self.custom.get(name).map(Table::Custom)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Custom services
// ---------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    services: Vec<ServiceSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceSpec {
    name: String,
    prefix: String,
    #[serde(default)]
    signing_name: Option<String>,
    #[serde(default)]
    event_source: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    region: Option<String>,
    routes: Vec<RouteSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    method: OneOrMany,
    path: String,
    #[serde(default)]
    query: Vec<String>,
    action: String,
    resource: String,
    #[serde(default)]
    policy_resource: Option<String>,
    #[serde(default)]
    condition_keys: BTreeMap<String, String>,
    #[serde(default)]
    read_only: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// One path segment of a route template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: one non-empty segment.
    Capture(String),
    /// `{name+}`: the rest of the path (at least one character), last segment only.
    Rest(String),
}

#[derive(Debug, Clone)]
struct Route {
    /// Upper-case methods; empty = any.
    methods: Vec<String>,
    segments: Vec<Segment>,
    /// Query parameters that must be present.
    query: Vec<String>,
    action: String,
    resource: String,
    policy_resource: Option<String>,
    condition_keys: Vec<(String, String)>,
    read_only: bool,
}

/// A service protected through a route file.
#[derive(Debug, Clone)]
pub struct CustomService {
    pub name: String,
    /// IAM action prefix (`notes` → `notes:GetNote`).
    pub prefix: String,
    pub signing_name: String,
    pub event_source: String,
    /// `{account}` when no path capture names one (else the caller's account).
    pub account: Option<String>,
    /// `{region}` (else the signature scope's region).
    pub region: Option<String>,
    routes: Vec<Route>,
}

fn is_ident(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

fn check_template(what: &str, t: &str) -> Result<(), String> {
    if t.len() > MAX_TEMPLATE_LEN || t.chars().any(char::is_control) {
        return Err(format!(
            "{what} is longer than {MAX_TEMPLATE_LEN} characters or has control characters"
        ));
    }
    let mut rest = t;
    while let Some((_, after)) = rest.split_once('{') {
        let Some((name, tail)) = after.split_once('}') else {
            return Err(format!("{what}: unclosed `{{` in `{t}`"));
        };
        if !is_ident(name, b"_-.+") {
            return Err(format!("{what}: bad placeholder `{{{name}}}` in `{t}`"));
        }
        rest = tail;
    }
    Ok(())
}

impl CustomService {
    fn compile(s: ServiceSpec) -> Result<CustomService, String> {
        if !is_ident(&s.name, b"-_.") {
            return Err(format!(
                "service name `{}` must be [A-Za-z0-9._-]{{1,128}}",
                s.name
            ));
        }
        if !is_ident(&s.prefix, b"-") {
            return Err(format!(
                "service `{}`: prefix must be [A-Za-z0-9-]{{1,128}}",
                s.name
            ));
        }
        if s.routes.len() > MAX_ROUTES {
            return Err(format!(
                "service `{}`: more than {MAX_ROUTES} routes",
                s.name
            ));
        }
        if let Some(a) = &s.account
            && (a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("service `{}`: account must be 12 digits", s.name));
        }
        let signing_name = s.signing_name.unwrap_or_else(|| s.prefix.clone());
        if !is_ident(&signing_name, b"-_.") {
            return Err(format!("service `{}`: bad signing_name", s.name));
        }
        let event_source = s
            .event_source
            .unwrap_or_else(|| format!("{}.amazonaws.com", s.prefix));
        let mut routes = Vec::with_capacity(s.routes.len());
        for (i, r) in s.routes.into_iter().enumerate() {
            let what = format!("service `{}` route {}", s.name, i + 1);
            let methods: Vec<String> = match r.method {
                OneOrMany::One(m) => vec![m],
                OneOrMany::Many(ms) => ms,
            }
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .filter(|m| m != "*")
            .collect();
            if methods.iter().any(|m| !is_ident(m, b"-")) {
                return Err(format!("{what}: bad method"));
            }
            check_template(&what, &r.path)?;
            let Some(path) = r.path.strip_prefix('/') else {
                return Err(format!("{what}: path must start with `/`"));
            };
            let mut segments = Vec::new();
            let parts: Vec<&str> = path.split('/').collect();
            for (j, p) in parts.iter().enumerate() {
                let seg = match p.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                    Some(name) if name.ends_with('+') => {
                        if j + 1 != parts.len() {
                            return Err(format!("{what}: `{{{name}}}` must be the last segment"));
                        }
                        Segment::Rest(name.trim_end_matches('+').to_string())
                    }
                    Some(name) => Segment::Capture(name.to_string()),
                    None if p.contains('{') || p.contains('}') => {
                        return Err(format!("{what}: a placeholder must be a whole segment"));
                    }
                    None => Segment::Literal((*p).to_string()),
                };
                segments.push(seg);
            }
            if !is_ident(&r.action, b"") {
                return Err(format!(
                    "{what}: action must be an action name such as GetNote"
                ));
            }
            check_template(&what, &r.resource)?;
            if let Some(pr) = &r.policy_resource {
                check_template(&what, pr)?;
            }
            let mut condition_keys = Vec::new();
            for (k, v) in r.condition_keys {
                if !k.contains(':') || k.len() > 256 || k.chars().any(char::is_control) {
                    return Err(format!("{what}: bad condition key `{k}`"));
                }
                check_template(&what, &v)?;
                condition_keys.push((k, v));
            }
            for q in &r.query {
                if q.is_empty() || q.len() > 128 {
                    return Err(format!("{what}: bad query parameter name"));
                }
            }
            let read_only = r.read_only.unwrap_or_else(|| {
                methods.iter().all(|m| m == "GET" || m == "HEAD") && !methods.is_empty()
            });
            routes.push(Route {
                methods,
                segments,
                query: r.query,
                action: format!("{}:{}", s.prefix, r.action),
                resource: r.resource,
                policy_resource: r.policy_resource,
                condition_keys,
                read_only,
            });
        }
        Ok(CustomService {
            name: s.name,
            prefix: s.prefix,
            signing_name,
            event_source,
            account: s.account,
            region: s.region,
            routes,
        })
    }

    fn route(&self, req: &RouteRequest<'_>) -> Result<Routed, Refused> {
        let query = decode_query(req.query);
        let path_segments: Vec<&str> = req
            .path
            .strip_prefix('/')
            .unwrap_or(req.path)
            .split('/')
            .collect();
        for r in &self.routes {
            if !r.methods.is_empty() && !r.methods.iter().any(|m| m == req.method) {
                continue;
            }
            if !r.query.iter().all(|q| query.iter().any(|(k, _)| k == q)) {
                continue;
            }
            let Some(captures) = match_path(&r.segments, &path_segments)? else {
                continue;
            };
            return self.expand(r, req, &captures, &query);
        }
        Err(Refused::new(
            "AccessDenied",
            format!(
                "No route of service {} matches {} {}",
                self.name,
                req.method,
                req.path.chars().take(256).collect::<String>()
            ),
        ))
    }

    fn expand(
        &self,
        r: &Route,
        req: &RouteRequest<'_>,
        captures: &[(String, String)],
        query: &[(String, String)],
    ) -> Result<Routed, Refused> {
        let account = captures
            .iter()
            .find(|(k, _)| k == "account")
            .map(|(_, v)| v.as_str())
            .or(self.account.as_deref())
            .unwrap_or(req.caller_account);
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refused::new(
                "AccessDenied",
                "The account in the request is not an account ID",
            ));
        }
        let region = self.region.as_deref().unwrap_or(req.region);
        let lookup = |name: &str| -> Option<String> {
            match name {
                "account" => Some(account.to_string()),
                "region" => Some(region.to_string()),
                _ => {
                    if let Some(q) = name.strip_prefix("query.") {
                        return query.iter().find(|(k, _)| k == q).map(|(_, v)| v.clone());
                    }
                    if let Some(h) = name.strip_prefix("header.") {
                        return req
                            .headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(h))
                            .map(|(_, v)| (*v).to_string());
                    }
                    captures
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                }
            }
        };
        let resource = expand(&r.resource, &lookup).ok_or_else(|| {
            Refused::new(
                "AccessDenied",
                "The request does not name the route's resource",
            )
        })?;
        let policy_arn = match &r.policy_resource {
            Some(t) => expand(t, &lookup).ok_or_else(|| {
                Refused::new(
                    "AccessDenied",
                    "The request does not name the route's policy resource",
                )
            })?,
            None => resource.clone(),
        };
        let mut keys = Vec::new();
        for (k, t) in &r.condition_keys {
            // A key whose value the request does not carry is absent, as AWS leaves it.
            if let Some(v) = expand(t, &lookup) {
                keys.push((k.clone(), vec![v]));
            }
        }
        let mut params = serde_json::Map::new();
        for (k, v) in captures {
            params.insert(k.clone(), Value::String(v.clone()));
        }
        let operation = r
            .action
            .split_once(':')
            .map_or(r.action.as_str(), |(_, a)| a)
            .to_string();
        Ok(Routed {
            operation,
            resources: vec![(format!("{}::Resource", self.prefix), resource.clone())],
            checks: vec![Check {
                action: r.action.clone(),
                resource,
                policy_arn,
                keys,
            }],
            request_parameters: Value::Object(params),
            read_only: r.read_only,
        })
    }
}

/// Percent-decode a path segment as text; `None` if it is not UTF-8 or holds a control character.
pub fn decode_segment(seg: &str) -> Option<String> {
    let s = String::from_utf8(sigv4::decode_path_segment(seg)).ok()?;
    (!s.chars().any(char::is_control)).then_some(s)
}

/// Decoded query parameters (at most [`sigv4::MAX_QUERY_PARAMS`]; the signature check has bounded them).
pub fn decode_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|i| !i.is_empty())
        .take(sigv4::MAX_QUERY_PARAMS)
        .filter_map(|item| {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            let k = sigv4::decode_query_component(k).ok()?;
            let v = sigv4::decode_query_component(v).ok()?;
            Some((
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ))
        })
        .collect()
}

/// Match a route's segments; the captures (decoded), `Ok(None)` when it does not match, `Err` when a captured
/// segment is not text or is a `.`/`..` segment (an upstream could resolve it differently).
fn match_path(
    template: &[Segment],
    path: &[&str],
) -> Result<Option<Vec<(String, String)>>, Refused> {
    let bad = || {
        Refused::new(
            "InvalidURI",
            "The path has a segment that cannot be authorized (not UTF-8, a control character, or `.`/`..`)",
        )
    };
    let mut captures = Vec::new();
    for (i, seg) in template.iter().enumerate() {
        match seg {
            Segment::Literal(l) => {
                if path.get(i) != Some(&l.as_str()) {
                    return Ok(None);
                }
            }
            Segment::Capture(name) => {
                let Some(p) = path.get(i).filter(|p| !p.is_empty()) else {
                    return Ok(None);
                };
                let v = decode_segment(p).ok_or_else(bad)?;
                if v == "." || v == ".." || v.contains('/') {
                    return Err(bad());
                }
                captures.push((name.clone(), v));
            }
            Segment::Rest(name) => {
                let rest = path.get(i..).unwrap_or(&[]);
                if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                    return Ok(None);
                }
                let mut parts = Vec::with_capacity(rest.len());
                for p in rest {
                    let v = decode_segment(p).ok_or_else(bad)?;
                    if v == "." || v == ".." {
                        return Err(bad());
                    }
                    parts.push(v);
                }
                captures.push((name.clone(), parts.join("/")));
                return Ok(Some(captures));
            }
        }
    }
    Ok((path.len() == template.len()).then_some(captures))
}

/// Fill `{name}` placeholders; `None` when a placeholder has no value or the result is too long.
fn expand(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let (name, tail) = after.split_once('}')?;
        out.push_str(&lookup(name)?);
        rest = tail;
        if out.len() > MAX_EXPANDED_LEN {
            return None;
        }
    }
    out.push_str(rest);
    (out.len() <= MAX_EXPANDED_LEN).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"services": [{
        "name": "notes", "prefix": "notes", "account": "111122223333",
        "routes": [
          {"method": "GET", "path": "/notebooks/{book}/notes", "action": "ListNotes",
           "resource": "arn:aws:notes:{region}:{account}:notebook/{book}",
           "condition_keys": {"notes:prefix": "{query.prefix}"}},
          {"method": ["GET", "HEAD"], "path": "/notebooks/{book}/notes/{note+}", "action": "GetNote",
           "resource": "arn:aws:notes:{region}:{account}:notebook/{book}/note/{note}",
           "policy_resource": "arn:aws:notes:{region}:{account}:notebook/{book}"},
          {"method": "PUT", "path": "/notebooks/{book}/notes/{note+}", "query": ["tags"], "action": "TagNote",
           "resource": "arn:aws:notes:{region}:{account}:notebook/{book}/note/{note}"},
          {"method": "*", "path": "/accounts/{account}/x", "action": "X", "resource": "arn:aws:notes::{account}:x"}
        ]}]}"#;

    fn req<'a>(method: &'a str, path: &'a str, query: &'a str) -> RouteRequest<'a> {
        RouteRequest {
            method,
            path,
            query,
            headers: &[],
            host: "notes.example.test",
            caller_account: "444455556666",
            region: "eu-west-1",
        }
    }

    fn tables() -> RouteTables {
        let mut t = RouteTables::default();
        t.load_str(FILE).unwrap();
        t
    }

    #[test]
    fn custom_routes_expand_templates() {
        let t = tables();
        let svc = t.get("notes").unwrap();
        assert_eq!(svc.signing_name(), "notes");
        assert_eq!(svc.event_source(), "notes.amazonaws.com");
        let r = svc
            .route(&req("GET", "/notebooks/work/notes", "prefix=a%2Fb"))
            .unwrap();
        assert_eq!(r.operation, "ListNotes");
        assert_eq!(r.checks[0].action, "notes:ListNotes");
        assert_eq!(
            r.checks[0].resource,
            "arn:aws:notes:eu-west-1:111122223333:notebook/work"
        );
        assert_eq!(
            r.checks[0].keys,
            vec![("notes:prefix".to_string(), vec!["a/b".to_string()])]
        );
        assert!(r.read_only);
        // Without the query parameter the key is absent.
        let r = svc.route(&req("GET", "/notebooks/work/notes", "")).unwrap();
        assert!(r.checks[0].keys.is_empty());
        let r = svc
            .route(&req("HEAD", "/notebooks/work/notes/a/b%20c", ""))
            .unwrap();
        assert_eq!(
            r.checks[0].resource,
            "arn:aws:notes:eu-west-1:111122223333:notebook/work/note/a/b c"
        );
        assert_eq!(
            r.checks[0].policy_arn,
            "arn:aws:notes:eu-west-1:111122223333:notebook/work"
        );
        // A required query parameter selects the route.
        assert!(
            svc.route(&req("PUT", "/notebooks/work/notes/a", ""))
                .is_err()
        );
        assert_eq!(
            svc.route(&req("PUT", "/notebooks/work/notes/a", "tags"))
                .unwrap()
                .operation,
            "TagNote"
        );
        // `{account}` from the path wins; it must be an account ID.
        let r = svc
            .route(&req("DELETE", "/accounts/999988887777/x", ""))
            .unwrap();
        assert_eq!(r.checks[0].resource, "arn:aws:notes::999988887777:x");
        assert!(svc.route(&req("GET", "/accounts/nope/x", "")).is_err());
    }

    #[test]
    fn unmatched_and_dangerous_paths_are_refused() {
        let t = tables();
        let svc = t.get("notes").unwrap();
        assert_eq!(
            svc.route(&req("GET", "/other", "")).unwrap_err().code,
            "AccessDenied"
        );
        assert_eq!(
            svc.route(&req("POST", "/notebooks/w/notes", ""))
                .unwrap_err()
                .code,
            "AccessDenied"
        );
        for p in [
            "/notebooks/w/notes/a/../b",
            "/notebooks/%2e%2e/notes",
            "/notebooks/a%2Fb/notes",
            "/notebooks/w/notes/%FF",
        ] {
            assert_eq!(
                svc.route(&req("GET", p, "")).unwrap_err().code,
                "InvalidURI",
                "{p}"
            );
        }
        assert!(t.get("nope").is_none());
    }

    #[test]
    fn route_files_are_validated() {
        let mut t = RouteTables::default();
        for bad in [
            r#"{"services": [{"name": "s3", "prefix": "x", "routes": []}]}"#,
            r#"{"services": [{"name": "a", "prefix": "x:y", "routes": []}]}"#,
            r#"{"services": [{"name": "a", "prefix": "x", "routes": [{"method": "GET", "path": "x", "action": "A", "resource": "r"}]}]}"#,
            r#"{"services": [{"name": "a", "prefix": "x", "routes": [{"method": "GET", "path": "/{a+}/b", "action": "A", "resource": "r"}]}]}"#,
            r#"{"services": [{"name": "a", "prefix": "x", "routes": [{"method": "GET", "path": "/a{b}", "action": "A", "resource": "r"}]}]}"#,
            r#"{"services": [{"name": "a", "prefix": "x", "routes": [{"method": "GET", "path": "/a", "action": "A", "resource": "{unclosed"}]}]}"#,
            r#"{"services": [{"name": "a", "prefix": "x", "unknown": 1, "routes": []}]}"#,
            r#"{"services": [{"name": "a", "prefix": "x", "account": "12", "routes": []}]}"#,
            "[[[[",
        ] {
            assert!(t.load_str(bad).is_err(), "{bad}");
        }
        t.load_str(r#"{"services": [{"name": "a", "prefix": "x", "routes": []}]}"#)
            .unwrap();
        assert!(
            t.load_str(r#"{"services": [{"name": "a", "prefix": "x", "routes": []}]}"#)
                .is_err()
        );
    }
}
