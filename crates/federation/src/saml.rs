//! SAML 2.0 for federation: IdP metadata parsing (CreateSAMLProvider) and verification of a signed
//! `samlp:Response` (AssumeRoleWithSAML).
//!
//! The XML signature itself is checked by bergshamra (XML-DSig, exclusive C14N, only the provider's metadata
//! keys trusted). Around it stsd enforces its own SAML rules, which are what make signature wrapping fail:
//! no DTD anywhere; exactly one `Assertion` in the whole document, a direct child of the `Response`; IDs unique;
//! every `Signature` is a direct child of the `Response` or of that `Assertion` and has exactly one `Reference`
//! whose URI is `#<ID of its parent>`; only enveloped-signature + (exclusive) C14N transforms; no SHA-1 or HMAC;
//! every signature in the document must verify. Only that single assertion is ever read.

use bergshamra::{DsigContext, KeysManager, VerifyResult};
use roxmltree::{Document, Node, ParsingOptions};
use sha1::{Digest, Sha1};

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Paths of AWS's SAML endpoints, on `https://signin.aws.amazon.com` or a regional
/// `https://<region>.signin.aws.amazon.com`: the accepted `Recipient` values (and `Audience` values, with
/// `urn:amazon:webservices`).
const SAML_PATHS: &[&str] = &["/saml", "/static/saml"];
/// The SAML service provider entity ID of AWS, accepted as `Audience`.
const AWS_SP_ENTITY_ID: &str = "urn:amazon:webservices";
/// Clock skew allowed on every time check, seconds.
pub const LEEWAY: i64 = 300;
/// How far in the future an assertion's `NotOnOrAfter` may lie. A bearer assertion is meant to be used within
/// minutes (IdPs default to 5–70 minutes); one valid for years could be traded for credentials by anyone who
/// ever saw it. The replay guard remembers an assertion until its `NotOnOrAfter`, so this also bounds that.
pub const MAX_ASSERTION_LIFETIME: i64 = 24 * 3600;
/// Deepest element nesting accepted in a SAML response or metadata document. Real documents nest about 8
/// levels (Response/Assertion/AttributeStatement/Attribute/AttributeValue; Signature/SignedInfo/Reference/
/// Transforms/Transform/InclusiveNamespaces); the XML parsers behind this module recurse once per level, so
/// nesting is measured first by a streaming tokenizer that does not recurse.
pub const MAX_XML_DEPTH: usize = 64;
/// Largest decoded document handled.
const MAX_XML: usize = 100_000;
const MAX_METADATA: usize = 10_000_000;
const NODES_LIMIT: u32 = 200_000;

