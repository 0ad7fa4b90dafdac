//! IAM SAML identity providers: create, get, update, list, delete, tags. A provider is stored under its
//! lower-cased name; its ARN is `arn:aws:iam::ACCT:saml-provider/NAME`. The metadata document is validated
//! on upload ([`crate::saml::parse_metadata`]): entityID, signing certificates and validUntil are kept.
//! `AssumeRoleWithSAML` (`sts::saml`) reads them.

use super::{fmt_time, paginate, write_paging, write_tags, Ctx, Handler, RequestFacts};
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, SamlProvider};
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;
use crate::store::Kind;
use crate::validate as v;

/// SAML providers per account.
pub const MAX_PROVIDERS: usize = 100;
const MIN_METADATA: usize = 1000;
const MAX_METADATA: usize = 10_000_000;

pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "CreateSAMLProvider" => create,
        "GetSAMLProvider" => get,
        "UpdateSAMLProvider" => update,
        "ListSAMLProviders" => list,
        "DeleteSAMLProvider" => delete,
        "TagSAMLProvider" => tag,
        "UntagSAMLProvider" => untag,
        "ListSAMLProviderTags" => list_tags,
        _ => return None,
    })
}

pub fn provider_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:saml-provider/{name}")
}

/// `Name`: 1..128, `[\w._-]+`.
fn name(p: &Params) -> ApiResult<&str> {
    let n = p.required("Name")?;
    let len = n.chars().count();
    if len == 0 || len > 128 {
        return Err(ApiError::validation(
            n,
            "name",
            "Member must have length less than or equal to 128",
        ));
    }
    if !n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(ApiError::validation(
            n,
            "name",
            "Member must satisfy regular expression pattern: [\\w._-]+",
        ));
    }
    Ok(n)
}

/// `SAMLMetadataDocument`: 1000..10,000,000 characters, then parsed.
fn metadata(doc: &str) -> ApiResult<crate::saml::Metadata> {
    let n = doc.chars().count();
    if n < MIN_METADATA {
        return Err(ApiError::validation(
            "<metadata>",
            "sAMLMetadataDocument",
            "Member must have length greater than or equal to 1000",
        ));
    }
    if n > MAX_METADATA {
        return Err(ApiError::validation(
            "<metadata>",
            "sAMLMetadataDocument",
            "Member must have length less than or equal to 10000000",
        ));
    }
    crate::saml::parse_metadata(doc).map_err(ApiError::invalid_input)
}

fn no_provider(arn: &str) -> ApiError {
    ApiError::no_such_entity(format!("Manifest not found for arn {arn}"))
}

/// `SAMLProviderArn` → the provider's key in the caller's account.
fn provider_key(ctx: &Ctx<'_>, acct: &Account, arn: &str) -> ApiResult<String> {
    let prefix = format!("arn:aws:iam::{}:saml-provider/", ctx.caller.account);
    let Some(name) = arn.strip_prefix(&prefix) else {
        if arn.starts_with("arn:aws:iam::") && arn.contains(":saml-provider/") {
            return Err(no_provider(arn));
        }
        return Err(ApiError::invalid_input(format!("ARN {arn} is not valid.")));
    };
    let key = name.to_lowercase();
    match acct.saml_providers.get(&key) {
        Some(o) if o.name == name => Ok(key),
        _ => Err(no_provider(arn)),
    }
}

pub fn create(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = name(p)?.to_string();
    let doc = p.required("SAMLMetadataDocument")?;
    let md = metadata(doc)?;
    let tags = v::tags(p, false)?;
    let arn = provider_arn(&ctx.caller.account, &name);
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:CreateSAMLProvider",
            &arn,
            &RequestFacts {
                tags: &tags,
                ..RequestFacts::default()
            },
        )?;
        let acct = ctx.account_mut(st)?;
        let key = name.to_lowercase();
        if acct.saml_providers.contains_key(&key) {
            return Err(ApiError::already_exists(format!(
                "SAMLProvider {name} already exists."
            )));
        }
        if acct.saml_providers.len() >= MAX_PROVIDERS {
            return Err(ApiError::limit("SAMLProvidersPerAccount", MAX_PROVIDERS));
        }
        let mut x = Xml::new();
        x.elem("SAMLProviderArn", &arn);
        if !tags.is_empty() {
            write_tags(&mut x, &tags);
        }
        acct.saml_providers.insert(
            key.clone(),
            SamlProvider {
                name: name.clone(),
                metadata: doc.to_string(),
                entity_id: md.entity_id.clone(),
                certs: md
                    .certs
                    .iter()
                    .map(|c| data_encoding::BASE64.encode(c))
                    .collect(),
                valid_until: md.valid_until,
                created: ctx.now,
                tags: tags.clone(),
            },
        );
        t.touch(Kind::SamlProvider, &ctx.caller.account, &key);
        Ok(Some(x.finish()))
    })
}

