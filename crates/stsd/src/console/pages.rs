//! The console's pages. Each page makes its API calls through [`Signed::call`] (the signed-in identity's
//! temporary credentials, the API pipeline) and renders the answer — or the API's error, as a message in the
//! page: an `AccessDenied` is something to show, not a failure of the console.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{COLORS, Out, PREFIX, Signed, Xml};
use crate::error::ApiError;
use crate::protocol::Service;

// ---------------------------------------------------------------------------------------------------------
// Reading API answers
// ---------------------------------------------------------------------------------------------------------

/// The `…Result` elements of an answer, as owned nodes (our own XML: trusted, bounded by the API's limits).
pub(crate) fn parse(x: &Xml) -> Vec<Node> {
    let Ok(doc) = roxmltree::Document::parse(&x.0) else {
        return Vec::new();
    };
    doc.root_element()
        .children()
        .filter(roxmltree::Node::is_element)
        .filter(|n| n.tag_name().name().ends_with("Result"))
        .map(|n| Node::from(&n))
        .collect()
}

/// An owned XML element: name, text, children.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    fn from(n: &roxmltree::Node<'_, '_>) -> Node {
        Node {
            name: n.tag_name().name().to_string(),
            text: n.text().unwrap_or("").to_string(),
            children: n
                .children()
                .filter(roxmltree::Node::is_element)
                .map(|c| Node::from(&c))
                .collect(),
        }
    }

    /// The first descendant (or self) named `name`.
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// The text of the direct child `name`.
    pub fn get(&self, name: &str) -> String {
        self.children
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.text.clone())
            .unwrap_or_default()
    }

    /// The `member`s of the first descendant list `name`.
    pub fn members(&self, name: &str) -> Vec<&Node> {
        self.find(name)
            .map(|l| l.children.iter().filter(|c| c.name == "member").collect())
            .unwrap_or_default()
    }
}

/// The text of the first element `name` anywhere in the answer.
pub(crate) fn first(doc: &[Node], name: &str) -> Option<String> {
    doc.iter()
        .find_map(|n| n.find(name))
        .map(|n| n.text.clone())
}

fn members<'a>(doc: &'a [Node], name: &str) -> Vec<&'a Node> {
    doc.iter().flat_map(|n| n.members(name)).collect()
}

/// A URL-encoded policy document from an API answer, pretty-printed.
fn pretty_policy(encoded: &str) -> String {
    let text = percent_encoding::percent_decode_str(encoded)
        .decode_utf8_lossy()
        .into_owned();
    pretty_json(&text)
}

fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

// ---------------------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------------------

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " — stsd console" }
            link rel="stylesheet" href="/console/static/console.css";
            script src="/console/static/console.js" defer {}
        }
    }
}

/// A page without the identity bar (sign-in, errors).
pub(crate) fn message(title: &str, text: &str) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main.narrow {
                    h1 { (title) }
                    p.error id="message" { (text) }
                    p { a href=(PREFIX) { "Back to the console" } }
                }
            }
        }
    }
    .into_string()
}

pub(crate) fn sign_in(csrf: &str, account: &str, user: &str, error: Option<&str>) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body {
                main.narrow {
                    h1 { "Sign in to stsd" }
                    @if let Some(e) = error { p.error id="signin-error" role="alert" { (e) } }
                    form method="post" action="/console/signin" id="signin-form" {
                        input type="hidden" name="csrf" value=(csrf);
                        label { "Account ID or alias" input type="text" name="account" id="account" value=(account) required autocomplete="organization"; }
                        label { "User name" input type="text" name="username" id="username" value=(user) required autocomplete="username"; }
                        label { "Password" input type="password" name="password" id="password" required autocomplete="current-password"; }
                        button type="submit" id="signin" { "Sign in" }
                    }
                    p.hint { "The account root signs in with its access key ID as the user name and its secret access key as the password." }
                }
            }
        }
    }
    .into_string()
}

pub(crate) fn mfa_step(csrf: &str, error: Option<&str>) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("MFA"))
            body {
                main.narrow {
                    h1 { "Multi-factor authentication" }
                    @if let Some(e) = error { p.error id="signin-error" role="alert" { (e) } }
                    form method="post" action="/console/signin/mfa" id="mfa-form" {
                        input type="hidden" name="csrf" value=(csrf);
                        label { "MFA code" input type="text" name="code" id="mfa-code" inputmode="numeric" pattern="[0-9]{6}" required autocomplete="one-time-code"; }
                        button type="submit" id="mfa-submit" { "Submit" }
                    }
                }
            }
        }
    }
    .into_string()
}

/// A signed-in page: identity bar, navigation, the content.
fn page(s: &Signed<'_>, title: &str, content: Markup) -> Out {
    let session = s.session;
    let csrf = &session.csrf;
    let (arn, account, expires) = match &session.role {
        Some(r) => (r.arn.as_str(), r.account.as_str(), r.creds.expires),
        None => (
            session.arn.as_str(),
            session.account.as_str(),
            session.user.expires,
        ),
    };
    let notice = session.notice.clone();
    if notice.is_some() {
        s.update(|x| x.notice = None);
    }
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.identity id="identity" {
                    @if let Some(r) = &session.role {
                        span class={"role-badge role-" (r.color)} id="role-display" { (r.display) }
                    }
                    span id="identity-arn" title="Who am I" { (arn) }
                    span id="identity-account" { "Account " (account) }
                    span id="session-expiry" data-expires=(expires) { "Session ends " (crate::iam::fmt_time(expires)) }
                    a href="/console/switch" id="switch-role-link" { "Switch role" }
                    @if session.role.is_some() {
                        form.inline method="post" action="/console/back" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" id="back-to-user" { "Back to " (session.name) }
                        }
                    }
                    form.inline method="post" action="/console/signout" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" id="signout" { "Sign out" }
                    }
                }
                nav {
                    a href="/console/home" { "Home" }
                    a href="/console/users" { "Users" }
                    a href="/console/groups" { "Groups" }
                    a href="/console/roles" { "Roles" }
                    a href="/console/policies" { "Policies" }
                    a href="/console/keys" { "My access keys" }
                    a href="/console/mfa" { "My MFA" }
                    a href="/console/password" { "Password" }
                    a href="/console/simulate" { "Policy simulator" }
                    a href="/console/audit" { "Audit" }
                }
                main {
                    @if let Some(n) = notice { div.notice id="notice" { (PreEscaped(n)) } }
                    h1 { (title) }
                    (content)
                }
            }
        }
    };
    Out::html(200, body.into_string())
}

