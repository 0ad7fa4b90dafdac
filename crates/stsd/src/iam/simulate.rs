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

use super::{paginate, write_paging, Ctx, Handler};
use crate::authz::PrincipalPolicies;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Account, Tag};
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;
use crate::validate as v;

pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "SimulatePrincipalPolicy" => simulate_principal_policy,
        "SimulateCustomPolicy" => simulate_custom_policy,
        "GetContextKeysForPrincipalPolicy" => get_context_keys_for_principal_policy,
        "GetContextKeysForCustomPolicy" => get_context_keys_for_custom_policy,
        _ => return None,
    })
}

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
fn check_document(text: &str, member: &str) -> ApiResult<()> {
    let n = text.chars().count();
    if n == 0 {
        return Err(ApiError::validation(
            text,
            member,
            "Member must have length greater than or equal to 1",
        ));
    }
    if n > policy::MAX_WIRE_CHARS {
        return Err(ApiError::validation(
            "<policy document>",
            member,
            "Member must have length less than or equal to 131072",
        ));
    }
    if !text
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(ApiError::validation(
            "<policy document>",
            member,
            "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        ));
    }
    Ok(())
}

/// Parse a simulation input with the engine. The simulator's inputs are limited by the wire size only (the
/// per-kind storage quotas do not apply to documents that are never stored). A document that is not a policy
/// is the simulator's declared error, `InvalidInput` (reference §3.7), not `MalformedPolicyDocument`.
fn parse_policy(text: &str, kind: PolicyKind, member: &str) -> ApiResult<policy::Policy> {
    check_document(text, member)?;
    policy::Policy::parse_with_limit(text, kind, policy::MAX_WIRE_CHARS)
        .map_err(|e| ApiError::invalid_input(e.to_string()))
}

/// `Param.member.N` policy documents, labelled `Param.N` (positions as sent).
fn policy_list(p: &Params, param: &str, kind: PolicyKind) -> ApiResult<Option<Vec<Input>>> {
    let Some(texts) = p.list(param)? else {
        return Ok(None);
    };
    let member = format!("{}.member", crate::protocol::query::lower_camel(param));
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Ok(Input {
                label: format!("{param}.{}", i + 1),
                policy: parse_policy(t, kind, &member)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// `PermissionsBoundaryPolicyInputList`: at most one boundary.
fn boundary_input(p: &Params) -> ApiResult<Option<Input>> {
    let Some(mut list) = policy_list(
        p,
        "PermissionsBoundaryPolicyInputList",
        PolicyKind::Boundary,
    )?
    else {
        return Ok(None);
    };
    if list.len() > 1 {
        return Err(ApiError::invalid_input(
            "Only one permissions boundary policy may be given in PermissionsBoundaryPolicyInputList.",
        ));
    }
    Ok(list.pop())
}

/// `OrderedOrganizationPolicyInputList.member.N.member.M`: SCP levels, root first (not in botocore's model;
/// sent by raw clients).
fn scp_levels(p: &Params) -> ApiResult<Vec<Vec<Input>>> {
    const PARAM: &str = "OrderedOrganizationPolicyInputList";
    let Some(levels) = p.struct_list(PARAM)? else {
        return Ok(Vec::new());
    };
    if levels.len() > MAX_SCP_LEVELS {
        return Err(ApiError::invalid_input(format!(
            "{PARAM} accepts at most {MAX_SCP_LEVELS} levels of service control policies."
        )));
    }
    let mut out = Vec::with_capacity(levels.len());
    for (n, level) in levels.iter().enumerate() {
        let mut docs: Vec<(usize, &str)> = Vec::new();
        for (k, text) in level.iter() {
            let m = k
                .strip_prefix("member.")
                .and_then(|m| m.parse::<usize>().ok())
                .filter(|m| (1..=crate::protocol::query::MAX_LIST_INDEX).contains(m))
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::MalformedQueryString,
                        format!(
                            "Invalid list index in parameter {PARAM}.member.{}.{k}.",
                            n + 1
                        ),
                    )
                })?;
            docs.push((m, text));
        }
        docs.sort_unstable_by_key(|d| d.0);
        if docs.is_empty() {
            return Err(ApiError::invalid_input(format!(
                "Each level of {PARAM} must hold at least one policy."
            )));
        }
        let mut pols = Vec::with_capacity(docs.len());
        for (i, (_, text)) in docs.iter().enumerate() {
            pols.push(Input {
                label: format!("{PARAM}.{}.{}", n + 1, i + 1),
                policy: parse_policy(
                    text,
                    PolicyKind::Scp,
                    "orderedOrganizationPolicyInputList.member",
                )?,
            });
        }
        out.push(pols);
    }
    Ok(out)
}

/// `ActionNames.member.N` (required): 3..128 characters, `service:Action`.
fn action_names(p: &Params, wildcards: bool) -> ApiResult<Vec<String>> {
    let actions = p
        .list("ActionNames")?
        .ok_or_else(|| ApiError::missing("actionNames"))?;
    for a in &actions {
        let n = a.chars().count();
        if n < 3 {
            return Err(ApiError::validation(
                a,
                "actionNames.member",
                "Member must have length greater than or equal to 3",
            ));
        }
        if n > 128 {
            return Err(ApiError::validation(
                a,
                "actionNames.member",
                "Member must have length less than or equal to 128",
            ));
        }
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

/// `ResourceArns.member.N`, 1..2048 each; `None` when not given (the simulation then uses `*`).
fn resource_arns(p: &Params) -> ApiResult<Option<Vec<String>>> {
    let Some(list) = p.list("ResourceArns")? else {
        return Ok(None);
    };
    for r in &list {
        let n = r.chars().count();
        if n == 0 || n > 2048 {
            return Err(ApiError::validation(
                r,
                "resourceArns.member",
                "Member must have length less than or equal to 2048",
            ));
        }
    }
    Ok((!list.is_empty()).then_some(list))
}

/// `ResourceOwner`: an account ID, or `arn:aws:iam::ACCOUNT:root` (the form SimulateCustomPolicy documents).
fn resource_owner(p: &Params) -> ApiResult<Option<String>> {
    let Some(v) = p.get("ResourceOwner") else {
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

const CONTEXT_TYPES: &[&str] = &[
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
];

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

/// `ContextEntries.member.N.{ContextKeyName, ContextKeyValues.member.M, ContextKeyType}` → (key, values).
/// Longest `ContextKeyValues` value (AWS's model sets none). Wildcard matching costs the value's length times
/// ⌈piece/64⌉ for a `?`-bearing pattern piece (up to 2,048 words in a 131,072-character input policy): the cap
/// keeps one simulation's CPU in milliseconds instead of seconds.
const MAX_CONTEXT_VALUE: usize = 65_536;

fn context_entries(p: &Params) -> ApiResult<Vec<(String, Vec<String>)>> {
    let Some(entries) = p.struct_list("ContextEntries")? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(String, Vec<String>)> = Vec::with_capacity(entries.len());
    for e in &entries {
        let key = e
            .get("ContextKeyName")
            .ok_or_else(|| ApiError::missing("contextEntries.member.contextKeyName"))?;
        let n = key.chars().count();
        if !(5..=256).contains(&n) {
            return Err(ApiError::validation(
                key,
                "contextEntries.member.contextKeyName",
                if n < 5 {
                    "Member must have length greater than or equal to 5"
                } else {
                    "Member must have length less than or equal to 256"
                },
            ));
        }
        let ty = v::one_of(e, "ContextKeyType", CONTEXT_TYPES)
            .map_err(|_| {
                ApiError::validation(
                    e.get("ContextKeyType").unwrap_or_default(),
                    "contextEntries.member.contextKeyType",
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        CONTEXT_TYPES.join(", ")
                    ),
                )
            })?
            .unwrap_or("string");
        let values = e.list("ContextKeyValues")?.unwrap_or_default();
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
        if let Some(slot) = out.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            slot.1 = values;
        } else {
            out.push((key.to_string(), values));
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
fn caller_arn(p: &Params) -> ApiResult<Option<&str>> {
    let Some(arn) = p.get("CallerArn") else {
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

    /// Evaluate the requested page and write the `SimulatePolicyResponse` members.
    fn run(
        &self,
        entries: &[(String, Vec<String>)],
        marker: Option<&str>,
        max: usize,
    ) -> ApiResult<String> {
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
        let outcomes: Vec<Outcome<'_>> = page
            .iter()
            .filter_map(|&(a, r)| {
                Some(self.evaluate(&base, &context, self.actions.get(a)?, resources.get(r)?))
            })
            .collect();
        let mut x = Xml::new();
        x.list("EvaluationResults", &outcomes, |x, o| {
            let missing = missing_for(o.action, &referenced);
            write_result(x, o, &missing, self.resources.is_some());
        });
        write_paging(&mut x, next);
        Ok(x.finish())
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

fn write_statements(x: &mut Xml, d: &Decision<'_>) {
    let matched: &[policy::MatchedStatement<'_>] = if d.effect == Effect::ImplicitDeny {
        &[]
    } else {
        &d.matched
    };
    x.list("MatchedStatements", matched, |x, m| {
        x.elem("SourcePolicyId", m.label)
            .elem("SourcePolicyType", m.source.as_str());
        x.open("StartPosition")
            .num("Line", m.span.start.line)
            .num("Column", m.span.start.column)
            .close("StartPosition");
        x.open("EndPosition")
            .num("Line", m.span.end.line)
            .num("Column", m.span.end.column)
            .close("EndPosition");
    });
}

fn write_boundary_detail(x: &mut Xml, d: &Decision<'_>) {
    if let Some(b) = d.allowed_by_boundary {
        x.open("PermissionsBoundaryDecisionDetail")
            .boolean("AllowedByPermissionsBoundary", b)
            .close("PermissionsBoundaryDecisionDetail");
    }
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

fn write_details(x: &mut Xml, details: Option<Vec<(&str, &str)>>) {
    let Some(entries) = details else { return };
    if entries.is_empty() {
        x.open("EvalDecisionDetails").close("EvalDecisionDetails");
        return;
    }
    x.open("EvalDecisionDetails");
    for (k, val) in entries {
        x.open("entry")
            .elem("key", k)
            .elem("value", val)
            .close("entry");
    }
    x.close("EvalDecisionDetails");
}

fn write_result(x: &mut Xml, o: &Outcome<'_>, missing: &[&str], resources_given: bool) {
    let d = &o.decision;
    let decision = d.effect.as_eval_decision();
    x.elem("EvalActionName", o.action)
        .elem("EvalResourceName", o.resource)
        .elem("EvalDecision", decision);
    write_statements(x, d);
    x.str_list("MissingContextValues", missing.iter().copied());
    if let Some(allowed) = d.allowed_by_organizations {
        x.open("OrganizationsDecisionDetail")
            .boolean("AllowedByOrganizations", allowed)
            .close("OrganizationsDecisionDetail");
    }
    write_boundary_detail(x, d);
    write_details(x, decision_details(o, resources_given));
    if resources_given {
        x.list(
            "ResourceSpecificResults",
            std::slice::from_ref(o),
            |x, o| {
                let d = &o.decision;
                x.elem("EvalResourceName", o.resource)
                    .elem("EvalResourceDecision", d.effect.as_eval_decision());
                write_statements(x, d);
                x.str_list("MissingContextValues", missing.iter().copied());
                write_details(x, decision_details(o, true));
                write_boundary_detail(x, d);
            },
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------------------

/// `ResourceHandlingOption` (EC2 scenarios): validated for length, otherwise ignored.
fn check_handling_option(p: &Params) -> ApiResult<()> {
    if let Some(o) = p.get("ResourceHandlingOption") {
        let n = o.chars().count();
        if !(1..=64).contains(&n) {
            return Err(ApiError::validation(
                o,
                "resourceHandlingOption",
                "Member must have length less than or equal to 64",
            ));
        }
    }
    Ok(())
}

pub fn simulate_principal_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let source = v::arn(p, "PolicySourceArn")?;
    // Authorized before any input document is parsed: parsing is the expensive part.
    {
        let st = ctx.app.read()?;
        ctx.authorize(&st, "iam:SimulatePrincipalPolicy", source)?;
    }
    let actions = action_names(p, true)?;
    let inputs = policy_list(p, "PolicyInputList", PolicyKind::Identity)?.unwrap_or_default();
    let boundary = boundary_input(p)?;
    let resource_policy = match p.get("ResourcePolicy") {
        Some(t) => Some(Input {
            label: "ResourcePolicy".to_string(),
            policy: parse_policy(t, PolicyKind::Resource, "resourcePolicy")?,
        }),
        None => None,
    };
    let resources = resource_arns(p)?;
    let owner = resource_owner(p)?;
    let caller = caller_arn(p)?;
    let entries = context_entries(p)?;
    check_handling_option(p)?;
    let (marker, max) = v::paging(p)?;
    let entity = parse_entity_arn(source)?;

    let st = ctx.app.read()?;
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
    sim.run(&entries, marker.as_deref(), max).map(Some)
}

pub fn simulate_custom_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    // Authorized before any input document is parsed: parsing is the expensive part.
    {
        let st = ctx.app.read()?;
        ctx.authorize(&st, "iam:SimulateCustomPolicy", "*")?;
    }
    let inputs = policy_list(p, "PolicyInputList", PolicyKind::Identity)?
        .ok_or_else(|| ApiError::missing("policyInputList"))?;
    let actions = action_names(p, false)?;
    let boundary = boundary_input(p)?;
    let scps = scp_levels(p)?;
    let resource_policy = match p.get("ResourcePolicy") {
        Some(t) => Some(Input {
            label: "ResourcePolicy".to_string(),
            policy: parse_policy(t, PolicyKind::Resource, "resourcePolicy")?,
        }),
        None => None,
    };
    let resources = resource_arns(p)?;
    let owner = resource_owner(p)?;
    let caller = caller_arn(p)?;
    let entries = context_entries(p)?;
    check_handling_option(p)?;
    let (marker, max) = v::paging(p)?;
    if resource_policy.is_some() && caller.is_none() {
        return Err(ApiError::invalid_input(
            "CallerArn must be specified with ResourcePolicy.",
        ));
    }

    let st = ctx.app.read()?;
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
    sim.run(&entries, marker.as_deref(), max).map(Some)
}

fn write_keys(keys: &[&str]) -> String {
    let mut x = Xml::new();
    x.str_list("ContextKeyNames", keys.iter().copied());
    x.finish()
}

pub fn get_context_keys_for_principal_policy(
    ctx: &Ctx<'_>,
    p: &Params,
) -> ApiResult<Option<String>> {
    let source = v::arn(p, "PolicySourceArn")?;
    {
        let st = ctx.app.read()?;
        ctx.authorize(&st, "iam:GetContextKeysForPrincipalPolicy", "*")?;
    }
    let inputs = policy_list(p, "PolicyInputList", PolicyKind::Identity)?.unwrap_or_default();
    let entity = parse_entity_arn(source)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    let (pols, _) = source_entity(acct, &entity)?;
    drop(st);
    // The entity's identity policies, its boundary (it is part of what a simulation evaluates), the inputs.
    let mut all: Vec<&policy::Policy> = pols.identity.iter().map(|(_, _, p)| &**p).collect();
    all.extend(pols.boundary.iter().map(|(_, p)| &**p));
    all.extend(inputs.iter().map(|i| &i.policy));
    Ok(Some(write_keys(&union_keys(all))))
}

pub fn get_context_keys_for_custom_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    {
        let st = ctx.app.read()?;
        ctx.authorize(&st, "iam:GetContextKeysForCustomPolicy", "*")?;
    }
    let inputs = policy_list(p, "PolicyInputList", PolicyKind::Identity)?
        .ok_or_else(|| ApiError::missing("policyInputList"))?;
    Ok(Some(write_keys(&union_keys(
        inputs.iter().map(|i| &i.policy),
    ))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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

    #[test]
    fn context_values_are_bounded() {
        let long = "a".repeat(MAX_CONTEXT_VALUE + 1);
        let p = Params::from_pairs([
            ("ContextEntries.member.1.ContextKeyName", "aws:UserAgent"),
            ("ContextEntries.member.1.ContextKeyType", "string"),
            (
                "ContextEntries.member.1.ContextKeyValues.member.1",
                long.as_str(),
            ),
        ]);
        assert_eq!(
            context_entries(&p).unwrap_err().code,
            ErrorCode::InvalidInput
        );
        let ok = "a".repeat(MAX_CONTEXT_VALUE);
        let p = Params::from_pairs([
            ("ContextEntries.member.1.ContextKeyName", "aws:UserAgent"),
            ("ContextEntries.member.1.ContextKeyType", "string"),
            (
                "ContextEntries.member.1.ContextKeyValues.member.1",
                ok.as_str(),
            ),
        ]);
        assert!(context_entries(&p).is_ok());
    }

    #[test]
    fn context_entry_types() {
        let p = Params::from_pairs([
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
        let e = context_entries(&p).unwrap();
        assert_eq!(e[0].1, ["10.0.0.0/8"]);
        assert_eq!(e[1].1, ["a", "b"]);
        let bad = Params::from_pairs([
            (
                "ContextEntries.member.1.ContextKeyName",
                "aws:MultiFactorAuthPresent",
            ),
            ("ContextEntries.member.1.ContextKeyType", "boolean"),
            ("ContextEntries.member.1.ContextKeyValues.member.1", "yes"),
        ]);
        assert_eq!(
            context_entries(&bad).unwrap_err().code,
            ErrorCode::InvalidInput
        );
        let many = Params::from_pairs([
            ("ContextEntries.member.1.ContextKeyName", "aws:username"),
            ("ContextEntries.member.1.ContextKeyType", "string"),
            ("ContextEntries.member.1.ContextKeyValues.member.1", "a"),
            ("ContextEntries.member.1.ContextKeyValues.member.2", "b"),
        ]);
        assert!(context_entries(&many).is_err());
    }

    #[test]
    fn scp_levels_parse_in_order() {
        let allow = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        let p = Params::from_pairs([
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
        let levels = scp_levels(&p).unwrap();
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
                    policy: parse_policy(t, PolicyKind::Identity, "x").unwrap(),
                })
                .collect(),
            boundary: boundary.map(|t| Input {
                label: "PermissionsBoundaryPolicyInputList.1".into(),
                policy: parse_policy(t, PolicyKind::Boundary, "x").unwrap(),
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
        let out = s.run(&[], None, 1).unwrap();
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
        let out = s.run(&entries, None, 10).unwrap();
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
        let out = s.run(&[], None, 1).unwrap();
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