pub fn get(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let st = ctx.app.read()?;
    let arn = v::arn(p, "SAMLProviderArn")?;
    ctx.authorize(&st, "iam:GetSAMLProvider", arn)?;
    let acct = ctx.account(&st)?;
    let key = provider_key(ctx, acct, arn)?;
    let o = acct
        .saml_providers
        .get(&key)
        .ok_or_else(|| no_provider(arn))?;
    let mut x = Xml::new();
    x.elem("SAMLMetadataDocument", &o.metadata)
        .elem("CreateDate", &fmt_time(o.created));
    if let Some(vu) = o.valid_until {
        x.elem("ValidUntil", &fmt_time(vu));
    }
    if !o.tags.is_empty() {
        write_tags(&mut x, &o.tags);
    }
    Ok(Some(x.finish()))
}

pub fn list(ctx: &Ctx<'_>, _p: &Params) -> ApiResult<Option<String>> {
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListSAMLProviders", "*")?;
    let acct = ctx.account(&st)?;
    let items: Vec<&SamlProvider> = acct.saml_providers.values().collect();
    let mut x = Xml::new();
    x.list("SAMLProviderList", &items, |x, o| {
        x.elem("Arn", &provider_arn(acct.id(), &o.name));
        if let Some(vu) = o.valid_until {
            x.elem("ValidUntil", &fmt_time(vu));
        }
        x.elem("CreateDate", &fmt_time(o.created));
    });
    Ok(Some(x.finish()))
}

/// Authorize `action` on the provider named by `SAMLProviderArn` and mutate it.
fn modify(
    ctx: &Ctx<'_>,
    p: &Params,
    action: &str,
    facts: &RequestFacts<'_>,
    mut f: impl FnMut(&mut SamlProvider) -> ApiResult<()>,
) -> ApiResult<String> {
    let arn = v::arn(p, "SAMLProviderArn")?.to_string();
    ctx.app.write(|st, t| {
        ctx.authorize_request(st, action, &arn, facts)?;
        let key = provider_key(ctx, ctx.account(st)?, &arn)?;
        let o = ctx
            .account_mut(st)?
            .saml_providers
            .get_mut(&key)
            .ok_or_else(|| no_provider(&arn))?;
        f(o)?;
        t.touch(Kind::SamlProvider, &ctx.caller.account, &key);
        Ok(arn.clone())
    })
}

pub fn update(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let doc = p.get("SAMLMetadataDocument").map(str::to_string);
    let md = match &doc {
        Some(d) => Some(metadata(d)?),
        None => None,
    };
    let arn = modify(
        ctx,
        p,
        "iam:UpdateSAMLProvider",
        &RequestFacts::default(),
        |o| {
            if let (Some(d), Some(md)) = (doc.clone(), md.clone()) {
                o.metadata = d;
                o.entity_id = md.entity_id;
                o.certs = md
                    .certs
                    .iter()
                    .map(|c| data_encoding::BASE64.encode(c))
                    .collect();
                o.valid_until = md.valid_until;
            }
            Ok(())
        },
    )?;
    let mut x = Xml::new();
    x.elem("SAMLProviderArn", &arn);
    Ok(Some(x.finish()))
}

pub fn delete(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "SAMLProviderArn")?.to_string();
    ctx.app.write(|st, t| {
        ctx.authorize(st, "iam:DeleteSAMLProvider", &arn)?;
        let key = provider_key(ctx, ctx.account(st)?, &arn)?;
        ctx.account_mut(st)?.saml_providers.remove(&key);
        t.touch(Kind::SamlProvider, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn tag(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let tags = v::tags(p, false)?;
    if tags.is_empty() && p.struct_list("Tags")?.is_none() {
        return Err(ApiError::missing("tags"));
    }
    let facts = RequestFacts {
        tags: &tags,
        ..RequestFacts::default()
    };
    modify(ctx, p, "iam:TagSAMLProvider", &facts, |o| {
        o.tags = v::merge_tags(&o.tags, &tags, false)?;
        Ok(())
    })?;
    Ok(None)
}

pub fn untag(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let keys = v::tag_keys(p)?;
    let facts = RequestFacts {
        tag_keys: &keys,
        ..RequestFacts::default()
    };
    modify(ctx, p, "iam:UntagSAMLProvider", &facts, |o| {
        o.tags.retain(|tag| !keys.contains(&tag.key));
        Ok(())
    })?;
    Ok(None)
}

pub fn list_tags(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let arn = v::arn(p, "SAMLProviderArn")?;
    ctx.authorize(&st, "iam:ListSAMLProviderTags", arn)?;
    let acct = ctx.account(&st)?;
    let key = provider_key(ctx, acct, arn)?;
    let o = acct
        .saml_providers
        .get(&key)
        .ok_or_else(|| no_provider(arn))?;
    let (page, next) = paginate(o.tags.clone(), marker.as_deref(), max)?;
    let mut x = Xml::new();
    write_tags(&mut x, &page);
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}
