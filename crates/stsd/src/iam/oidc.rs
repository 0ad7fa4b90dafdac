//! IAM OpenID Connect identity providers: create, get, list, delete, client IDs, thumbprints, tags.
//! A provider is stored under its URL without scheme (`host/path`, as IAM returns it); its ARN is
//! `arn:aws:iam::ACCT:oidc-provider/<url>`. `AssumeRoleWithWebIdentity` (`sts::web_identity`) reads them.

use super::{fmt_time, paginate, write_paging, write_tags, Ctx, Handler, RequestFacts};
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, OidcProvider};
use crate::oidc::{provider_arn, strip_scheme};
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;
use crate::store::Kind;
use crate::validate as v;

/// OIDC providers per account.
pub const MAX_PROVIDERS: usize = 100;
/// Client IDs per provider.
pub const MAX_CLIENT_IDS: usize = 100;
/// Thumbprints per provider.
pub const MAX_THUMBPRINTS: usize = 5;

pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "CreateOpenIDConnectProvider" => create,
        "GetOpenIDConnectProvider" => get,
        "ListOpenIDConnectProviders" => list,
        "DeleteOpenIDConnectProvider" => delete,
        "AddClientIDToOpenIDConnectProvider" => add_client_id,
        "RemoveClientIDFromOpenIDConnectProvider" => remove_client_id,
        "UpdateOpenIDConnectProviderThumbprint" => update_thumbprint,
        "TagOpenIDConnectProvider" => tag,
        "UntagOpenIDConnectProvider" => untag,
        "ListOpenIDConnectProviderTags" => list_tags,
        _ => return None,
    })
}

fn bad_url(msg: &str) -> ApiError {
    ApiError::invalid_input(msg.to_string())
}

/// `Url`: 1..255, `https://host[/path]` (no port, query or fragment); with `--allow-http-oidc` also
/// `http://host[:port][/path]`.
fn parse_url(p: &Params, allow_http: bool) -> ApiResult<(String, bool)> {
    let url = p.required("Url")?;
    let n = url.chars().count();
    if n == 0 || n > 255 {
        return Err(ApiError::validation(
            url,
            "url",
            "Member must have length less than or equal to 255",
        ));
    }
    let (rest, http) = strip_scheme(url, allow_http).ok_or_else(|| {
        bad_url(if allow_http {
            "Invalid OpenID Connect provider URL: it must begin with https:// or http://"
        } else {
            "Invalid OpenID Connect provider URL: it must begin with https://"
        })
    })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || rest
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '@' | '\\'))
    {
        return Err(bad_url(
            "Invalid OpenID Connect provider URL: a host is required and no query, fragment or user info is allowed",
        ));
    }
    if host.contains(':') && !http {
        return Err(bad_url(
            "Invalid OpenID Connect provider URL: a port is not allowed",
        ));
    }
    Ok((rest.to_string(), http))
}

fn client_id(value: &str) -> ApiResult<()> {
    let n = value.chars().count();
    if n == 0 {
        return Err(ApiError::validation(
            value,
            "clientID",
            "Member must have length greater than or equal to 1",
        ));
    }
    if n > 255 {
        return Err(ApiError::validation(
            value,
            "clientID",
            "Member must have length less than or equal to 255",
        ));
    }
    Ok(())
}

