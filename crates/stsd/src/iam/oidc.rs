//! IAM OpenID Connect identity providers: create, get, list, delete, client IDs, thumbprints, tags.
//! A provider is stored under its URL without scheme (`host/path`, as IAM returns it); its ARN is
//! `arn:aws:iam::ACCT:oidc-provider/<url>`. `AssumeRoleWithWebIdentity` (`sts::web_identity`) reads them.

use stsd_wire::generated::iam as w;

use super::entity;
use super::tagging;
use super::{Ctx, RequestFacts, tags_in, wire_tags};
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, OidcProvider};
use crate::oidc::{provider_arn, strip_scheme};
use crate::store::Kind;

/// OIDC providers per account.
pub const MAX_PROVIDERS: usize = 100;
/// Client IDs per provider.
pub const MAX_CLIENT_IDS: usize = 100;
/// Thumbprints per provider.
pub const MAX_THUMBPRINTS: usize = 5;

fn bad_url(msg: &str) -> ApiError {
    ApiError::invalid_input(msg.to_string())
}

/// `Url`: 1..255, `https://host[/path]` (no port, query or fragment); with `--allow-http-oidc` also
/// `http://host[:port][/path]`.
fn parse_url(url: &str, allow_http: bool) -> ApiResult<(String, bool)> {
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

/// Thumbprints: at most five, each 40 hex digits (the model checks only the length), de-duplicated ignoring case.
fn thumbprints(list: Vec<String>) -> ApiResult<Vec<String>> {
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

pub fn create_open_id_connect_provider(
    ctx: &Ctx<'_>,
    input: w::CreateOpenIDConnectProviderRequest,
) -> ApiResult<w::CreateOpenIDConnectProviderResponse> {
    let (url, http) = parse_url(&input.url, ctx.node.config.allow_http_oidc)?;
    let ids = input.client_id_list.unwrap_or_default();
    if ids.len() > MAX_CLIENT_IDS {
        return Err(ApiError::limit(
            "ClientIdsPerOpenIdConnectProvider",
            MAX_CLIENT_IDS,
        ));
    }
    let mut client_ids: Vec<String> = Vec::new();
    for id in ids {
        if !client_ids.contains(&id) {
            client_ids.push(id);
        }
    }
    let thumbs = thumbprints(input.thumbprint_list.unwrap_or_default())?;
    let tags = tags_in(input.tags, false)?;
    let arn = provider_arn(&ctx.caller.account, &url);
    let new = entity::New {
        arn: &arn,
        key: url.to_lowercase(),
        taken: format!(
            "Provider with url {}://{url} already exists.",
            if http { "http" } else { "https" }
        ),
        quota: ("OpenIdConnectProvidersPerAccount", MAX_PROVIDERS),
    };
    let facts = RequestFacts {
        tags: &tags,
        ..RequestFacts::default()
    };
    let build = |_: &_| {
        Ok(OidcProvider {
            url: url.clone(),
            insecure_http: http,
            client_ids: client_ids.clone(),
            thumbprints: thumbs.clone(),
            created: ctx.now,
            tags: tags.clone(),
        })
    };
    let action = "iam:CreateOpenIDConnectProvider";
    entity::create::<Providers, _>(ctx, action, &new, &facts, build, |_, _, p| {
        Ok(w::CreateOpenIDConnectProviderResponse {
            open_id_connect_provider_arn: Some(arn.clone()),
            tags: wire_tags(&p.tags),
        })
    })
}

pub fn get_open_id_connect_provider(
    ctx: &Ctx<'_>,
    input: w::GetOpenIDConnectProviderRequest,
) -> ApiResult<w::GetOpenIDConnectProviderResponse> {
    let st = ctx.node.read()?;
    let arn = input.open_id_connect_provider_arn.as_str();
    let (_, o) = entity::read::<Providers>(ctx, &st, "iam:GetOpenIDConnectProvider", arn)?;
    Ok(w::GetOpenIDConnectProviderResponse {
        url: Some(o.url.clone()),
        client_id_list: Some(o.client_ids.clone()),
        thumbprint_list: Some(o.thumbprints.clone()),
        create_date: Some(o.created),
        tags: wire_tags(&o.tags),
    })
}

pub fn list_open_id_connect_providers(
    ctx: &Ctx<'_>,
    _input: w::ListOpenIDConnectProvidersRequest,
) -> ApiResult<w::ListOpenIDConnectProvidersResponse> {
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListOpenIDConnectProviders", "*")?;
    let acct = ctx.account(&st)?;
    let arns = acct
        .oidc_providers
        .values()
        .map(|o| w::OpenIDConnectProviderListEntry {
            arn: Some(provider_arn(acct.id(), &o.url)),
        })
        .collect();
    Ok(w::ListOpenIDConnectProvidersResponse {
        open_id_connect_provider_list: Some(arns),
    })
}

pub fn delete_open_id_connect_provider(
    ctx: &Ctx<'_>,
    input: w::DeleteOpenIDConnectProviderRequest,
) -> ApiResult<()> {
    let arn = input.open_id_connect_provider_arn.as_str();
    entity::remove::<Providers>(ctx, "iam:DeleteOpenIDConnectProvider", arn, |_, _| Ok(()))?;
    Ok(())
}

pub fn add_client_id_to_open_id_connect_provider(
    ctx: &Ctx<'_>,
    input: w::AddClientIDToOpenIDConnectProviderRequest,
) -> ApiResult<()> {
    let id = input.client_id;
    entity::mutate::<Providers, _>(
        ctx,
        "iam:AddClientIDToOpenIDConnectProvider",
        &input.open_id_connect_provider_arn,
        |_, o| {
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

pub fn remove_client_id_from_open_id_connect_provider(
    ctx: &Ctx<'_>,
    input: w::RemoveClientIDFromOpenIDConnectProviderRequest,
) -> ApiResult<()> {
    let id = input.client_id;
    entity::mutate::<Providers, _>(
        ctx,
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        &input.open_id_connect_provider_arn,
        |_, o| {
            o.client_ids.retain(|c| *c != id);
            Ok(())
        },
    )
}

pub fn update_open_id_connect_provider_thumbprint(
    ctx: &Ctx<'_>,
    input: w::UpdateOpenIDConnectProviderThumbprintRequest,
) -> ApiResult<()> {
    let thumbs = thumbprints(input.thumbprint_list)?;
    entity::mutate::<Providers, _>(
        ctx,
        "iam:UpdateOpenIDConnectProviderThumbprint",
        &input.open_id_connect_provider_arn,
        |_, o| {
            o.thumbprints = thumbs.clone();
            Ok(())
        },
    )
}

entity::by_arn!(
    /// OIDC providers, named by ARN; tag keys compare exactly.
    Providers: OidcProvider, oidc_providers, "OpenIDConnectProvider", Kind::OidcProvider, key_of,
    no_provider);

/// The key of the provider `arn` names, in the account that owns it.
fn key_of(acct: &Account, arn: &str) -> ApiResult<String> {
    let prefix = format!("arn:aws:iam::{}:oidc-provider/", acct.id());
    let Some(url) = arn.strip_prefix(&prefix) else {
        if arn.starts_with("arn:aws:iam::") && arn.contains(":oidc-provider/") {
            return Err(no_provider(arn));
        }
        return Err(ApiError::invalid_input(format!("ARN {arn} is not valid.")));
    };
    let key = url.to_lowercase();
    match acct.oidc_providers.get(&key) {
        Some(o) if o.url == url => Ok(key),
        _ => Err(no_provider(arn)),
    }
}

tagging::actions!(Providers, case_insensitive: false, open_id_connect_provider_arn;
    tag_open_id_connect_provider(TagOpenIDConnectProviderRequest), untag_open_id_connect_provider(UntagOpenIDConnectProviderRequest), list_open_id_connect_provider_tags(ListOpenIDConnectProviderTagsRequest) -> ListOpenIDConnectProviderTagsResponse);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = |u: &'static str| u;
        assert_eq!(
            parse_url(p("https://token.actions.githubusercontent.com"), false).unwrap(),
            ("token.actions.githubusercontent.com".to_string(), false)
        );
        assert!(parse_url(p("http://127.0.0.1:8080/x"), false).is_err());
        assert_eq!(
            parse_url(p("http://127.0.0.1:8080/x"), true).unwrap(),
            ("127.0.0.1:8080/x".to_string(), true)
        );
        assert!(parse_url(p("https://h:443/x"), false).is_err());
        assert!(parse_url(p("https://h/x?y=1"), false).is_err());
        assert!(parse_url(p("https:///x"), false).is_err());
        assert!(parse_url(p("ftp://h"), true).is_err());
    }
}
