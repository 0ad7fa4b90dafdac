//! Facts of AWS's Service Authorization Reference, checked against the pinned data (each was read in the
//! package's JSON, not assumed). If a regeneration changes one of them, read AWS's page before editing
//! the test: stsd's authorization builds on these.

use action_catalog::{AccessLevel, Action, KeyType, action, action_by_qualified_name, service};

#[expect(
    clippy::panic,
    reason = "a test helper: a missing action fails the test that asked for it"
)]
fn get(service: &str, name: &str) -> &'static Action {
    action(service, name).unwrap_or_else(|| panic!("{service}:{name} missing"))
}

fn resource_types(a: &Action) -> Vec<(&str, bool)> {
    a.resource_types
        .iter()
        .map(|u| (u.resource_type.name, u.required))
        .collect()
}

#[test]
fn iam_create_user() {
    let a = get("iam", "CreateUser");
    assert_eq!((a.service, a.name), ("iam", "CreateUser"));
    assert_eq!(a.access_level, AccessLevel::Write);
    assert_eq!(resource_types(a), [("user", true)]);
    let user = a.resource_types[0].resource_type;
    assert_eq!(
        user.arn_format,
        "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}"
    );
    assert_eq!(
        user.condition_keys,
        ["aws:ResourceTag/${TagKey}", "iam:ResourceTag/${TagKey}"]
    );
    assert_eq!(
        a.condition_keys,
        [
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "iam:PermissionsBoundary"
        ]
    );
    assert!(a.dependent_actions.is_empty());
    assert!(a.supports_condition_key("iam:PermissionsBoundary"));
    assert!(a.supports_condition_key("aws:RequestTag/team"));
    assert!(a.supports_condition_key("aws:TagKeys"));
    assert!(!a.supports_condition_key("iam:PolicyARN"));
}

#[test]
fn iam_attach_role_policy() {
    let a = get("iam", "AttachRolePolicy");
    assert_eq!(a.access_level, AccessLevel::PermissionsManagement);
    assert_eq!(resource_types(a), [("role", true)]);
    assert_eq!(
        a.condition_keys,
        [
            "iam:PermissionsBoundary",
            "iam:PolicyARN",
            "iam:RoleTemplateARN"
        ]
    );
    assert!(a.supports_condition_key("iam:PolicyARN"));
    assert!(a.supports_condition_key("iam:permissionsboundary"));
    // Through the role resource type: the guardrail "deny iam:* on resources tagged protected=true".
    assert!(a.supports_condition_key("aws:ResourceTag/protected"));
    assert!(a.supports_condition_key("iam:ResourceTag/Env"));
    assert!(!a.supports_condition_key("aws:RequestTag/protected"));
}

#[test]
fn iam_role_and_user_writes_see_resource_tags() {
    for name in [
        "UpdateAssumeRolePolicy",
        "DeleteRole",
        "PutRolePolicy",
        "TagRole",
    ] {
        let a = get("iam", name);
        assert_eq!(resource_types(a), [("role", true)], "{name}");
        assert!(
            a.supports_condition_key("aws:ResourceTag/protected"),
            "{name}"
        );
    }
    for name in [
        "CreateAccessKey",
        "DeleteUser",
        "PutUserPolicy",
        "CreateLoginProfile",
    ] {
        let a = get("iam", name);
        assert_eq!(resource_types(a), [("user", true)], "{name}");
        assert!(
            a.supports_condition_key("iam:ResourceTag/protected"),
            "{name}"
        );
    }
    let update = get("iam", "UpdateAssumeRolePolicy");
    assert_eq!(update.access_level, AccessLevel::PermissionsManagement);
    assert_eq!(update.condition_keys, ["iam:PermissionsBoundary"]);
}

#[test]
fn iam_access_levels() {
    let level = |name| get("iam", name).access_level;
    assert_eq!(level("ListUsers"), AccessLevel::List);
    assert_eq!(level("GetAccountSummary"), AccessLevel::List);
    assert_eq!(level("GetUser"), AccessLevel::Read);
    assert_eq!(level("GetAccountAuthorizationDetails"), AccessLevel::Read);
    assert_eq!(level("SimulatePrincipalPolicy"), AccessLevel::Read);
    assert_eq!(level("CreateRole"), AccessLevel::Write);
    assert_eq!(
        level("PutUserPermissionsBoundary"),
        AccessLevel::PermissionsManagement
    );
    assert_eq!(level("CreatePolicy"), AccessLevel::PermissionsManagement);
    assert_eq!(level("TagUser"), AccessLevel::Tagging);
    assert_eq!(level("UntagUser"), AccessLevel::Tagging);
}

#[test]
fn iam_actions_without_resources() {
    for name in ["ListUsers", "ListRoles", "GenerateCredentialReport"] {
        let a = get("iam", name);
        assert!(a.resource_types.is_empty(), "{name}");
        assert_eq!(a.supported_condition_keys().count(), 0, "{name}");
    }
}

