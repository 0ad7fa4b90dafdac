"""No request can take stsd down (issue #17): documents nested far deeper than any parser should recurse are
refused with the action's own AWS error, and the server keeps answering afterwards.

Every test sends the hostile request to the running binary, then proves the process is alive and serving
(a signed GetCallerIdentity succeeds and the process has not exited)."""

import base64
import json
import urllib.request

import pytest

from conftest import ACCOUNT_ID, new_user_with_key, raw_call, unique

IAM = "2010-05-08"
STS = "2011-06-15"


def nested_json(depth):
    return "[" * depth + "]" * depth


def nested_xml(depth, tag="a"):
    return f"<{tag}>" * depth + f"</{tag}>" * depth


def assert_alive(server):
    assert server.proc.poll() is None, f"stsd exited: {server.stderr()[-2000:]}"
    st, text = raw_call(server, "sts", {"Action": "GetCallerIdentity", "Version": STS})
    assert st == 200 and ACCOUNT_ID in text, text


def role_trusting_account(iam, prefix):
    role = unique(prefix)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                       "Action": "sts:AssumeRole"}]}))
    return role


def code_of(text):
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


@pytest.fixture(scope="module")
def saml_provider(server):
    from test_saml import IdP

    iam = server.client("iam")
    return iam.create_saml_provider(Name=unique("Okta"), SAMLMetadataDocument=IdP().metadata())["SAMLProviderArn"]


@pytest.mark.parametrize("depth", [2_000, 5_000, 10_000])
def test_deeply_nested_saml_assertion(server, saml_provider, depth):
    doc = nested_xml(depth)
    st, text = raw_call(server, "sts", {
        "Action": "AssumeRoleWithSAML", "Version": STS,
        "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/anything", "PrincipalArn": saml_provider,
        "SAMLAssertion": base64.b64encode(doc.encode()).decode(),
    })
    assert st == 400 and code_of(text) == "InvalidIdentityToken", text
    assert_alive(server)


def test_deeply_nested_saml_response_shape(server, saml_provider):
    """A real Response/Assertion envelope with the nesting inside an attribute value."""
    inner = nested_xml(9_000, "x")
    doc = ("<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' "
           "xmlns:saml='urn:oasis:names:tc:SAML:2.0:assertion' ID='r' Version='2.0'>"
           f"<saml:Assertion ID='a' Version='2.0'>{inner}</saml:Assertion></samlp:Response>")
    st, text = raw_call(server, "sts", {
        "Action": "AssumeRoleWithSAML", "Version": STS,
        "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/anything", "PrincipalArn": saml_provider,
        "SAMLAssertion": base64.b64encode(doc.encode()).decode(),
    })
    assert st == 400 and code_of(text) == "InvalidIdentityToken", text
    assert_alive(server)


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deeply_nested_saml_metadata(server, saml_provider, depth):
    md = ("<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='https://idp.test'>"
          f"{nested_xml(depth)}</md:EntityDescriptor>")
    st, text = raw_call(server, "iam", {"Action": "CreateSAMLProvider", "Version": IAM,
                                        "Name": unique("deep"), "SAMLMetadataDocument": md})
    assert st == 400 and code_of(text) == "InvalidInput", text
    assert_alive(server)
    st, text = raw_call(server, "iam", {"Action": "UpdateSAMLProvider", "Version": IAM,
                                        "SAMLProviderArn": saml_provider, "SAMLMetadataDocument": md})
    assert st == 400 and code_of(text) == "InvalidInput", text
    assert_alive(server)


