//! stsd extension actions (IAM namespace) for the resources of other services that `/_stsd/authorize`
//! protects: resource-based policies (`PutResourcePolicy`, `GetResourcePolicy`, `DeleteResourcePolicy`) and
//! the registration of S3 buckets to an account (`RegisterBucket`, `DeregisterBucket`,
//! `ListRegisteredBuckets`).
//!
//! A policy belongs to the account that owns its resource: the account in the ARN, or for an S3 bucket
//! (`arn:aws:s3:::NAME`, which names no account) the account the bucket is registered to. Only that
//! account's principals may manage it, authorized as `iam:<Action>` on the resource ARN (the account root
//! always may). Principals the policy names by user or role ARN are bound to their unique IDs when it is
//! stored, as IAM does for trust policies, so a later namesake is not that principal.

use stsd_wire::generated::iam as w;

use super::roles::bind_principal_ids;
use super::{Ctx, page_size, paginate};
use crate::error::{ApiError, ApiResult};
use crate::model::{BucketRegistration, Doc, DocKind, ResourcePolicy, resource_policy_key};
use crate::protocol::url_encode_policy;
use crate::resources::{Owner, bucket_of_arn, bucket_owner, is_bucket_name, parse_arn};
use crate::state::State;
use crate::store::Kind;

/// S3's bucket policy size limit (20 KB); it applies to every resource policy stored here.
pub const RESOURCE_POLICY_MAX_CHARS: usize = 20_480;

/// `ResourceArn`, checked to be an ARN whose resource the caller's account owns.
fn owned_arn<'p>(ctx: &Ctx<'_>, st: &State, arn: &'p str) -> ApiResult<&'p str> {
    let Some(parts) = parse_arn(arn) else {
        return Err(ApiError::invalid_input(format!("ARN {arn} is not valid.")));
    };
    if parts.service == "s3" && parts.account.is_empty() {
        let Some(bucket) = bucket_of_arn(arn) else {
            return Err(ApiError::invalid_input(format!(
                "An S3 resource policy is a bucket policy: {arn} does not name a bucket (arn:aws:s3:::NAME)."
            )));
        };
        return match bucket_owner(st, bucket) {
            Owner::Known(a) if a.id() == ctx.caller.account => Ok(arn),
            _ => Err(ApiError::no_such_entity(format!(
                "The bucket {bucket} is not registered to this account."
            ))),
        };
    }
    if parts.account != ctx.caller.account {
        return Err(ApiError::invalid_input(format!(
            "The resource {arn} does not belong to this account."
        )));
    }
    Ok(arn)
}

fn no_policy(arn: &str) -> ApiError {
    ApiError::no_such_entity(format!("The resource {arn} has no resource policy."))
}

/// `PutResourcePolicy(ResourceArn, PolicyDocument)`: create or replace the resource's policy.
pub fn put_resource_policy(ctx: &Ctx<'_>, input: w::PutResourcePolicyRequest) -> ApiResult<()> {
    const ACTION: &str = "iam:PutResourcePolicy";
    let text = input.policy_document.as_str();
    // Refused before the document is compiled; authorized again with the write.
    ctx.authorize(&*ctx.node.read()?, ACTION, &input.resource_arn)?;
    let compiled = crate::authz::compile_with_limit(
        text,
        policy::PolicyKind::Resource,
        RESOURCE_POLICY_MAX_CHARS,
    )?;
    let doc = Doc {
        text: text.to_string(),
        kind: DocKind::Resource,
        principal_ids: Vec::new(),
        compiled: Some(compiled),
    };
    ctx.node.write(|st, t| {
        ctx.authorize(st, ACTION, &input.resource_arn)?;
        let arn = owned_arn(ctx, st, &input.resource_arn)?;
        let doc = bind_principal_ids(st, doc.clone())?;
        let key = resource_policy_key(arn);
        let acct = ctx.account_mut(st)?;
        let created = acct
            .resource_policies
            .get(&key)
            .map_or(ctx.now, |old| old.created);
        acct.resource_policies.insert(
            key.clone(),
            ResourcePolicy {
                arn: arn.to_string(),
                doc,
                created,
                updated: ctx.now,
            },
        );
        t.touch(Kind::ResourcePolicy, &ctx.caller.account, &key);
        Ok(())
    })
}