/// An API error as a message in the page. The encoded authorization message (for DecodeAuthorizationMessage)
/// is folded away: it is long and meant for tools.
fn api_error(e: &ApiError) -> Markup {
    let denied = e.code == crate::error::ErrorCode::AccessDenied;
    let (text, encoded) = match e
        .message
        .split_once(" Encoded authorization failure message: ")
    {
        Some((t, enc)) => (t, Some(enc)),
        None => (e.message.as_str(), None),
    };
    html! {
        div.error id=(if denied { "access-denied" } else { "api-error" }) role="alert" {
            strong { @if denied { "Access denied" } @else { (e.code.as_str()) } }
            " — " (text)
            @if let Some(enc) = encoded {
                details { summary { "Encoded authorization failure message" } p.mono { (enc) } }
            }
        }
    }
}

fn csrf_field(s: &Signed<'_>) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.session.csrf); }
}

// ---------------------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------------------

pub(crate) fn home(s: &Signed<'_>) -> Out {
    let who = s.call(Service::Sts, &[("Action", "GetCallerIdentity")]);
    let content = html! {
        @match &who {
            Ok(x) => {
                @let d = parse(x);
                dl id="caller-identity" {
                    dt { "ARN" } dd id="caller-arn" { (first(&d, "Arn").unwrap_or_default()) }
                    dt { "Account" } dd { (first(&d, "Account").unwrap_or_default()) }
                    dt { "User ID" } dd { (first(&d, "UserId").unwrap_or_default()) }
                }
            }
            Err(e) => (api_error(e)),
        }
        @if !s.session.recent.is_empty() {
            h2 { "Recently used roles" }
            ul id="recent-roles" {
                @for r in &s.session.recent {
                    li {
                        form.inline method="post" action="/console/switch" {
                            (csrf_field(s))
                            input type="hidden" name="account" value=(r.account);
                            input type="hidden" name="role" value=(r.role);
                            input type="hidden" name="display" value=(r.display);
                            input type="hidden" name="color" value=(r.color);
                            button type="submit" class={"role-badge role-" (r.color)} { (r.display) }
                        }
                    }
                }
            }
        }
    };
    page(s, "Home", content)
}

fn table(headers: &[&str], rows: Vec<Markup>, id: &str) -> Markup {
    html! {
        table id=(id) {
            thead { tr { @for h in headers { th { (h) } } } }
            tbody { @for r in rows { (r) } }
        }
    }
}

pub(crate) fn users(s: &Signed<'_>) -> Out {
    let content = match s.call(Service::Iam, &[("Action", "ListUsers")]) {
        Ok(x) => {
            let d = parse(&x);
            let rows = members(&d, "Users")
                .into_iter()
                .map(|u| {
                    html! { tr {
                        td { a href={"/console/users/" (enc(&u.get("UserName")))} { (u.get("UserName")) } }
                        td { (u.get("Arn")) } td { (u.get("CreateDate")) } td { (u.get("PasswordLastUsed")) }
                    } }
                })
                .collect();
            table(
                &["User", "ARN", "Created", "Password last used"],
                rows,
                "users",
            )
        }
        Err(e) => api_error(&e),
    };
    page(s, "Users", html! { (content) (create_user_form(s)) })
}

/// The name of the inline policy the console's create forms put.
const CONSOLE_POLICY: &str = "console-inline";

fn create_user_form(s: &Signed<'_>) -> Markup {
    html! {
        h2 { "Create user" }
        form method="post" action="/console/users" id="create-user-form" {
            (csrf_field(s))
            label { "User name " input type="text" name="name" id="new-user-name" required; }
            label { "Console password (optional) "
                input type="password" name="password" id="new-user-password" autocomplete="new-password"; }
            label.check { input type="checkbox" name="reset" value="yes" id="new-user-reset";
                " Must set a new password at first sign-in" }
            label { "Inline permissions policy (JSON, optional)"
                textarea name="policy" id="new-user-policy" rows="6" {} }
            button type="submit" id="create-user" { "Create user" }
        }
    }
}

/// What a create form did before a step failed, and the failure.
fn partial(done: &[String], e: &ApiError) -> Markup {
    html! {
        @if !done.is_empty() { ul id="done" { @for d in done { li { (d) } } } }
        (api_error(e))
    }
}

