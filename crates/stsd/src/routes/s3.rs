//! The built-in `s3` route table: an S3 REST request (path-style, or virtual-hosted-style under a configured
//! domain) → the operation, the IAM actions it needs on which ARNs, and the condition keys the request shows,
//! as AWS's Service Authorization Reference lists them for S3. What only the body says (the keys of a
//! `DeleteObjects` call, a browser `POST` upload's key and policy) is not forwarded by the proxy: such requests
//! are authorized for the whole bucket (`DeleteObjects`: `s3:DeleteObject` on `bucket/*`) or refused. A request
//! with a query parameter the table does not know is refused too ([`only_params`]): it may be a subresource
//! that needs another action than the plain operation.

use serde_json::{Map, Value};

use super::{Check, Refused, RouteRequest, Routed, decode_query, decode_segment};
use crate::resources::is_bucket_name;

/// The S3 table and its configuration.
#[derive(Debug, Clone, Default)]
pub struct S3Table {
    /// Base domains of virtual-hosted-style requests (`BUCKET.DOMAIN`), lower case, without port.
    pub domains: Vec<String>,
}

/// Bucket subresources (query parameters) → (GET, PUT, DELETE) operation and action; `""` = not served.
const BUCKET_SUBRESOURCES: &[(&str, [(&str, &str); 3])] = &[
    (
        "acl",
        [
            ("GetBucketAcl", "GetBucketAcl"),
            ("PutBucketAcl", "PutBucketAcl"),
            ("", ""),
        ],
    ),
    (
        "cors",
        [
            ("GetBucketCors", "GetBucketCORS"),
            ("PutBucketCors", "PutBucketCORS"),
            ("DeleteBucketCors", "PutBucketCORS"),
        ],
    ),
    (
        "encryption",
        [
            ("GetBucketEncryption", "GetEncryptionConfiguration"),
            ("PutBucketEncryption", "PutEncryptionConfiguration"),
            ("DeleteBucketEncryption", "PutEncryptionConfiguration"),
        ],
    ),
    (
        "lifecycle",
        [
            (
                "GetBucketLifecycleConfiguration",
                "GetLifecycleConfiguration",
            ),
            (
                "PutBucketLifecycleConfiguration",
                "PutLifecycleConfiguration",
            ),
            ("DeleteBucketLifecycle", "PutLifecycleConfiguration"),
        ],
    ),
    (
        "location",
        [
            ("GetBucketLocation", "GetBucketLocation"),
            ("", ""),
            ("", ""),
        ],
    ),
    (
        "logging",
        [
            ("GetBucketLogging", "GetBucketLogging"),
            ("PutBucketLogging", "PutBucketLogging"),
            ("", ""),
        ],
    ),
    (
        "notification",
        [
            (
                "GetBucketNotificationConfiguration",
                "GetBucketNotification",
            ),
            (
                "PutBucketNotificationConfiguration",
                "PutBucketNotification",
            ),
            ("", ""),
        ],
    ),
    (
        "object-lock",
        [
            (
                "GetObjectLockConfiguration",
                "GetBucketObjectLockConfiguration",
            ),
            (
                "PutObjectLockConfiguration",
                "PutBucketObjectLockConfiguration",
            ),
            ("", ""),
        ],
    ),
    (
        "ownershipControls",
        [
            ("GetBucketOwnershipControls", "GetBucketOwnershipControls"),
            ("PutBucketOwnershipControls", "PutBucketOwnershipControls"),
            (
                "DeleteBucketOwnershipControls",
                "PutBucketOwnershipControls",
            ),
        ],
    ),
    (
        "policy",
        [
            ("GetBucketPolicy", "GetBucketPolicy"),
            ("PutBucketPolicy", "PutBucketPolicy"),
            ("DeleteBucketPolicy", "DeleteBucketPolicy"),
        ],
    ),
    (
        "policyStatus",
        [
            ("GetBucketPolicyStatus", "GetBucketPolicyStatus"),
            ("", ""),
            ("", ""),
        ],
    ),
    (
        "publicAccessBlock",
        [
            ("GetPublicAccessBlock", "GetBucketPublicAccessBlock"),
            ("PutPublicAccessBlock", "PutBucketPublicAccessBlock"),
            ("DeletePublicAccessBlock", "PutBucketPublicAccessBlock"),
        ],
    ),
    (
        "replication",
        [
            ("GetBucketReplication", "GetReplicationConfiguration"),
            ("PutBucketReplication", "PutReplicationConfiguration"),
            ("DeleteBucketReplication", "PutReplicationConfiguration"),
        ],
    ),
    (
        "requestPayment",
        [
            ("GetBucketRequestPayment", "GetBucketRequestPayment"),
            ("PutBucketRequestPayment", "PutBucketRequestPayment"),
            ("", ""),
        ],
    ),
    (
        "tagging",
        [
            ("GetBucketTagging", "GetBucketTagging"),
            ("PutBucketTagging", "PutBucketTagging"),
            ("DeleteBucketTagging", "PutBucketTagging"),
        ],
    ),
    (
        "uploads",
        [
            ("ListMultipartUploads", "ListBucketMultipartUploads"),
            ("", ""),
            ("", ""),
        ],
    ),
    (
        "versioning",
        [
            ("GetBucketVersioning", "GetBucketVersioning"),
            ("PutBucketVersioning", "PutBucketVersioning"),
            ("", ""),
        ],
    ),
    (
        "versions",
        [
            ("ListObjectVersions", "ListBucketVersions"),
            ("", ""),
            ("", ""),
        ],
    ),
    (
        "website",
        [
            ("GetBucketWebsite", "GetBucketWebsite"),
            ("PutBucketWebsite", "PutBucketWebsite"),
            ("DeleteBucketWebsite", "DeleteBucketWebsite"),
        ],
    ),
    (
        "accelerate",
        [
            (
                "GetBucketAccelerateConfiguration",
                "GetAccelerateConfiguration",
            ),
            (
                "PutBucketAccelerateConfiguration",
                "PutAccelerateConfiguration",
            ),
            ("", ""),
        ],
    ),
    (
        "analytics",
        [
            (
                "GetBucketAnalyticsConfiguration",
                "GetAnalyticsConfiguration",
            ),
            (
                "PutBucketAnalyticsConfiguration",
                "PutAnalyticsConfiguration",
            ),
            (
                "DeleteBucketAnalyticsConfiguration",
                "PutAnalyticsConfiguration",
            ),
        ],
    ),
    (
        "intelligent-tiering",
        [
            (
                "GetBucketIntelligentTieringConfiguration",
                "GetIntelligentTieringConfiguration",
            ),
            (
                "PutBucketIntelligentTieringConfiguration",
                "PutIntelligentTieringConfiguration",
            ),
            (
                "DeleteBucketIntelligentTieringConfiguration",
                "PutIntelligentTieringConfiguration",
            ),
        ],
    ),
    (
        "inventory",
        [
            (
                "GetBucketInventoryConfiguration",
                "GetInventoryConfiguration",
            ),
            (
                "PutBucketInventoryConfiguration",
                "PutInventoryConfiguration",
            ),
            (
                "DeleteBucketInventoryConfiguration",
                "PutInventoryConfiguration",
            ),
        ],
    ),
    (
        "metrics",
        [
            ("GetBucketMetricsConfiguration", "GetMetricsConfiguration"),
            ("PutBucketMetricsConfiguration", "PutMetricsConfiguration"),
            (
                "DeleteBucketMetricsConfiguration",
                "PutMetricsConfiguration",
            ),
        ],
    ),
];

