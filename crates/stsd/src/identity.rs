//! Who is calling and how: the caller resolved from credentials ([`Caller`]) and the transport facts of a
//! request ([`RequestMeta`]). Plain data every layer reads — authentication produces it, the authorization
//! gateway, the actions and the audit trail consume it — so it sits below all of them.

use std::sync::Arc;

use crate::tokens::{Claims, SessionKind};

/// Who is calling, as resolved from their credentials.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: String,
    pub kind: CallerKind,
    /// `arn:aws:iam::A:root`, `arn:aws:iam::A:user/path/name`, `arn:aws:sts::A:assumed-role/R/S`, …
    pub arn: String,
    /// `aws:userid`: the account ID for root, `AIDA…` for users, `AROA…:session` for role sessions.
    pub user_id: String,
    pub access_key_id: String,
    /// Temporary credentials: the claims sealed in the session token.
    pub session: Option<Arc<Claims>>,
    /// The region of the request's SigV4 credential scope (where last-used data says it was used).
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// The account root (long-term keys, or a GetSessionToken session of the root).
    Root,
    /// An IAM user (long-term keys, or a GetSessionToken session); `key` is the lower-cased name.
    User { key: String, name: String },
    /// A role session (AssumeRole*): acts as the role.
    AssumedRole { role_key: String, role_name: String },
    /// A GetFederationToken session of the IAM user `user_key`.
    FederatedUser { user_key: String, name: String },
}

impl Caller {
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            CallerKind::Root => "Account",
            CallerKind::User { .. } => "User",
            CallerKind::AssumedRole { .. } => "AssumedRole",
            CallerKind::FederatedUser { .. } => "FederatedUser",
        }
    }

    /// The role ARN of a role session.
    pub fn role_arn(&self) -> Option<String> {
        match self.session.as_deref().map(|c| &c.kind) {
            Some(SessionKind::Role {
                role_name,
                role_path,
                ..
            }) => Some(format!(
                "arn:aws:iam::{}:role{}{}",
                self.account, role_path, role_name
            )),
            _ => None,
        }
    }

    /// The principal as the policy engine sees it.
    pub fn principal(&self) -> policy::Principal {
        match &self.kind {
            CallerKind::Root => policy::Principal::root(&self.account),
            CallerKind::User { .. } => {
                policy::Principal::user(&self.arn).with_user_id(&self.user_id)
            }
            CallerKind::AssumedRole { .. } => {
                let role_arn = self.role_arn().unwrap_or_default();
                policy::Principal::assumed_role(&self.arn, &role_arn).with_user_id(&self.user_id)
            }
            CallerKind::FederatedUser { .. } => {
                let user_arn = match self.session.as_deref().map(|c| &c.kind) {
                    Some(SessionKind::Federated { user_arn, .. }) => Some(user_arn.as_str()),
                    _ => None,
                };
                policy::Principal::federated_user(&self.arn, user_arn).with_user_id(&self.user_id)
            }
        }
    }

    /// Whether these are temporary credentials.
    pub fn is_session(&self) -> bool {
        self.session.is_some()
    }
}

/// Transport facts that become condition keys.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub source_ip: String,
    pub secure_transport: bool,
    pub user_agent: String,
}

/// The caller a session token describes. The token alone is enough: no database read.
pub fn session_caller(access_key_id: &str, claims: Claims) -> Caller {
    let account = claims.account.clone();
    let (kind, arn, user_id) = match &claims.kind {
        SessionKind::Role {
            role_name, role_id, ..
        } => (
            CallerKind::AssumedRole {
                role_key: role_name.to_lowercase(),
                role_name: role_name.clone(),
            },
            format!(
                "arn:aws:sts::{account}:assumed-role/{role_name}/{}",
                claims.session_name
            ),
            format!("{role_id}:{}", claims.session_name),
        ),
        SessionKind::User {
            user_key,
            user_name,
            user_id,
            user_path,
        } => (
            CallerKind::User {
                key: user_key.clone(),
                name: user_name.clone(),
            },
            format!("arn:aws:iam::{account}:user{user_path}{user_name}"),
            user_id.clone(),
        ),
        SessionKind::Root => (
            CallerKind::Root,
            format!("arn:aws:iam::{account}:root"),
            account.clone(),
        ),
        SessionKind::Federated { name, user_key, .. } => (
            CallerKind::FederatedUser {
                user_key: user_key.clone(),
                name: name.clone(),
            },
            format!("arn:aws:sts::{account}:federated-user/{name}"),
            format!("{account}:{name}"),
        ),
    };
    Caller {
        account,
        kind,
        arn,
        user_id,
        access_key_id: access_key_id.to_string(),
        session: Some(Arc::new(claims)),
        region: String::new(),
    }
}
