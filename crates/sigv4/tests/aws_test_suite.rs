//! The AWS SigV4 signing test suite (`tests/aws-signing-test-suite/v4`, one directory per AWS example):
//! every header-signed and presigned request must parse, canonicalize to AWS's canonical request and
//! verify; the `*-unnormalized` cases (S3-style paths, which stsd does not use) verify exactly when their
//! canonical request equals the normalized one.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]
#![expect(clippy::string_slice, reason = "test code: a bad index fails the test")]
use std::fs;
use std::path::{Path, PathBuf};

use sigv4::*;

struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawRequest {
    /// Parse the suite's HTTP/1.1 text: request line, `Name:value` headers (indented lines continue
    /// the previous value), blank line, body. Paths are written decoded (`/example space/`), which is
    /// what our canonical URI encodes once.
    fn parse(text: &str) -> RawRequest {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let line = lines.next().unwrap();
        let line = line.strip_suffix(" HTTP/1.1").unwrap_or(line);
        let (method, target) = line.split_once(' ').unwrap();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for l in lines {
            if l.starts_with(' ') || l.starts_with('\t') {
                headers.last_mut().unwrap().1.push_str(&format!("\n{l}"));
            } else if let Some((k, v)) = l.split_once(':') {
                headers.push((k.to_string(), v.to_string()));
            }
        }
        RawRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&HttpRequest<'_>) -> R) -> R {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        f(&HttpRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }
}

fn suite() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws-signing-test-suite/v4");
    let mut cases: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "test suite missing");
    cases
}

fn json_string(json: &str, key: &str) -> String {
    let start = json.find(&format!("\"{key}\": \"")).unwrap() + key.len() + 5;
    let len = json[start..].find('"').unwrap();
    json[start..start + len].to_string()
}

/// Run one form (`header` or `query`) of one case. Returns whether our canonical request matched AWS's.
fn run(case: &Path, form: &str) -> bool {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let ctx = fs::read_to_string(case.join("context.json")).unwrap();
    let normalize = !ctx.contains("\"normalize\": false");
    let secret = json_string(&ctx, "secret_access_key");
    let signed = fs::read_to_string(case.join(format!("{form}-signed-request.txt"))).unwrap();
    let expected = fs::read_to_string(case.join(format!("{form}-canonical-request.txt"))).unwrap();
    let raw = RawRequest::parse(&signed);
    raw.with(|req| {
        let auth = parse(req)
            .unwrap_or_else(|e| panic!("{name}/{form}: {e}"))
            .unwrap_or_else(|| panic!("{name}/{form}: not signed"));
        match (form, auth.form) {
            ("header", SignatureForm::Header) => {}
            ("query", SignatureForm::Presigned { expires_secs: 3600 }) => {}
            other => panic!("{name}: wrong form {other:?}"),
        }
        check_scope_and_time(&auth, "service", auth.timestamp, 3600)
            .unwrap_or_else(|e| panic!("{name}/{form}: {e}"));
        let ours =
            canonical_request_for(&auth, req).unwrap_or_else(|e| panic!("{name}/{form}: {e}"));
        let c = &auth.credential;
        let key = signing_key(&secret, &c.date, &c.region, &c.service);
        let verified = verify(&auth, req, &key);
        if ctx.contains("\"omit_session_token\": true") && form == "query" {
            // The token was added after presigning: accepted unsigned (our canonical includes it).
            verified.unwrap_or_else(|e| panic!("{name}/{form}: {e}"));
        } else if normalize {
            assert_eq!(ours, expected, "{name}/{form}: canonical request");
            verified.unwrap_or_else(|e| panic!("{name}/{form}: {e}"));
        } else {
            // S3-style (unnormalized) signing: accepted exactly when normalization changes nothing.
            assert_eq!(verified.is_ok(), ours == expected, "{name}/{form}");
        }
        ours == expected
    })
}

#[test]
fn aws_signing_test_suite_header_form() {
    let mut ran = 0;
    for case in suite() {
        if case.join("context.json").exists() {
            run(&case, "header");
            ran += 1;
        }
    }
    assert!(ran >= 38);
}

#[test]
fn aws_signing_test_suite_presigned_form() {
    let mut ran = 0;
    for case in suite() {
        if case.join("query-signed-request.txt").exists() {
            run(&case, "query");
            ran += 1;
        }
    }
    assert!(ran >= 38);
}

#[test]
fn aws_signing_test_suite_unnormalized_cases_differ_only_where_expected() {
    // The suite's S3-style cases whose paths normalization changes are the ones we must reject.
    let mut rejected = Vec::new();
    for case in suite() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with("-unnormalized") && !run(&case, "header") {
            rejected.push(name);
        }
    }
    assert_eq!(
        rejected,
        [
            "get-relative-relative-unnormalized",
            "get-relative-unnormalized",
            "get-slash-dot-slash-unnormalized",
            "get-slash-pointless-dot-unnormalized",
            "get-slash-unnormalized",
            "get-slashes-unnormalized",
        ]
    );
}

/// The two older-format cases check double encoding of an already-encoded path.
#[test]
fn double_url_encode_and_double_encode_path() {
    for (case, uri) in [
        (
            "double-url-encode",
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-west-2%253A892717189312%253Afunction%253Amy-rusty-fun/invocations",
        ),
        (
            "double-encode-path",
            "/test/%40connections/JBDvjfGEIAMCERw%253D",
        ),
    ] {
        let dir = suite().into_iter().find(|p| p.ends_with(case)).unwrap();
        let canonical = fs::read_to_string(dir.join("header-canonical-request.txt")).unwrap();
        assert_eq!(canonical.lines().nth(1), Some(uri));
        let raw =
            RawRequest::parse(&fs::read_to_string(dir.join("header-signed-request.txt")).unwrap());
        assert_eq!(canonical_uri(&raw.path), uri, "{case}");
    }
}
