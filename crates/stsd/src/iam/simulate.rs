//! Policy simulation: SimulatePrincipalPolicy, SimulateCustomPolicy, GetContextKeysForPrincipalPolicy and
//! GetContextKeysForCustomPolicy (reference §3.7).
//!
//! The simulator gathers policies exactly as enforcement does (`authz::{user,group,role}_policies`) and asks
//! the same engine (`policy::evaluate`), so its answers are the answers stsd would give for a real request
//! with the same principal, action, resource and context.
//!
//! Choices where AWS leaves room (documented here, as the reference marks them unverified):
//! * **Principal.** `CallerArn` (an IAM user ARN) when given. Otherwise: for a user source, that user; for a
//!   role source, a session of that role (`arn:aws:sts::A:assumed-role/Role/SimulatedSession`), which is what
//!   uses a role's policies; for a group source and for custom policies, a placeholder user
//!   `arn:aws:iam::<caller account>:user/SimulatedUser`. The placeholder's principal keys (`aws:username`,
//!   `aws:PrincipalArn`, …) are not filled: they describe nobody, so policies using them report them in
//!   `MissingContextValues` unless `ContextEntries` supplies them.
//! * **Context.** Only principal-derived keys (`Principal::fill_context`) and the principal's tags
//!   (`aws:PrincipalTag/*`, for users and roles of the caller's account) are filled; request keys
//!   (`aws:SourceIp`, `aws:CurrentTime`, `aws:MultiFactorAuthPresent`, …) come from `ContextEntries` only,
//!   as a simulation is not the request it describes. `ContextEntries` override filled keys.
//! * **MissingContextValues** are the context keys referenced by any evaluated policy (identity, boundary,
//!   resource, SCP) that the context does not hold and that a real request for the result's action could
//!   carry: global keys and the keys AWS's action catalog lists for the action (the table enforcement uses).
//!   For actions of services outside the catalog every such key is reported.
//! * **Account.** Without a `ResourcePolicy` a simulation has no cross-account step: the identity policies
//!   and boundary alone decide, whatever account a resource ARN names. With one, the resources belong to
//!   `ResourceOwner`, which defaults to the account of the simulated caller.
//! * **Errors.** An input document that is not a policy is `InvalidInput`; the call is authorized before any
//!   input document is parsed.
//! * **MatchedStatements** are the engine's matched statements for `allowed` and `explicitDeny`, and empty for
//!   `implicitDeny` (no statement decides an implicit deny).
//! * **SourcePolicyId**: `PolicyInputList.N`, `PermissionsBoundaryPolicyInputList.1`, `ResourcePolicy`,
//!   `OrderedOrganizationPolicyInputList.N.M` for inputs (`SourcePolicyType` `none`, `resource` for the
//!   resource policy); for an entity's own policies the inline policy name or the managed policy ARN, as
//!   `authz` labels them.
//! * **EvalDecisionDetails** follows the model documentation: absent for resource `*` without `ResourceArns`,
//!   empty for same-account resources, and for cross-account resources (only with a `ResourcePolicy`) a map with the keys `IAM Policy`,
//!   `Permissions Boundary Policy` (when a boundary applies) and `Resource Policy` (when given); the key
//!   strings are unverified. Not returned when an SCP denied.
//! * One `EvaluationResult` per (action, resource), actions first; with `ResourceArns` each carries one
//!   `ResourceSpecificResults` entry for its resource. `Marker`/`MaxItems` page over these results; only the
//!   requested page is evaluated.

use std::sync::Arc;

use policy::{Decision, Effect, PolicyKind, PolicyRef, PolicySet, PolicySource, PolicyType};

use std::collections::BTreeMap;

use stsd_wire::generated::iam as w;

use super::{Ctx, paginate};
use crate::authz::PrincipalPolicies;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Account, Tag};
use crate::validate as v;

/// Session name of the role session that stands for a role source.
const ROLE_SESSION: &str = "SimulatedSession";
/// Name of the placeholder user for group sources and custom policies without `CallerArn`.
const PLACEHOLDER_USER: &str = "SimulatedUser";
/// SCP levels accepted in `OrderedOrganizationPolicyInputList` (root first).
const MAX_SCP_LEVELS: usize = 7;

// ---------------------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------------------

/// A policy given in the request, with the label the results report (`PolicyInputList.1`).
struct Input {
    label: String,
    policy: policy::Policy,
}

/// `[\u0009\u000A\u000D\u0020-\u00FF]+`, 1..131072, as the model constrains `policyDocumentType`.
/// Parse a simulation input with the engine (its length and characters were checked by the model). The
/// simulator's inputs are limited by the wire size only (the per-kind storage quotas do not apply to documents
/// that are never stored). A document that is not a policy is the simulator's declared error, `InvalidInput`
/// (reference §3.7), not `MalformedPolicyDocument`.
fn parse_policy(text: &str, kind: PolicyKind) -> ApiResult<policy::Policy> {
    policy::Policy::parse_with_limit(text, kind, policy::MAX_WIRE_CHARS)
        .map_err(|e| ApiError::invalid_input(e.to_string()))
}