#[test]
fn iam_optional_resource_types() {
    let a = get("iam", "GetContextKeysForPrincipalPolicy");
    assert_eq!(
        resource_types(a),
        [("group", false), ("role", false), ("user", false)]
    );
    assert_eq!(a.required_resource_types().count(), 0);
}

#[test]
fn iam_pass_role_and_dependent_actions() {
    let pass = get("iam", "PassRole");
    assert_eq!(
        pass.condition_keys,
        ["iam:AssociatedResourceArn", "iam:PassedToService"]
    );
    assert_eq!(
        get("iam", "AddRoleToInstanceProfile").dependent_actions,
        ["iam:PassRole"]
    );
    assert_eq!(
        get("iam", "CreateServiceLinkedRole").condition_keys,
        ["iam:AWSServiceName"]
    );
}

#[test]
fn iam_condition_key_types() {
    let iam = service("iam").unwrap();
    let kind = |key| iam.condition_key(key).map(|k| k.kind);
    assert_eq!(kind("iam:PermissionsBoundary"), Some(KeyType::Arn));
    assert_eq!(kind("iam:PolicyARN"), Some(KeyType::Arn));
    assert_eq!(kind("aws:TagKeys"), Some(KeyType::ArrayOfString));
    assert_eq!(
        kind("iam:ServiceSpecificCredentialAgeDays"),
        Some(KeyType::Numeric)
    );
    assert_eq!(kind("aws:ResourceTag/team"), Some(KeyType::String));
    assert_eq!(kind("iam:resourcetag/Env"), Some(KeyType::String));
    assert_eq!(kind("aws:PrincipalArn"), None);
    let definition = iam.condition_key("aws:RequestTag/team").unwrap();
    assert_eq!(definition.name, "aws:RequestTag/${TagKey}");
}

#[test]
fn iam_resource_type_arns() {
    let iam = service("iam").unwrap();
    let arn = |name| iam.resource_type(name).unwrap().arn_format;
    assert_eq!(
        arn("role"),
        "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
    );
    assert_eq!(
        arn("group"),
        "arn:${Partition}:iam::${Account}:group/${GroupNameWithPath}"
    );
    assert_eq!(
        arn("policy"),
        "arn:${Partition}:iam::${Account}:policy/${PolicyNameWithPath}"
    );
    assert_eq!(
        arn("mfa"),
        "arn:${Partition}:iam::${Account}:mfa/${MfaTokenIdWithPath}"
    );
    assert_eq!(
        arn("oidc-provider"),
        "arn:${Partition}:iam::${Account}:oidc-provider/${OidcProviderName}"
    );
    assert_eq!(
        arn("saml-provider"),
        "arn:${Partition}:iam::${Account}:saml-provider/${SamlProviderName}"
    );
    assert_eq!(
        iam.resource_type("group").unwrap().condition_keys,
        [] as [&str; 0]
    );

    let attach = get("iam", "AttachUserPolicy");
    let target = attach
        .resource_use_for_arn("arn:aws:iam::111122223333:user/ops/alice")
        .unwrap();
    assert_eq!(target.resource_type.name, "user");
    assert!(
        attach
            .resource_use_for_arn("arn:aws:iam::111122223333:role/alice")
            .is_none()
    );
    assert!(attach.resource_use_for_arn("*").is_none());
}

#[test]
fn sts_assume_role() {
    let a = get("sts", "AssumeRole");
    assert_eq!(a.access_level, AccessLevel::Write);
    assert_eq!(resource_types(a), [("role", true)]);
    assert_eq!(
        a.resource_types[0].resource_type.arn_format,
        "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
    );
    for key in [
        "sts:ExternalId",
        "sts:RoleSessionName",
        "sts:SourceIdentity",
        "sts:TransitiveTagKeys",
        "aws:RequestTag/${TagKey}",
        "aws:TagKeys",
        "iam:ResourceTag/${TagKey}",
    ] {
        assert!(a.condition_keys.contains(&key), "{key}");
    }
    assert!(a.supports_condition_key("sts:externalid"));
    assert!(a.supports_condition_key("aws:RequestTag/Project"));
    // Not in the action's own list, but the role resource type brings it.
    assert!(!a.condition_keys.contains(&"aws:ResourceTag/${TagKey}"));
    assert!(a.supports_condition_key("aws:ResourceTag/Project"));
    assert!(!a.supports_condition_key("sts:DurationSeconds"));
}