@pytest.fixture(scope="module")
def role_and_user(server):
    iam = server.client("iam")
    role = role_trusting_account(iam, "deep-role")
    user = unique("deep-user")
    iam.create_user(UserName=user)
    group = unique("deep-group")
    iam.create_group(GroupName=group)
    arn = iam.create_policy(PolicyName=unique("deep-pol"), PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Policy"]["Arn"]
    return {"role": role, "user": user, "group": group, "policy": arn}


DEEP = nested_json(100_000)
DEEP_OBJ = '{"a":' * 50_000 + "1" + "}" * 50_000


@pytest.mark.parametrize("doc", [DEEP, DEEP_OBJ], ids=["arrays", "objects"])
@pytest.mark.parametrize("call", [
    # identity policies
    lambda r, d: ("iam", {"Action": "PutUserPolicy", "UserName": r["user"], "PolicyName": "p", "PolicyDocument": d}),
    lambda r, d: ("iam", {"Action": "PutRolePolicy", "RoleName": r["role"], "PolicyName": "p", "PolicyDocument": d}),
    lambda r, d: ("iam", {"Action": "PutGroupPolicy", "GroupName": r["group"], "PolicyName": "p", "PolicyDocument": d}),
    lambda r, d: ("iam", {"Action": "CreatePolicy", "PolicyName": unique("p"), "PolicyDocument": d}),
    lambda r, d: ("iam", {"Action": "CreatePolicyVersion", "PolicyArn": r["policy"], "PolicyDocument": d}),
    # trust policies
    lambda r, d: ("iam", {"Action": "CreateRole", "RoleName": unique("r"), "AssumeRolePolicyDocument": d}),
    lambda r, d: ("iam", {"Action": "UpdateAssumeRolePolicy", "RoleName": r["role"], "PolicyDocument": d}),
    # session policies
    lambda r, d: ("sts", {"Action": "AssumeRole", "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{r['role']}",
                          "RoleSessionName": "s", "Policy": d}),
    lambda r, d: ("sts", {"Action": "GetFederationToken", "Name": "fed", "Policy": d}),
    # the simulator and context-key readers (identity, boundary and resource policies)
    lambda r, d: ("iam", {"Action": "SimulateCustomPolicy", "PolicyInputList.member.1": d,
                          "ActionNames.member.1": "s3:GetObject"}),
    lambda r, d: ("iam", {"Action": "SimulateCustomPolicy", "ActionNames.member.1": "s3:GetObject",
                          "PolicyInputList.member.1": '{"Version":"2012-10-17","Statement":[]}',
                          "PermissionsBoundaryPolicyInputList.member.1": d}),
    lambda r, d: ("iam", {"Action": "SimulateCustomPolicy", "ActionNames.member.1": "s3:GetObject",
                          "PolicyInputList.member.1": '{"Version":"2012-10-17","Statement":[]}',
                          "ResourcePolicy": d}),
    lambda r, d: ("iam", {"Action": "SimulatePrincipalPolicy", "ActionNames.member.1": "s3:GetObject",
                          "PolicySourceArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{r['user']}",
                          "PolicyInputList.member.1": d}),
    lambda r, d: ("iam", {"Action": "GetContextKeysForCustomPolicy", "PolicyInputList.member.1": d}),
    lambda r, d: ("iam", {"Action": "GetContextKeysForPrincipalPolicy",
                          "PolicySourceArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{r['user']}",
                          "PolicyInputList.member.1": d}),
], ids=["PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "CreatePolicy", "CreatePolicyVersion", "CreateRole",
        "UpdateAssumeRolePolicy", "AssumeRole", "GetFederationToken", "SimulateCustomPolicy",
        "SimulateCustomPolicy-boundary", "SimulateCustomPolicy-resource", "SimulatePrincipalPolicy",
        "GetContextKeysForCustomPolicy", "GetContextKeysForPrincipalPolicy"])
def test_deeply_nested_policy_documents(server, role_and_user, call, doc):
    service, params = call(role_and_user, doc)
    params["Version"] = IAM if service == "iam" else STS
    st, text = raw_call(server, service, params)
    assert 400 <= st < 500, text
    assert code_of(text) in {"MalformedPolicyDocument", "LimitExceeded", "ValidationError", "InvalidInput",
                             "PackedPolicyTooLarge"}, text
    assert_alive(server)


def test_deeply_nested_lookup_events_body(server):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from conftest import ROOT_KEY, ROOT_SECRET

    for body in [nested_json(100_000), '{"LookupAttributes":' + nested_json(50_000) + "}"]:
        headers = {"Content-Type": "application/x-amz-json-1.1",
                   "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"}
        req = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
        SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), "cloudtrail", "us-east-1").add_auth(req)
        r = urllib.request.Request(req.url, data=body.encode(), headers=dict(req.headers), method="POST")
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        assert status == 400
        assert_alive(server)


def test_deeply_nested_query_parameter_names(server):
    """The Query decoder is flat: dotted names thousands of levels deep are just long names."""
    name = "Tags" + ".member.1" * 5_000 + ".Key"
    st, text = raw_call(server, "iam", {"Action": "CreateUser", "Version": IAM, "UserName": unique("u"),
                                        name: "k"})
    assert 400 <= st < 500 or st == 200, text
    assert_alive(server)


def test_wildcard_condition_against_a_long_user_agent(server):
    """Issue #11 point 6: a caller's own `StringLike` pattern full of `?` against a 200,000-character
    User-Agent is decided correctly both ways (no backtracking blow-up, no shortcut), and the server keeps
    answering other callers while such requests are in flight (they leave the async workers to the blocking
    pool: `server::runs_inline`)."""
    import concurrent.futures

    import boto3
    import botocore.config
    import botocore.exceptions

    iam = server.client("iam")
    role = role_trusting_account(iam, "ua-role")
    pattern = "*" + "a?" * 900 + "b*"
    _, key, secret = new_user_with_key(iam, policy={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*",
                       "Condition": {"StringLike": {"aws:UserAgent": pattern}}}]})

    def sts_with(user_agent):
        return boto3.client(
            "sts", endpoint_url=server.endpoint, region_name="us-east-1",
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=botocore.config.Config(user_agent=user_agent, retries={"max_attempts": 1}))

    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
    hostile = "a" * 200_000
    matching = "a" * 100_000 + "b" + "a" * 99_999

    def assume(ua):
        try:
            sts_with(ua).assume_role(RoleArn=role_arn, RoleSessionName="ua-session")
            return "allowed"
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        hostile_calls = [pool.submit(assume, hostile) for _ in range(4)]
        for _ in range(20):
            assert_alive(server)
        assert [f.result() for f in hostile_calls] == ["AccessDenied"] * 4
    assert assume(matching) == "allowed"
    assert assume("a" * 10) == "AccessDenied"
    assert_alive(server)