/// `CreateUser`, then (as the form asks) `CreateLoginProfile` and `PutUserPolicy`, each an API call with the
/// session's credentials.
pub(crate) fn create_user(s: &Signed<'_>) -> Out {
    let name = s.r.f("name").to_string();
    let password = s.r.raw("password");
    let policy = s.r.f("policy");
    let mut done = Vec::new();
    let result = s
        .call(
            Service::Iam,
            &[("Action", "CreateUser"), ("UserName", &name)],
        )
        .and_then(|_| {
            done.push(format!("User {name} created."));
            if password.is_empty() {
                return Ok(());
            }
            let reset = if s.r.f("reset") == "yes" {
                "true"
            } else {
                "false"
            };
            s.call(
                Service::Iam,
                &[
                    ("Action", "CreateLoginProfile"),
                    ("UserName", &name),
                    ("Password", password),
                    ("PasswordResetRequired", reset),
                ],
            )
            .map(|_| done.push("Console password set.".into()))
        })
        .and_then(|()| {
            if policy.is_empty() {
                return Ok(());
            }
            s.call(
                Service::Iam,
                &[
                    ("Action", "PutUserPolicy"),
                    ("UserName", &name),
                    ("PolicyName", CONSOLE_POLICY),
                    ("PolicyDocument", policy),
                ],
            )
            .map(|_| done.push(format!("Inline policy {CONSOLE_POLICY} put.")))
        });
    match result {
        Ok(()) => {
            let n = html! { p id="user-created" { "User " (name) " created." } }.into_string();
            s.update(|x| x.notice = Some(n));
            Out::redirect(&format!("/console/users/{}", enc(&name)))
        }
        Err(e) => page(
            s,
            "Users",
            html! { (partial(&done, &e)) (create_user_form(s)) },
        ),
    }
}

/// Set (or replace) a user's console password: `CreateLoginProfile`, or `UpdateLoginProfile` when the user has
/// one.
pub(crate) fn set_user_password(s: &Signed<'_>, name: &str) -> Out {
    let password = s.r.raw("password");
    let reset = if s.r.f("reset") == "yes" {
        "true"
    } else {
        "false"
    };
    let params = |action| {
        [
            ("Action", action),
            ("UserName", name),
            ("Password", password),
            ("PasswordResetRequired", reset),
        ]
    };
    let result = match s.call(Service::Iam, &params("CreateLoginProfile")) {
        Err(e) if e.code == crate::error::ErrorCode::EntityAlreadyExists => {
            s.call(Service::Iam, &params("UpdateLoginProfile"))
        }
        other => other,
    };
    match result {
        Ok(_) => {
            let n = html! { p id="password-set" { "Console password of " (name) " set." } }
                .into_string();
            s.update(|x| x.notice = Some(n));
            Out::redirect(&format!("/console/users/{}", enc(name)))
        }
        Err(e) => page(s, &format!("User {name}"), api_error(&e)),
    }
}

/// The attached and inline policies of a user, group or role.
fn permissions(s: &Signed<'_>, kind: &str, name: &str) -> Markup {
    let attached = s.call(
        Service::Iam,
        &[
            ("Action", &format!("ListAttached{kind}Policies")),
            (&format!("{kind}Name"), name),
        ],
    );
    let inline = s.call(
        Service::Iam,
        &[
            ("Action", &format!("List{kind}Policies")),
            (&format!("{kind}Name"), name),
        ],
    );
    html! {
        h2 { "Attached policies" }
        @match &attached {
            Ok(x) => {
                @let d = parse(x);
                ul id="attached-policies" {
                    @for p in members(&d, "AttachedPolicies") {
                        li { a href={"/console/policy?arn=" (enc(&p.get("PolicyArn")))} { (p.get("PolicyName")) } }
                    }
                }
            }
            Err(e) => (api_error(e)),
        }
        h2 { "Inline policies" }
        @match &inline {
            Ok(x) => {
                @let d = parse(x);
                @for n in members(&d, "PolicyNames") {
                    h3 { (n.text) }
                    @match s.call(Service::Iam, &[("Action", &format!("Get{kind}Policy")), (&format!("{kind}Name"), name), ("PolicyName", &n.text)]) {
                        Ok(p) => pre.policy { (pretty_policy(&first(&parse(&p), "PolicyDocument").unwrap_or_default())) }
                        Err(e) => (api_error(&e)),
                    }
                }
            }
            Err(e) => (api_error(e)),
        }
    }
}

fn tags(doc: &[Node]) -> Markup {
    let t = members(doc, "Tags");
    html! {
        h2 { "Tags" }
        @if t.is_empty() { p { "No tags." } } @else {
            table id="tags" { @for m in t { tr { td { (m.get("Key")) } td { (m.get("Value")) } } } }
        }
    }
}

pub(crate) fn user(s: &Signed<'_>, name: &str) -> Out {
    let content = match s.call(Service::Iam, &[("Action", "GetUser"), ("UserName", name)]) {
        Ok(x) => {
            let d = parse(&x);
            let groups = s.call(
                Service::Iam,
                &[("Action", "ListGroupsForUser"), ("UserName", name)],
            );
            html! {
                dl {
                    dt { "ARN" } dd { (first(&d, "Arn").unwrap_or_default()) }
                    dt { "Created" } dd { (first(&d, "CreateDate").unwrap_or_default()) }
                    dt { "Password last used" } dd { (first(&d, "PasswordLastUsed").unwrap_or_else(|| "never".into())) }
                }
                (tags(&d))
                h2 { "Groups" }
                @match &groups {
                    Ok(g) => ul { @for m in members(&parse(g), "Groups") { li { (m.get("GroupName")) } } },
                    Err(e) => (api_error(e)),
                }
                (permissions(s, "User", name))
                h2 { "Console password" }
                form method="post" action={"/console/users/" (enc(name)) "/password"} id="set-password-form" {
                    (csrf_field(s))
                    label { "New password " input type="password" name="password" id="set-password" autocomplete="new-password" required; }
                    label.check { input type="checkbox" name="reset" value="yes" id="set-password-reset";
                        " Must set a new password at next sign-in" }
                    button type="submit" id="set-password-submit" { "Set console password" }
                }
            }
        }
        Err(e) => api_error(&e),
    };
    page(s, &format!("User {name}"), content)
}

