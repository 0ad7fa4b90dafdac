//! IAM SAML identity providers: create, get, update, list, delete, tags. A provider is stored under its
//! lower-cased name; its ARN is `arn:aws:iam::ACCT:saml-provider/NAME`. The metadata document is validated
//! on upload ([`crate::saml::parse_metadata`]): entityID, signing certificates and validUntil are kept.
//! `AssumeRoleWithSAML` (`sts::saml`) reads them.

use stsd_wire::generated::iam as w;

use super::entity;
use super::tagging;
use super::{Ctx, RequestFacts, tags_in, wire_tags};
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, SamlProvider};
use crate::store::Kind;

/// SAML providers per account.
pub const MAX_PROVIDERS: usize = 100;

pub fn provider_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:saml-provider/{name}")
}

/// `SAMLMetadataDocument` (its length, 1000..10,000,000, checked by the model), parsed.
fn metadata(doc: &str) -> ApiResult<crate::saml::Metadata> {
    crate::saml::parse_metadata(doc).map_err(ApiError::invalid_input)
}

fn no_provider(arn: &str) -> ApiError {
    ApiError::no_such_entity(format!("Manifest not found for arn {arn}"))
}

/// `SAMLProviderArn` → the provider's key in its account.
fn provider_key(acct: &Account, arn: &str) -> ApiResult<String> {
    let prefix = format!("arn:aws:iam::{}:saml-provider/", acct.id());
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

pub fn create_saml_provider(
    ctx: &Ctx<'_>,
    input: w::CreateSAMLProviderRequest,
) -> ApiResult<w::CreateSAMLProviderResponse> {
    let name = input.name;
    let doc = input.saml_metadata_document.as_str();
    let tags = tags_in(input.tags, false)?;
    let arn = provider_arn(&ctx.caller.account, &name);
    let facts = RequestFacts {
        tags: &tags,
        ..RequestFacts::default()
    };
    // Refused before the metadata (up to 10 MB of XML) is parsed; authorized again with the write.
    ctx.authorize_request(&*ctx.node.read()?, "iam:CreateSAMLProvider", &arn, &facts)?;
    let md = metadata(doc)?;
    let new = entity::New {
        arn: &arn,
        key: name.to_lowercase(),
        taken: format!("SAMLProvider {name} already exists."),
        quota: ("SAMLProvidersPerAccount", MAX_PROVIDERS),
    };
    let build = |_: &_| {
        Ok(SamlProvider {
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
        })
    };
    let action = "iam:CreateSAMLProvider";
    entity::create::<Providers, _>(ctx, action, &new, &facts, build, |_, _, p| {
        Ok(w::CreateSAMLProviderResponse {
            saml_provider_arn: Some(arn.clone()),
            tags: wire_tags(&p.tags),
        })
    })
}

pub fn get_saml_provider(
    ctx: &Ctx<'_>,
    input: w::GetSAMLProviderRequest,
) -> ApiResult<w::GetSAMLProviderResponse> {
    let st = ctx.node.read()?;
    let arn = input.saml_provider_arn.as_str();
    let (_, o) = entity::read::<Providers>(ctx, &st, "iam:GetSAMLProvider", arn)?;
    Ok(w::GetSAMLProviderResponse {
        saml_metadata_document: Some(o.metadata.clone()),
        create_date: Some(o.created),
        valid_until: o.valid_until,
        tags: wire_tags(&o.tags),
        ..w::GetSAMLProviderResponse::default()
    })
}

pub fn list_saml_providers(
    ctx: &Ctx<'_>,
    _input: w::ListSAMLProvidersRequest,
) -> ApiResult<w::ListSAMLProvidersResponse> {
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListSAMLProviders", "*")?;
    let acct = ctx.account(&st)?;
    let items: Vec<&SamlProvider> = acct.saml_providers.values().collect();
    Ok(w::ListSAMLProvidersResponse {
        saml_provider_list: Some(
            items
                .iter()
                .map(|o| w::SAMLProviderListEntry {
                    arn: Some(provider_arn(acct.id(), &o.name)),
                    valid_until: o.valid_until,
                    create_date: Some(o.created),
                })
                .collect(),
        ),
    })
}

pub fn update_saml_provider(
    ctx: &Ctx<'_>,
    input: w::UpdateSAMLProviderRequest,
) -> ApiResult<w::UpdateSAMLProviderResponse> {
    let doc = input.saml_metadata_document;
    let arn = input.saml_provider_arn;
    // Refused before the metadata is parsed; authorized again with the write.
    let action = "iam:UpdateSAMLProvider";
    ctx.authorize_request(&*ctx.node.read()?, action, &arn, &RequestFacts::default())?;
    let md = match &doc {
        Some(d) => Some(metadata(d)?),
        None => None,
    };
    entity::mutate::<Providers, _>(ctx, action, &arn, |_, o| {
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
    })?;
    Ok(w::UpdateSAMLProviderResponse {
        saml_provider_arn: Some(arn),
    })
}

pub fn delete_saml_provider(ctx: &Ctx<'_>, input: w::DeleteSAMLProviderRequest) -> ApiResult<()> {
    let arn = input.saml_provider_arn.as_str();
    entity::remove::<Providers>(ctx, "iam:DeleteSAMLProvider", arn, |_, _| Ok(()))?;
    Ok(())
}

entity::by_arn!(
    /// SAML providers, named by ARN; tag keys compare exactly.
    Providers: SamlProvider, saml_providers, "SAMLProvider", Kind::SamlProvider, provider_key, no_provider);

tagging::actions!(Providers, case_insensitive: false, saml_provider_arn;
    tag_saml_provider(TagSAMLProviderRequest), untag_saml_provider(UntagSAMLProviderRequest), list_saml_provider_tags(ListSAMLProviderTagsRequest) -> ListSAMLProviderTagsResponse);
