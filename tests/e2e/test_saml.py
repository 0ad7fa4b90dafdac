"""SAML federation: IAM SAML providers and AssumeRoleWithSAML.

SAML responses are built with lxml and signed by an independent XML-DSig implementation (Python's signxml,
exclusive C14N, RSA-SHA256) with a key and self-signed certificate made here; the IdP metadata is built here
too. Every forgery (tampering, signature wrapping, wrong key/issuer/audience, expiry, DTDs) must be refused.
"""

import base64
import copy
import datetime
import hashlib
import json
import uuid

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, methods

from conftest import ACCOUNT_ID, error_code, raw_call, unique

NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
AWS_SAML = "https://signin.aws.amazon.com/saml"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def P(tag):
    return f"{{{NS_P}}}{tag}"


def A(tag):
    return f"{{{NS_A}}}{tag}"


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class IdP:
    """A test identity provider: an RSA key, a self-signed certificate, metadata and signed responses."""

    def __init__(self, entity_id=None):
        self.entity_id = entity_id or f"https://idp.example.test/{uuid.uuid4().hex[:8]}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stsd test idp")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )
        self.key_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def metadata(self):
        der = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{NS_MD}" xmlns:ds="{NS_DS}" entityID="{self.entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="{NS_P}">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{self.entity_id}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""

    def assertion(self, role_arn, provider_arn, subject="alice@example.test", audience=AWS_SAML,
                  recipient=AWS_SAML, issuer=None, lifetime=300, attrs=None, session_name="alice"):
        now = datetime.datetime.now(datetime.timezone.utc)
        later = now + datetime.timedelta(seconds=lifetime)
        a = etree.Element(A("Assertion"), nsmap={"saml": NS_A},
                          ID="_" + uuid.uuid4().hex, Version="2.0", IssueInstant=iso(now))
        etree.SubElement(a, A("Issuer")).text = issuer or self.entity_id
        subj = etree.SubElement(a, A("Subject"))
        nid = etree.SubElement(subj, A("NameID"), Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
        nid.text = subject
        sc = etree.SubElement(subj, A("SubjectConfirmation"), Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
        etree.SubElement(sc, A("SubjectConfirmationData"), NotOnOrAfter=iso(later), Recipient=recipient)
        cond = etree.SubElement(a, A("Conditions"), NotBefore=iso(now - datetime.timedelta(seconds=60)),
                                NotOnOrAfter=iso(later))
        ar = etree.SubElement(cond, A("AudienceRestriction"))
        etree.SubElement(ar, A("Audience")).text = audience
        authn = etree.SubElement(a, A("AuthnStatement"), AuthnInstant=iso(now))
        ctx = etree.SubElement(authn, A("AuthnContext"))
        etree.SubElement(ctx, A("AuthnContextClassRef")).text = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
        st = etree.SubElement(a, A("AttributeStatement"))
        values = {ATTR + "Role": [f"{role_arn},{provider_arn}"], ATTR + "RoleSessionName": [session_name]}
        values.update(attrs or {})
        for name, vals in values.items():
            at = etree.SubElement(st, A("Attribute"), Name=name)
            for v in vals:
                etree.SubElement(at, A("AttributeValue")).text = v
        return a

    def sign(self, elem, key_pem=None, cert_pem=None):
        """Enveloped RSA-SHA256 signature over `elem` (by ID), exclusive C14N, placed after its Issuer."""
        issuer = elem.find(A("Issuer"))
        placeholder = etree.Element(f"{{{NS_DS}}}Signature", Id="placeholder", nsmap={"ds": NS_DS})
        issuer.addnext(placeholder)
        signer = XMLSigner(method=methods.enveloped, signature_algorithm="rsa-sha256",
                           digest_algorithm="sha256", c14n_algorithm=EXC_C14N)
        return signer.sign(elem, key=key_pem or self.key_pem, cert=cert_pem or self.cert_pem,
                           reference_uri=elem.get("ID"))

    def response(self, assertion, issuer=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        r = etree.Element(P("Response"), nsmap={"samlp": NS_P, "saml": NS_A},
                          ID="_" + uuid.uuid4().hex, Version="2.0", IssueInstant=iso(now), Destination=AWS_SAML)
        etree.SubElement(r, A("Issuer")).text = issuer or self.entity_id
        status = etree.SubElement(r, P("Status"))
        etree.SubElement(status, P("StatusCode"), Value="urn:oasis:names:tc:SAML:2.0:status:Success")
        if assertion is not None:
            r.append(assertion)
        return r


def encode(elem):
    if isinstance(elem, (bytes, str)):
        data = elem.encode() if isinstance(elem, str) else elem
    else:
        data = etree.tostring(elem)
    return base64.b64encode(data).decode()


def reparse(elem):
    return etree.fromstring(etree.tostring(elem))


@pytest.fixture(scope="module")
def fed(server, iam):
    idp = IdP()
    name = unique("idp")
    provider = iam.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    role_name = unique("saml-role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
            "Condition": {"StringEquals": {"SAML:aud": AWS_SAML}},
        }],
    }
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    return {"idp": idp, "provider": provider, "name": name, "role": role, "sts": server.client("sts"),
            "server": server, "iam": iam}


def assume(fed, response, role=None, provider=None, **kw):
    return fed["sts"].assume_role_with_saml(
        RoleArn=role or fed["role"], PrincipalArn=provider or fed["provider"], SAMLAssertion=encode(response), **kw
    )


def signed_response(fed, **kw):
    idp = fed["idp"]
    return idp.response(idp.sign(idp.assertion(fed["role"], fed["provider"], **kw)))


def refused(fed, response, code="InvalidIdentityToken", **kw):
    with pytest.raises(ClientError) as e:
        assume(fed, response, **kw)
    assert error_code(e) == code, e.value.response
    return e


# ---- provider API -------------------------------------------------------------------------------------------


def test_provider_lifecycle(iam):
    idp = IdP()
    name = unique("lifecycle")
    arn = iam.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata(),
                                   Tags=[{"Key": "team", "Value": "id"}])["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/{name}"
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == idp.metadata()
    assert {"Key": "team", "Value": "id"} in got["Tags"]
    assert arn in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata())
    assert error_code(e) == "EntityAlreadyExists"
    other = IdP()
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=other.metadata())["SAMLProviderArn"] == arn
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == other.metadata()
    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "env", "Value": "test"}])
    keys = {t["Key"] for t in iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"]}
    assert keys == {"team", "env"}
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["team"])
    assert [t["Key"] for t in iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"]] == ["env"]
    iam.delete_saml_provider(SAMLProviderArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_saml_provider(SAMLProviderArn=arn)
    assert error_code(e) == "NoSuchEntity"


@pytest.mark.parametrize("doc", [
    "<notmetadata/>" + " " * 1000,
    "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'>" + " " * 1000
    + "</md:EntityDescriptor>",
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
    "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='&e;'>" + " " * 1000
    + "</md:EntityDescriptor>",
    "x" * 1200,
])
def test_bad_metadata_refused(iam, doc):
    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name=unique("bad"), SAMLMetadataDocument=doc)
    assert error_code(e) == "InvalidInput"
    assert "Could not parse metadata" in e.value.response["Error"]["Message"]


def test_bad_certificate_in_metadata_refused(iam):
    doc = IdP().metadata()
    start = doc.index("<ds:X509Certificate>") + len("<ds:X509Certificate>")
    doc = doc[:start] + "AAAA" + doc[start + 4:]
    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name=unique("bad"), SAMLMetadataDocument=doc)
    assert error_code(e) == "InvalidInput"