/// Policy documents of a `Param.member.N` list, labelled `Param.N` (positions as sent).
fn policy_list(texts: &[String], param: &str, kind: PolicyKind) -> ApiResult<Vec<Input>> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Ok(Input {
                label: format!("{param}.{}", i + 1),
                policy: parse_policy(t, kind)?,
            })
        })
        .collect()
}

/// `PermissionsBoundaryPolicyInputList`: at most one boundary.
fn boundary_input(texts: Option<&[String]>) -> ApiResult<Option<Input>> {
    let Some(texts) = texts else {
        return Ok(None);
    };
    let mut list = policy_list(
        texts,
        "PermissionsBoundaryPolicyInputList",
        PolicyKind::Boundary,
    )?;
    if list.len() > 1 {
        return Err(ApiError::invalid_input(
            "Only one permissions boundary policy may be given in PermissionsBoundaryPolicyInputList.",
        ));
    }
    Ok(list.pop())
}

/// `OrderedOrganizationPolicyInputList.member.N.member.M`: SCP levels, root first (an stsd extension of the
/// model: AWS's console sends it, botocore's model does not have it).
fn scp_levels(levels: Option<&[Vec<String>]>) -> ApiResult<Vec<Vec<Input>>> {
    const PARAM: &str = "OrderedOrganizationPolicyInputList";
    let Some(levels) = levels else {
        return Ok(Vec::new());
    };
    if levels.len() > MAX_SCP_LEVELS {
        return Err(ApiError::invalid_input(format!(
            "{PARAM} accepts at most {MAX_SCP_LEVELS} levels of service control policies."
        )));
    }
    let mut out = Vec::with_capacity(levels.len());
    for (n, level) in levels.iter().enumerate() {
        if level.is_empty() {
            return Err(ApiError::invalid_input(format!(
                "Each level of {PARAM} must hold at least one policy."
            )));
        }
        out.push(policy_list(
            level,
            &format!("{PARAM}.{}", n + 1),
            PolicyKind::Scp,
        )?);
    }
    Ok(out)
}

/// `ActionNames` (their length checked by the model): `service:Action`, wildcards only where allowed.
fn action_names(actions: Vec<String>, wildcards: bool) -> ApiResult<Vec<String>> {
    for a in &actions {
        let well_formed = a
            .split_once(':')
            .is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty());
        if !well_formed && a != "*" {
            return Err(ApiError::invalid_input(format!(
                "Action name {a} is not valid: it must be of the form service:Action."
            )));
        }
        if !wildcards && (a.contains('*') || a.contains('?')) {
            return Err(ApiError::invalid_input(format!(
                "Actions cannot contain wildcards: {a}."
            )));
        }
    }
    Ok(actions)
}

/// `ResourceArns`; `None` when not given or empty (the simulation then uses `*`).
fn resource_arns(list: Option<Vec<String>>) -> Option<Vec<String>> {
    list.filter(|l| !l.is_empty())
}

