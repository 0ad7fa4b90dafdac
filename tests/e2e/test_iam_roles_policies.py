"""Roles, managed policies with versions, inline policies, attachments, account details (issue #2)."""

import json
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, ALLOW_ALL, TRUST_ACCOUNT, error_code, raw_call, status, unique

READ_S3 = {"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}]}


def test_role_lifecycle(iam):
    name = unique("deploy")
    trust_text = json.dumps(TRUST_ACCOUNT, indent=2)  # whitespace and newlines survive the round trip
    r = iam.create_role(
        RoleName=name,
        Path="/app/",
        AssumeRolePolicyDocument=trust_text,
        Description="CI deploy role",
        MaxSessionDuration=7200,
        Tags=[{"Key": "Team", "Value": "Build Infra"}],
    )["Role"]
    assert r["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/app/{name}"
    assert r["RoleId"].startswith("AROA") and len(r["RoleId"]) == 21
    assert r["AssumeRolePolicyDocument"] == TRUST_ACCOUNT  # botocore URL-decodes and parses
    assert r["MaxSessionDuration"] == 7200
    got = iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == "CI deploy role"
    assert got["Tags"] == [{"Key": "Team", "Value": "Build Infra"}]
    iam.update_role(RoleName=name, Description="new", MaxSessionDuration=43200)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == "new" and got["MaxSessionDuration"] == 43200
    assert iam.update_role_description(RoleName=name, Description="d2")["Role"]["Description"] == "d2"
    with pytest.raises(ClientError) as e:
        iam.update_role(RoleName=name, MaxSessionDuration=43201)
    assert error_code(e) == "ValidationError"
    # botocore checks minimums itself; send the too-small value raw.
    st, text = raw_call(iam._stsd_server, "iam", {"Action": "UpdateRole", "Version": "2010-05-08", "RoleName": name, "MaxSessionDuration": "3599"})
    assert st == 400 and "<Code>ValidationError</Code>" in text and "greater than or equal to 3600" in text
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    assert error_code(e) == "EntityAlreadyExists"
    iam.tag_role(RoleName=name, Tags=[{"Key": "team", "Value": "x"}])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "team", "Value": "x"}]
    iam.untag_role(RoleName=name, TagKeys=["TEAM"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == []
    assert any(x["RoleName"] == name for x in iam.list_roles(PathPrefix="/app/")["Roles"])
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=name)
    assert error_code(e) == "NoSuchEntity"


def test_trust_policy_validation(iam):
    bad_docs = [
        # Identity policy used as trust: no principal.
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]},
        # Resource in a trust policy.
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Resource": "*"}]},
        # A user that does not exist.
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/nobody-here"}, "Action": "sts:AssumeRole"}]},
    ]
    for doc in bad_docs:
        with pytest.raises(ClientError) as e:
            iam.create_role(RoleName=unique("badtrust"), AssumeRolePolicyDocument=json.dumps(doc))
        assert error_code(e) == "MalformedPolicyDocument", doc
        assert status(e) == 400
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=unique("badjson"), AssumeRolePolicyDocument="{not json")
    assert error_code(e) == "MalformedPolicyDocument"
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": [f"id-{i:06d}" for i in range(250)]}}}]}
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=unique("bigtrust"), AssumeRolePolicyDocument=json.dumps(big))
    assert error_code(e) == "LimitExceeded"
    name = unique("trusted")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    with pytest.raises(ClientError) as e:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(bad_docs[0]))
    assert error_code(e) == "MalformedPolicyDocument"
    # Nothing changed.
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == TRUST_ACCOUNT


def test_managed_policy_versions(iam):
    name = unique("pol")
    text = json.dumps(READ_S3)
    p = iam.create_policy(PolicyName=name, PolicyDocument=text, Path="/team/", Description="reads")["Policy"]
    arn = p["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:policy/team/{name}"
    assert p["PolicyId"].startswith("ANPA") and p["DefaultVersionId"] == "v1" and p["AttachmentCount"] == 0
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName=name, PolicyDocument=text)
    assert error_code(e) == "EntityAlreadyExists"
    for i in range(2, 6):
        v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=(i == 3))["PolicyVersion"]
        assert v["VersionId"] == f"v{i}"
    with pytest.raises(ClientError) as e:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=text)
    assert error_code(e) == "LimitExceeded"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, False, True, False, False]
    with pytest.raises(ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error_code(e) == "DeleteConflict"
    iam.delete_policy_version(PolicyArn=arn, VersionId="v5")
    # IDs are not reused.
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=text)["PolicyVersion"]["VersionId"] == "v6"
    doc = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
    assert doc == READ_S3
    with pytest.raises(ClientError) as e:
        iam.get_policy_version(PolicyArn=arn, VersionId="v99")
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error_code(e) == "DeleteConflict"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    for v in ("v2", "v3", "v4", "v6"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert error_code(e) == "NoSuchEntity"


def test_policy_document_validation(iam):
    no_resource = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
    with_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    for doc in (no_resource, with_principal):
        with pytest.raises(ClientError) as e:
            iam.create_policy(PolicyName=unique("bad"), PolicyDocument=json.dumps(doc))
        assert error_code(e) == "MalformedPolicyDocument"
    role = unique("inl")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    with pytest.raises(ClientError) as e:
        iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(no_resource))
    assert error_code(e) == "MalformedPolicyDocument"
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []


