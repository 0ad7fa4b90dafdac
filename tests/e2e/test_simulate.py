"""Policy simulation: SimulatePrincipalPolicy, SimulateCustomPolicy, GetContextKeysFor*Policy (reference §3.7)."""

import json
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest

from conftest import ACCOUNT_ID, TRUST_ACCOUNT, error_code, new_user_with_key, raw_call, unique

BUCKET_OBJECTS = "arn:aws:s3:::prod-bucket/*"
OBJECT = "arn:aws:s3:::prod-bucket/report.csv"

GET_OBJECT = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadProd", "Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET_OBJECTS}],
}


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def user_arn(name):
    return f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"


@pytest.fixture()
def reader(iam):
    """A user whose inline policy `p` allows s3:GetObject on prod-bucket objects."""
    name, _, _ = new_user_with_key(iam, policy=GET_OBJECT)
    return name


def only(results, action):
    found = [r for r in results if r["EvalActionName"] == action]
    assert len(found) == 1, results
    return found[0]


# --- SimulatePrincipalPolicy -------------------------------------------------------------------------------


def test_inline_policy_allows_with_matched_statement(iam, reader):
    r = iam.simulate_principal_policy(
        PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject", "s3:PutObject"], ResourceArns=[OBJECT]
    )
    assert r["IsTruncated"] is False
    res = r["EvaluationResults"]
    assert len(res) == 2
    got = only(res, "s3:GetObject")
    assert got["EvalDecision"] == "allowed"
    assert got["EvalResourceName"] == OBJECT
    [m] = got["MatchedStatements"]
    assert m["SourcePolicyId"] == "p"
    assert m["SourcePolicyType"] == "user"
    assert m["StartPosition"]["Line"] >= 1 and m["StartPosition"]["Column"] >= 1
    assert (m["EndPosition"]["Line"], m["EndPosition"]["Column"]) > (m["StartPosition"]["Line"], m["StartPosition"]["Column"])
    [rs] = got["ResourceSpecificResults"]
    assert rs["EvalResourceName"] == OBJECT
    assert rs["EvalResourceDecision"] == "allowed"
    assert rs["MatchedStatements"] == got["MatchedStatements"]
    # Same account with a resource ARN: present but empty.
    assert got["EvalDecisionDetails"] == {}

    other = only(res, "s3:PutObject")
    assert other["EvalDecision"] == "implicitDeny"
    assert other["MatchedStatements"] == []