/// `ResourceOwner`: an account ID, or `arn:aws:iam::ACCOUNT:root` (the form SimulateCustomPolicy documents).
fn resource_owner(owner: Option<&str>) -> ApiResult<Option<String>> {
    let Some(v) = owner else {
        return Ok(None);
    };
    let acct = v
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
        .unwrap_or(v);
    if !is_account_id(acct) {
        return Err(ApiError::invalid_input(format!(
            "ResourceOwner {v} is not valid: expected an account ID or arn:aws:iam::ACCOUNT:root."
        )));
    }
    Ok(Some(acct.to_string()))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `value` reads as the scalar type `base` (`numeric`, `boolean`, `ip`; others are free text that
/// the engine parses when comparing).
fn value_fits(base: &str, value: &str) -> bool {
    match base {
        "numeric" => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
        "boolean" => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        "ip" => {
            let (addr, prefix) = match value.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (value, None),
            };
            match addr.parse::<std::net::IpAddr>() {
                Ok(ip) => prefix.is_none_or(|p| {
                    p.parse::<u8>()
                        .is_ok_and(|n| n <= if ip.is_ipv4() { 32 } else { 128 })
                }),
                Err(_) => false,
            }
        }
        _ => true,
    }
}

/// Longest `ContextKeyValues` value (AWS's model sets none). Wildcard matching costs the value's length times
/// ⌈piece/64⌉ for a `?`-bearing pattern piece (up to 2,048 words in a 131,072-character input policy): the cap
/// keeps one simulation's CPU in milliseconds instead of seconds.
const MAX_CONTEXT_VALUE: usize = 65_536;

/// `ContextEntries` (name length and type checked by the model) → (key, values), a later entry for the same
/// key (ignoring case) replacing an earlier one.
fn context_entries(entries: Option<Vec<w::ContextEntry>>) -> ApiResult<Vec<(String, Vec<String>)>> {
    let entries = entries.unwrap_or_default();
    let mut out: Vec<(String, Vec<String>)> = Vec::with_capacity(entries.len());
    for e in entries {
        // The model leaves the name optional; a context entry without one names nothing.
        let key = e
            .context_key_name
            .ok_or_else(|| ApiError::missing("contextEntries.member.contextKeyName"))?;
        let ty = e.context_key_type.as_deref().unwrap_or("string");
        let values = e.context_key_values.unwrap_or_default();
        if values.iter().any(|v| v.len() > MAX_CONTEXT_VALUE) {
            return Err(ApiError::invalid_input(format!(
                "Context key {key}: a value is longer than {MAX_CONTEXT_VALUE} characters."
            )));
        }
        let base = ty.strip_suffix("List").unwrap_or(ty);
        if base == ty && values.len() > 1 {
            return Err(ApiError::invalid_input(format!(
                "Context key {key} is of type {ty} and takes a single value; use {ty}List for several."
            )));
        }
        if let Some(bad) = values.iter().find(|v| !value_fits(base, v)) {
            return Err(ApiError::invalid_input(format!(
                "Context key {key}: value {bad} is not a valid {base}."
            )));
        }
        if let Some(slot) = out.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
            slot.1 = values;
        } else {
            out.push((key, values));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------
// Entities and principals
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    fn word(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }
}

/// A parsed `arn:aws:iam::ACCOUNT:{user|group|role}/path/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EntityArn {
    account: String,
    kind: EntityKind,
    path: String,
    name: String,
}

fn invalid_arn(arn: &str) -> ApiError {
    ApiError::invalid_input(format!("ARN {arn} is not valid."))
}

fn parse_entity_arn(arn: &str) -> ApiResult<EntityArn> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some("aws"), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid_arn(arn));
    };
    if !is_account_id(account) {
        return Err(invalid_arn(arn));
    }
    let (kind, rest) = match resource.split_once('/') {
        Some(("user", rest)) => (EntityKind::User, rest),
        Some(("group", rest)) => (EntityKind::Group, rest),
        Some(("role", rest)) => (EntityKind::Role, rest),
        _ => return Err(invalid_arn(arn)),
    };
    let (path, name) = match rest.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n),
        None => ("/".to_string(), rest),
    };
    let path_ok = path == "/"
        || (!path.contains("//") && path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)));
    if name.is_empty() || name.len() > 128 || !name.chars().all(v::is_name_char) || !path_ok {
        return Err(invalid_arn(arn));
    }
    Ok(EntityArn {
        account: account.to_string(),
        kind,
        path,
        name: name.to_string(),
    })
}

fn no_entity(e: &EntityArn) -> ApiError {
    ApiError::no_such_entity(format!(
        "The {} with name {} cannot be found.",
        e.kind.word(),
        e.name
    ))
}

/// The principal of a simulation and the context keys it fills (principal keys and tags).
struct Subject {
    principal: policy::Principal,
    context: policy::Context,
}