/// Whether `url` is one of AWS's SAML endpoints (global or regional).
pub fn is_aws_saml_endpoint(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some(slash) = rest.find('/') else {
        return false;
    };
    let (host, path) = rest.split_at(slash);
    let host_ok = host == "signin.aws.amazon.com"
        || host
            .strip_suffix(".signin.aws.amazon.com")
            .is_some_and(is_region_code);
    host_ok && SAML_PATHS.contains(&path)
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`: lowercase words joined by `-`, then a number.
fn is_region_code(s: &str) -> bool {
    let mut parts = s.split('-');
    let Some(last) = parts.next_back() else {
        return false;
    };
    let words: Vec<&str> = parts.collect();
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 2
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// Whether every element of `text` is nested at most `max` deep. Streams tokens without recursion; a
/// document the tokenizer cannot read is refused here too (the real parser would refuse it as well).
pub fn nesting_within(text: &str, max: usize) -> bool {
    let mut depth = 0usize;
    for token in xmlparser::Tokenizer::from(text) {
        match token {
            Ok(xmlparser::Token::ElementStart { .. }) => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            Ok(xmlparser::Token::ElementEnd {
                end: xmlparser::ElementEnd::Empty | xmlparser::ElementEnd::Close(..),
                ..
            }) => depth = depth.saturating_sub(1),
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Why a SAML response was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SamlError {
    /// Malformed, unsigned, badly signed, wrong issuer/audience/recipient… (`InvalidIdentityToken`).
    Invalid(String),
    /// Outside its validity window (`ExpiredTokenException`).
    Expired(String),
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, SamlError> {
    Err(SamlError::Invalid(msg.into()))
}

/// What CreateSAMLProvider keeps from a metadata document.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub entity_id: String,
    /// DER certificates of the IdP's signing keys.
    pub certs: Vec<Vec<u8>>,
    pub valid_until: Option<i64>,
}

fn parse_xml(text: &str) -> Option<Document<'_>> {
    // INVARIANT: roxmltree and bergshamra's parser recurse once per element level; nothing reaches them
    // unless its nesting was measured first.
    if has_dtd(text) || !nesting_within(text, MAX_XML_DEPTH) {
        return None;
    }
    let opts = ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
    };
    Document::parse_with_options(text, opts).ok()
}

/// A `<!DOCTYPE` or `<!ENTITY` anywhere (roxmltree refuses DTDs too; this is the belt to its braces).
fn has_dtd(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(8).any(|w| {
        matches!(w, [b'<', b'!', rest @ ..]
            if rest.eq_ignore_ascii_case(b"doctyp") || rest.eq_ignore_ascii_case(b"entity"))
    })
}

fn is(n: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(ns)
}

fn children<'a, 'i>(
    n: Node<'a, 'i>,
    ns: &'static str,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| is(c, ns, name))
}

fn child<'a, 'i>(n: Node<'a, 'i>, ns: &'static str, name: &'static str) -> Option<Node<'a, 'i>> {
    children(n, ns, name).next()
}

/// The text content of a leaf element: its text nodes joined (comments skipped, as exclusive C14N drops
/// them); an element or processing instruction inside is refused.
fn text(n: Node<'_, '_>) -> Result<String, SamlError> {
    let mut out = String::new();
    for c in n.children() {
        if c.is_text() {
            out.push_str(c.text().unwrap_or_default());
        } else if c.is_comment() {
            continue;
        } else {
            return invalid("unexpected content in a text element");
        }
    }
    Ok(out)
}

/// `xs:dateTime` → Unix seconds (a zone is required).
pub fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    data_encoding::BASE64.decode(&clean).ok()
}

/// Parse and validate an IdP metadata document: an `EntityDescriptor` with an `entityID`, an
/// `IDPSSODescriptor` and at least one usable signing certificate.
pub fn parse_metadata(doc: &str) -> Result<Metadata, String> {
    let bad = || "Could not parse metadata".to_string();
    if doc.len() > MAX_METADATA || doc.starts_with('\u{feff}') {
        return Err(bad());
    }
    let xml = parse_xml(doc).ok_or_else(bad)?;
    let root = xml.root_element();
    if !is(&root, NS_METADATA, "EntityDescriptor") {
        return Err(bad());
    }
    let entity_id = root
        .attribute("entityID")
        .filter(|e| !e.is_empty() && e.len() <= 1024)
        .ok_or_else(bad)?
        .to_string();
    let valid_until = match root.attribute("validUntil") {
        Some(v) => Some(parse_time(v).ok_or_else(bad)?),
        None => None,
    };
    let mut certs = Vec::new();
    let mut has_idp = false;
    for idp in children(root, NS_METADATA, "IDPSSODescriptor") {
        has_idp = true;
        for kd in children(idp, NS_METADATA, "KeyDescriptor") {
            if !matches!(kd.attribute("use"), None | Some("signing")) {
                continue;
            }
            for ki in children(kd, NS_DSIG, "KeyInfo") {
                for xd in children(ki, NS_DSIG, "X509Data") {
                    for c in children(xd, NS_DSIG, "X509Certificate") {
                        let der = text(c).ok().and_then(|t| b64_decode(&t)).ok_or_else(bad)?;
                        check_cert(&der).ok_or_else(bad)?;
                        if !certs.contains(&der) {
                            certs.push(der);
                        }
                    }
                }
            }
        }
    }
    if !has_idp || certs.is_empty() || certs.len() > 10 {
        return Err(bad());
    }
    Ok(Metadata {
        entity_id,
        certs,
        valid_until,
    })
}

/// A certificate whose public key the verifier can use (RSA ≥ 1024 bits or EC).
fn check_cert(der: &[u8]) -> Option<()> {
    let key = bergshamra::keys::loader::load_x509_cert_der(der).ok()?;
    let alg = key.data.algorithm_name().to_string();
    if alg.starts_with("RSA") || alg.starts_with("EC") {
        Some(())
    } else {
        None
    }
}

/// The verified content of the one assertion of a response.
#[derive(Debug, Clone, Default)]
pub struct Assertion {
    pub id: String,
    pub issuer: String,
    /// NameID text.
    pub subject: String,
    /// NameID `Format` with `urn:oasis:names:tc:SAML:2.0:nameid-format:` removed.
    pub subject_type: String,
    /// The `Recipient` of the bearer `SubjectConfirmationData` (AWS's `Audience` / `saml:aud`).
    pub recipient: String,
    /// `NotOnOrAfter` of the assertion (earliest of the conditions and the subject confirmation).
    pub not_on_or_after: i64,
    /// `AuthnStatement` `SessionNotOnOrAfter`, if any.
    pub session_not_on_or_after: Option<i64>,
    /// Attributes in document order: (Name, values).
    pub attributes: Vec<(String, Vec<String>)>,
}

impl Assertion {
    pub fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// `saml:namequalifier`: `Base64(SHA1(Issuer + AccountId + "/" + ProviderName))`.
pub fn name_qualifier(issuer: &str, account: &str, provider_name: &str) -> String {
    let mut h = Sha1::new();
    h.update(issuer.as_bytes());
    h.update(account.as_bytes());
    h.update(b"/");
    h.update(provider_name.as_bytes());
    data_encoding::BASE64.encode(&h.finalize())
}

const ALLOWED_C14N: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
];
const ALLOWED_TRANSFORMS: &[&str] = &[
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
];
const ALLOWED_SIG: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const ALLOWED_DIGEST: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

fn algorithm<'a>(n: Option<Node<'a, '_>>) -> Option<&'a str> {
    n?.attribute("Algorithm")
}

/// The structural rules every `Signature` must satisfy before the cryptography is even looked at.
fn check_signature_shape(sig: Node<'_, '_>) -> Result<(), SamlError> {
    let parent = sig
        .parent_element()
        .ok_or(SamlError::Invalid("detached signature".into()))?;
    let parent_id = parent.attribute("ID").unwrap_or_default();
    if parent_id.is_empty() {
        return invalid("signed element has no ID");
    }
    let si = child(sig, NS_DSIG, "SignedInfo").ok_or(SamlError::Invalid("no SignedInfo".into()))?;
    if !algorithm(child(si, NS_DSIG, "CanonicalizationMethod"))
        .is_some_and(|a| ALLOWED_C14N.contains(&a))
    {
        return invalid("unsupported canonicalization");
    }
    if !algorithm(child(si, NS_DSIG, "SignatureMethod")).is_some_and(|a| ALLOWED_SIG.contains(&a)) {
        return invalid("unsupported signature method");
    }
    let refs: Vec<Node<'_, '_>> = children(si, NS_DSIG, "Reference").collect();
    let &[r] = refs.as_slice() else {
        return invalid("a signature must carry exactly one Reference");
    };
    if r.attribute("URI") != Some(format!("#{parent_id}").as_str()) {
        return invalid("the Reference must point at the signed element's ID");
    }
    if !algorithm(child(r, NS_DSIG, "DigestMethod")).is_some_and(|a| ALLOWED_DIGEST.contains(&a)) {
        return invalid("unsupported digest method");
    }
    if let Some(ts) = child(r, NS_DSIG, "Transforms") {
        for t in ts.children().filter(Node::is_element) {
            if !is(&t, NS_DSIG, "Transform")
                || !algorithm(Some(t)).is_some_and(|a| ALLOWED_TRANSFORMS.contains(&a))
                || t.children().any(|c| c.is_element() && !is_inclusive_ns(&c))
            {
                return invalid("unsupported transform");
            }
        }
    }
    Ok(())
}

fn is_inclusive_ns(n: &Node<'_, '_>) -> bool {
    n.tag_name().name() == "InclusiveNamespaces"
        && n.tag_name().namespace() == Some("http://www.w3.org/2001/10/xml-exc-c14n#")
}

/// Verify a base64 `samlp:Response` against the provider's signing certificates and return its single
/// assertion. `issuer` is the metadata entityID. Time checks use `now` with [`LEEWAY`].
pub fn verify_response(
    b64: &str,
    certs: &[Vec<u8>],
    issuer: &str,
    now: i64,
) -> Result<Assertion, SamlError> {
    let raw = b64_decode(b64).ok_or(SamlError::Invalid("not base64".into()))?;
    if raw.len() > MAX_XML {
        return invalid("response too large");
    }
    let xml = std::str::from_utf8(&raw).map_err(|_| SamlError::Invalid("not UTF-8".into()))?;
    let doc = parse_xml(xml).ok_or(SamlError::Invalid("malformed XML or DTD".into()))?;
    let root = doc.root_element();
    if !is(&root, NS_PROTOCOL, "Response") || root.attribute("Version") != Some("2.0") {
        return invalid("not a SAML 2.0 Response");
    }
    if let Some(status) = child(root, NS_PROTOCOL, "Status") {
        let ok = child(status, NS_PROTOCOL, "StatusCode").and_then(|c| c.attribute("Value"))
            == Some("urn:oasis:names:tc:SAML:2.0:status:Success");
        if !ok {
            return invalid("response status is not Success");
        }
    }
    // Exactly one assertion anywhere (wrapping puts a second one somewhere), a child of the Response.
    let mut assertions = doc.descendants().filter(|n| {
        n.is_element()
            && n.tag_name().namespace() == Some(NS_ASSERTION)
            && matches!(n.tag_name().name(), "Assertion" | "EncryptedAssertion")
    });
    let assertion = match (assertions.next(), assertions.next()) {
        (Some(a), None) => a,
        _ => return invalid("the response must contain exactly one assertion"),
    };
    if !is(&assertion, NS_ASSERTION, "Assertion") || assertion.parent_element() != Some(root) {
        return invalid("the assertion must be a direct child of the response");
    }
    // IDs (under every name an XML-DSig resolver may honour) are unique.
    let mut ids = std::collections::HashSet::new();
    for n in doc.descendants().filter(Node::is_element) {
        for a in n.attributes() {
            if matches!(a.name(), "ID" | "Id" | "id" | "AssertionID") && !ids.insert(a.value()) {
                return invalid("duplicate ID");
            }
        }
    }
    let response_id = root.attribute("ID").unwrap_or_default();
    let assertion_id = assertion.attribute("ID").unwrap_or_default();
    if response_id.is_empty() || assertion_id.is_empty() {
        return invalid("missing ID");
    }
    // Signatures: only on the Response or the Assertion, each in the accepted shape.
    let sigs: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| is(n, NS_DSIG, "Signature"))
        .collect();
    if sigs.is_empty() {
        return invalid("the response is not signed");
    }
    for s in &sigs {
        let parent = s.parent_element();
        if parent != Some(root) && parent != Some(assertion) {
            return invalid("signature in an unexpected place");
        }
        check_signature_shape(*s)?;
    }
    // The cryptography: every signature must verify with a metadata key.
    let mut km = KeysManager::new();
    for der in certs {
        let key = bergshamra::keys::loader::load_x509_cert_der(der)
            .map_err(|_| SamlError::Invalid("unusable provider key".into()))?;
        km.add_key(key);
    }
    // Secure defaults: only the metadata keys are trusted (inline KeyInfo ignored), reference positions are
    // checked, every Reference digest must be computed locally. IDs resolve through `Id`/`ID`/`id`/`AssertionID`,
    // the same names checked for uniqueness above.
    let ctx = DsigContext::new(km);
    let results = bergshamra::verify_all(&ctx, xml)
        .map_err(|_| SamlError::Invalid("signature verification failed".into()))?;
    if results.len() != sigs.len() {
        return invalid("signature verification failed");
    }
    let wanted = [format!("#{response_id}"), format!("#{assertion_id}")];
    for r in &results {
        if !r.all_reference_digests_verified() {
            return invalid("signature verification failed");
        }
        if let VerifyResult::Valid { references, .. } = r {
            let one_wanted = matches!(references.as_slice(),
                [only] if only.resolved_node.is_some() && wanted.contains(&only.uri));
            if !one_wanted {
                return invalid("signature verification failed");
            }
        } else {
            return invalid("signature verification failed");
        }
    }
    read_assertion(root, assertion, issuer, now)
}

/// Read the (verified) assertion and apply the SAML rules.
fn read_assertion(
    root: Node<'_, '_>,
    a: Node<'_, '_>,
    expected_issuer: &str,
    now: i64,
) -> Result<Assertion, SamlError> {
    if a.attribute("Version") != Some("2.0") {
        return invalid("not a SAML 2.0 assertion");
    }
    let issuer =
        text(child(a, NS_ASSERTION, "Issuer").ok_or(SamlError::Invalid("no Issuer".into()))?)?;
    if issuer.trim() != expected_issuer {
        return invalid("Issuer not present in specified provider");
    }
    if let Some(ri) = child(root, NS_ASSERTION, "Issuer")
        && text(ri)?.trim() != expected_issuer
    {
        return invalid("Issuer not present in specified provider");
    }
    let subject =
        child(a, NS_ASSERTION, "Subject").ok_or(SamlError::Invalid("no Subject".into()))?;
    let name_id =
        child(subject, NS_ASSERTION, "NameID").ok_or(SamlError::Invalid("no NameID".into()))?;
    let sub = text(name_id)?.trim().to_string();
    if sub.is_empty() {
        return invalid("empty NameID");
    }
    let format = name_id
        .attribute("Format")
        .unwrap_or("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
    let subject_type = format
        .strip_prefix("urn:oasis:names:tc:SAML:2.0:nameid-format:")
        .unwrap_or(format)
        .to_string();
    let confs: Vec<Node<'_, '_>> = children(subject, NS_ASSERTION, "SubjectConfirmation")
        .filter(|c| c.attribute("Method") == Some("urn:oasis:names:tc:SAML:2.0:cm:bearer"))
        .collect();
    let &[conf] = confs.as_slice() else {
        return invalid("exactly one bearer SubjectConfirmation is required");
    };
    let data = child(conf, NS_ASSERTION, "SubjectConfirmationData")
        .ok_or(SamlError::Invalid("no SubjectConfirmationData".into()))?;
    let recipient = data.attribute("Recipient").unwrap_or_default();
    if !is_aws_saml_endpoint(recipient) {
        return invalid("Response does not contain the required recipient");
    }
    let scd_nooa =
        data.attribute("NotOnOrAfter")
            .and_then(parse_time)
            .ok_or(SamlError::Invalid(
                "SubjectConfirmationData has no NotOnOrAfter".into(),
            ))?;
    if now >= scd_nooa + LEEWAY {
        return Err(SamlError::Expired("Token expired".into()));
    }
    if scd_nooa > now + MAX_ASSERTION_LIFETIME {
        return invalid("NotOnOrAfter lies too far in the future");
    }
    if let Some(nb) = data.attribute("NotBefore") {
        let nb = parse_time(nb).ok_or(SamlError::Invalid("bad NotBefore".into()))?;
        if nb > now + LEEWAY {
            return Err(SamlError::Expired("Token not yet valid".into()));
        }
    }
    let conditions =
        child(a, NS_ASSERTION, "Conditions").ok_or(SamlError::Invalid("no Conditions".into()))?;
    let mut not_on_or_after = scd_nooa;
    if let Some(t) = conditions.attribute("NotOnOrAfter") {
        let t = parse_time(t).ok_or(SamlError::Invalid("bad NotOnOrAfter".into()))?;
        if now >= t + LEEWAY {
            return Err(SamlError::Expired("Token expired".into()));
        }
        not_on_or_after = not_on_or_after.min(t);
    }
    if let Some(t) = conditions.attribute("NotBefore") {
        let t = parse_time(t).ok_or(SamlError::Invalid("bad NotBefore".into()))?;
        if t > now + LEEWAY {
            return Err(SamlError::Expired("Token not yet valid".into()));
        }
    }
    let mut restrictions = 0;
    for ar in children(conditions, NS_ASSERTION, "AudienceRestriction") {
        restrictions += 1;
        let mut ok = false;
        for aud in children(ar, NS_ASSERTION, "Audience") {
            let aud = text(aud)?;
            if aud.trim() == AWS_SP_ENTITY_ID || is_aws_saml_endpoint(aud.trim()) {
                ok = true;
            }
        }
        if !ok {
            return invalid("Response does not contain the required audience");
        }
    }
    if restrictions == 0 {
        return invalid("Response does not contain the required audience");
    }
    let session_not_on_or_after = match child(a, NS_ASSERTION, "AuthnStatement")
        .and_then(|s| s.attribute("SessionNotOnOrAfter"))
    {
        Some(t) => Some(parse_time(t).ok_or(SamlError::Invalid("bad SessionNotOnOrAfter".into()))?),
        None => None,
    };
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for st in children(a, NS_ASSERTION, "AttributeStatement") {
        for at in children(st, NS_ASSERTION, "Attribute") {
            let name = at.attribute("Name").unwrap_or_default().to_string();
            let mut values = Vec::new();
            for v in children(at, NS_ASSERTION, "AttributeValue") {
                values.push(text(v)?);
            }
            match attributes.iter_mut().find(|(n, _)| *n == name) {
                Some((_, vs)) => vs.extend(values),
                None => attributes.push((name, values)),
            }
        }
    }
    Ok(Assertion {
        id: a.attribute("ID").unwrap_or_default().to_string(),
        issuer: issuer.trim().to_string(),
        subject: sub,
        subject_type,
        recipient: recipient.to_string(),
        not_on_or_after,
        session_not_on_or_after,
        attributes,
    })
}

/// `saml:*` directory keys from well-known attribute names (reference §4.7.4).
pub fn directory_key(name: &str) -> Option<&'static str> {
    const EDU: &str = "urn:oid:1.3.6.1.4.1.5923.1.1.1.";
    const EDU_ORG: &str = "urn:oid:1.3.6.1.4.1.5923.1.2.1.";
    if let Some(n) = name.strip_prefix(EDU) {
        return Some(match n {
            "1" => "eduPersonAffiliation",
            "2" => "eduPersonNickname",
            "3" => "eduPersonOrgDN",
            "4" => "eduPersonOrgUnitDN",
            "5" => "eduPersonPrimaryAffiliation",
            "6" => "eduPersonPrincipalName",
            "7" => "eduPersonEntitlement",
            "8" => "eduPersonPrimaryOrgUnitDN",
            "9" => "eduPersonScopedAffiliation",
            "10" => "eduPersonTargetedID",
            "11" => "eduPersonAssurance",
            _ => return None,
        });
    }
    if let Some(n) = name.strip_prefix(EDU_ORG) {
        return Some(match n {
            "2" => "eduOrgHomePageURI",
            "3" => "eduOrgIdentityAuthNPolicyURI",
            "4" => "eduOrgLegalName",
            "5" => "eduOrgSuperiorURI",
            "6" => "eduOrgWhitePagesURI",
            _ => return None,
        });
    }
    Some(match name {
        "urn:oid:2.5.4.3" => "cn",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name" => "name",
        "http://schemas.xmlsoap.org/claims/CommonName" => "commonName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname" => "givenName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname" => "surname",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress" => "mail",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarygroupsid" => "uid",
        "urn:oid:2.5.4.4" => "surname",
        "urn:oid:2.4.5.42" => "givenName",
        "urn:oid:2.5.4.45" => "x500UniqueIdentifier",
        "urn:oid:0.9.2342.19200300100.1.1" => "uid",
        "urn:oid:0.9.2342.19200300100.1.3" => "mail",
        "urn:oid:0.9.2342.19200300.100.1.45" => "organizationStatus",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn namequalifier_formula() {
        // Base64(SHA1("https://example.com/saml" + "123456789012" + "/MySAMLIdP")).
        let nq = name_qualifier("https://example.com/saml", "123456789012", "MySAMLIdP");
        let mut h = Sha1::new();
        h.update(b"https://example.com/saml123456789012/MySAMLIdP");
        assert_eq!(nq, data_encoding::BASE64.encode(&h.finalize()));
    }

    #[test]
    fn dtd_refused() {
        assert!(has_dtd(
            "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x/>"
        ));
        assert!(has_dtd("<!doctype x><x/>"));
        assert!(!has_dtd("<x><!-- c --></x>"));
        let b64 = data_encoding::BASE64.encode(b"<!DOCTYPE x><x/>");
        assert!(matches!(
            verify_response(&b64, &[], "i", 0),
            Err(SamlError::Invalid(_))
        ));
    }

    fn nested(depth: usize) -> String {
        format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth))
    }

    #[test]
    fn nesting_is_measured_without_recursion() {
        assert!(nesting_within(&nested(MAX_XML_DEPTH), MAX_XML_DEPTH));
        assert!(!nesting_within(&nested(MAX_XML_DEPTH + 1), MAX_XML_DEPTH));
        // Empty elements, comments, CDATA and attribute values do not count as levels.
        let flat = format!(
            "<r a='&lt;b&gt;'>{}<!-- <x><x><x> --><![CDATA[<y><y>]]></r>",
            "<e/>".repeat(10_000)
        );
        assert!(nesting_within(&flat, 2));
        // Unreadable input is refused rather than handed on.
        assert!(!nesting_within("<a><", 64));
    }

    /// Deep documents get a clean refusal on a small stack (a recursive parser would overflow it).
    #[test]
    fn deep_documents_are_refused_on_a_small_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                for depth in [100, 5_000, 200_000] {
                    let doc = nested(depth);
                    let b64 = data_encoding::BASE64.encode(doc.as_bytes());
                    assert!(verify_response(&b64, &[], "i", 0).is_err());
                    assert!(parse_metadata(&doc).is_err());
                    let md = format!(
                        "<EntityDescriptor xmlns='urn:oasis:names:tc:SAML:2.0:metadata' entityID='e'>{}</EntityDescriptor>",
                        nested(depth)
                    );
                    assert!(parse_metadata(&md).is_err());
                }
            })
            .unwrap();
        handle.join().unwrap();
    }

    #[test]
    fn aws_saml_endpoints() {
        for ok in [
            "https://signin.aws.amazon.com/saml",
            "https://signin.aws.amazon.com/static/saml",
            "https://us-east-1.signin.aws.amazon.com/saml",
            "https://eu-central-2.signin.aws.amazon.com/saml",
            "https://us-gov-west-1.signin.aws.amazon.com/static/saml",
        ] {
            assert!(is_aws_saml_endpoint(ok), "{ok}");
        }
        for bad in [
            "http://signin.aws.amazon.com/saml",
            "https://signin.aws.amazon.com/saml/",
            "https://evil.example/signin.aws.amazon.com/saml",
            "https://x.signin.aws.amazon.com/saml",
            "https://us-east-1.evil.signin.aws.amazon.com/saml",
            "https://US-EAST-1.signin.aws.amazon.com/saml",
            "https://us-east-1.signin.aws.amazon.com.evil/saml",
            "https://signin.aws.amazon.com",
        ] {
            assert!(!is_aws_saml_endpoint(bad), "{bad}");
        }
    }

    #[test]
    fn metadata_rejects_garbage() {
        assert!(parse_metadata("<x/>").is_err());
        assert!(
            parse_metadata(
                "<EntityDescriptor xmlns='urn:oasis:names:tc:SAML:2.0:metadata' entityID='e'/>"
            )
            .is_err()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn response_path_never_panics(s in ".{0,2000}") {
            let _ = verify_response(&s, &[], "issuer", 0);
            let b64 = data_encoding::BASE64.encode(s.as_bytes());
            let _ = verify_response(&b64, &[], "issuer", 0);
            let _ = parse_metadata(&s);
        }

        #[test]
        fn xmlish_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' xmlns:saml='urn:oasis:names:tc:SAML:2.0:assertion' ID='r' Version='2.0'>".to_string()),
            Just("</samlp:Response>".to_string()),
            Just("<saml:Assertion ID='a' Version='2.0'>".to_string()),
            Just("</saml:Assertion>".to_string()),
            Just("<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'><ds:SignedInfo><ds:Reference URI='#a'/></ds:SignedInfo></ds:Signature>".to_string()),
            Just("<saml:Issuer>issuer</saml:Issuer>".to_string()),
            "[a-z<>/='\" ]{0,20}",
        ], 0..20)) {
            let doc = parts.concat();
            let b64 = data_encoding::BASE64.encode(doc.as_bytes());
            let _ = verify_response(&b64, &[], "issuer", 0);
        }
    }
}