def test_default_resource_is_star(iam, reader):
    r = iam.simulate_principal_policy(PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject"])
    [res] = r["EvaluationResults"]
    assert res["EvalResourceName"] == "*"
    # `*` is not matched by `arn:aws:s3:::prod-bucket/*`.
    assert res["EvalDecision"] == "implicitDeny"
    assert "ResourceSpecificResults" not in res or res["ResourceSpecificResults"] == []
    assert "EvalDecisionDetails" not in res


def test_attached_managed_policy_and_group_policy(iam):
    name, _, _ = new_user_with_key(iam)
    pol = iam.create_policy(PolicyName=unique("sim"), PolicyDocument=json.dumps(GET_OBJECT))["Policy"]
    iam.attach_user_policy(UserName=name, PolicyArn=pol["Arn"])
    group = unique("simgroup")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.put_group_policy(GroupName=group, PolicyName="gp", PolicyDocument=doc(allow("s3:ListBucket", "arn:aws:s3:::prod-bucket")))

    r = iam.simulate_principal_policy(
        PolicySourceArn=user_arn(name),
        ActionNames=["s3:GetObject", "s3:ListBucket"],
        ResourceArns=[OBJECT, "arn:aws:s3:::prod-bucket"],
    )
    res = {(x["EvalActionName"], x["EvalResourceName"]): x for x in r["EvaluationResults"]}
    assert len(res) == 4
    got = res[("s3:GetObject", OBJECT)]
    assert got["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in got["MatchedStatements"]] == [(pol["Arn"], "user-managed")]
    listed = res[("s3:ListBucket", "arn:aws:s3:::prod-bucket")]
    assert listed["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in listed["MatchedStatements"]] == [("gp", "group")]
    assert res[("s3:GetObject", "arn:aws:s3:::prod-bucket")]["EvalDecision"] == "implicitDeny"
    assert res[("s3:ListBucket", OBJECT)]["EvalDecision"] == "implicitDeny"

    # The group alone: only the group's policy.
    g = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:group/{group}",
        ActionNames=["s3:GetObject", "s3:ListBucket"],
        ResourceArns=["arn:aws:s3:::prod-bucket"],
    )["EvaluationResults"]
    assert only(g, "s3:ListBucket")["EvalDecision"] == "allowed"
    assert only(g, "s3:GetObject")["EvalDecision"] == "implicitDeny"


def test_role_source(iam):
    role = unique("simrole")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    iam.put_role_policy(RoleName=role, PolicyName="rp", PolicyDocument=json.dumps(GET_OBJECT))
    r = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{role}", ActionNames=["s3:GetObject"], ResourceArns=[OBJECT]
    )
    [res] = r["EvaluationResults"]
    assert res["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in res["MatchedStatements"]] == [("rp", "role")]


def test_explicit_deny_wins(iam, reader):
    r = iam.simulate_principal_policy(
        PolicySourceArn=user_arn(reader),
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
        PolicyInputList=[doc(deny("s3:*", "arn:aws:s3:::prod-bucket/report.*"))],
    )
    [res] = r["EvaluationResults"]
    assert res["EvalDecision"] == "explicitDeny"
    # Only the deny statement is reported.
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in res["MatchedStatements"]] == [("PolicyInputList.1", "none")]


def test_permissions_boundary_input(iam, reader):
    excluding = doc(allow("s3:ListBucket"))
    r = iam.simulate_principal_policy(
        PolicySourceArn=user_arn(reader),
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
        PermissionsBoundaryPolicyInputList=[excluding],
    )
    [res] = r["EvaluationResults"]
    assert res["EvalDecision"] == "implicitDeny"
    assert res["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert res["ResourceSpecificResults"][0]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}

    including = doc(allow("s3:Get*"))
    r = iam.simulate_principal_policy(
        PolicySourceArn=user_arn(reader),
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
        PermissionsBoundaryPolicyInputList=[including],
    )
    [res] = r["EvaluationResults"]
    assert res["EvalDecision"] == "allowed"
    assert res["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}

    # Without a boundary there is no boundary detail.
    [res] = iam.simulate_principal_policy(PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject"], ResourceArns=[OBJECT])[
        "EvaluationResults"
    ]
    assert "PermissionsBoundaryDecisionDetail" not in res


def test_entity_boundary_is_used_and_replaced(iam, reader):
    b = iam.create_policy(PolicyName=unique("simb"), PolicyDocument=doc(allow("s3:ListBucket")))["Policy"]
    iam.put_user_permissions_boundary(UserName=reader, PermissionsBoundary=b["Arn"])
    kw = dict(PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject"], ResourceArns=[OBJECT])
    [res] = iam.simulate_principal_policy(**kw)["EvaluationResults"]
    assert res["EvalDecision"] == "implicitDeny"
    assert res["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    # A boundary input replaces the entity's boundary.
    [res] = iam.simulate_principal_policy(PermissionsBoundaryPolicyInputList=[doc(allow("s3:*"))], **kw)["EvaluationResults"]
    assert res["EvalDecision"] == "allowed"
    assert res["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    iam.delete_user_permissions_boundary(UserName=reader)


def test_source_ip_condition_and_missing_context(iam):
    name, _, _ = new_user_with_key(
        iam, policy={"Version": "2012-10-17", "Statement": [allow("s3:GetObject", BUCKET_OBJECTS, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})]}
    )
    kw = dict(PolicySourceArn=user_arn(name), ActionNames=["s3:GetObject"], ResourceArns=[OBJECT])

    [res] = iam.simulate_principal_policy(**kw)["EvaluationResults"]
    assert res["EvalDecision"] == "implicitDeny"
    assert res["MissingContextValues"] == ["aws:SourceIp"]
    assert res["ResourceSpecificResults"][0]["MissingContextValues"] == ["aws:SourceIp"]

    inside = [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}]
    [res] = iam.simulate_principal_policy(ContextEntries=inside, **kw)["EvaluationResults"]
    assert res["EvalDecision"] == "allowed"
    assert res["MissingContextValues"] == []

    outside = [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["192.168.1.1"], "ContextKeyType": "ip"}]
    [res] = iam.simulate_principal_policy(ContextEntries=outside, **kw)["EvaluationResults"]
    assert res["EvalDecision"] == "implicitDeny"
    assert res["MissingContextValues"] == []


def test_mfa_condition_flips_with_context(iam):
    policy = doc(
        allow("iam:ListUsers"),
        deny("iam:DeleteUser", Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
        allow("iam:DeleteUser", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    )
    kw = dict(PolicyInputList=[policy], ActionNames=["iam:DeleteUser", "iam:ListUsers"])
    res = iam.simulate_custom_policy(**kw)["EvaluationResults"]
    assert only(res, "iam:DeleteUser")["EvalDecision"] == "explicitDeny"
    assert only(res, "iam:DeleteUser")["MissingContextValues"] == ["aws:MultiFactorAuthPresent"]
    assert only(res, "iam:ListUsers")["EvalDecision"] == "allowed"

    mfa = [{"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"}]
    res = iam.simulate_custom_policy(ContextEntries=mfa, **kw)["EvaluationResults"]
    got = only(res, "iam:DeleteUser")
    assert got["EvalDecision"] == "allowed"
    assert got["MissingContextValues"] == []
    assert got["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"


def test_policy_variables_use_the_source_user(iam):
    name, _, _ = new_user_with_key(
        iam, policy={"Version": "2012-10-17", "Statement": [allow("s3:PutObject", "arn:aws:s3:::home/${aws:username}/*")]}
    )
    res = iam.simulate_principal_policy(
        PolicySourceArn=user_arn(name),
        ActionNames=["s3:PutObject"],
        ResourceArns=[f"arn:aws:s3:::home/{name}/a.txt", "arn:aws:s3:::home/someone-else/a.txt"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in res] == ["allowed", "implicitDeny"]
    assert res[0]["MissingContextValues"] == []


def test_list_context_values(iam):
    policy = doc(allow("iam:TagUser", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}))
    entry = lambda vals: [{"ContextKeyName": "aws:TagKeys", "ContextKeyValues": vals, "ContextKeyType": "stringList"}]  # noqa: E731
    ok = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["iam:TagUser"], ContextEntries=entry(["team", "env"]))
    assert ok["EvaluationResults"][0]["EvalDecision"] == "allowed"
    bad = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["iam:TagUser"], ContextEntries=entry(["team", "cost"]))
    assert bad["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"


# --- SimulateCustomPolicy -----------------------------------------------------------------------------------


def test_custom_policy_two_policies_and_resource_policy(iam):
    caller = user_arn(unique("bob"))
    identity = [doc(allow("s3:GetObject", BUCKET_OBJECTS)), doc(allow("s3:ListBucket", "arn:aws:s3:::prod-bucket"))]
    bucket_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "LetBobWrite", "Effect": "Allow", "Principal": {"AWS": caller}, "Action": "s3:PutObject", "Resource": BUCKET_OBJECTS},
                {"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": BUCKET_OBJECTS},
            ],
        }
    )
    r = iam.simulate_custom_policy(
        PolicyInputList=identity,
        ActionNames=["s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject"],
        ResourceArns=[OBJECT],
        ResourcePolicy=bucket_policy,
        CallerArn=caller,
    )
    res = r["EvaluationResults"]
    get = only(res, "s3:GetObject")
    assert get["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in get["MatchedStatements"]] == [("PolicyInputList.1", "none")]
    # ListBucket is allowed on the bucket, not on an object.
    assert only(res, "s3:ListBucket")["EvalDecision"] == "implicitDeny"
    put = only(res, "s3:PutObject")
    assert put["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in put["MatchedStatements"]] == [("ResourcePolicy", "resource")]
    delete = only(res, "s3:DeleteObject")
    assert delete["EvalDecision"] == "explicitDeny"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in delete["MatchedStatements"]] == [("ResourcePolicy", "resource")]

    # The second identity policy does its job on the bucket ARN.
    [lst] = iam.simulate_custom_policy(PolicyInputList=identity, ActionNames=["s3:ListBucket"], ResourceArns=["arn:aws:s3:::prod-bucket"])[
        "EvaluationResults"
    ]
    assert lst["EvalDecision"] == "allowed"
    assert lst["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.2"


def test_resource_policy_needs_caller_arn(iam):
    rp = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"], ResourcePolicy=rp)
    assert error_code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(
            PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"], ResourcePolicy=rp, CallerArn=f"arn:aws:iam::{ACCOUNT_ID}:role/R"
        )
    assert error_code(e) == "InvalidInput"


def test_other_account_resource_without_resource_policy_is_decided_by_identity_policies(iam):
    """IAM API Reference (SimulateCustomPolicy): the simulator evaluates the identity policies and the inputs
    given; a resource ARN naming another account is not a cross-account request unless a ResourcePolicy is part
    of the simulation (reference §3.7)."""
    caller = user_arn(unique("carol"))
    queue = "arn:aws:sqs:us-east-1:444455556666:jobs"
    [res] = iam.simulate_custom_policy(PolicyInputList=[doc(allow("*"))], ActionNames=["sqs:SendMessage"],
                                       ResourceArns=[queue])["EvaluationResults"]
    assert res["EvalDecision"] == "allowed"
    [res] = iam.simulate_custom_policy(PolicyInputList=[doc(allow("sqs:SendMessage"))], ActionNames=["sqs:SendMessage"],
                                       ResourceArns=[queue], CallerArn=caller)["EvaluationResults"]
    assert res["EvalDecision"] == "allowed"


def test_cross_account_resource_needs_resource_policy(iam):
    """With a ResourcePolicy, CallerArn's account and ResourceOwner decide whether the request crosses accounts."""
    caller = user_arn(unique("carol"))
    queue = "arn:aws:sqs:us-east-1:444455556666:jobs"
    identity = [doc(allow("sqs:SendMessage"))]
    grants = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "sqs:SendMessage", "Resource": queue}]}
    )
    silent = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "sqs:SendMessage", "Resource": queue}]}
    )
    [res] = iam.simulate_custom_policy(PolicyInputList=identity, ActionNames=["sqs:SendMessage"], ResourceArns=[queue],
                                       CallerArn=caller, ResourcePolicy=silent, ResourceOwner="arn:aws:iam::444455556666:root")["EvaluationResults"]
    assert res["EvalDecision"] == "implicitDeny"
    assert res["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "implicitDeny"}
    [res] = iam.simulate_custom_policy(PolicyInputList=identity, ActionNames=["sqs:SendMessage"], ResourceArns=[queue],
                                       CallerArn=caller, ResourcePolicy=grants, ResourceOwner="arn:aws:iam::444455556666:root")["EvaluationResults"]
    assert res["EvalDecision"] == "allowed"
    assert res["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "allowed"}
    # Without ResourceOwner the resource belongs to the caller's account: no cross-account step.
    [res] = iam.simulate_custom_policy(PolicyInputList=identity, ActionNames=["sqs:SendMessage"], ResourceArns=[queue],
                                       CallerArn=caller, ResourcePolicy=silent)["EvaluationResults"]
    assert res["EvalDecision"] == "allowed"


def test_custom_policy_rejects_wildcard_actions(iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:*"])
    assert error_code(e) == "InvalidInput"


def test_organization_policy_levels(server):
    """OrderedOrganizationPolicyInputList is not in botocore's model: send it raw."""
    params = {
        "Action": "SimulateCustomPolicy",
        "Version": "2010-05-08",
        "PolicyInputList.member.1": doc(allow("*")),
        "ActionNames.member.1": "s3:GetObject",
        "ActionNames.member.2": "ec2:RunInstances",
        "OrderedOrganizationPolicyInputList.member.1.member.1": doc(allow("*")),
        "OrderedOrganizationPolicyInputList.member.2.member.1": doc(allow("s3:*")),
    }
    code, text = raw_call(server, "iam", params)
    assert code == 200, text
    ns = {"i": "https://iam.amazonaws.com/doc/2010-05-08/"}
    root = ET.fromstring(text)
    out = {}
    for m in root.iterfind(".//i:EvaluationResults/i:member", ns):
        out[m.findtext("i:EvalActionName", namespaces=ns)] = (
            m.findtext("i:EvalDecision", namespaces=ns),
            m.findtext("i:OrganizationsDecisionDetail/i:AllowedByOrganizations", namespaces=ns),
        )
    assert out == {"s3:GetObject": ("allowed", "true"), "ec2:RunInstances": ("implicitDeny", "false")}


# --- Pagination ---------------------------------------------------------------------------------------------


def test_pagination_over_results(iam):
    actions = [f"s3:Action{i}" for i in range(5)]
    resources = ["arn:aws:s3:::a", "arn:aws:s3:::b"]
    kw = dict(PolicyInputList=[doc(allow("s3:*"))], ActionNames=actions, ResourceArns=resources)
    seen = []
    marker = None
    pages = 0
    while True:
        r = iam.simulate_custom_policy(MaxItems=3, **({"Marker": marker} if marker else {}), **kw)
        pages += 1
        assert len(r["EvaluationResults"]) <= 3
        seen += [(x["EvalActionName"], x["EvalResourceName"]) for x in r["EvaluationResults"]]
        if not r["IsTruncated"]:
            assert "Marker" not in r
            break
        marker = r["Marker"]
    assert pages == 4
    assert seen == [(a, res) for a in actions for res in resources]

    # boto3's paginator agrees.
    pager = iam.get_paginator("simulate_custom_policy")
    items = [x for page in pager.paginate(PaginationConfig={"PageSize": 4}, **kw) for x in page["EvaluationResults"]]
    assert len(items) == 10


def test_principal_pagination(iam, reader):
    r = iam.simulate_principal_policy(PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject", "s3:PutObject"], ResourceArns=[OBJECT], MaxItems=1)
    assert r["IsTruncated"] is True
    assert [x["EvalActionName"] for x in r["EvaluationResults"]] == ["s3:GetObject"]
    r2 = iam.simulate_principal_policy(
        PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject", "s3:PutObject"], ResourceArns=[OBJECT], MaxItems=1, Marker=r["Marker"]
    )
    assert r2["IsTruncated"] is False
    assert [x["EvalActionName"] for x in r2["EvaluationResults"]] == ["s3:PutObject"]


# --- Context keys -------------------------------------------------------------------------------------------


def test_get_context_keys_for_custom_policy(iam):
    p1 = doc(
        allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    )
    p2 = doc(
        allow("ec2:*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}, "StringEquals": {"aws:SourceIp": "1.2.3.4"}}),
    )
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[p1, p2])["ContextKeyNames"]
    assert sorted(k.lower() for k in keys) == ["aws:multifactorauthpresent", "aws:sourceip", "aws:username"]
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[doc(allow("s3:*"))])["ContextKeyNames"] == []


def test_get_context_keys_for_principal_policy(iam):
    name, _, _ = new_user_with_key(
        iam, policy={"Version": "2012-10-17", "Statement": [allow("s3:*", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})]}
    )
    keys = iam.get_context_keys_for_principal_policy(
        PolicySourceArn=user_arn(name), PolicyInputList=[doc(allow("ec2:*", Condition={"Bool": {"aws:SecureTransport": "true"}}))]
    )["ContextKeyNames"]
    assert sorted(keys) == ["aws:PrincipalTag/team", "aws:SecureTransport"]


# --- Errors and authorization -------------------------------------------------------------------------------


def test_malformed_input_policy(iam, reader):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=['{"Version":"2012-10-17","Statement":[{"Effect":"Allow"'], ActionNames=["s3:GetObject"])
    # The simulator's declared error (reference §3.7); Put*Policy/CreatePolicy keep MalformedPolicyDocument.
    assert error_code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(
            PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject"], PolicyInputList=[doc({"Effect": "Maybe", "Action": "s3:*", "Resource": "*"})]
        )
    assert error_code(e) == "InvalidInput"
    # A resource policy must name a principal.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject"], ResourcePolicy=doc(allow("s3:*")))
    assert error_code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_context_keys_for_custom_policy(PolicyInputList=["not json at all"])
    assert error_code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName=reader, PolicyName="p", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow"')
    assert error_code(e) == "MalformedPolicyDocument"


def test_unknown_and_malformed_source(iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn=user_arn(unique("ghost")), ActionNames=["s3:GetObject"])
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::444455556666:user/someone", ActionNames=["s3:GetObject"])
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:s3:::not-an-iam-entity", ActionNames=["s3:GetObject"])
    assert error_code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_context_keys_for_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{unique('ghost')}")
    assert error_code(e) == "NoSuchEntity"


def test_bad_context_entry(iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(
            PolicyInputList=[doc(allow("s3:*"))],
            ActionNames=["s3:GetObject"],
            ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["not-an-ip"], "ContextKeyType": "ip"}],
        )
    assert error_code(e) == "InvalidInput"