impl Subject {
    fn new(principal: policy::Principal, tags: &[Tag]) -> Subject {
        let mut context = policy::Context::new();
        principal.fill_context(&mut context);
        for t in tags {
            context.set(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
        }
        Subject { principal, context }
    }

    /// A placeholder that stands for nobody: no principal keys are filled.
    fn placeholder(account: &str) -> Subject {
        Subject {
            principal: policy::Principal::user(&format!(
                "arn:aws:iam::{account}:user/{PLACEHOLDER_USER}"
            )),
            context: policy::Context::new(),
        }
    }

    /// An IAM user given by ARN; its unique ID and tags are used when it is a user of `acct`.
    fn user(acct: &Account, arn: &str) -> Subject {
        let found = parse_entity_arn(arn)
            .ok()
            .filter(|e| e.account == acct.id())
            .and_then(|e| acct.users.get(&e.name.to_lowercase()))
            .filter(|u| acct.user_arn(u) == arn);
        match found {
            Some(u) => Subject::new(policy::Principal::user(arn).with_user_id(&u.id), &u.tags),
            None => Subject::new(policy::Principal::user(arn), &[]),
        }
    }
}

/// `CallerArn`: the ARN of an IAM user (no roles, sessions or services).
fn caller_arn(arn: Option<&str>) -> ApiResult<Option<&str>> {
    let Some(arn) = arn else {
        return Ok(None);
    };
    match parse_entity_arn(arn) {
        Ok(e) if e.kind == EntityKind::User => Ok(Some(arn)),
        _ => Err(ApiError::invalid_input(format!(
            "CallerArn {arn} is not valid: it must be the ARN of an IAM user."
        ))),
    }
}

/// The entity named by `PolicySourceArn` in the caller's account: its policies and the subject that stands
/// for it when no `CallerArn` is given.
fn source_entity(acct: &Account, e: &EntityArn) -> ApiResult<(PrincipalPolicies, Subject)> {
    if e.account != acct.id() {
        return Err(no_entity(e));
    }
    let key = e.name.to_lowercase();
    let unusable = |u: crate::authz::Unusable| {
        ApiError::new(
            ErrorCode::ServiceFailure,
            format!("The entity's policies cannot be simulated {}.", u.reason()),
        )
    };
    match e.kind {
        EntityKind::User => {
            let u = acct
                .users
                .get(&key)
                .filter(|u| u.path == e.path)
                .ok_or_else(|| no_entity(e))?;
            let pols = crate::authz::user_policies(acct, u).map_err(unusable)?;
            let principal = policy::Principal::user(&acct.user_arn(u)).with_user_id(&u.id);
            Ok((pols, Subject::new(principal, &u.tags)))
        }
        EntityKind::Group => {
            let g = acct
                .groups
                .get(&key)
                .filter(|g| g.path == e.path)
                .ok_or_else(|| no_entity(e))?;
            let pols = crate::authz::group_policies(acct, g).map_err(unusable)?;
            Ok((pols, Subject::placeholder(acct.id())))
        }
        EntityKind::Role => {
            let r = acct
                .roles
                .get(&key)
                .filter(|r| r.path == e.path)
                .ok_or_else(|| no_entity(e))?;
            let pols = crate::authz::role_policies(acct, r).map_err(unusable)?;
            let session = format!(
                "arn:aws:sts::{}:assumed-role/{}/{ROLE_SESSION}",
                acct.id(),
                r.name
            );
            let principal = policy::Principal::assumed_role(&session, &acct.role_arn(r))
                .with_user_id(&format!("{}:{ROLE_SESSION}", r.id));
            Ok((pols, Subject::new(principal, &r.tags)))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Simulation
// ---------------------------------------------------------------------------------------------------------

/// Everything one simulation evaluates, owned; `run` borrows it into policy sets.
struct Simulation {
    /// The entity's own identity policies (principal simulation).
    entity: Vec<(String, PolicySource, Arc<policy::Policy>)>,
    /// The entity's own boundary, used unless a boundary input replaces it.
    entity_boundary: Option<(String, Arc<policy::Policy>)>,
    inputs: Vec<Input>,
    boundary: Option<Input>,
    resource_policy: Option<Input>,
    scps: Vec<Vec<Input>>,
    subject: Subject,
    actions: Vec<String>,
    /// `None`: `ResourceArns` not given, the simulation uses `*`.
    resources: Option<Vec<String>>,
    resource_owner: Option<String>,
}

/// One evaluated (action, resource) pair.
struct Outcome<'a> {
    action: &'a str,
    resource: &'a str,
    decision: Decision<'a>,
    cross_account: bool,
    has_resource_policy: bool,
}

impl Simulation {
    fn set(&self) -> PolicySet<'_> {
        let mut set = PolicySet::new();
        for (label, source, p) in &self.entity {
            set = set.identity(p, label, *source);
        }
        for i in &self.inputs {
            set = set.identity(&i.policy, &i.label, PolicySource::None);
        }
        match (&self.boundary, &self.entity_boundary) {
            (Some(b), _) => {
                set.boundary
                    .push(PolicyRef::new(&b.policy, &b.label, PolicySource::None))
            }
            (None, Some((label, p))) => {
                set.boundary
                    .push(PolicyRef::new(p, label, PolicySource::UserManaged));
            }
            (None, None) => {}
        }
        for level in &self.scps {
            set = set.scp_level(
                level
                    .iter()
                    .map(|i| PolicyRef::new(&i.policy, &i.label, PolicySource::None))
                    .collect(),
            );
        }
        set
    }

    /// Context keys of every evaluated policy, each once (case-insensitive), in first-use order.
    fn referenced_keys(&self) -> Vec<&str> {
        let mut all: Vec<&policy::Policy> = self.entity.iter().map(|(_, _, p)| &**p).collect();
        all.extend(self.inputs.iter().map(|i| &i.policy));
        match (&self.boundary, &self.entity_boundary) {
            (Some(b), _) => all.push(&b.policy),
            (None, Some((_, p))) => all.push(p),
            (None, None) => {}
        }
        all.extend(self.resource_policy.iter().map(|i| &i.policy));
        all.extend(self.scps.iter().flatten().map(|i| &i.policy));
        union_keys(all)
    }

    fn context(&self, entries: &[(String, Vec<String>)]) -> policy::Context {
        let mut c = self.subject.context.clone();
        for (k, vals) in entries {
            c.insert(k, vals.iter().cloned());
        }
        c
    }

    /// The account that owns the simulated resources. Without a `ResourcePolicy` there is no cross-account
    /// step: the identity policies (and boundary) alone decide, whatever account a resource ARN names. With
    /// one, the resources and the resource policy belong to `ResourceOwner`, which defaults to the caller's
    /// account (reference §3.7).
    fn owner(&self) -> &str {
        match (&self.resource_policy, &self.resource_owner) {
            (Some(_), Some(owner)) => owner,
            _ => &self.subject.principal.account,
        }
    }

    fn evaluate<'a>(
        &'a self,
        base: &PolicySet<'a>,
        context: &policy::Context,
        action: &'a str,
        resource: &'a str,
    ) -> Outcome<'a> {
        let owner = self.owner();
        let mut set = base.clone();
        set.resource_account = Some(owner);
        if let Some(rp) = &self.resource_policy {
            set = set.resource(&rp.policy, &rp.label, owner);
        }
        let req = policy::Request::new(&self.subject.principal, action, resource, context);
        Outcome {
            action,
            resource,
            decision: policy::evaluate(&req, &set),
            cross_account: owner != self.subject.principal.account,
            has_resource_policy: self.resource_policy.is_some(),
        }
    }