fn thumbprints(p: &Params, required: bool) -> ApiResult<Vec<String>> {
    let list = match p.list("ThumbprintList")? {
        Some(l) => l,
        None if required => return Err(ApiError::missing("thumbprintList")),
        None => Vec::new(),
    };
    if list.len() > MAX_THUMBPRINTS {
        return Err(ApiError::limit(
            "ThumbprintsPerOpenIdConnectProvider",
            MAX_THUMBPRINTS,
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in list {
        if t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::validation(
                &t,
                "thumbprintList.member",
                "Member must have length 40 and consist of hexadecimal digits",
            ));
        }
        let t = t.to_ascii_lowercase();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn no_provider(arn: &str) -> ApiError {
    ApiError::no_such_entity(format!("OpenIDConnect Provider not found for arn {arn}"))
}

/// `OpenIDConnectProviderArn` → the provider's collection key in the caller's account.
fn provider_key(ctx: &Ctx<'_>, acct: &Account, p: &Params) -> ApiResult<(String, String)> {
    let arn = v::arn(p, "OpenIDConnectProviderArn")?;
    let prefix = format!("arn:aws:iam::{}:oidc-provider/", ctx.caller.account);
    let Some(url) = arn.strip_prefix(&prefix) else {
        if arn.starts_with("arn:aws:iam::") && arn.contains(":oidc-provider/") {
            return Err(no_provider(arn));
        }
        return Err(ApiError::invalid_input(format!("ARN {arn} is not valid.")));
    };
    let key = url.to_lowercase();
    match acct.oidc_providers.get(&key) {
        Some(o) if o.url == url => Ok((key, arn.to_string())),
        _ => Err(no_provider(arn)),
    }
}

pub fn create(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let (url, http) = parse_url(p, ctx.app.config.allow_http_oidc)?;
    let ids = p.list("ClientIDList")?.unwrap_or_default();
    if ids.len() > MAX_CLIENT_IDS {
        return Err(ApiError::limit(
            "ClientIdsPerOpenIdConnectProvider",
            MAX_CLIENT_IDS,
        ));
    }
    let mut client_ids: Vec<String> = Vec::new();
    for id in ids {
        client_id(&id)?;
        if !client_ids.contains(&id) {
            client_ids.push(id);
        }
    }
    let thumbs = thumbprints(p, false)?;
    let tags = v::tags(p, false)?;
    let arn = provider_arn(&ctx.caller.account, &url);
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:CreateOpenIDConnectProvider",
            &arn,
            &RequestFacts {
                tags: &tags,
                ..RequestFacts::default()
            },
        )?;
        let acct = ctx.account_mut(st)?;
        let key = url.to_lowercase();
        if acct.oidc_providers.contains_key(&key) {
            return Err(ApiError::already_exists(format!(
                "Provider with url {}://{url} already exists.",
                if http { "http" } else { "https" }
            )));
        }
        if acct.oidc_providers.len() >= MAX_PROVIDERS {
            return Err(ApiError::limit(
                "OpenIdConnectProvidersPerAccount",
                MAX_PROVIDERS,
            ));
        }
        let mut x = Xml::new();
        x.elem("OpenIDConnectProviderArn", &arn);
        if !tags.is_empty() {
            write_tags(&mut x, &tags);
        }
        acct.oidc_providers.insert(
            key.clone(),
            OidcProvider {
                url: url.clone(),
                insecure_http: http,
                client_ids: client_ids.clone(),
                thumbprints: thumbs.clone(),
                created: ctx.now,
                tags: tags.clone(),
            },
        );
        t.touch(Kind::OidcProvider, &ctx.caller.account, &key);
        Ok(Some(x.finish()))
    })
}

pub fn get(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let st = ctx.app.read()?;
    let arn = v::arn(p, "OpenIDConnectProviderArn")?;
    ctx.authorize(&st, "iam:GetOpenIDConnectProvider", arn)?;
    let acct = ctx.account(&st)?;
    let (key, _) = provider_key(ctx, acct, p)?;
    let o = acct
        .oidc_providers
        .get(&key)
        .ok_or_else(|| no_provider(arn))?;
    let mut x = Xml::new();
    x.elem("Url", &o.url)
        .str_list("ClientIDList", o.client_ids.iter().map(String::as_str))
        .str_list("ThumbprintList", o.thumbprints.iter().map(String::as_str))
        .elem("CreateDate", &fmt_time(o.created));
    if !o.tags.is_empty() {
        write_tags(&mut x, &o.tags);
    }
    Ok(Some(x.finish()))
}

pub fn list(ctx: &Ctx<'_>, _p: &Params) -> ApiResult<Option<String>> {
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListOpenIDConnectProviders", "*")?;
    let acct = ctx.account(&st)?;
    let arns: Vec<String> = acct
        .oidc_providers
        .values()
        .map(|o| provider_arn(acct.id(), &o.url))
        .collect();
    let mut x = Xml::new();
    x.list("OpenIDConnectProviderList", &arns, |x, a| {
        x.elem("Arn", a);
    });
    Ok(Some(x.finish()))
}