def test_short_metadata_is_validation_error(server):
    st, text = raw_call(server, "iam", {"Action": "CreateSAMLProvider", "Version": "2010-05-08",
                                        "Name": unique("short"), "SAMLMetadataDocument": "<x/>"})
    assert st == 400 and "<Code>ValidationError</Code>" in text, text


# ---- AssumeRoleWithSAML -------------------------------------------------------------------------------------


def test_assume_role_with_saml(fed):
    attrs = {
        ATTR + "PrincipalTag:Department": ["Engineering"],
        ATTR + "PrincipalTag:CostCenter": ["1234"],
        ATTR + "TransitiveTagKeys": ["CostCenter"],
        ATTR + "SourceIdentity": ["alice"],
        ATTR + "SessionDuration": ["1800"],
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["staff", "member"],
    }
    r = assume(fed, signed_response(fed, attrs=attrs, session_name="alice.session"), DurationSeconds=3600)
    creds = r["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    life = (creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 1700 < life <= 1800  # SessionDuration shortens DurationSeconds
    role_name = fed["role"].split("/")[-1]
    assert r["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/alice.session"
    assert r["Subject"] == "alice@example.test"
    assert r["SubjectType"] == "persistent"
    assert r["Issuer"] == fed["idp"].entity_id
    assert r["Audience"] == AWS_SAML
    expected_nq = base64.b64encode(
        hashlib.sha1((fed["idp"].entity_id + ACCOUNT_ID + "/" + fed["name"]).encode()).digest()
    ).decode()
    assert r["NameQualifier"] == expected_nq
    assert r["SourceIdentity"] == "alice"
    assert r["PackedPolicySize"] > 0  # session tags
    session = fed["server"].client("sts", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                                   token=creds["SessionToken"])
    assert session.get_caller_identity()["Arn"] == r["AssumedRoleUser"]["Arn"]


def test_response_level_signature(fed):
    idp = fed["idp"]
    response = idp.response(idp.assertion(fed["role"], fed["provider"]))
    signed = idp.sign(response)
    r = assume(fed, signed)
    assert r["Subject"] == "alice@example.test"


def test_provider_role_pair_in_either_order(fed):
    idp = fed["idp"]
    a = idp.assertion(fed["role"], fed["provider"], attrs={ATTR + "Role": [f"{fed['provider']},{fed['role']}"]})
    assert assume(fed, idp.response(idp.sign(a)))["Subject"] == "alice@example.test"


def test_replay_refused(fed):
    response = signed_response(fed)
    assume(fed, response)
    refused(fed, response)


def test_replay_refused_after_restart(fresh_server):
    """The replay guard is durable: a restarted server still refuses an assertion it already traded."""
    iam = fresh_server.client("iam")
    idp = IdP()
    provider = iam.create_saml_provider(Name="Okta", SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": provider},
                                                    "Action": "sts:AssumeRoleWithSAML"}]}
    role = iam.create_role(RoleName="saml-restart", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    response = idp.response(idp.sign(idp.assertion(role, provider)))
    fed = {"sts": fresh_server.client("sts"), "role": role, "provider": provider}
    assume(fed, response)
    fresh_server.restart()
    fed["sts"] = fresh_server.client("sts")
    refused(fed, response)
    # A new assertion from the same IdP still works.
    assert assume(fed, idp.response(idp.sign(idp.assertion(role, provider))))["Credentials"]["AccessKeyId"]


def test_assertion_valid_for_years_refused(fed):
    """A bearer assertion valid for ten years could be replayed by anyone who ever saw it: refused."""
    refused(fed, signed_response(fed, lifetime=10 * 365 * 86400))
    # A day is the most an assertion may still be valid for.
    refused(fed, signed_response(fed, lifetime=86400 + 600))
    assert assume(fed, signed_response(fed, lifetime=3600))["Credentials"]["AccessKeyId"]


@pytest.mark.parametrize("endpoint", [
    "https://us-east-1.signin.aws.amazon.com/saml",
    "https://eu-central-1.signin.aws.amazon.com/saml",
    "https://signin.aws.amazon.com/static/saml",
])
def test_regional_sign_in_endpoint_accepted(fed, endpoint):
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": fed["provider"]}, "Action": "sts:AssumeRoleWithSAML",
        "Condition": {"StringEquals": {"SAML:aud": endpoint}}}]}
    role = fed["iam"].create_role(RoleName=unique("regional"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    idp = fed["idp"]
    response = idp.response(idp.sign(idp.assertion(role, fed["provider"], recipient=endpoint, audience=endpoint)))
    r = assume(fed, response, role=role)
    assert r["Audience"] == endpoint


def test_lookalike_sign_in_endpoint_refused(fed):
    for bad in ["https://us-east-1.signin.aws.amazon.com.evil.test/saml",
                "https://evil.test/us-east-1.signin.aws.amazon.com/saml",
                "https://x.signin.aws.amazon.com/saml"]:
        refused(fed, signed_response(fed, recipient=bad))


def test_tampered_attribute_refused(fed):
    signed = signed_response(fed)
    for v in signed.iter(A("AttributeValue")):
        if v.text == "alice":
            v.text = "mallory"
    refused(fed, signed)


def test_tampered_subject_refused(fed):
    signed = signed_response(fed)
    signed.find(f".//{A('NameID')}").text = "admin@example.test"
    refused(fed, signed)


def test_unsigned_refused(fed):
    idp = fed["idp"]
    refused(fed, idp.response(idp.assertion(fed["role"], fed["provider"])))


def test_signed_by_another_key_refused(fed):
    idp, rogue = fed["idp"], IdP(entity_id=fed["idp"].entity_id)
    a = idp.assertion(fed["role"], fed["provider"])
    refused(fed, idp.response(idp.sign(a, key_pem=rogue.key_pem, cert_pem=rogue.cert_pem)))


def evil_assertion(fed):
    idp = fed["idp"]
    return idp.assertion(fed["role"], fed["provider"], subject="admin@example.test", session_name="admin")


def test_xsw_extra_unsigned_assertion_before(fed):
    idp = fed["idp"]
    signed = idp.sign(idp.assertion(fed["role"], fed["provider"]))
    r = idp.response(evil_assertion(fed))
    r.append(signed)
    refused(fed, r)


def test_xsw_extra_unsigned_assertion_after(fed):
    idp = fed["idp"]
    r = idp.response(idp.sign(idp.assertion(fed["role"], fed["provider"])))
    r.append(evil_assertion(fed))
    refused(fed, r)


def test_xsw_signed_assertion_moved_into_extensions(fed):
    idp = fed["idp"]
    signed = idp.sign(idp.assertion(fed["role"], fed["provider"]))
    evil = evil_assertion(fed)
    evil.set("ID", signed.get("ID") + "x")
    r = idp.response(evil)
    ext = etree.Element(P("Extensions"))
    r.find(A("Issuer")).addnext(ext)
    ext.append(signed)
    refused(fed, r)


def test_xsw_signed_assertion_moved_into_signature_object(fed):
    idp = fed["idp"]
    signed = idp.sign(idp.assertion(fed["role"], fed["provider"]))
    sig = signed.find(f"{{{NS_DS}}}Signature")
    evil = evil_assertion(fed)
    evil.set("ID", signed.get("ID"))
    # The evil assertion carries the real signature, whose Object holds the original signed assertion.
    original = copy.deepcopy(signed)
    original.remove(original.find(f"{{{NS_DS}}}Signature"))
    obj = etree.SubElement(sig, f"{{{NS_DS}}}Object")
    obj.append(original)
    evil.find(A("Issuer")).addnext(sig)
    refused(fed, idp.response(evil))


def test_xsw_response_signature_with_assertion_swapped(fed):
    idp = fed["idp"]
    signed = idp.sign(idp.response(idp.assertion(fed["role"], fed["provider"])))
    signed = reparse(signed)
    old = signed.find(A("Assertion"))
    signed.replace(old, evil_assertion(fed))
    refused(fed, signed)


def test_signature_must_reference_its_parent_by_id(fed):
    # Genuinely signed by the IdP's key, but the Response's signature covers the Assertion (or both).
    idp = fed["idp"]
    for refs in (lambda r, a: [a], lambda r, a: [r, a]):
        response = idp.response(idp.assertion(fed["role"], fed["provider"]))
        response.find(A("Issuer")).addnext(
            etree.Element(f"{{{NS_DS}}}Signature", Id="placeholder", nsmap={"ds": NS_DS}))
        signer = XMLSigner(method=methods.enveloped, signature_algorithm="rsa-sha256", digest_algorithm="sha256",
                           c14n_algorithm=EXC_C14N)
        uris = refs(response.get("ID"), response.find(A("Assertion")).get("ID"))
        signed = signer.sign(response, key=idp.key_pem, cert=idp.cert_pem, reference_uri=uris)
        assert [r.get("URI") for r in signed.iter(f"{{{NS_DS}}}Reference")] == ["#" + u for u in uris]
        e = refused(fed, signed)
        assert "Reference" in e.value.response["Error"]["Message"]


def test_every_signature_must_verify(fed):
    # A valid assertion signature does not excuse a bad one elsewhere (here: the Response signed by a rogue key).
    idp, rogue = fed["idp"], IdP(entity_id=fed["idp"].entity_id)
    response = idp.response(idp.sign(idp.assertion(fed["role"], fed["provider"])))
    refused(fed, idp.sign(response, key_pem=rogue.key_pem, cert_pem=rogue.cert_pem))


def test_both_levels_signed(fed):
    idp = fed["idp"]
    response = idp.sign(idp.response(idp.sign(idp.assertion(fed["role"], fed["provider"]))))
    assert assume(fed, response)["Subject"] == "alice@example.test"


def test_comment_in_name_id_does_not_truncate_it(fed):
    # Exclusive C14N drops comments, so a comment can be added after signing; the subject must stay whole.
    idp = fed["idp"]
    signed = idp.sign(idp.assertion(fed["role"], fed["provider"], subject="bob@example.test.evil.test"))
    nid = signed.find(f".//{A('NameID')}")
    nid.text = "bob@example.test"
    comment = etree.Comment("x")
    comment.tail = ".evil.test"
    nid.append(comment)
    assert assume(fed, idp.response(signed))["Subject"] == "bob@example.test.evil.test"


def test_expired_refused(fed):
    idp = fed["idp"]
    a = idp.assertion(fed["role"], fed["provider"], lifetime=-3600)
    refused(fed, idp.response(idp.sign(a)), code="ExpiredTokenException")


def test_wrong_audience_refused(fed):
    refused(fed, signed_response(fed, audience="https://sp.example.test/other"))


def test_wrong_recipient_refused(fed):
    refused(fed, signed_response(fed, recipient="https://sp.example.test/acs"))


def test_wrong_issuer_refused(fed):
    refused(fed, signed_response(fed, issuer="https://evil.example.test/idp"))


def test_doctype_refused(fed):
    xml = etree.tostring(signed_response(fed)).decode()
    payload = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "alice">]>' + xml
    refused(fed, payload)


def test_garbage_refused(fed):
    refused(fed, b"this is not xml at all")


def test_unknown_provider(fed):
    refused(fed, signed_response(fed), provider=f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/{unique('nope')}")


def test_role_pair_missing_is_access_denied(fed, iam):
    idp = fed["idp"]
    other = iam.create_role(RoleName=unique("other"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": fed["provider"]},
                       "Action": "sts:AssumeRoleWithSAML"}],
    }))["Role"]["Arn"]
    # The assertion only grants fed["role"].
    refused(fed, idp.response(idp.sign(idp.assertion(fed["role"], fed["provider"]))), code="AccessDenied", role=other)