    /// Evaluate the requested page.
    fn run(
        &self,
        entries: &[(String, Vec<String>)],
        marker: Option<&str>,
        max: usize,
    ) -> ApiResult<w::SimulatePolicyResponse> {
        let star = ["*".to_string()];
        let resources: &[String] = self.resources.as_deref().unwrap_or(&star);
        let pairs: Vec<(usize, usize)> = (0..self.actions.len())
            .flat_map(|a| (0..resources.len()).map(move |r| (a, r)))
            .collect();
        let (page, next) = paginate(pairs, marker, max)?;
        let context = self.context(entries);
        let referenced: Vec<&str> = self
            .referenced_keys()
            .into_iter()
            .filter(|k| !context.contains(k))
            .collect();
        let base = self.set();
        let results = page
            .iter()
            .filter_map(|&(a, r)| {
                Some(self.evaluate(&base, &context, self.actions.get(a)?, resources.get(r)?))
            })
            .map(|o| {
                let missing = missing_for(o.action, &referenced);
                result(&o, &missing, self.resources.is_some())
            })
            .collect();
        Ok(w::SimulatePolicyResponse {
            evaluation_results: Some(results),
            is_truncated: Some(next.is_some()),
            marker: next,
        })
    }
}

/// The referenced keys a real request for `action` could carry, so that leaving them out of `ContextEntries`
/// changes the answer: global keys, and the keys AWS's action catalog lists for the action. A key the action
/// can never carry (`iam:PolicyARN` for `iam:GetUser`) is absent in every real request too, and is not
/// reported missing. Actions of services outside the catalog report every referenced key.
fn missing_for<'k>(action: &str, referenced: &[&'k str]) -> Vec<&'k str> {
    let Some(a) = action_catalog::action_by_qualified_name(action) else {
        return referenced.to_vec();
    };
    referenced
        .iter()
        .copied()
        .filter(|k| is_global_key(k) || a.supports_condition_key(k))
        .collect()
}

/// Keys of the `aws:` namespace that every request may carry (the action-specific `aws:RequestTag/*`,
/// `aws:ResourceTag/*` and `aws:TagKeys` are listed per action in the catalog instead).
fn is_global_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("aws:")
        && !lower.starts_with("aws:requesttag/")
        && !lower.starts_with("aws:resourcetag/")
        && lower != "aws:tagkeys"
}

fn union_keys<'a>(policies: impl IntoIterator<Item = &'a policy::Policy>) -> Vec<&'a str> {
    let mut keys: Vec<&str> = Vec::new();
    for p in policies {
        for k in p.context_keys() {
            if !keys.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                keys.push(k);
            }
        }
    }
    keys
}

// ---------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------

/// The statements that decided (none for an implicit deny: no statement decides it).
fn statements(d: &Decision<'_>) -> Vec<w::Statement> {
    if d.effect == Effect::ImplicitDeny {
        return Vec::new();
    }
    let position = |p: policy::Position| w::Position {
        line: Some(i64::from(p.line)),
        column: Some(i64::from(p.column)),
    };
    d.matched
        .iter()
        .map(|m| w::Statement {
            source_policy_id: Some(m.label.to_string()),
            source_policy_type: Some(m.source.as_str().to_string()),
            start_position: Some(position(m.span.start)),
            end_position: Some(position(m.span.end)),
        })
        .collect()
}

fn boundary_detail(d: &Decision<'_>) -> Option<w::PermissionsBoundaryDecisionDetail> {
    d.allowed_by_boundary
        .map(|b| w::PermissionsBoundaryDecisionDetail {
            allowed_by_permissions_boundary: Some(b),
        })
}

