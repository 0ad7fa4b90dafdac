//! What a typed action leaves for its audit event, taken from the decoded input and the typed output — never
//! from the raw parameters or the response XML.
//!
//! The dispatch wrappers (`typed!`, `typed_unsigned!` in `action/mod.rs`) hand both to the request's
//! [`AuditSlot`] (carried by the action's context): the input right after it decodes (the action consumes it,
//! and a refused call is recorded with its parameters too), the output before it is encoded. Each is written
//! at once as the CloudTrail JSON the event embeds (`requestParameters`, `responseElements`), by the generated
//! `write_json` — sensitive members are never written — so the event builder only copies bytes.

use std::any::Any;
use std::cell::RefCell;

use stsd_wire::generated::{iam, sts};
use stsd_wire::{Input, Output};

/// Operations whose `responseElements` are recorded: the ones that issue credentials or keys (what CloudTrail
/// readers look for: the issued key ID, the session's ARN). Other answers are left out (`null`), as before.
const RESPONSE_RECORDED: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithWebIdentity",
    "AssumeRoleWithSAML",
    "GetSessionToken",
    "GetFederationToken",
    "CreateAccessKey",
];

/// Shortest issued secret the event's last check looks for (shorter strings are not issued secrets, and
/// blanking them could damage unrelated text).
const MIN_SECRET_LEN: usize = 8;

/// The identity behind an unsigned federation call, from its typed input and output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Federated {
    /// Not a federation call.
    #[default]
    None,
    /// AssumeRoleWithWebIdentity: the token's subject, the provider and the audience (empty until known).
    WebIdentity {
        subject: String,
        provider: String,
        audience: String,
    },
    /// AssumeRoleWithSAML: the assertion's subject and name qualifier, the provider's ARN.
    Saml {
        subject: String,
        name_qualifier: String,
        provider_arn: String,
    },
}

/// The typed facts of one call for its audit event.
#[derive(Debug, Default)]
pub struct TypedAudit {
    /// The action, once its input decoded.
    pub operation: Option<&'static str>,
    /// `requestParameters` as JSON text; `None` when the input never decoded (the event falls back on the raw
    /// parameters, see `event::build_rows_for`).
    pub request: Option<Vec<u8>>,
    /// `responseElements` as JSON text, for the operations in [`RESPONSE_RECORDED`] that succeeded.
    pub response: Option<Vec<u8>>,
    /// The sensitive strings of the output (issued secret keys, session tokens): blanked wherever they might
    /// still turn up in the event.
    pub secrets: Vec<String>,
    /// Resources the output names: (type, ARN or key ID).
    pub issued: Vec<(&'static str, String)>,
    /// The identity of an unsigned federation call.
    pub federated: Federated,
}

/// Where the dispatch wrappers leave a call's [`TypedAudit`] (one per request, on the request's thread).
#[derive(Debug, Default)]
pub struct AuditSlot(RefCell<TypedAudit>);

impl AuditSlot {
    /// Record the decoded input: its `requestParameters`, and the provider of a federation call.
    pub fn input<I: Input + Any>(&self, input: &I) {
        let mut request = Vec::with_capacity(256);
        input.write_audit(&mut request);
        let any: &dyn Any = input;
        let federated = if let Some(i) = any.downcast_ref::<sts::AssumeRoleWithWebIdentityRequest>()
        {
            Federated::WebIdentity {
                subject: String::new(),
                provider: i.provider_id.clone().unwrap_or_default(),
                audience: String::new(),
            }
        } else if let Some(i) = any.downcast_ref::<sts::AssumeRoleWithSAMLRequest>() {
            Federated::Saml {
                subject: String::new(),
                name_qualifier: String::new(),
                provider_arn: i.principal_arn.clone(),
            }
        } else {
            Federated::None
        };
        // Never fails: the slot is only borrowed here, in `output` and by the event builder, one at a time.
        if let Ok(mut t) = self.0.try_borrow_mut() {
            t.operation = Some(I::OPERATION);
            t.request = Some(request);
            t.federated = federated;
        }
    }

    /// Record a successful call's output: its `responseElements`, sensitive values, issued resources, and the
    /// subject of a federation call.
    pub fn output<O: Output + Any>(&self, output: &O) {
        let Ok(mut t) = self.0.try_borrow_mut() else {
            return;
        };
        let t = &mut *t;
        if t.operation
            .is_some_and(|op| RESPONSE_RECORDED.contains(&op))
        {
            let mut response = Vec::with_capacity(384);
            output.write_audit(&mut response);
            t.response = Some(response);
        }
        output.visit_sensitive(&mut |s| {
            if s.len() >= MIN_SECRET_LEN {
                t.secrets.push(s.to_string());
            }
        });
        let any: &dyn Any = output;
        let mut credentials = None;
        let mut access_key = None;
        let mut assumed = None;
        let mut federated_user = None;
        if let Some(o) = any.downcast_ref::<sts::AssumeRoleResponse>() {
            credentials = o.credentials.as_ref();
            assumed = o.assumed_role_user.as_ref();
        } else if let Some(o) = any.downcast_ref::<sts::AssumeRoleWithWebIdentityResponse>() {
            credentials = o.credentials.as_ref();
            assumed = o.assumed_role_user.as_ref();
            if let Federated::WebIdentity {
                subject,
                provider,
                audience,
            } = &mut t.federated
            {
                *subject = o
                    .subject_from_web_identity_token
                    .clone()
                    .unwrap_or_default();
                if let Some(p) = &o.provider {
                    provider.clone_from(p);
                }
                *audience = o.audience.clone().unwrap_or_default();
            }
        } else if let Some(o) = any.downcast_ref::<sts::AssumeRoleWithSAMLResponse>() {
            credentials = o.credentials.as_ref();
            assumed = o.assumed_role_user.as_ref();
            if let Federated::Saml {
                subject,
                name_qualifier,
                ..
            } = &mut t.federated
            {
                *subject = o.subject.clone().unwrap_or_default();
                *name_qualifier = o.name_qualifier.clone().unwrap_or_default();
            }
        } else if let Some(o) = any.downcast_ref::<sts::GetSessionTokenResponse>() {
            credentials = o.credentials.as_ref();
        } else if let Some(o) = any.downcast_ref::<sts::GetFederationTokenResponse>() {
            credentials = o.credentials.as_ref();
            federated_user = o.federated_user.as_ref();
        } else if let Some(o) = any.downcast_ref::<iam::CreateAccessKeyResponse>() {
            access_key = Some(&o.access_key);
        }
        // In the order the event lists them: issued keys, then the sessions' ARNs.
        if let Some(c) = credentials {
            t.issued
                .push(("AWS::IAM::AccessKey", c.access_key_id.clone()));
        }
        if let Some(k) = access_key {
            t.issued
                .push(("AWS::IAM::AccessKey", k.access_key_id.clone()));
        }
        if let Some(a) = assumed {
            t.issued.push(("AWS::STS::AssumedRole", a.arn.clone()));
        }
        if let Some(f) = federated_user {
            t.issued.push(("AWS::STS::FederatedUser", f.arn.clone()));
        }
    }

    /// What the wrappers recorded (`None` only if the slot is borrowed elsewhere, which never happens).
    pub fn get(&self) -> Option<std::cell::Ref<'_, TypedAudit>> {
        self.0.try_borrow().ok()
    }
}