def test_inline_policies_all_entities(iam):
    user, group, role = unique("iu"), unique("ig"), unique("ir")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    weird = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/100% sure +plus"}]}
    text = json.dumps(weird, indent=1)
    iam.put_user_policy(UserName=user, PolicyName="one", PolicyDocument=text)
    iam.put_group_policy(GroupName=group, PolicyName="one", PolicyDocument=text)
    iam.put_role_policy(RoleName=role, PolicyName="one", PolicyDocument=text)
    assert iam.get_user_policy(UserName=user, PolicyName="one")["PolicyDocument"] == weird
    assert iam.get_group_policy(GroupName=group, PolicyName="one")["PolicyDocument"] == weird
    r = iam.get_role_policy(RoleName=role, PolicyName="one")
    assert r["PolicyDocument"] == weird and r["RoleName"] == role
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["one"]
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["one"]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["one"]
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=role)
    assert error_code(e) == "DeleteConflict"
    iam.delete_user_policy(UserName=user, PolicyName="one")
    iam.delete_group_policy(GroupName=group, PolicyName="one")
    iam.delete_role_policy(RoleName=role, PolicyName="one")
    with pytest.raises(ClientError) as e:
        iam.get_role_policy(RoleName=role, PolicyName="one")
    assert error_code(e) == "NoSuchEntity"
    # Aggregate inline size quota for users (2048 non-whitespace characters).
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(70)]}]}
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=json.dumps(big))
    assert error_code(e) == "LimitExceeded"


def test_attachments(iam):
    pols = [iam.create_policy(PolicyName=unique("ap"), PolicyDocument=json.dumps(READ_S3))["Policy"]["Arn"] for _ in range(11)]
    user, group, role = unique("au"), unique("ag"), unique("ar")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    iam.attach_user_policy(UserName=user, PolicyArn=pols[0])
    iam.attach_group_policy(GroupName=group, PolicyArn=pols[0])
    for arn in pols[:10]:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.attach_role_policy(RoleName=role, PolicyArn=pols[10])
    assert error_code(e) == "LimitExceeded"
    assert len(iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]) == 10
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"][0]["PolicyArn"] == pols[0]
    assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"][0]["PolicyArn"] == pols[0]
    assert iam.get_policy(PolicyArn=pols[0])["Policy"]["AttachmentCount"] == 3
    ents = iam.list_entities_for_policy(PolicyArn=pols[0])
    assert [x["UserName"] for x in ents["PolicyUsers"]] == [user]
    assert [x["GroupName"] for x in ents["PolicyGroups"]] == [group]
    assert [x["RoleName"] for x in ents["PolicyRoles"]] == [role]
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=pols[0])
    assert error_code(e) == "DeleteConflict"
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName=user, PolicyArn=f"arn:aws:iam::{ACCOUNT_ID}:policy/does-not-exist")
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName=user, PolicyArn="not-an-arn-at-all-xxxxx")
    assert error_code(e) == "InvalidInput"
    iam.detach_user_policy(UserName=user, PolicyArn=pols[0])
    with pytest.raises(ClientError) as e:
        iam.detach_user_policy(UserName=user, PolicyArn=pols[0])
    assert error_code(e) == "NoSuchEntity"
    only = iam.list_policies(Scope="Local", OnlyAttached=True, MaxItems=1000)["Policies"]
    assert pols[0] in [p["Arn"] for p in only] and pols[10] not in [p["Arn"] for p in only]
    assert iam.list_policies(Scope="AWS")["Policies"] == []


def test_account_authorization_details(iam):
    role = unique("gaad")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=json.dumps(READ_S3))
    roles = {}
    for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=["Role"], PaginationConfig={"PageSize": 5}):
        assert page["UserDetailList"] == [] and page["Policies"] == []
        for r in page["RoleDetailList"]:
            roles[r["RoleName"]] = r
    r = roles[role]
    assert r["AssumeRolePolicyDocument"] == TRUST_ACCOUNT
    assert r["RolePolicyList"] == [{"PolicyName": "inline", "PolicyDocument": READ_S3}]
    full = iam.get_account_authorization_details(MaxItems=1000)
    assert full["UserDetailList"] and full["Policies"] and full["GroupDetailList"] is not None
    pol = full["Policies"][0]
    assert pol["PolicyVersionList"][0]["Document"]


def test_policy_documents_are_url_encoded_on_the_wire(server):
    # Raw check without botocore's decoding: %20 for spaces, never '+'.
    import urllib.request
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from conftest import ROOT_KEY, ROOT_SECRET

    role = unique("raw")
    doc = json.dumps(TRUST_ACCOUNT)
    body = urllib.parse.urlencode({"Action": "CreateRole", "Version": "2010-05-08", "RoleName": role, "AssumeRolePolicyDocument": doc})
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), "iam", "us-east-1").add_auth(req)
    with urllib.request.urlopen(urllib.request.Request(req.url, data=body.encode(), headers=dict(req.headers), method="POST")) as resp:
        text = resp.read().decode()
        assert resp.headers["x-amzn-RequestId"] in text
        assert resp.headers["Content-Type"] == "text/xml"
        assert resp.headers["Date"]
    assert 'xmlns="https://iam.amazonaws.com/doc/2010-05-08/"' in text
    encoded = text.split("<AssumeRolePolicyDocument>")[1].split("</AssumeRolePolicyDocument>")[0]
    assert "+" not in encoded and "%20" in encoded
    assert urllib.parse.unquote(encoded) == doc
