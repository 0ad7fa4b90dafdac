//! Every IAM action stsd serves is authorized by the policy engine, as its own action name: a user with no
//! policy is refused, a user allowed exactly `iam:<Operation>` is not, and an explicit deny of that action
//! refuses again. The requests run through the whole pipeline (`pipeline::process`: SigV4, the generated
//! decoder, the action, the gateway), in process, on a fresh SQLite store.
//!
//! The operations come from the generated operation table, so an operation added to `served.txt` is covered
//! without touching this file; its required members are found by asking the decoder (a request without them
//! is a `ValidationError` naming each) and filled from [`SAMPLES`].

#![expect(clippy::string_slice, reason = "test code: a bad index fails the test")]
use crate::error::{ApiError, ErrorCode};
use crate::test_support::{Harness, Keys};

/// A value for each required member (by its lowerCamelCase wire path) that passes the model's checks.
const SAMPLES: &[(&str, &str)] = &[
    ("userName", "sample-user"),
    ("groupName", "sample-group"),
    ("roleName", "sample-role"),
    ("instanceProfileName", "sample-profile"),
    ("policyName", "sample-policy"),
    (
        "policyArn",
        "arn:aws:iam::111122223333:policy/sample-policy",
    ),
    (
        "permissionsBoundary",
        "arn:aws:iam::111122223333:policy/sample-policy",
    ),
    (
        "policyDocument",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    ),
    (
        "assumeRolePolicyDocument",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#,
    ),
    ("versionId", "v1"),
    // `accessKeyId` is the key of a user made for it (an unknown key is refused before any policy is read).
    ("status", "Inactive"),
    (
        "serialNumber",
        "arn:aws:iam::111122223333:mfa/sample-device",
    ),
    ("virtualMFADeviceName", "sample-device"),
    ("authenticationCode1", "123456"),
    ("authenticationCode2", "654321"),
    ("tagKeys", "sample-key"),
    ("tags", ""),
    ("url", "https://issuer.example.com"),
    (
        "openIDConnectProviderArn",
        "arn:aws:iam::111122223333:oidc-provider/issuer.example.com",
    ),
    ("clientID", "sample-client"),
    ("thumbprintList", "0123456789012345678901234567890123456789"),
    (
        "sAMLProviderArn",
        "arn:aws:iam::111122223333:saml-provider/sample-idp",
    ),
    ("sAMLMetadataDocument", "<EntityDescriptor/>"),
    ("name", "sample-idp"),
    ("accountAlias", "sample-alias"),
    ("password", "Sample-Passw0rd!"),
    ("oldPassword", "Sample-Passw0rd!"),
    ("newPassword", "Other-Passw0rd!"),
    (
        "policySourceArn",
        "arn:aws:iam::111122223333:user/sample-user",
    ),
    ("actionNames", "s3:GetObject"),
    (
        "policyInputList",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    ),
    ("resourceArn", "arn:aws:s3:::sample-bucket"),
    ("bucketName", "sample-bucket"),
    ("accountName", "sample-account"),
    ("description", "sample description"),
    ("serviceName", "sample-service"),
    ("serviceSpecificCredentialId", "ACCAEXAMPLE123EXAMPLE"),
    ("sSHPublicKeyId", "APKAEXAMPLE123EXAMPLE"),
    ("serverCertificateName", "sample-cert"),
    ("certificateId", "ASCAEXAMPLE123EXAMPLE12345"),
    ("certificateBody", "-----BEGIN CERTIFICATE-----"),
    ("sSHPublicKeyBody", "ssh-rsa AAAA"),
    ("encoding", "SSH"),
    ("privateKey", "-----BEGIN PRIVATE KEY-----"),
];

/// Operations whose authorization is not `iam:<Operation>` through the policy engine, and why.
const NOT_POLICY_AUTHORIZED: &[(&str, &str)] = &[
    // stsd's own operations for the installation: the management account's root only, no policy can grant.
    ("CreateAccount", "management root only"),
    ("RotateTokenKeys", "management root only"),
];