/// Authorize `action` on the named provider and mutate it.
fn modify(
    ctx: &Ctx<'_>,
    p: &Params,
    action: &str,
    facts: &RequestFacts<'_>,
    mut f: impl FnMut(&mut OidcProvider) -> ApiResult<()>,
) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "OpenIDConnectProviderArn")?.to_string();
    ctx.app.write(|st, t| {
        ctx.authorize_request(st, action, &arn, facts)?;
        let (key, _) = provider_key(ctx, ctx.account(st)?, p)?;
        let o = ctx
            .account_mut(st)?
            .oidc_providers
            .get_mut(&key)
            .ok_or_else(|| no_provider(&arn))?;
        f(o)?;
        t.touch(Kind::OidcProvider, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn delete(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "OpenIDConnectProviderArn")?.to_string();
    ctx.app.write(|st, t| {
        ctx.authorize(st, "iam:DeleteOpenIDConnectProvider", &arn)?;
        let (key, _) = provider_key(ctx, ctx.account(st)?, p)?;
        ctx.account_mut(st)?.oidc_providers.remove(&key);
        t.touch(Kind::OidcProvider, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn add_client_id(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let id = p.required("ClientID")?.to_string();
    client_id(&id)?;
    modify(
        ctx,
        p,
        "iam:AddClientIDToOpenIDConnectProvider",
        &RequestFacts::default(),
        |o| {
            if o.client_ids.contains(&id) {
                return Ok(());
            }
            if o.client_ids.len() >= MAX_CLIENT_IDS {
                return Err(ApiError::limit(
                    "ClientIdsPerOpenIdConnectProvider",
                    MAX_CLIENT_IDS,
                ));
            }
            o.client_ids.push(id.clone());
            Ok(())
        },
    )
}

pub fn remove_client_id(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let id = p.required("ClientID")?.to_string();
    client_id(&id)?;
    modify(
        ctx,
        p,
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        &RequestFacts::default(),
        |o| {
            o.client_ids.retain(|c| *c != id);
            Ok(())
        },
    )
}

pub fn update_thumbprint(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let thumbs = thumbprints(p, true)?;
    modify(
        ctx,
        p,
        "iam:UpdateOpenIDConnectProviderThumbprint",
        &RequestFacts::default(),
        |o| {
            o.thumbprints = thumbs.clone();
            Ok(())
        },
    )
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
    modify(ctx, p, "iam:TagOpenIDConnectProvider", &facts, |o| {
        o.tags = v::merge_tags(&o.tags, &tags, false)?;
        Ok(())
    })
}

pub fn untag(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let keys = v::tag_keys(p)?;
    let facts = RequestFacts {
        tag_keys: &keys,
        ..RequestFacts::default()
    };
    modify(ctx, p, "iam:UntagOpenIDConnectProvider", &facts, |o| {
        o.tags.retain(|tag| !keys.contains(&tag.key));
        Ok(())
    })
}

pub fn list_tags(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let arn = v::arn(p, "OpenIDConnectProviderArn")?;
    ctx.authorize(&st, "iam:ListOpenIDConnectProviderTags", arn)?;
    let acct = ctx.account(&st)?;
    let (key, _) = provider_key(ctx, acct, p)?;
    let o = acct
        .oidc_providers
        .get(&key)
        .ok_or_else(|| no_provider(arn))?;
    let (page, next) = paginate(o.tags.clone(), marker.as_deref(), max)?;
    let mut x = Xml::new();
    write_tags(&mut x, &page);
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = |u: &str| Params::from_pairs([("Url", u)]);
        assert_eq!(
            parse_url(&p("https://token.actions.githubusercontent.com"), false).unwrap(),
            ("token.actions.githubusercontent.com".to_string(), false)
        );
        assert!(parse_url(&p("http://127.0.0.1:8080/x"), false).is_err());
        assert_eq!(
            parse_url(&p("http://127.0.0.1:8080/x"), true).unwrap(),
            ("127.0.0.1:8080/x".to_string(), true)
        );
        assert!(parse_url(&p("https://h:443/x"), false).is_err());
        assert!(parse_url(&p("https://h/x?y=1"), false).is_err());
        assert!(parse_url(&p("https:///x"), false).is_err());
        assert!(parse_url(&p("ftp://h"), true).is_err());
    }
}