#[test]
fn sts_federation() {
    let web = get("sts", "AssumeRoleWithWebIdentity");
    assert_eq!(resource_types(web), [("role", true)]);
    assert!(web.supports_condition_key("accounts.google.com:aud"));
    assert!(web.supports_condition_key("cognito-identity.amazonaws.com:amr"));
    assert!(web.supports_condition_key("token.actions.githubusercontent.com:repository"));
    assert!(web.supports_condition_key("sts:RoleSessionName"));

    let saml = get("sts", "AssumeRoleWithSAML");
    assert_eq!(resource_types(saml), [("role", true)]);
    for key in [
        "saml:aud",
        "saml:iss",
        "saml:sub",
        "saml:sub_type",
        "saml:namequalifier",
        "saml:doc",
    ] {
        assert!(saml.supports_condition_key(key), "{key}");
    }
    // The reference spells some SAML keys in lower case; IAM compares key names ignoring case.
    assert!(saml.supports_condition_key("saml:eduPersonAffiliation"));
    let sts = service("sts").unwrap();
    assert_eq!(
        sts.condition_key("saml:eduPersonAffiliation").unwrap().kind,
        KeyType::ArrayOfString
    );
    assert_eq!(
        sts.condition_key("sts:TransitiveTagKeys").unwrap().kind,
        KeyType::ArrayOfString
    );
    assert_eq!(
        sts.condition_key("sts:DurationSeconds").unwrap().kind,
        KeyType::Numeric
    );
    assert_eq!(
        sts.condition_key("sts:RoleAuthorizedByIdp").unwrap().kind,
        KeyType::Bool
    );
    assert_eq!(
        sts.condition_key("sts:RequestContextProviders")
            .unwrap()
            .kind,
        KeyType::ArrayOfArn
    );
}

#[test]
fn sts_session_actions() {
    for (name, level) in [
        ("GetCallerIdentity", AccessLevel::Read),
        ("GetSessionToken", AccessLevel::Read),
        ("GetAccessKeyInfo", AccessLevel::Read),
        ("DecodeAuthorizationMessage", AccessLevel::Write),
    ] {
        let a = get("sts", name);
        assert_eq!(a.access_level, level, "{name}");
        assert!(a.resource_types.is_empty(), "{name}");
        assert!(a.condition_keys.is_empty(), "{name}");
    }
    let federation = get("sts", "GetFederationToken");
    assert_eq!(federation.access_level, AccessLevel::Write);
    assert_eq!(resource_types(federation), [("federated-user", false)]);
    assert_eq!(
        federation.resource_types[0].resource_type.arn_format,
        "arn:${Partition}:sts::${Account}:federated-user/${FederatedUserName}"
    );
    assert_eq!(
        federation.condition_keys,
        ["aws:RequestTag/${TagKey}", "aws:TagKeys"]
    );
    assert_eq!(get("sts", "TagSession").access_level, AccessLevel::Tagging);
}

#[test]
fn cloudtrail_lookup_events() {
    let a = get("cloudtrail", "LookupEvents");
    assert_eq!(a.access_level, AccessLevel::Read);
    assert!(a.resource_types.is_empty(), "authorized against *");
    assert!(a.condition_keys.is_empty());
    assert!(a.dependent_actions.is_empty());
}

#[test]
fn cloudtrail_trails() {
    let a = get("cloudtrail", "CreateTrail");
    assert_eq!(a.access_level, AccessLevel::Write);
    assert_eq!(resource_types(a), [("trail", true)]);
    assert_eq!(
        a.resource_types[0].resource_type.arn_format,
        "arn:${Partition}:cloudtrail:${Region}:${Account}:trail/${TrailName}"
    );
    assert!(a.dependent_actions.contains(&"iam:CreateServiceLinkedRole"));
    assert!(
        a.resource_use_for_arn("arn:aws:cloudtrail:us-east-1:111122223333:trail/main")
            .is_some()
    );
    assert_eq!(
        get("cloudtrail", "AddTags").access_level,
        AccessLevel::Tagging
    );
}

#[test]
fn lookups_ignore_case() {
    let a = get("iam", "CreateUser");
    assert!(std::ptr::eq(action("IAM", "createuser").unwrap(), a));
    assert!(std::ptr::eq(
        action_by_qualified_name("iam:CREATEUSER").unwrap(),
        a
    ));
    assert!(action_by_qualified_name("iam:CreateUserX").is_none());
    assert!(action_by_qualified_name("iam").is_none());
    assert!(action_by_qualified_name("s3:GetObject").is_none());
    assert!(action("iam", "").is_none());
    assert!(action("iam", "*").is_none());
}

#[test]
fn display_as_the_reference_prints() {
    assert_eq!(
        AccessLevel::PermissionsManagement.to_string(),
        "Permissions management"
    );
    assert_eq!(KeyType::ArrayOfArn.to_string(), "ArrayOfARN");
    assert_eq!(KeyType::IpAddress.as_str(), "IPAddress");
    assert!(KeyType::ArrayOfString.is_multivalued());
    assert!(!KeyType::Arn.is_multivalued());
}