/// The decision of one policy type in a cross-account evaluation.
fn layer_decision(d: &Decision<'_>, types: &[PolicyType], allowed: bool) -> &'static str {
    if d.effect == Effect::ExplicitDeny && d.denied_by.is_some_and(|t| types.contains(&t)) {
        Effect::ExplicitDeny.as_eval_decision()
    } else if allowed {
        Effect::Allow.as_eval_decision()
    } else {
        Effect::ImplicitDeny.as_eval_decision()
    }
}

/// `EvalDecisionDetails` (see the module notes): `None` = not returned.
fn decision_details(
    o: &Outcome<'_>,
    resources_given: bool,
) -> Option<Vec<(&'static str, &'static str)>> {
    let d = &o.decision;
    if d.denied_by == Some(PolicyType::Scp) {
        return None;
    }
    if !o.cross_account {
        return resources_given.then(Vec::new);
    }
    let mut out = vec![(
        "IAM Policy",
        layer_decision(d, &[PolicyType::Identity], d.allowed_by_identity),
    )];
    if let Some(b) = d.allowed_by_boundary {
        out.push((
            "Permissions Boundary Policy",
            layer_decision(d, &[PolicyType::Boundary], b),
        ));
    }
    if o.has_resource_policy {
        out.push((
            "Resource Policy",
            layer_decision(d, &[PolicyType::Resource], d.resource_grant.is_some()),
        ));
    }
    Some(out)
}

fn details_map(details: Option<Vec<(&str, &str)>>) -> Option<BTreeMap<String, String>> {
    details.map(|entries| {
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn result(o: &Outcome<'_>, missing: &[&str], resources_given: bool) -> w::EvaluationResult {
    let d = &o.decision;
    let decision = d.effect.as_eval_decision();
    let missing: Vec<String> = missing.iter().map(|k| (*k).to_string()).collect();
    let resource_specific = resources_given.then(|| {
        vec![w::ResourceSpecificResult {
            eval_resource_name: o.resource.to_string(),
            eval_resource_decision: decision.to_string(),
            matched_statements: Some(statements(d)),
            missing_context_values: Some(missing.clone()),
            eval_decision_details: details_map(decision_details(o, true)),
            permissions_boundary_decision_detail: boundary_detail(d),
        }]
    });
    w::EvaluationResult {
        eval_action_name: o.action.to_string(),
        eval_resource_name: Some(o.resource.to_string()),
        eval_decision: decision.to_string(),
        matched_statements: Some(statements(d)),
        missing_context_values: Some(missing),
        organizations_decision_detail: d.allowed_by_organizations.map(|allowed| {
            w::OrganizationsDecisionDetail {
                allowed_by_organizations: Some(allowed),
            }
        }),
        permissions_boundary_decision_detail: boundary_detail(d),
        eval_decision_details: details_map(decision_details(o, resources_given)),
        resource_specific_results: resource_specific,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------------------

// `ResourceHandlingOption` (EC2 scenarios) is validated by the model and otherwise ignored.
//
// Each action is authorized before any input document is parsed: parsing is the expensive part (the model's
// length and character checks, which run first, are linear scans).

pub fn simulate_principal_policy(
    ctx: &Ctx<'_>,
    input: w::SimulatePrincipalPolicyRequest,
) -> ApiResult<w::SimulatePolicyResponse> {
    let source = input.policy_source_arn.as_str();
    {
        let st = ctx.node.read()?;
        ctx.authorize(&st, "iam:SimulatePrincipalPolicy", source)?;
    }
    let actions = action_names(input.action_names, true)?;
    let inputs = policy_list(
        input.policy_input_list.as_deref().unwrap_or_default(),
        "PolicyInputList",
        PolicyKind::Identity,
    )?;
    let boundary = boundary_input(input.permissions_boundary_policy_input_list.as_deref())?;
    let resource_policy = resource_policy_input(input.resource_policy.as_deref())?;
    let resources = resource_arns(input.resource_arns);
    let owner = resource_owner(input.resource_owner.as_deref())?;
    let caller = caller_arn(input.caller_arn.as_deref())?;
    let entries = context_entries(input.context_entries)?;
    let max = super::page_size(input.max_items);
    let entity = parse_entity_arn(source)?;

    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    let (pols, own_subject) = source_entity(acct, &entity)?;
    if resource_policy.is_some() && entity.kind != EntityKind::User && caller.is_none() {
        return Err(ApiError::invalid_input(
            "CallerArn must be specified with ResourcePolicy when PolicySourceArn is not the ARN of a user.",
        ));
    }
    let subject = match caller {
        Some(arn) => Subject::user(acct, arn),
        None => own_subject,
    };
    let sim = Simulation {
        entity: pols.identity,
        entity_boundary: pols.boundary,
        inputs,
        boundary,
        resource_policy,
        scps: Vec::new(),
        subject,
        actions,
        resources,
        resource_owner: owner,
    };
    drop(st);
    sim.run(&entries, input.marker.as_deref(), max)
}

fn resource_policy_input(text: Option<&str>) -> ApiResult<Option<Input>> {
    text.map(|t| {
        Ok(Input {
            label: "ResourcePolicy".to_string(),
            policy: parse_policy(t, PolicyKind::Resource)?,
        })
    })
    .transpose()
}

pub fn simulate_custom_policy(
    ctx: &Ctx<'_>,
    input: w::SimulateCustomPolicyRequest,
) -> ApiResult<w::SimulatePolicyResponse> {
    {
        let st = ctx.node.read()?;
        ctx.authorize(&st, "iam:SimulateCustomPolicy", "*")?;
    }
    let inputs = policy_list(
        &input.policy_input_list,
        "PolicyInputList",
        PolicyKind::Identity,
    )?;
    let actions = action_names(input.action_names, false)?;
    let boundary = boundary_input(input.permissions_boundary_policy_input_list.as_deref())?;
    let scps = scp_levels(input.ordered_organization_policy_input_list.as_deref())?;
    let resource_policy = resource_policy_input(input.resource_policy.as_deref())?;
    let resources = resource_arns(input.resource_arns);
    let owner = resource_owner(input.resource_owner.as_deref())?;
    let caller = caller_arn(input.caller_arn.as_deref())?;
    let entries = context_entries(input.context_entries)?;
    let max = super::page_size(input.max_items);
    if resource_policy.is_some() && caller.is_none() {
        return Err(ApiError::invalid_input(
            "CallerArn must be specified with ResourcePolicy.",
        ));
    }

    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    let subject = match caller {
        Some(arn) => Subject::user(acct, arn),
        None => Subject::placeholder(acct.id()),
    };
    drop(st);
    let sim = Simulation {
        entity: Vec::new(),
        entity_boundary: None,
        inputs,
        boundary,
        resource_policy,
        scps,
        subject,
        actions,
        resources,
        resource_owner: owner,
    };
    sim.run(&entries, input.marker.as_deref(), max)
}

fn context_keys(keys: &[&str]) -> w::GetContextKeysForPolicyResponse {
    w::GetContextKeysForPolicyResponse {
        context_key_names: Some(keys.iter().map(|k| (*k).to_string()).collect()),
    }
}

pub fn get_context_keys_for_principal_policy(
    ctx: &Ctx<'_>,
    input: w::GetContextKeysForPrincipalPolicyRequest,
) -> ApiResult<w::GetContextKeysForPolicyResponse> {
    {
        let st = ctx.node.read()?;
        ctx.authorize(&st, "iam:GetContextKeysForPrincipalPolicy", "*")?;
    }
    let inputs = policy_list(
        input.policy_input_list.as_deref().unwrap_or_default(),
        "PolicyInputList",
        PolicyKind::Identity,
    )?;
    let entity = parse_entity_arn(&input.policy_source_arn)?;
    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    let (pols, _) = source_entity(acct, &entity)?;
    drop(st);
    // The entity's identity policies, its boundary (it is part of what a simulation evaluates), the inputs.
    let mut all: Vec<&policy::Policy> = pols.identity.iter().map(|(_, _, p)| &**p).collect();
    all.extend(pols.boundary.iter().map(|(_, p)| &**p));
    all.extend(inputs.iter().map(|i| &i.policy));
    Ok(context_keys(&union_keys(all)))
}

pub fn get_context_keys_for_custom_policy(
    ctx: &Ctx<'_>,
    input: w::GetContextKeysForCustomPolicyRequest,
) -> ApiResult<w::GetContextKeysForPolicyResponse> {
    {
        let st = ctx.node.read()?;
        ctx.authorize(&st, "iam:GetContextKeysForCustomPolicy", "*")?;
    }
    let inputs = policy_list(
        &input.policy_input_list,
        "PolicyInputList",
        PolicyKind::Identity,
    )?;
    Ok(context_keys(&union_keys(inputs.iter().map(|i| &i.policy))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_arns() {
        let e = parse_entity_arn("arn:aws:iam::111122223333:user/div/a/alice").unwrap();
        assert_eq!(e.kind, EntityKind::User);
        assert_eq!(e.path, "/div/a/");
        assert_eq!(e.name, "alice");
        let e = parse_entity_arn("arn:aws:iam::111122223333:role/R").unwrap();
        assert_eq!((e.kind, e.path.as_str()), (EntityKind::Role, "/"));
        for bad in [
            "arn:aws:iam::111122223333:policy/P",
            "arn:aws:iam::1111:user/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::111122223333:user/",
            "arn:aws:iam::111122223333:user/a b",
            "nonsense-but-long-enough",
        ] {
            assert_eq!(
                parse_entity_arn(bad).unwrap_err().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
        }
    }

    /// A `SimulateCustomPolicy` request with `pairs` beside its required members, decoded by the model.
    fn request<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> w::SimulateCustomPolicyRequest {
        let allow: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        let mut all = vec![
            ("PolicyInputList.member.1", allow),
            ("ActionNames.member.1", "s3:GetObject"),
        ];
        all.extend(pairs);
        stsd_wire::Input::decode(&crate::protocol::query::Params::from_pairs(all)).unwrap()
    }

    /// The answer as the wire carries it.
    fn xml(out: w::SimulatePolicyResponse) -> String {
        stsd_wire::Output::encode(&out).unwrap()
    }

    #[test]
    fn context_values_are_bounded() {
        let long = "a".repeat(MAX_CONTEXT_VALUE + 1);
        let p = request([
            ("ContextEntries.member.1.ContextKeyName", "aws:UserAgent"),
            ("ContextEntries.member.1.ContextKeyType", "string"),
            (
                "ContextEntries.member.1.ContextKeyValues.member.1",
                long.as_str(),
            ),
        ]);
        assert_eq!(
            context_entries(p.context_entries).unwrap_err().code,
            ErrorCode::InvalidInput
        );
        let ok = "a".repeat(MAX_CONTEXT_VALUE);
        let p = request([
            ("ContextEntries.member.1.ContextKeyName", "aws:UserAgent"),
            ("ContextEntries.member.1.ContextKeyType", "string"),
            (
                "ContextEntries.member.1.ContextKeyValues.member.1",
                ok.as_str(),
            ),
        ]);
        assert!(context_entries(p.context_entries).is_ok());
    }

    #[test]
    fn context_entry_types() {
        let p = request([
            ("ContextEntries.member.1.ContextKeyName", "aws:SourceIp"),
            ("ContextEntries.member.1.ContextKeyType", "ip"),
            (
                "ContextEntries.member.1.ContextKeyValues.member.1",
                "10.0.0.0/8",
            ),
            ("ContextEntries.member.2.ContextKeyName", "aws:TagKeys"),
            ("ContextEntries.member.2.ContextKeyType", "stringList"),
            ("ContextEntries.member.2.ContextKeyValues.member.1", "a"),
            ("ContextEntries.member.2.ContextKeyValues.member.2", "b"),
        ]);
        let e = context_entries(p.context_entries).unwrap();
        assert_eq!(e[0].1, ["10.0.0.0/8"]);
        assert_eq!(e[1].1, ["a", "b"]);
        let bad = request([
            (
                "ContextEntries.member.1.ContextKeyName",
                "aws:MultiFactorAuthPresent",
            ),
            ("ContextEntries.member.1.ContextKeyType", "boolean"),
            ("ContextEntries.member.1.ContextKeyValues.member.1", "yes"),
        ]);
        assert_eq!(
            context_entries(bad.context_entries).unwrap_err().code,
            ErrorCode::InvalidInput
        );
        let many = request([
            ("ContextEntries.member.1.ContextKeyName", "aws:username"),
            ("ContextEntries.member.1.ContextKeyType", "string"),
            ("ContextEntries.member.1.ContextKeyValues.member.1", "a"),
            ("ContextEntries.member.1.ContextKeyValues.member.2", "b"),
        ]);
        assert!(context_entries(many.context_entries).is_err());
    }

    #[test]
    fn scp_levels_parse_in_order() {
        let allow = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        let p = request([
            (
                "OrderedOrganizationPolicyInputList.member.1.member.1",
                allow,
            ),
            (
                "OrderedOrganizationPolicyInputList.member.2.member.2",
                allow,
            ),
            (
                "OrderedOrganizationPolicyInputList.member.2.member.1",
                allow,
            ),
        ]);
        let levels = scp_levels(p.ordered_organization_policy_input_list.as_deref()).unwrap();
        assert_eq!(levels.len(), 2);
        assert_eq!(levels[1][1].label, "OrderedOrganizationPolicyInputList.2.2");
    }

    fn sim(inputs: &[&str], boundary: Option<&str>) -> Simulation {
        Simulation {
            entity: Vec::new(),
            entity_boundary: None,
            inputs: inputs
                .iter()
                .enumerate()
                .map(|(i, t)| Input {
                    label: format!("PolicyInputList.{}", i + 1),
                    policy: parse_policy(t, PolicyKind::Identity).unwrap(),
                })
                .collect(),
            boundary: boundary.map(|t| Input {
                label: "PermissionsBoundaryPolicyInputList.1".into(),
                policy: parse_policy(t, PolicyKind::Boundary).unwrap(),
            }),
            resource_policy: None,
            scps: Vec::new(),
            subject: Subject::placeholder("111122223333"),
            actions: vec!["s3:GetObject".into(), "s3:PutObject".into()],
            resources: Some(vec!["arn:aws:s3:::b/k".into()]),
            resource_owner: None,
        }
    }

    #[test]
    fn results_and_pagination() {
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
        let s = sim(&[allow], None);
        let out = xml(s.run(&[], None, 1).unwrap());
        assert!(
            out.contains("<EvalDecision>implicitDeny</EvalDecision>"),
            "{out}"
        );
        assert!(
            out.contains("<member>aws:MultiFactorAuthPresent</member>"),
            "{out}"
        );
        assert!(out.contains("<IsTruncated>true</IsTruncated>"), "{out}");
        let entries = vec![(
            "aws:MultiFactorAuthPresent".to_string(),
            vec!["true".to_string()],
        )];
        let out = xml(s.run(&entries, None, 10).unwrap());
        assert!(
            out.contains("<EvalDecision>allowed</EvalDecision>"),
            "{out}"
        );
        assert!(
            out.contains("<SourcePolicyId>PolicyInputList.1</SourcePolicyId>"),
            "{out}"
        );
        assert!(out.contains("<MissingContextValues/>"), "{out}");
        assert!(out.contains("<StartPosition><Line>1</Line>"), "{out}");
    }

    #[test]
    fn boundary_limits() {
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let only_put = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#;
        let s = sim(&[allow], Some(only_put));
        let out = xml(s.run(&[], None, 1).unwrap());
        assert!(
            out.contains("<EvalDecision>implicitDeny</EvalDecision>"),
            "{out}"
        );
        assert!(
            out.contains("<AllowedByPermissionsBoundary>false</AllowedByPermissionsBoundary>"),
            "{out}"
        );
    }
}