def test_non_root_needs_permission(server, iam, reader):
    name, key, secret = new_user_with_key(iam)
    client = server.client("iam", key=key, secret=secret)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.simulate_principal_policy(PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject"])
    assert error_code(e) == "AccessDenied"
    assert "iam:SimulatePrincipalPolicy" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"])
    assert error_code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_context_keys_for_custom_policy(PolicyInputList=[doc(allow("s3:*"))])
    assert error_code(e) == "AccessDenied"

    # Granted on that one user only.
    iam.put_user_policy(UserName=name, PolicyName="sim", PolicyDocument=doc(allow("iam:SimulatePrincipalPolicy", user_arn(reader))))
    [res] = client.simulate_principal_policy(PolicySourceArn=user_arn(reader), ActionNames=["s3:GetObject"], ResourceArns=[OBJECT])[
        "EvaluationResults"
    ]
    assert res["EvalDecision"] == "allowed"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.simulate_principal_policy(PolicySourceArn=user_arn(name), ActionNames=["s3:GetObject"])
    assert error_code(e) == "AccessDenied"


def test_missing_context_values_only_for_keys_the_action_can_carry(iam):
    """MissingContextValues come from the same action table as enforcement: a key the simulated action can never
    carry is absent in every real request too, so leaving it out is not "missing"."""
    policy = doc(allow("iam:*", Condition={"StringEquals": {"iam:PolicyARN": "arn:aws:iam::111122223333:policy/p",
                                                              "aws:SourceIp": "10.0.0.1"}}))
    results = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["iam:AttachUserPolicy", "iam:GetUser"])[
        "EvaluationResults"]
    by_action = {r["EvalActionName"]: sorted(r["MissingContextValues"]) for r in results}
    assert by_action["iam:AttachUserPolicy"] == ["aws:SourceIp", "iam:PolicyARN"]
    assert by_action["iam:GetUser"] == ["aws:SourceIp"]
    # Services outside stsd's table report every referenced key.
    other = doc(allow("s3:GetObject", Condition={"StringEquals": {"s3:prefix": "home/"}}))
    [res] = iam.simulate_custom_policy(PolicyInputList=[other], ActionNames=["s3:GetObject"])["EvaluationResults"]
    assert res["MissingContextValues"] == ["s3:prefix"]