pub(crate) fn groups(s: &Signed<'_>) -> Out {
    let content = match s.call(Service::Iam, &[("Action", "ListGroups")]) {
        Ok(x) => {
            let d = parse(&x);
            let rows = members(&d, "Groups")
                .into_iter()
                .map(|g| {
                    html! { tr {
                        td { a href={"/console/groups/" (enc(&g.get("GroupName")))} { (g.get("GroupName")) } }
                        td { (g.get("Arn")) }
                    } }
                })
                .collect();
            table(&["Group", "ARN"], rows, "groups")
        }
        Err(e) => api_error(&e),
    };
    page(s, "Groups", content)
}

pub(crate) fn group(s: &Signed<'_>, name: &str) -> Out {
    let content = match s.call(Service::Iam, &[("Action", "GetGroup"), ("GroupName", name)]) {
        Ok(x) => {
            let d = parse(&x);
            html! {
                h2 { "Members" }
                ul id="group-members" { @for u in members(&d, "Users") { li { (u.get("UserName")) } } }
                (permissions(s, "Group", name))
            }
        }
        Err(e) => api_error(&e),
    };
    page(s, &format!("Group {name}"), content)
}

pub(crate) fn roles(s: &Signed<'_>) -> Out {
    let content = match s.call(Service::Iam, &[("Action", "ListRoles")]) {
        Ok(x) => {
            let d = parse(&x);
            let rows = members(&d, "Roles")
                .into_iter()
                .map(|r| {
                    html! { tr {
                        td { a href={"/console/roles/" (enc(&r.get("RoleName")))} { (r.get("RoleName")) } }
                        td { (r.get("Arn")) } td { (r.get("MaxSessionDuration")) }
                    } }
                })
                .collect();
            table(&["Role", "ARN", "Max session (s)"], rows, "roles")
        }
        Err(e) => api_error(&e),
    };
    page(s, "Roles", html! { (content) (create_role_form(s)) })
}

/// The account the signed-in identity acts in (the role's after a switch).
fn acting_account<'a>(s: &'a Signed<'_>) -> &'a str {
    s.session
        .role
        .as_ref()
        .map_or(s.session.account.as_str(), |r| r.account.as_str())
}

fn create_role_form(s: &Signed<'_>) -> Markup {
    html! {
        h2 { "Create role" }
        form method="post" action="/console/roles" id="create-role-form" {
            (csrf_field(s))
            label { "Role name " input type="text" name="name" id="new-role-name" required; }
            label { "Trusted account (its users and roles may switch into this role, as its admins allow) "
                input type="text" name="trusted" id="new-role-trusted" value=(acting_account(s)) required; }
            label.check { input type="checkbox" name="mfa" value="yes" id="new-role-mfa"; " Require MFA" }
            label { "Maximum session duration (seconds, 3600–43200) "
                input type="number" name="max" id="new-role-max" value="3600" min="3600" max="43200"; }
            label { "Inline permissions policy (JSON, optional)"
                textarea name="policy" id="new-role-policy" rows="6" {} }
            button type="submit" id="create-role" { "Create role" }
        }
    }
}

/// `CreateRole` with a trust policy for the given account (optionally requiring MFA), then `PutRolePolicy`
/// when the form carries a policy.
pub(crate) fn create_role(s: &Signed<'_>) -> Out {
    let name = s.r.f("name").to_string();
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", s.r.f("trusted"))},
        "Action": "sts:AssumeRole",
    });
    if s.r.f("mfa") == "yes"
        && let Some(fields) = statement.as_object_mut()
    {
        fields.insert(
            "Condition".into(),
            serde_json::json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        );
    }
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string();
    let max = match s.r.f("max") {
        "" => "3600",
        m => m,
    };
    let policy = s.r.f("policy");
    let mut done = Vec::new();
    let result = s
        .call(
            Service::Iam,
            &[
                ("Action", "CreateRole"),
                ("RoleName", &name),
                ("AssumeRolePolicyDocument", &trust),
                ("MaxSessionDuration", max),
            ],
        )
        .and_then(|_| {
            done.push(format!("Role {name} created."));
            if policy.is_empty() {
                return Ok(());
            }
            s.call(
                Service::Iam,
                &[
                    ("Action", "PutRolePolicy"),
                    ("RoleName", &name),
                    ("PolicyName", CONSOLE_POLICY),
                    ("PolicyDocument", policy),
                ],
            )
            .map(|_| ())
        });
    match result {
        Ok(()) => {
            let n = html! { p id="role-created" { "Role " (name) " created." } }.into_string();
            s.update(|x| x.notice = Some(n));
            Out::redirect(&format!("/console/roles/{}", enc(&name)))
        }
        Err(e) => page(
            s,
            "Roles",
            html! { (partial(&done, &e)) (create_role_form(s)) },
        ),
    }
}

