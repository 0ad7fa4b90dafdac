//! End-to-end with the AWS SDK for Rust: the real `stsd` binary on a free loopback port, driven by
//! `aws-sdk-sts` and `aws-sdk-iam` with an endpoint override.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]
#![expect(
    clippy::indexing_slicing,
    reason = "test code: a bad index fails the test"
)]
mod common;
use common::{ACCOUNT, KEY, SECRET, Server, start_stsd};

fn start() -> Server {
    start_stsd(&[])
}

fn creds(key: &str, secret: &str) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(key, secret, None, None, "test")
}

fn sts(endpoint: &str, key: &str, secret: &str) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .endpoint_url(endpoint)
        .region(aws_sdk_sts::config::Region::new("eu-central-1"))
        .credentials_provider(creds(key, secret))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

fn iam(endpoint: &str, key: &str, secret: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .endpoint_url(endpoint)
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(creds(key, secret))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

#[tokio::test]
async fn rust_sdk_identity_iam_and_errors() {
    let s = start();
    let sts_root = sts(&s.endpoint, KEY, SECRET);
    let id = sts_root.get_caller_identity().send().await.unwrap();
    assert_eq!(id.account(), Some(ACCOUNT));
    assert_eq!(
        id.arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:root").as_str())
    );

    let iam_root = iam(&s.endpoint, KEY, SECRET);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = iam_root
        .create_role()
        .role_name("sdk-role")
        .path("/sdk/")
        .assume_role_policy_document(&trust)
        .max_session_duration(7200)
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(
        role.arn(),
        format!("arn:aws:iam::{ACCOUNT}:role/sdk/sdk-role")
    );
    assert!(role.role_id().starts_with("AROA"));
    // The Rust SDK does not URL-decode documents; the wire form is RFC 3986 percent-encoding.
    let doc = role.assume_role_policy_document().unwrap();
    assert_eq!(percent_decode(doc), trust);

    iam_root
        .create_user()
        .user_name("sdk-user")
        .send()
        .await
        .unwrap();
    let key = iam_root
        .create_access_key()
        .user_name("sdk-user")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    assert!(key.access_key_id().starts_with("AKIA"));

    // The user's own identity, and a denial for an IAM call it has no policy for.
    let sts_user = sts(&s.endpoint, key.access_key_id(), key.secret_access_key());
    let id = sts_user.get_caller_identity().send().await.unwrap();
    assert_eq!(
        id.arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:user/sdk-user").as_str())
    );
    let iam_user = iam(&s.endpoint, key.access_key_id(), key.secret_access_key());
    let err = iam_user.list_users().send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );

    // Modeled IAM errors map to the SDK's typed variants.
    let err = iam_root
        .get_role()
        .role_name("missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");
    let err = iam_root
        .create_role()
        .role_name("SDK-ROLE")
        .assume_role_policy_document(&trust)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_entity_already_exists_exception(), "{err:?}");
    let err = iam_root
        .put_role_policy()
        .role_name("sdk-role")
        .policy_name("bad")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#,
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_malformed_policy_document_exception(), "{err:?}");

    // Wrong secret → SignatureDoesNotMatch.
    let bad = sts(&s.endpoint, KEY, "wrongwrongwrongwrongwrongwrongwrongwrong");
    let err = bad
        .get_caller_identity()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&err),
        Some("SignatureDoesNotMatch")
    );

    // GetAccessKeyInfo decodes the account.
    let info = sts_root
        .get_access_key_info()
        .access_key_id(key.access_key_id())
        .send()
        .await
        .unwrap();
    assert_eq!(info.account(), Some(ACCOUNT));

    // Pagination through the SDK's paginator.
    for i in 0..5 {
        iam_root
            .create_group()
            .group_name(format!("g{i}"))
            .send()
            .await
            .unwrap();
    }
    let groups: Vec<_> = iam_root
        .list_groups()
        .max_items(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(groups.len(), 5);
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let h = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(h, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn rust_sdk_assume_role_and_session_credentials() {
    let s = start();
    let iam_root = iam(&s.endpoint, KEY, SECRET);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}"#
    );
    let role_arn = iam_root
        .create_role()
        .role_name("sdk-session-role")
        .assume_role_policy_document(&trust)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();
    iam_root
        .put_role_policy()
        .role_name("sdk-session-role")
        .policy_name("p")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}"#)
        .send()
        .await
        .unwrap();
    iam_root
        .create_user()
        .user_name("assumer")
        .send()
        .await
        .unwrap();
    iam_root
        .put_user_policy()
        .user_name("assumer")
        .policy_name("a")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let key = iam_root
        .create_access_key()
        .user_name("assumer")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let user_sts = sts(&s.endpoint, key.access_key_id(), key.secret_access_key());
    let out = user_sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("rust-sdk")
        .duration_seconds(900)
        .tags(
            aws_sdk_sts::types::Tag::builder()
                .key("team")
                .value("blue")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/sdk-session-role/rust-sdk")
    );
    // Session credentials (with the token) work through both SDK clients.
    let session_creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "session",
    );
    let conf = aws_sdk_iam::Config::builder()
        .endpoint_url(&s.endpoint)
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(session_creds.clone())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let session_iam = aws_sdk_iam::Client::from_conf(conf);
    assert!(
        !session_iam
            .list_roles()
            .send()
            .await
            .unwrap()
            .roles()
            .is_empty()
    );
    let err = session_iam
        .list_users()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );
    let conf = aws_sdk_sts::Config::builder()
        .endpoint_url(&s.endpoint)
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .credentials_provider(session_creds)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let id = aws_sdk_sts::Client::from_conf(conf)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(id.user_id().map(|u| u.ends_with(":rust-sdk")), Some(true));
}