def test_trust_conditions_on_saml_keys(fed, iam):
    idp = fed["idp"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": fed["provider"]},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"saml:aud": AWS_SAML, "saml:sub": "bob@example.test",
                                           "saml:iss": idp.entity_id,
                                           "saml:doc": f"{ACCOUNT_ID}/{fed['name']}"}},
        }],
    }
    role = iam.create_role(RoleName=unique("cond"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    def response(subject):
        return idp.response(idp.sign(idp.assertion(role, fed["provider"], subject=subject, session_name="bob")))

    assert assume(fed, response("bob@example.test"), role=role)["Subject"] == "bob@example.test"
    refused(fed, response("alice@example.test"), code="AccessDenied", role=role)


def test_tags_need_tag_session(fed, iam):
    idp = fed["idp"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": fed["provider"]},
                       "Action": "sts:AssumeRoleWithSAML"}],
    }
    role = iam.create_role(RoleName=unique("notag"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    plain = idp.response(idp.sign(idp.assertion(role, fed["provider"])))
    assert assume(fed, plain, role=role)["Subject"]
    tagged = idp.response(idp.sign(idp.assertion(role, fed["provider"], attrs={ATTR + "PrincipalTag:x": ["y"]})))
    refused(fed, tagged, code="AccessDenied", role=role)