/// `GetResourcePolicy(ResourceArn)`: the policy as stored (URL-encoded, as IAM returns documents).
pub fn get_resource_policy(
    ctx: &Ctx<'_>,
    input: w::GetResourcePolicyRequest,
) -> ApiResult<w::GetResourcePolicyResponse> {
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:GetResourcePolicy", &input.resource_arn)?;
    let arn = owned_arn(ctx, &st, &input.resource_arn)?;
    let acct = ctx.account(&st)?;
    let rp = crate::resources::policy_of(acct, arn).ok_or_else(|| no_policy(arn))?;
    Ok(w::GetResourcePolicyResponse {
        resource_arn: rp.arn.clone(),
        policy_document: url_encode_policy(&rp.doc.text),
        create_date: rp.created,
        update_date: rp.updated,
    })
}

/// `DeleteResourcePolicy(ResourceArn)`.
pub fn delete_resource_policy(
    ctx: &Ctx<'_>,
    input: w::DeleteResourcePolicyRequest,
) -> ApiResult<()> {
    ctx.node.write(|st, t| {
        ctx.authorize(st, "iam:DeleteResourcePolicy", &input.resource_arn)?;
        let arn = owned_arn(ctx, st, &input.resource_arn)?;
        let key = resource_policy_key(arn);
        let acct = ctx.account_mut(st)?;
        if crate::resources::policy_of(acct, arn).is_none() {
            return Err(no_policy(arn));
        }
        acct.resource_policies.remove(&key);
        t.touch(Kind::ResourcePolicy, &ctx.caller.account, &key);
        Ok(())
    })
}

/// `BucketName` (length and characters checked by the model): S3's remaining naming rules.
fn bucket_param(b: &str) -> ApiResult<&str> {
    if !is_bucket_name(b) {
        return Err(ApiError::validation(
            b,
            "bucketName",
            "Member must be a valid S3 bucket name (3-63 characters of a-z, 0-9, '.', '-')",
        ));
    }
    Ok(b)
}

/// `RegisterBucket(BucketName)`: the bucket's owner is this account (its bucket policy is this account's, and
/// requests from other accounts are cross-account). Registering a bucket this account already has is a
/// no-op; a bucket registered to another account is refused.
pub fn register_bucket(ctx: &Ctx<'_>, input: w::RegisterBucketRequest) -> ApiResult<()> {
    let bucket = bucket_param(&input.bucket_name)?;
    let arn = format!("arn:aws:s3:::{bucket}");
    ctx.node.write(|st, t| {
        ctx.authorize(st, "iam:RegisterBucket", &arn)?;
        match bucket_owner(st, bucket) {
            Owner::Known(a) if a.id() == ctx.caller.account => return Ok(()),
            Owner::Known(_) | Owner::Ambiguous => {
                return Err(ApiError::already_exists(format!(
                    "The bucket {bucket} is registered to another account."
                )));
            }
            Owner::Unknown => {}
        }
        let acct = ctx.account_mut(st)?;
        acct.buckets.insert(
            bucket.to_string(),
            BucketRegistration {
                name: bucket.to_string(),
                created: ctx.now,
            },
        );
        t.touch(Kind::Bucket, &ctx.caller.account, bucket);
        Ok(())
    })
}

/// `DeregisterBucket(BucketName)`: forget the registration and the bucket's policy (a later owner of the name
/// must not inherit it).
pub fn deregister_bucket(ctx: &Ctx<'_>, input: w::DeregisterBucketRequest) -> ApiResult<()> {
    let bucket = bucket_param(&input.bucket_name)?;
    let arn = format!("arn:aws:s3:::{bucket}");
    ctx.node.write(|st, t| {
        ctx.authorize(st, "iam:DeregisterBucket", &arn)?;
        let acct = ctx.account_mut(st)?;
        if acct.buckets.remove(bucket).is_none() {
            return Err(ApiError::no_such_entity(format!(
                "The bucket {bucket} is not registered to this account."
            )));
        }
        t.touch(Kind::Bucket, &ctx.caller.account, bucket);
        let key = resource_policy_key(&arn);
        if acct.resource_policies.remove(&key).is_some() {
            t.touch(Kind::ResourcePolicy, &ctx.caller.account, &key);
        }
        Ok(())
    })
}

/// `ListRegisteredBuckets [Marker, MaxItems]`: this account's buckets in name order.
pub fn list_registered_buckets(
    ctx: &Ctx<'_>,
    input: w::ListRegisteredBucketsRequest,
) -> ApiResult<w::ListRegisteredBucketsResponse> {
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListRegisteredBuckets", "*")?;
    let acct = ctx.account(&st)?;
    let all: Vec<&BucketRegistration> = acct.buckets.values().collect();
    let (page, next) = paginate(all, marker.as_deref(), max)?;
    Ok(w::ListRegisteredBucketsResponse {
        buckets: page
            .into_iter()
            .map(|b| w::RegisteredBucket {
                bucket_name: b.name.clone(),
                create_date: b.created,
            })
            .collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}