pub(crate) fn role(s: &Signed<'_>, name: &str) -> Out {
    let content = match s.call(Service::Iam, &[("Action", "GetRole"), ("RoleName", name)]) {
        Ok(x) => {
            let d = parse(&x);
            html! {
                dl {
                    dt { "ARN" } dd id="role-arn" { (first(&d, "Arn").unwrap_or_default()) }
                    dt { "Maximum session duration" } dd id="max-session" { (first(&d, "MaxSessionDuration").unwrap_or_default()) " seconds" }
                    dt { "Description" } dd { (first(&d, "Description").unwrap_or_default()) }
                    dt { "Last used" } dd { (first(&d, "LastUsedDate").unwrap_or_else(|| "never".into())) }
                }
                h2 { "Trust policy" }
                pre.policy id="trust-policy" { (pretty_policy(&first(&d, "AssumeRolePolicyDocument").unwrap_or_default())) }
                (tags(&d))
                (permissions(s, "Role", name))
                h2 { "Sessions" }
                p { a.button.danger href={"/console/roles/" (enc(name)) "/revoke"} id="revoke-sessions" { "Revoke active sessions" } }
            }
        }
        Err(e) => api_error(&e),
    };
    page(s, &format!("Role {name}"), content)
}

pub(crate) fn revoke_confirm(s: &Signed<'_>, name: &str) -> Out {
    let content = html! {
        p { "Every session of " strong { (name) } " issued before now will be denied everything: an inline policy "
            code { "AWSRevokeOlderSessions" } " is put on the role with the current time. Sessions issued from now on are not affected." }
        form method="post" action={"/console/roles/" (enc(name)) "/revoke"} id="revoke-form" {
            (csrf_field(s))
            label.check { input type="checkbox" name="confirm" value="yes" id="revoke-confirm" required; " I understand: revoke all active sessions" }
            button.danger type="submit" id="revoke-submit" { "Revoke active sessions" }
        }
    };
    page(s, &format!("Revoke sessions of {name}"), content)
}

pub(crate) fn revoke(s: &Signed<'_>, name: &str) -> Out {
    if s.r.f("confirm") != "yes" {
        return revoke_confirm(s, name);
    }
    let cutoff = crate::iam::fmt_time(s.r.now);
    // The document AWS's console attaches (the reference's "revoking role sessions").
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}
        }]
    })
    .to_string();
    let result = s.call(
        Service::Iam,
        &[
            ("Action", "PutRolePolicy"),
            ("RoleName", name),
            ("PolicyName", "AWSRevokeOlderSessions"),
            ("PolicyDocument", &doc),
        ],
    );
    let content = match result {
        Ok(_) => html! {
            p.success id="revoked" { "Sessions of " (name) " issued before " (cutoff) " are revoked." }
            p { a href={"/console/roles/" (enc(name))} { "Back to the role" } }
        },
        Err(e) => api_error(&e),
    };
    page(s, &format!("Revoke sessions of {name}"), content)
}

pub(crate) fn policies(s: &Signed<'_>) -> Out {
    let content = match s.call(
        Service::Iam,
        &[("Action", "ListPolicies"), ("Scope", "Local")],
    ) {
        Ok(x) => {
            let d = parse(&x);
            let rows = members(&d, "Policies")
                .into_iter()
                .map(|p| {
                    html! { tr {
                        td { a href={"/console/policy?arn=" (enc(&p.get("Arn")))} { (p.get("PolicyName")) } }
                        td { (p.get("Arn")) } td { (p.get("AttachmentCount")) }
                    } }
                })
                .collect();
            table(&["Policy", "ARN", "Attachments"], rows, "policies")
        }
        Err(e) => api_error(&e),
    };
    page(s, "Policies", content)
}

pub(crate) fn policy(s: &Signed<'_>) -> Out {
    let arn = s.r.q("arn");
    let content = match s.call(Service::Iam, &[("Action", "GetPolicy"), ("PolicyArn", arn)]) {
        Ok(x) => {
            let d = parse(&x);
            let version = first(&d, "DefaultVersionId").unwrap_or_default();
            let doc = s.call(
                Service::Iam,
                &[
                    ("Action", "GetPolicyVersion"),
                    ("PolicyArn", arn),
                    ("VersionId", &version),
                ],
            );
            let entities = s.call(
                Service::Iam,
                &[("Action", "ListEntitiesForPolicy"), ("PolicyArn", arn)],
            );
            html! {
                dl { dt { "ARN" } dd { (arn) } dt { "Default version" } dd { (version) } }
                h2 { "Document" }
                @match &doc {
                    Ok(v) => pre.policy id="policy-document" { (pretty_policy(&first(&parse(v), "Document").unwrap_or_default())) },
                    Err(e) => (api_error(e)),
                }
                h2 { "Attached to" }
                @match &entities {
                    Ok(v) => {
                        @let e = parse(v);
                        ul id="policy-entities" {
                            @for u in members(&e, "PolicyUsers") { li { "User " (u.get("UserName")) } }
                            @for g in members(&e, "PolicyGroups") { li { "Group " (g.get("GroupName")) } }
                            @for r in members(&e, "PolicyRoles") { li { "Role " (r.get("RoleName")) } }
                        }
                    }
                    Err(e) => (api_error(e)),
                }
                (tags(&d))
            }
        }
        Err(e) => api_error(&e),
    };
    page(s, "Policy", content)
}

pub(crate) fn switch_form(s: &Signed<'_>, error: Option<&str>) -> Out {
    let r = s.r;
    let content = html! {
        @if let Some(e) = error { div.error id="switch-error" role="alert" { (e) } }
        form method="post" action="/console/switch" id="switch-form" {
            (csrf_field(s))
            label { "Account ID or alias" input type="text" name="account" id="switch-account" value=(r.f("account")) required; }
            label { "Role name" input type="text" name="role" id="switch-role" value=(r.f("role")) required; }
            label { "Display name" input type="text" name="display" id="switch-display" value=(r.f("display")) maxlength="64"; }
            label { "Colour"
                select name="color" id="switch-color" {
                    @for c in COLORS { option value=(c) selected[r.f("color") == *c] { (c) } }
                }
            }
            label { "MFA code (when the role requires MFA)" input type="text" name="code" id="switch-mfa" inputmode="numeric" autocomplete="one-time-code"; }
            button type="submit" id="switch-submit" { "Switch role" }
        }
    };
    page(s, "Switch role", content)
}