/// Query parameters of a listing (ListObjects, ListObjectsV2).
const LIST_PARAMS: &[&str] = &[
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "encoding-type",
    "list-type",
    "continuation-token",
    "fetch-owner",
    "start-after",
];

/// Query parameters of GetObject and HeadObject.
const GET_OBJECT_PARAMS: &[&str] = &[
    "versionId",
    "partNumber",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

/// Whether every query parameter is one of `allowed`, `x-id` (which SDKs add to name the operation) or a
/// presigned URL's `X-Amz-*`. The operations a bucket or object request maps to without a subresource
/// (ListObjects, HeadBucket, CreateBucket, DeleteBucket, GetObject, HeadObject, PutObject, DeleteObject) accept
/// only their own parameters: any other may be a subresource this table does not know (`?session`,
/// `?metadataTable`, …), and such a request is refused rather than authorized as the plain operation.
fn only_params(query: &[(String, String)], allowed: &[&str]) -> bool {
    query.iter().all(|(k, _)| {
        allowed.contains(&k.as_str())
            || k == "x-id"
            || k.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
    })
}

/// Request headers that become `s3:<header>` condition keys of object writes.
const PUT_HEADER_KEYS: &[&str] = &[
    "x-amz-acl",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-storage-class",
    "x-amz-metadata-directive",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
];

/// Query parameters recorded in the audit event (never a presign field: those carry the session token).
const AUDITED_QUERY: &[&str] = &[
    "prefix",
    "delimiter",
    "max-keys",
    "list-type",
    "continuation-token",
    "start-after",
    "marker",
    "encoding-type",
    "uploadId",
    "partNumber",
    "versionId",
    "key-marker",
    "version-id-marker",
    "upload-id-marker",
    "max-uploads",
    "max-parts",
];

/// One operation before its keys and ARNs are filled.
struct Op {
    name: &'static str,
    action: &'static str,
    read_only: bool,
}

fn op(name: &'static str, action: &'static str, read_only: bool) -> Option<Op> {
    Some(Op {
        name,
        action,
        read_only,
    })
}

fn header<'a>(req: &RouteRequest<'a>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

impl S3Table {
    pub fn new(domains: Vec<String>) -> S3Table {
        S3Table {
            domains: domains
                .into_iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        }
    }

    /// The bucket named by a virtual-hosted-style `Host`, if the host is `BUCKET.DOMAIN`.
    fn host_bucket<'h>(&self, host: &'h str) -> Option<&'h str> {
        let name = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        self.domains.iter().find_map(|d| {
            // `bucket.` + the domain, the bucket label not empty.
            let dot = name.len().checked_sub(d.len() + 1).filter(|&i| i > 0)?;
            let (bucket, suffix) = name.split_at_checked(dot)?;
            let domain = suffix.strip_prefix('.')?;
            domain.eq_ignore_ascii_case(d).then_some(bucket)
        })
    }

    /// Map an S3 request to its operation and checks.
    pub fn route(&self, req: &RouteRequest<'_>) -> Result<Routed, Refused> {
        let path = req.path;
        let (bucket_raw, key_raw): (Option<&str>, &str) = match self.host_bucket(req.host) {
            Some(b) => (Some(b), path.strip_prefix('/').unwrap_or(path)),
            None => {
                let p = path.strip_prefix('/').unwrap_or(path);
                match p.split_once('/') {
                    Some((b, k)) => (Some(b), k),
                    None if p.is_empty() => (None, ""),
                    None => (Some(p), ""),
                }
            }
        };
        let bucket = match bucket_raw {
            None => None,
            Some(b) => {
                let b = decode_segment(b).unwrap_or_default();
                if !is_bucket_name(&b) {
                    return Err(Refused::new(
                        "InvalidBucketName",
                        "The specified bucket is not valid.",
                    ));
                }
                Some(b)
            }
        };
        let key = decode_key(key_raw)?;
        let query = decode_query(req.query);
        let has = |name: &str| query.iter().any(|(k, _)| k == name);
        let qv = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let method = req.method;
        let level = if key.is_some() {
            "object"
        } else if bucket.is_some() {
            "bucket"
        } else {
            "service"
        };
        let unsupported = || {
            Refused::new(
                "AccessDenied",
                format!(
                    "stsd cannot authorize this S3 request ({method} on a {level}): it does not know which action it is"
                ),
            )
        };

        let Some(bucket) = bucket else {
            // The service endpoint itself.
            return if method == "GET" || method == "HEAD" {
                Ok(Routed {
                    operation: "ListBuckets".into(),
                    checks: vec![Check {
                        action: "s3:ListAllMyBuckets".into(),
                        resource: "*".into(),
                        policy_arn: String::new(),
                        keys: Vec::new(),
                    }],
                    request_parameters: params(req, None, None, &query),
                    resources: Vec::new(),
                    read_only: true,
                })
            } else {
                Err(unsupported())
            };
        };
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        let mut keys: Vec<(String, Vec<String>)> = common_keys(req);
        let mut checks = Vec::new();
        let mut resources = vec![("AWS::S3::Bucket".to_string(), bucket_arn.clone())];

        let Some(key) = key else {
            // Bucket operations.
            let sub = BUCKET_SUBRESOURCES.iter().find(|(name, _)| has(name));
            let op = match (method, sub) {
                ("GET", Some((_, ops))) => ops[0],
                ("PUT", Some((_, ops))) => ops[1],
                ("DELETE", Some((_, ops))) => ops[2],
                ("GET", None) if !only_params(&query, LIST_PARAMS) => ("", ""),
                ("GET", None) if qv("list-type") == Some("2") => ("ListObjectsV2", "ListBucket"),
                ("GET", None) => ("ListObjects", "ListBucket"),
                ("HEAD" | "PUT" | "DELETE", None) if !only_params(&query, &[]) => ("", ""),
                ("HEAD", None) => ("HeadBucket", "ListBucket"),
                ("PUT", None) => ("CreateBucket", "CreateBucket"),
                ("DELETE", None) => ("DeleteBucket", "DeleteBucket"),
                ("POST", _) if has("delete") => ("DeleteObjects", "DeleteObject"),
                _ => ("", ""),
            };
            if op.0.is_empty() {
                return Err(unsupported());
            }
            let action = format!("s3:{}", op.1);
            if matches!(
                op.1,
                "ListBucket" | "ListBucketVersions" | "ListBucketMultipartUploads"
            ) {
                for (q, k) in [("prefix", "s3:prefix"), ("delimiter", "s3:delimiter")] {
                    if let Some(v) = qv(q) {
                        keys.push((k.into(), vec![v.to_string()]));
                    }
                }
                if let Some(v) = qv("max-keys") {
                    keys.push(("s3:max-keys".into(), vec![v.to_string()]));
                }
            }
            if op.0 == "CreateBucket" {
                for h in ["x-amz-acl", "x-amz-object-ownership"] {
                    if let Some(v) = header(req, h) {
                        keys.push((format!("s3:{h}"), vec![v.trim().to_string()]));
                    }
                }
            }
            let resource = if op.0 == "DeleteObjects" {
                // The keys are in the body, which the proxy does not forward: every object of the bucket.
                format!("{bucket_arn}/*")
            } else {
                bucket_arn.clone()
            };
            checks.push(Check {
                action,
                resource,
                policy_arn: bucket_arn.clone(),
                keys,
            });
            return Ok(Routed {
                operation: op.0.to_string(),
                checks,
                request_parameters: params(req, Some(&bucket), None, &query),
                resources,
                read_only: matches!(method, "GET" | "HEAD"),
            });
        };

        // Object operations.
        let object_arn = format!("{bucket_arn}/{key}");
        let versioned = has("versionId");
        if let Some(v) = qv("versionId") {
            keys.push(("s3:versionid".into(), vec![v.to_string()]));
        }
        let copy_source = header(req, "x-amz-copy-source");
        let op = match method {
            "GET" if has("acl") => op(
                "GetObjectAcl",
                if versioned {
                    "GetObjectVersionAcl"
                } else {
                    "GetObjectAcl"
                },
                true,
            ),
            "GET" if has("tagging") => op(
                "GetObjectTagging",
                if versioned {
                    "GetObjectVersionTagging"
                } else {
                    "GetObjectTagging"
                },
                true,
            ),
            "GET" if has("uploadId") => op("ListParts", "ListMultipartUploadParts", true),
            "GET" if has("attributes") => op(
                "GetObjectAttributes",
                if versioned {
                    "GetObjectVersionAttributes"
                } else {
                    "GetObjectAttributes"
                },
                true,
            ),
            "GET" if has("retention") => op("GetObjectRetention", "GetObjectRetention", true),
            "GET" if has("legal-hold") => op("GetObjectLegalHold", "GetObjectLegalHold", true),
            "GET" if has("torrent") => op(
                "GetObjectTorrent",
                if versioned {
                    "GetObjectVersionTorrent"
                } else {
                    "GetObjectTorrent"
                },
                true,
            ),
            "GET" if only_params(&query, GET_OBJECT_PARAMS) => op(
                "GetObject",
                if versioned {
                    "GetObjectVersion"
                } else {
                    "GetObject"
                },
                true,
            ),
            "HEAD" if only_params(&query, GET_OBJECT_PARAMS) => op(
                "HeadObject",
                if versioned {
                    "GetObjectVersion"
                } else {
                    "GetObject"
                },
                true,
            ),
            "PUT" if has("acl") => op(
                "PutObjectAcl",
                if versioned {
                    "PutObjectVersionAcl"
                } else {
                    "PutObjectAcl"
                },
                false,
            ),
            "PUT" if has("tagging") => op(
                "PutObjectTagging",
                if versioned {
                    "PutObjectVersionTagging"
                } else {
                    "PutObjectTagging"
                },
                false,
            ),
            "PUT" if has("retention") => op("PutObjectRetention", "PutObjectRetention", false),
            "PUT" if has("legal-hold") => op("PutObjectLegalHold", "PutObjectLegalHold", false),
            "PUT" if has("uploadId") && has("partNumber") => op(
                if copy_source.is_some() {
                    "UploadPartCopy"
                } else {
                    "UploadPart"
                },
                "PutObject",
                false,
            ),
            "PUT" if only_params(&query, &[]) => op(
                if copy_source.is_some() {
                    "CopyObject"
                } else {
                    "PutObject"
                },
                "PutObject",
                false,
            ),
            "DELETE" if has("uploadId") => {
                op("AbortMultipartUpload", "AbortMultipartUpload", false)
            }
            "DELETE" if has("tagging") => op(
                "DeleteObjectTagging",
                if versioned {
                    "DeleteObjectVersionTagging"
                } else {
                    "DeleteObjectTagging"
                },
                false,
            ),
            "DELETE" if only_params(&query, &["versionId"]) => op(
                "DeleteObject",
                if versioned {
                    "DeleteObjectVersion"
                } else {
                    "DeleteObject"
                },
                false,
            ),
            "POST" if has("uploads") => op("CreateMultipartUpload", "PutObject", false),
            "POST" if has("uploadId") => op("CompleteMultipartUpload", "PutObject", false),
            "POST" if has("restore") => op("RestoreObject", "RestoreObject", false),
            "POST" if has("select") => op("SelectObjectContent", "GetObject", true),
            _ => None,
        };
        let Some(op) = op else {
            return Err(unsupported());
        };
        if op.action == "PutObject" {
            for h in PUT_HEADER_KEYS {
                if let Some(v) = header(req, h) {
                    keys.push((format!("s3:{h}"), vec![v.trim().to_string()]));
                }
            }
            if let Some(tagging) = header(req, "x-amz-tagging") {
                let tags = decode_query(tagging);
                for (k, v) in &tags {
                    keys.push((format!("s3:RequestObjectTag/{k}"), vec![v.clone()]));
                }
                if !tags.is_empty() {
                    keys.push((
                        "s3:RequestObjectTagKeys".into(),
                        tags.iter().map(|(k, _)| k.clone()).collect(),
                    ));
                }
            }
        }
        let mut source_check = None;
        if matches!(op.name, "CopyObject" | "UploadPartCopy") {
            let source = copy_source.unwrap_or_default();
            let (src_bucket, src_key, src_version) = parse_copy_source(source)?;
            keys.push((
                "s3:x-amz-copy-source".into(),
                vec![format!("{src_bucket}/{src_key}")],
            ));
            let src_bucket_arn = format!("arn:aws:s3:::{src_bucket}");
            let src_arn = format!("{src_bucket_arn}/{src_key}");
            resources.push(("AWS::S3::Object".into(), src_arn.clone()));
            let mut src_keys = common_keys(req);
            if let Some(v) = &src_version {
                src_keys.push(("s3:versionid".into(), vec![v.clone()]));
            }
            source_check = Some(Check {
                action: if src_version.is_some() {
                    "s3:GetObjectVersion"
                } else {
                    "s3:GetObject"
                }
                .into(),
                resource: src_arn,
                policy_arn: src_bucket_arn,
                keys: src_keys,
            });
        }
        resources.insert(0, ("AWS::S3::Object".into(), object_arn.clone()));
        checks.push(Check {
            action: format!("s3:{}", op.action),
            resource: object_arn,
            policy_arn: bucket_arn,
            keys,
        });
        checks.extend(source_check);
        Ok(Routed {
            operation: op.name.to_string(),
            checks,
            request_parameters: params(req, Some(&bucket), Some(&key), &query),
            resources,
            read_only: op.read_only,
        })
    }
}