/// The Query parameters of a list member: `Tags.member.1.Key`, `TagKeys.member.1`, …
fn put_member(params: &mut Vec<(String, String)>, wire: &str, value: &str) {
    let mut name = String::with_capacity(wire.len());
    let mut chars = wire.chars();
    if let Some(c) = chars.next() {
        name.extend(c.to_uppercase());
    }
    name.extend(chars);
    match wire {
        "tags" => {
            params.push(("Tags.member.1.Key".into(), "sample-key".into()));
            params.push(("Tags.member.1.Value".into(), "sample-value".into()));
        }
        "tagKeys" | "thumbprintList" | "actionNames" | "policyInputList" => {
            params.push((format!("{name}.member.1"), value.into()));
        }
        // Members whose wire name does not start with a capital made from the lowerCamel path.
        "sAMLProviderArn" => params.push(("SAMLProviderArn".into(), value.into())),
        // The model wants at least 1,000 characters of metadata.
        "sAMLMetadataDocument" => params.push((
            "SAMLMetadataDocument".into(),
            format!("{value}{}", " ".repeat(1000)),
        )),
        "sSHPublicKeyId" => params.push(("SSHPublicKeyId".into(), value.into())),
        "sSHPublicKeyBody" => params.push(("SSHPublicKeyBody".into(), value.into())),
        "openIDConnectProviderArn" => {
            params.push(("OpenIDConnectProviderArn".into(), value.into()));
        }
        "clientID" => params.push(("ClientID".into(), value.into())),
        _ => params.push((name, value.into())),
    }
}

/// The harness and the access key ID requests name (of a user no test principal is).
struct Setup {
    h: Harness,
    sample_key: String,
}

impl Setup {
    fn call(&self, keys: &Keys, op: &str, params: &[(String, String)]) -> Result<String, ApiError> {
        self.h.call(keys, "iam", op, params)
    }

    /// Parameters for `op` that pass the model's checks, found by asking the decoder what is missing.
    fn valid_params(&self, keys: &Keys, op: &str) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = Vec::new();
        for _ in 0..8 {
            let Err(e) = self.call(keys, op, &params) else {
                return params;
            };
            if e.code != ErrorCode::ValidationError {
                return params;
            }
            let missing = null_members(&e.message);
            assert!(
                !missing.is_empty(),
                "{op}: the samples do not pass the model: {}",
                e.message
            );
            for m in missing {
                let sample = match m {
                    "accessKeyId" => self.sample_key.as_str(),
                    _ => {
                        SAMPLES
                            .iter()
                            .find(|(k, _)| *k == m)
                            .unwrap_or_else(|| panic!("{op}: add a sample for required member {m}"))
                            .1
                    }
                };
                put_member(&mut params, m, sample);
            }
        }
        panic!("{op}: no valid parameters found");
    }
}

/// The members a `ValidationError` reports as missing: `Value null at 'userName' failed …`.
fn null_members(message: &str) -> Vec<&str> {
    message
        .match_indices("Value null at '")
        .filter_map(|(i, m)| {
            let rest = &message[i + m.len()..];
            rest.find('\'').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn every_iam_action_is_authorized_as_itself() {
    let h = Harness::new();
    let sample_key = h.user("key-owner", None).akid;
    let h = Setup { h, sample_key };
    let nobody = h.h.user("nobody", None);
    let mut checked = 0;
    for op in stsd_wire::generated::iam::OPERATIONS {
        let name = op.name;
        let action = format!("iam:{name}");
        let params = h.valid_params(&nobody, name);

        // No policy: refused.
        let refused = h.call(&nobody, name, &params);
        assert!(
            matches!(&refused, Err(e) if e.code == ErrorCode::AccessDenied),
            "{name} without a policy: {refused:?}"
        );
        if NOT_POLICY_AUTHORIZED.iter().any(|(n, _)| *n == name) {
            checked += 1;
            continue;
        }
        let refused = refused.unwrap_err();
        assert!(
            refused.message.contains(&action),
            "{name}: the refusal names another action: {}",
            refused.message
        );

        // Allowed exactly this action and the actions AWS's catalog says it depends on (`iam:PassRole` for
        // AddRoleToInstanceProfile): not refused.
        let mut allowed_actions = vec![action.clone()];
        if let Some(a) = action_catalog::action_by_qualified_name(&action) {
            allowed_actions.extend(a.dependent_actions.iter().map(|d| (*d).to_string()));
        }
        let list = allowed_actions
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(",");
        let allowed_user = format!("allowed-{checked}");
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{list}],"Resource":"*"}}]}}"#
        );
        let allowed = h.h.user(&allowed_user, Some(&doc));
        let answer = h.call(&allowed, name, &params);
        assert!(
            !matches!(&answer, Err(e) if e.code == ErrorCode::AccessDenied),
            "{name} allowed as {action}: {answer:?}"
        );

        // Everything allowed but this action explicitly denied: refused.
        let denied_user = format!("denied-{checked}");
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}},{{"Effect":"Deny","Action":"{action}","Resource":"*"}}]}}"#
        );
        let denied = h.h.user(&denied_user, Some(&doc));
        let answer = h.call(&denied, name, &params);
        assert!(
            matches!(&answer, Err(e) if e.code == ErrorCode::AccessDenied),
            "{name} explicitly denied: {answer:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, stsd_wire::generated::iam::OPERATIONS.len());
}
