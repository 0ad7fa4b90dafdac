//! Test support: an app on a fresh SQLite store with a management account, and SigV4-signed requests run
//! in process through the whole pipeline (`pipeline::process`: authentication, the generated decoder, the
//! action, the authorization gateway, the encoder) — what an SDK client gets, without a socket.

#![expect(clippy::string_slice, reason = "test code: a bad index fails the test")]
use std::net::SocketAddr;

use crate::app::{App, Clock, Config};
use crate::error::ApiError;

/// The time every harness starts at.
pub const NOW: i64 = 1_700_000_000;
/// The management account.
pub const ACCOUNT: &str = "111122223333";

/// Credentials a request is signed with.
#[derive(Clone)]
pub struct Keys {
    pub akid: String,
    pub secret: String,
    pub token: Option<String>,
}

pub struct Harness {
    dir: std::sync::Arc<tempfile::TempDir>,
    pub app: App,
    pub root: Keys,
    /// Seconds since [`NOW`] of this app's clock.
    pub elapsed: i64,
}

impl Harness {
    /// A fresh installation whose clock reads [`NOW`] (audit recording off: nothing here reads the trail).
    pub fn new() -> Harness {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let mut app = open(&dir, NOW);
        app.claim_management_account(ACCOUNT).unwrap();
        let key = crate::iam::create_account_for_management(&app, ACCOUNT, None).unwrap();
        Harness {
            dir,
            app,
            root: Keys {
                akid: key.id,
                secret: key.secret,
                token: None,
            },
            elapsed: 0,
        }
    }

    /// The same installation restarted `secs` later: a new app on the same store, whose clock has moved on.
    pub fn restart_after(self, secs: i64) -> Harness {
        let Harness {
            dir,
            app,
            root,
            elapsed,
        } = self;
        drop(app);
        let elapsed = elapsed + secs;
        let app = open(&dir, NOW + elapsed);
        Harness {
            dir,
            app,
            root,
            elapsed,
        }
    }

    /// Another node on the same store, started now: it loads what is committed and then learns of other
    /// nodes' commits only when it catches up (no follower thread runs in tests).
    pub fn second_node(&self) -> Harness {
        let app = open(&self.dir, NOW + self.elapsed);
        Harness {
            dir: self.dir.clone(),
            app,
            root: self.root.clone(),
            elapsed: self.elapsed,
        }
    }

    /// One request of `service` (`iam` or `sts`), signed with `keys` at this app's time.
    pub fn call(
        &self,
        keys: &Keys,
        service: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, ApiError> {
        self.call_signed_at(keys, service, action, params, NOW + self.elapsed)
    }

    /// [`Harness::call`] with the signature made at `signed_at`.
    pub fn call_signed_at(
        &self,
        keys: &Keys,
        service: &str,
        action: &str,
        params: &[(String, String)],
        signed_at: i64,
    ) -> Result<String, ApiError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action);
        form.append_pair(
            "Version",
            if service == "sts" {
                "2011-06-15"
            } else {
                "2010-05-08"
            },
        );
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let body = form.finish();
        let host = format!("{service}.amazonaws.com");
        let headers = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        let added = sigv4::sign_request(&sigv4::SigningParams {
            method: "POST",
            host: &host,
            path: "/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
            access_key_id: &keys.akid,
            secret_access_key: &keys.secret,
            session_token: keys.token.as_deref(),
            region: "us-east-1",
            service,
            timestamp: signed_at,
        })
        .unwrap();
        let mut b = axum::http::Request::builder()
            .method("POST")
            .uri("/")
            .header("host", host.as_str());
        for (k, v) in headers.iter().copied() {
            b = b.header(k, v);
        }
        for (k, v) in &added {
            b = b.header(k.as_str(), v.as_str());
        }
        let parts = b.body(()).unwrap().into_parts().0;
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        let (_, _, result) =
            crate::pipeline::process(&self.app, &parts, "", body.as_bytes(), peer, "test-request");
        result
    }

    /// An IAM call as the management root that must succeed.
    pub fn root_iam(&self, action: &str, params: &[(&str, &str)]) -> String {
        self.call(&self.root, "iam", action, &owned(params))
            .unwrap_or_else(|e| panic!("{action}: {e:?}"))
    }

    /// A user with an access key and, if given, one inline policy.
    pub fn user(&self, name: &str, policy: Option<&str>) -> Keys {
        self.root_iam("CreateUser", &[("UserName", name)]);
        if let Some(doc) = policy {
            self.root_iam(
                "PutUserPolicy",
                &[
                    ("UserName", name),
                    ("PolicyName", "only"),
                    ("PolicyDocument", doc),
                ],
            );
        }
        let xml = self.root_iam("CreateAccessKey", &[("UserName", name)]);
        Keys {
            akid: between(&xml, "<AccessKeyId>", "</AccessKeyId>"),
            secret: between(&xml, "<SecretAccessKey>", "</SecretAccessKey>"),
            token: None,
        }
    }

    /// The temporary credentials in a credential-issuing answer.
    pub fn session_keys(xml: &str) -> Keys {
        Keys {
            akid: between(xml, "<AccessKeyId>", "</AccessKeyId>"),
            secret: between(xml, "<SecretAccessKey>", "</SecretAccessKey>"),
            token: Some(between(xml, "<SessionToken>", "</SessionToken>")),
        }
    }
}

fn open(dir: &tempfile::TempDir, now: i64) -> App {
    let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
    let config = Config {
        audit_recording: false,
        ..Config::default()
    };
    App::new(Box::new(store), config, Clock::fixed(now)).unwrap()
}

/// Owned query parameters.
pub fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// The text between `open` and `close` (the first occurrence).
pub fn between(s: &str, open: &str, close: &str) -> String {
    let start = s.find(open).unwrap() + open.len();
    let end = start + s[start..].find(close).unwrap();
    s[start..end].to_string()
}

/// A policy document with one statement.
pub fn policy(effect: &str, action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}