pub(crate) fn keys(s: &Signed<'_>) -> Out {
    let content = match s.call(Service::Iam, &[("Action", "ListAccessKeys")]) {
        Ok(x) => {
            let d = parse(&x);
            html! {
                table id="access-keys" {
                    thead { tr { th { "Access key ID" } th { "Status" } th { "Created" } th { "" } } }
                    tbody {
                        @for k in members(&d, "AccessKeyMetadata") {
                            @let id = k.get("AccessKeyId");
                            @let active = k.get("Status") == "Active";
                            tr {
                                td.mono { (id) } td { (k.get("Status")) } td { (k.get("CreateDate")) }
                                td {
                                    form.inline method="post" action="/console/keys/update" {
                                        (csrf_field(s))
                                        input type="hidden" name="id" value=(id);
                                        input type="hidden" name="status" value=(if active { "Inactive" } else { "Active" });
                                        button type="submit" { (if active { "Deactivate" } else { "Activate" }) }
                                    }
                                    form.inline method="post" action="/console/keys/delete" {
                                        (csrf_field(s))
                                        input type="hidden" name="id" value=(id);
                                        button.danger type="submit" data-confirm="Delete this access key?" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
                form method="post" action="/console/keys/create" {
                    (csrf_field(s))
                    button type="submit" id="create-key" { "Create access key" }
                }
            }
        }
        Err(e) => api_error(&e),
    };
    page(s, "My access keys", content)
}

pub(crate) fn keys_action(s: &Signed<'_>, op: &str) -> Out {
    let id = s.r.f("id");
    let result = match op {
        "create" => s.call(Service::Iam, &[("Action", "CreateAccessKey")]),
        "update" => s.call(
            Service::Iam,
            &[
                ("Action", "UpdateAccessKey"),
                ("AccessKeyId", id),
                ("Status", s.r.f("status")),
            ],
        ),
        "delete" => s.call(
            Service::Iam,
            &[("Action", "DeleteAccessKey"), ("AccessKeyId", id)],
        ),
        _ => return Out::html(404, message("Not found", "There is no such console page.")),
    };
    match result {
        Ok(x) => {
            if op == "create" {
                let d = parse(&x);
                // The secret is shown once, on the next page, and then forgotten.
                let notice = html! {
                    p { "New access key " span.mono id="new-key-id" { (first(&d, "AccessKeyId").unwrap_or_default()) } }
                    p { "Secret access key (shown only now): " span.mono id="new-key-secret" { (first(&d, "SecretAccessKey").unwrap_or_default()) } }
                }
                .into_string();
                s.update(|x| x.notice = Some(notice));
            }
            Out::redirect("/console/keys")
        }
        Err(e) => page(s, "My access keys", api_error(&e)),
    }
}

pub(crate) fn mfa(s: &Signed<'_>, created: Option<Markup>) -> Out {
    let list = s.call(Service::Iam, &[("Action", "ListMFADevices")]);
    let content = html! {
        @match &list {
            Ok(x) => {
                @let d = parse(x);
                @let devices = members(&d, "MFADevices");
                @if devices.is_empty() { p id="no-mfa" { "No MFA device is assigned to you." } }
                ul id="mfa-devices" { @for m in devices { li.mono { (m.get("SerialNumber")) " (enabled " (m.get("EnableDate")) ")" } } }
            }
            Err(e) => (api_error(e)),
        }
        @if let Some(c) = created { (c) } @else {
            form method="post" action="/console/mfa/create" {
                (csrf_field(s))
                label { "Device name" input type="text" name="name" id="mfa-name" required pattern="[A-Za-z0-9+=,.@_-]{1,128}"; }
                button type="submit" id="mfa-create" { "Assign MFA device" }
            }
        }
    };
    page(s, "My MFA", content)
}

pub(crate) fn mfa_action(s: &Signed<'_>, op: &str) -> Out {
    match op {
        "create" => {
            let name = s.r.f("name");
            match s.call(
                Service::Iam,
                &[
                    ("Action", "CreateVirtualMFADevice"),
                    ("VirtualMFADeviceName", name),
                ],
            ) {
                Ok(x) => {
                    let d = parse(&x);
                    let serial = first(&d, "SerialNumber").unwrap_or_default();
                    let png = first(&d, "QRCodePNG").unwrap_or_default();
                    // Base32StringSeed is the base64 of the base32 text of the seed.
                    let seed = data_encoding::BASE64
                        .decode(first(&d, "Base32StringSeed").unwrap_or_default().as_bytes())
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .unwrap_or_default();
                    let form = html! {
                        h2 { "Scan the QR code" }
                        img id="mfa-qr" alt="QR code of the MFA seed" src={"data:image/png;base64," (png)};
                        details { summary { "Show secret key" } p.mono id="mfa-secret" { (seed) } }
                        form method="post" action="/console/mfa/enable" id="mfa-enable-form" {
                            (csrf_field(s))
                            input type="hidden" name="serial" value=(serial);
                            label { "MFA code 1" input type="text" name="code1" id="mfa-code1" required; }
                            label { "MFA code 2 (the next one)" input type="text" name="code2" id="mfa-code2" required; }
                            button type="submit" id="mfa-enable" { "Add MFA" }
                        }
                    };
                    mfa(s, Some(form))
                }
                Err(e) => page(s, "My MFA", api_error(&e)),
            }
        }
        "enable" => {
            let name = s.session.name.clone();
            let serial = s.r.f("serial").to_string();
            let mut params = vec![
                ("Action", "EnableMFADevice"),
                ("SerialNumber", serial.as_str()),
                ("AuthenticationCode1", s.r.f("code1")),
                ("AuthenticationCode2", s.r.f("code2")),
            ];
            if s.session.role.is_none() && name != "root" {
                params.push(("UserName", name.as_str()));
            }
            match s.call(Service::Iam, &params) {
                Ok(_) => {
                    if s.session.role.is_none() {
                        s.update(|x| x.mfa_serial = Some(serial.clone()));
                    }
                    let n = html! { p id="mfa-enabled" { "MFA device " (serial) " is enabled." } }
                        .into_string();
                    s.update(|x| x.notice = Some(n));
                    Out::redirect("/console/mfa")
                }
                Err(e) => page(s, "My MFA", api_error(&e)),
            }
        }
        _ => Out::html(404, message("Not found", "There is no such console page.")),
    }
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn simulate_form(s: &Signed<'_>) -> Out {
    page(s, "Policy simulator", simulator_form(s))
}

/// The ARNs of the users and roles the signed-in identity may list (suggestions for the simulator; a listing it
/// may not make just suggests nothing).
fn principal_arns(s: &Signed<'_>) -> Vec<String> {
    let mut arns = Vec::new();
    for (action, list) in [("ListUsers", "Users"), ("ListRoles", "Roles")] {
        if let Ok(x) = s.call(Service::Iam, &[("Action", action)]) {
            arns.extend(members(&parse(&x), list).iter().map(|m| m.get("Arn")));
        }
    }
    arns
}

fn simulator_form(s: &Signed<'_>) -> Markup {
    let r = s.r;
    html! {
        form method="post" action="/console/simulate" id="simulate-form" {
            (csrf_field(s))
            label { "User or role ARN (empty: only the policy below)" input type="text" name="source" id="sim-source" list="principals" value=(r.f("source")); }
            datalist id="principals" { @for a in principal_arns(s) { option value=(a) {} } }
            label { "Policy document (JSON)" textarea name="policy" id="sim-policy" rows="8" { (r.raw("policy")) } }
            label { "Actions (space or comma separated)" input type="text" name="actions" id="sim-actions" value=(r.f("actions")) required; }
            label { "Resource ARNs (optional)" input type="text" name="resources" id="sim-resources" value=(r.f("resources")); }
            label { "Context keys, one per line: key=value" textarea name="context" id="sim-context" rows="3" { (r.raw("context")) } }
            button type="submit" id="sim-run" { "Run simulation" }
        }
    }
}

pub(crate) fn simulate(s: &Signed<'_>) -> Out {
    let r = s.r;
    let source = r.f("source");
    let policy = r.raw("policy").trim().to_string();
    let actions = words(r.f("actions"));
    let resources = words(r.f("resources"));
    let mut owned: Vec<(String, String)> = Vec::new();
    if source.is_empty() {
        owned.push(("Action".into(), "SimulateCustomPolicy".into()));
    } else {
        owned.push(("Action".into(), "SimulatePrincipalPolicy".into()));
        owned.push(("PolicySourceArn".into(), source.to_string()));
    }
    if !policy.is_empty() {
        owned.push(("PolicyInputList.member.1".into(), policy.clone()));
    }
    for (i, a) in actions.iter().enumerate() {
        owned.push((format!("ActionNames.member.{}", i + 1), a.clone()));
    }
    for (i, a) in resources.iter().enumerate() {
        owned.push((format!("ResourceArns.member.{}", i + 1), a.clone()));
    }
    for (i, line) in r
        .raw("context")
        .lines()
        .filter(|l| l.contains('='))
        .enumerate()
    {
        let (k, v) = line.split_once('=').unwrap_or_default();
        let n = i + 1;
        owned.push((
            format!("ContextEntries.member.{n}.ContextKeyName"),
            k.trim().to_string(),
        ));
        owned.push((
            format!("ContextEntries.member.{n}.ContextKeyType"),
            "string".into(),
        ));
        owned.push((
            format!("ContextEntries.member.{n}.ContextKeyValues.member.1"),
            v.trim().to_string(),
        ));
    }
    let params: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let result = s.call(Service::Iam, &params);
    let content = html! {
        (simulator_form(s))
        h2 { "Results" }
        @match &result {
            Ok(x) => {
                @let d = parse(x);
                @let results = members(&d, "EvaluationResults");
                table id="sim-results" {
                    thead { tr { th { "Action" } th { "Resource" } th { "Decision" } th { "Matched statements" } } }
                    tbody {
                        @for e in &results {
                            @let decision = e.get("EvalDecision");
                            tr {
                                td.mono { (e.get("EvalActionName")) }
                                td.mono { (e.get("EvalResourceName")) }
                                td class={"decision " (decision)} { (decision) }
                                td { @for m in e.members("MatchedStatements") {
                                    div { (m.get("SourcePolicyId")) " lines "
                                        (m.find("StartPosition").map(|p| p.get("Line")).unwrap_or_default()) "–"
                                        (m.find("EndPosition").map(|p| p.get("Line")).unwrap_or_default()) }
                                } }
                            }
                        }
                    }
                }
                @if !policy.is_empty() {
                    h2 { "Policy (matched statements highlighted)" }
                    pre.policy id="sim-highlight" {
                        @for (i, line) in policy.lines().enumerate() {
                            @let n = i + 1;
                            @let hit = results.iter().any(|e| e.members("MatchedStatements").iter().any(|m| {
                                m.get("SourcePolicyId") == "PolicyInputList.1" && {
                                    let a: usize = m.find("StartPosition").map(|p| p.get("Line")).unwrap_or_default().parse().unwrap_or(0);
                                    let b: usize = m.find("EndPosition").map(|p| p.get("Line")).unwrap_or_default().parse().unwrap_or(0);
                                    a <= n && n <= b
                                }
                            }));
                            span class=(if hit { "line matched" } else { "line" }) { (line) "\n" }
                        }
                    }
                }
            }
            Err(e) => (api_error(e)),
        }
    };
    page(s, "Policy simulator", content)
}

pub(crate) fn audit(s: &Signed<'_>) -> Out {
    let r = s.r;
    let user = r.q("user");
    let event = r.q("event");
    let key = r.q("key");
    let start = r.q("start");
    let end = r.q("end");
    // LookupEvents takes one lookup attribute; the other filters apply to its answer.
    let mut input = serde_json::Map::new();
    input.insert("MaxResults".into(), 50.into());
    let attr = if !key.is_empty() {
        Some(("AccessKeyId", key))
    } else if !user.is_empty() {
        Some(("Username", user))
    } else if !event.is_empty() {
        Some(("EventName", event))
    } else {
        None
    };
    if let Some((k, v)) = attr {
        input.insert(
            "LookupAttributes".into(),
            serde_json::json!([{"AttributeKey": k, "AttributeValue": v}]),
        );
    }
    let time = |t: &str| {
        crate::cloudtrail::parse_time(&format!("{t}:00Z").replacen(' ', "T", 1))
            .or_else(|| crate::cloudtrail::parse_time(t))
    };
    if let Some(t) = (!start.is_empty()).then(|| time(start)).flatten() {
        input.insert("StartTime".into(), t.into());
    }
    if let Some(t) = (!end.is_empty()).then(|| time(end)).flatten() {
        input.insert("EndTime".into(), t.into());
    }
    let result = s.lookup_events(&serde_json::Value::Object(input));
    let content = html! {
        form method="get" action="/console/audit" id="audit-form" {
            label { "User name" input type="text" name="user" id="audit-user" value=(user); }
            label { "Event name" input type="text" name="event" id="audit-event" value=(event); }
            label { "Access key ID" input type="text" name="key" id="audit-key" value=(key); }
            label { "From (UTC)" input type="datetime-local" name="start" id="audit-start" value=(start); }
            label { "To (UTC)" input type="datetime-local" name="end" id="audit-end" value=(end); }
            button type="submit" id="audit-search" { "Look up events" }
        }
        @match &result {
            Ok(v) => {
                @let events: Vec<&serde_json::Value> = v["Events"].as_array().map(|a| a.iter().filter(|e| {
                    (user.is_empty() || e["Username"].as_str() == Some(user))
                        && (event.is_empty() || e["EventName"].as_str() == Some(event))
                        && (key.is_empty() || e["AccessKeyId"].as_str() == Some(key))
                }).collect()).unwrap_or_default();
                p id="audit-count" { (events.len()) " events" }
                table id="audit-events" {
                    thead { tr { th { "Time" } th { "Event" } th { "User" } th { "Access key" } th { "Event JSON" } } }
                    tbody {
                        @for e in events {
                            tr {
                                td { (e["EventTime"].as_f64().map(|t| crate::iam::fmt_time(t as i64)).unwrap_or_default()) }
                                td.event-name { (e["EventName"].as_str().unwrap_or("")) }
                                td.event-user { (e["Username"].as_str().unwrap_or("")) }
                                td.mono { (e["AccessKeyId"].as_str().unwrap_or("")) }
                                td { details { summary { "JSON" } pre { (pretty_json(e["CloudTrailEvent"].as_str().unwrap_or("{}"))) } } }
                            }
                        }
                    }
                }
            }
            Err(e) => (api_error(e)),
        }
    };
    page(s, "Audit", content)
}

pub(crate) fn password(s: &Signed<'_>, error: Option<&ApiError>) -> Out {
    let content = html! {
        @if s.session.must_change_password { p.notice id="must-change" { "You must set a new password before you continue." } }
        @if let Some(e) = error { (api_error(e)) }
        form method="post" action="/console/password" id="password-form" {
            (csrf_field(s))
            label { "Current password" input type="password" name="old" id="old-password" required autocomplete="current-password"; }
            label { "New password" input type="password" name="new" id="new-password" required autocomplete="new-password"; }
            button type="submit" id="password-submit" { "Change password" }
        }
    };
    page(s, "Change password", content)
}

pub(crate) fn change_password(s: &Signed<'_>) -> Out {
    // Always as the signed-in user (ChangePassword is for IAM users changing their own password).
    let result = super::call_with(
        s.r,
        &s.session.user,
        Service::Iam,
        &[
            ("Action", "ChangePassword"),
            ("OldPassword", s.r.raw("old")),
            ("NewPassword", s.r.raw("new")),
        ],
    );
    match result {
        Ok(_) => {
            let n =
                html! { p id="password-changed" { "Your password was changed." } }.into_string();
            s.update(|x| {
                x.must_change_password = false;
                x.notice = Some(n);
            });
            Out::redirect("/console/home")
        }
        Err(e) => password(s, Some(&e)),
    }
}