/// The object key (decoded); `None` for an empty key. Keys with a `.` or `..` segment are refused: an upstream
/// server may resolve them to another object than the one authorized.
fn decode_key(raw: &str) -> Result<Option<String>, Refused> {
    if raw.is_empty() {
        return Ok(None);
    }
    let bytes = sigv4::decode_path_segment(raw);
    let key = String::from_utf8(bytes)
        .map_err(|_| Refused::new("InvalidURI", "The object key is not valid UTF-8."))?;
    if key.chars().any(char::is_control) {
        return Err(Refused::new(
            "InvalidURI",
            "The object key holds control characters.",
        ));
    }
    if key.split('/').any(|s| s == "." || s == "..") {
        return Err(Refused::new(
            "InvalidURI",
            "Object keys with `.` or `..` path segments are refused: the upstream could resolve them to another object.",
        ));
    }
    if key.len() > 1024 {
        return Err(Refused::new("KeyTooLongError", "Your key is too long"));
    }
    Ok(Some(key))
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=V]`, URL-encoded.
fn parse_copy_source(raw: &str) -> Result<(String, String, Option<String>), Refused> {
    let bad = || {
        Refused::new(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    };
    let raw = raw.trim();
    let (path, version) = match raw.split_once('?') {
        Some((p, q)) => {
            let v = decode_query(q)
                .into_iter()
                .find(|(k, _)| k == "versionId")
                .map(|(_, v)| v);
            (p, v)
        }
        None => (raw, None),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let (b, k) = path.split_once('/').ok_or_else(bad)?;
    let b = decode_segment(b).ok_or_else(bad)?;
    if !is_bucket_name(&b) {
        return Err(bad());
    }
    let k = decode_key(k)?.ok_or_else(bad)?;
    Ok((b, k, version))
}

/// Keys every S3 request carries: how it was signed.
fn common_keys(req: &RouteRequest<'_>) -> Vec<(String, Vec<String>)> {
    let presigned =
        req.query.contains("X-Amz-Signature=") || req.query.contains("X-Amz-Credential=");
    let mut keys = vec![
        (
            "s3:authType".to_string(),
            vec![
                if presigned {
                    "REST-QUERY-STRING"
                } else {
                    "REST-HEADER"
                }
                .to_string(),
            ],
        ),
        (
            "s3:signatureversion".to_string(),
            vec!["AWS4-HMAC-SHA256".to_string()],
        ),
    ];
    if let Some(v) = header(req, "x-amz-content-sha256") {
        keys.push(("s3:x-amz-content-sha256".into(), vec![v.trim().to_string()]));
    }
    keys
}

/// `requestParameters` of the audit event: bucket, key, host and the listed query parameters.
fn params(
    req: &RouteRequest<'_>,
    bucket: Option<&str>,
    key: Option<&str>,
    query: &[(String, String)],
) -> Value {
    let mut m = Map::new();
    if let Some(b) = bucket {
        m.insert("bucketName".into(), Value::String(b.to_string()));
    }
    if let Some(k) = key {
        m.insert("key".into(), Value::String(k.to_string()));
    }
    m.insert(
        "Host".into(),
        Value::String(req.host.chars().take(256).collect()),
    );
    for (k, v) in query {
        if AUDITED_QUERY.contains(&k.as_str()) {
            m.insert(k.clone(), Value::String(v.chars().take(1024).collect()));
        } else if BUCKET_SUBRESOURCES.iter().any(|(n, _)| n == k)
            || [
                "uploads",
                "delete",
                "restore",
                "select",
                "attributes",
                "retention",
                "legal-hold",
                "torrent",
            ]
            .contains(&k.as_str())
        {
            m.insert(k.clone(), Value::String(String::new()));
        }
    }
    if let Some(c) = header(req, "x-amz-copy-source") {
        m.insert(
            "x-amz-copy-source".into(),
            Value::String(c.chars().take(1100).collect()),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Routed, Refused> {
        let t = S3Table::new(vec!["s3.example.test".into()]);
        t.route(&RouteRequest {
            method,
            path,
            query,
            headers,
            host,
            caller_account: "111122223333",
            region: "us-east-1",
        })
    }

    fn one(r: &Routed) -> (&str, &str, &str) {
        (
            r.checks[0].action.as_str(),
            r.checks[0].resource.as_str(),
            r.checks[0].policy_arn.as_str(),
        )
    }

    fn key<'a>(r: &'a Routed, k: &str) -> Option<&'a [String]> {
        r.checks[0]
            .keys
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_slice())
    }

    const H: &str = "127.0.0.1:9000";

    #[test]
    fn objects_path_style_and_virtual_hosted() {
        let r = route("GET", H, "/bk1/a%20b%2Bc/d", "", &[]).unwrap();
        assert_eq!(r.operation, "GetObject");
        assert_eq!(
            one(&r),
            (
                "s3:GetObject",
                "arn:aws:s3:::bk1/a b+c/d",
                "arn:aws:s3:::bk1"
            )
        );
        let r = route("GET", "bk1.s3.example.test:9000", "/a%20b", "", &[]).unwrap();
        assert_eq!(
            one(&r),
            ("s3:GetObject", "arn:aws:s3:::bk1/a b", "arn:aws:s3:::bk1")
        );
        let r = route("GET", "my.bucket.S3.Example.Test", "/k", "", &[]).unwrap();
        assert_eq!(one(&r).1, "arn:aws:s3:::my.bucket/k");
        // The domain itself is path-style.
        let r = route("PUT", "s3.example.test", "/bk1/k", "", &[]).unwrap();
        assert_eq!(
            (r.operation.as_str(), one(&r).0),
            ("PutObject", "s3:PutObject")
        );
        assert_eq!(
            route("HEAD", H, "/bk1/k", "versionId=v1", &[])
                .unwrap()
                .checks[0]
                .action,
            "s3:GetObjectVersion"
        );
        assert_eq!(
            route("DELETE", H, "/bk1/k", "", &[]).unwrap().checks[0].action,
            "s3:DeleteObject"
        );
        assert_eq!(
            route("DELETE", H, "/bk1/k", "versionId=3", &[])
                .unwrap()
                .checks[0]
                .action,
            "s3:DeleteObjectVersion"
        );
    }

    #[test]
    fn listing_keys() {
        let r = route(
            "GET",
            H,
            "/bk1",
            "list-type=2&prefix=home%2Fa%2F&delimiter=%2F&max-keys=10",
            &[],
        )
        .unwrap();
        assert_eq!(r.operation, "ListObjectsV2");
        assert_eq!(
            one(&r),
            ("s3:ListBucket", "arn:aws:s3:::bk1", "arn:aws:s3:::bk1")
        );
        assert_eq!(key(&r, "s3:prefix").unwrap(), ["home/a/"]);
        assert_eq!(key(&r, "s3:delimiter").unwrap(), ["/"]);
        assert_eq!(key(&r, "s3:max-keys").unwrap(), ["10"]);
        assert_eq!(key(&r, "s3:authType").unwrap(), ["REST-HEADER"]);
        let r = route("GET", H, "/bk1/", "", &[]).unwrap();
        assert_eq!(r.operation, "ListObjects");
        assert!(key(&r, "s3:prefix").is_none());
        let r = route("GET", H, "/", "", &[]).unwrap();
        assert_eq!(
            (r.operation.as_str(), one(&r).0, one(&r).1),
            ("ListBuckets", "s3:ListAllMyBuckets", "*")
        );
        assert_eq!(
            route("GET", H, "/bk1", "location", &[]).unwrap().checks[0].action,
            "s3:GetBucketLocation"
        );
        assert_eq!(
            route("HEAD", H, "/bk1", "", &[]).unwrap().checks[0].action,
            "s3:ListBucket"
        );
        assert_eq!(
            route("GET", H, "/bk1", "versions&prefix=x", &[])
                .unwrap()
                .checks[0]
                .action,
            "s3:ListBucketVersions"
        );
    }

    #[test]
    fn multipart_actions() {
        let r = route("POST", H, "/bk1/big", "uploads", &[]).unwrap();
        assert_eq!(
            (r.operation.as_str(), one(&r).0),
            ("CreateMultipartUpload", "s3:PutObject")
        );
        let r = route("PUT", H, "/bk1/big", "partNumber=1&uploadId=u", &[]).unwrap();
        assert_eq!(
            (r.operation.as_str(), one(&r).0),
            ("UploadPart", "s3:PutObject")
        );
        let r = route("POST", H, "/bk1/big", "uploadId=u", &[]).unwrap();
        assert_eq!(r.operation, "CompleteMultipartUpload");
        let r = route("DELETE", H, "/bk1/big", "uploadId=u", &[]).unwrap();
        assert_eq!(
            (r.operation.as_str(), one(&r).0),
            ("AbortMultipartUpload", "s3:AbortMultipartUpload")
        );
        let r = route("GET", H, "/bk1/big", "uploadId=u", &[]).unwrap();
        assert_eq!(one(&r).0, "s3:ListMultipartUploadParts");
        let r = route("GET", H, "/bk1", "uploads", &[]).unwrap();
        assert_eq!(one(&r).0, "s3:ListBucketMultipartUploads");
    }

    #[test]
    fn copy_object_needs_both_sides() {
        let h = [
            ("x-amz-copy-source", "src-bucket/x%20y?versionId=7"),
            ("x-amz-acl", "private"),
        ];
        let r = route("PUT", H, "/bk1/k2", "", &h).unwrap();
        assert_eq!(r.operation, "CopyObject");
        assert_eq!(
            one(&r),
            ("s3:PutObject", "arn:aws:s3:::bk1/k2", "arn:aws:s3:::bk1")
        );
        assert_eq!(key(&r, "s3:x-amz-copy-source").unwrap(), ["src-bucket/x y"]);
        assert_eq!(key(&r, "s3:x-amz-acl").unwrap(), ["private"]);
        let src = &r.checks[1];
        assert_eq!(
            (
                src.action.as_str(),
                src.resource.as_str(),
                src.policy_arn.as_str()
            ),
            (
                "s3:GetObjectVersion",
                "arn:aws:s3:::src-bucket/x y",
                "arn:aws:s3:::src-bucket"
            )
        );
        for bad in ["nobucket", "/Bad_Bucket/k", "/bk1/../x"] {
            assert!(
                route("PUT", H, "/bk1/k2", "", &[("x-amz-copy-source", bad)]).is_err(),
                "{bad}"
            );
        }
        let r = route(
            "PUT",
            H,
            "/bk1/k2",
            "partNumber=2&uploadId=u",
            &[("x-amz-copy-source", "/src-bucket/a")],
        )
        .unwrap();
        assert_eq!(
            (r.operation.as_str(), r.checks.len()),
            ("UploadPartCopy", 2)
        );
    }

    #[test]
    fn request_tags_and_delete_objects() {
        let r = route(
            "PUT",
            H,
            "/bk1/k",
            "",
            &[("x-amz-tagging", "team=blue&env=prod")],
        )
        .unwrap();
        assert_eq!(key(&r, "s3:RequestObjectTag/team").unwrap(), ["blue"]);
        assert_eq!(key(&r, "s3:RequestObjectTagKeys").unwrap(), ["team", "env"]);
        let r = route("POST", H, "/bk1", "delete", &[]).unwrap();
        assert_eq!(
            one(&r),
            ("s3:DeleteObject", "arn:aws:s3:::bk1/*", "arn:aws:s3:::bk1")
        );
    }

    #[test]
    fn what_cannot_be_authorized_is_refused() {
        assert_eq!(
            route("GET", H, "/Bad_Bucket/k", "", &[]).unwrap_err().code,
            "InvalidBucketName"
        );
        assert_eq!(
            route("GET", H, "/a%2F..%2Fb/k", "", &[]).unwrap_err().code,
            "InvalidBucketName"
        );
        for p in [
            "/bk1/a/../k",
            "/bk1/./k",
            "/bk1/%2e%2e/k",
            "/bk1/k/..",
            "/bk1/%FF",
        ] {
            assert_eq!(
                route("GET", H, p, "", &[]).unwrap_err().code,
                "InvalidURI",
                "{p}"
            );
        }
        // A browser POST upload names its key in the body.
        assert_eq!(
            route("POST", H, "/bk1", "", &[]).unwrap_err().code,
            "AccessDenied"
        );
        assert_eq!(
            route("PATCH", H, "/bk1/k", "", &[]).unwrap_err().code,
            "AccessDenied"
        );
        assert_eq!(
            route("PUT", H, "/", "", &[]).unwrap_err().code,
            "AccessDenied"
        );
        // A subresource the table does not know is not the plain operation it would fall through to
        // (ListBucket, CreateBucket, DeleteBucket, GetObject, PutObject, DeleteObject).
        for (method, path, query) in [
            ("GET", "/bk1", "session"),
            ("GET", "/bk1", "metadataTable"),
            ("PUT", "/bk1", "metadataTable"),
            ("DELETE", "/bk1", "someday"),
            ("HEAD", "/bk1", "x"),
            ("GET", "/bk1/k", "someday"),
            ("PUT", "/bk1/k", "renameObject"),
            ("DELETE", "/bk1/k", "someday"),
        ] {
            assert_eq!(
                route(method, H, path, query, &[]).unwrap_err().code,
                "AccessDenied",
                "{method} {path}?{query}"
            );
        }
    }

    #[test]
    fn plain_operations_keep_their_own_parameters() {
        let r = route(
            "GET",
            H,
            "/bk1",
            "list-type=2&prefix=a&delimiter=%2F&encoding-type=url&fetch-owner=true&start-after=a&continuation-token=t&x-id=ListObjectsV2",
            &[],
        )
        .unwrap();
        assert_eq!(r.operation, "ListObjectsV2");
        let r = route(
            "GET",
            H,
            "/bk1/k",
            "response-content-type=text%2Fplain&partNumber=1&x-id=GetObject&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=s",
            &[],
        )
        .unwrap();
        assert_eq!(one(&r).0, "s3:GetObject");
        assert_eq!(
            route("PUT", H, "/bk1/k", "x-id=PutObject", &[])
                .unwrap()
                .operation,
            "PutObject"
        );
        assert_eq!(
            route("DELETE", H, "/bk1/k", "versionId=3&x-id=DeleteObject", &[])
                .unwrap()
                .checks[0]
                .action,
            "s3:DeleteObjectVersion"
        );
        // Bucket configuration subresources with their own actions.
        for (method, query, action) in [
            ("GET", "inventory&id=a", "s3:GetInventoryConfiguration"),
            ("PUT", "inventory&id=a", "s3:PutInventoryConfiguration"),
            ("DELETE", "metrics&id=a", "s3:PutMetricsConfiguration"),
            ("GET", "analytics", "s3:GetAnalyticsConfiguration"),
            (
                "PUT",
                "intelligent-tiering&id=a",
                "s3:PutIntelligentTieringConfiguration",
            ),
        ] {
            assert_eq!(
                one(&route(method, H, "/bk1", query, &[]).unwrap()).0,
                action,
                "{method} ?{query}"
            );
        }
    }

    #[test]
    fn presign_fields_never_reach_the_audit_event() {
        let r = route(
            "GET",
            H,
            "/bk1/k",
            "X-Amz-Security-Token=secret&X-Amz-Signature=s&X-Amz-Credential=c&versionId=1",
            &[],
        )
        .unwrap();
        let text = r.request_parameters.to_string();
        assert!(
            !text.contains("secret") && !text.contains("X-Amz"),
            "{text}"
        );
        assert!(text.contains("versionId"));
        assert_eq!(key(&r, "s3:authType").unwrap(), ["REST-QUERY-STRING"]);
    }
}
