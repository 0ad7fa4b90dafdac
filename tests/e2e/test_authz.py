"""Authorization you can trust (issue #10): each defect found by trying stsd as an attacker who knows AWS, as a
boto3 regression test against the real binary.

1. Identities are unique IDs, not names: trust policies and sessions are bound to the entity that existed,
   and a namesake re-created after a deletion gains nothing from its predecessor.
2. Session policies fail closed: unknown or foreign ARNs are refused at issue time, and a session whose
   session policy no longer resolves is allowed nothing.
3. IAM actions carry their condition keys (aws:ResourceTag, iam:ResourceTag, iam:PermissionsBoundary,
   iam:PolicyARN, aws:RequestTag, aws:TagKeys), so AWS's documented guardrails work.
4. A denied cross-account AssumeRole tells the caller nothing about the other account.
"""

import json
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, error_code, new_user_with_key, unique
from test_sts import allow, doc, session_clients, trust


def deny(action, resource="*", condition=None):
    s = {"Effect": "Deny", "Action": action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def denied(fn, *args, code="AccessDenied", **kw):
    with pytest.raises(ClientError) as e:
        fn(*args, **kw)
    assert error_code(e) == code, e.value.response
    return e.value.response["Error"]["Message"]


def delete_user(iam, name):
    for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    for p in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=p)
    iam.delete_user(UserName=name)


def delete_role(iam, name):
    for p in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=p)
    for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
    iam.delete_role(RoleName=name)


def assumer(server, iam):
    """An IAM user allowed to call sts:AssumeRole (roles may not be assumed by the account root)."""
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    return server.client("sts", kid, secret)


def trust_doc_of(iam, role):
    d = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return d if isinstance(d, dict) else json.loads(urllib.parse.unquote(d))


# ---- 1. names instead of identities -------------------------------------------------------------------------


def test_trust_policy_names_the_user_not_a_later_namesake(server, iam):
    bob = unique("bob")
    _, kid, secret = new_user_with_key(iam, bob, policy=json.loads(doc(allow("sts:AssumeRole"))))
    bob_id = iam.get_user(UserName=bob)["User"]["UserId"]
    role = unique("trusts-bob")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:user/{bob}"))["Role"]["Arn"]
    assert server.client("sts", kid, secret).assume_role(RoleArn=role_arn, RoleSessionName="ss")["Credentials"]
    # While bob exists the policy shows his ARN.
    assert trust_doc_of(iam, role)["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{bob}"

    delete_user(iam, bob)
    # Deleted: the policy shows the bare unique ID, as IAM does.
    assert trust_doc_of(iam, role)["Statement"][0]["Principal"]["AWS"] == bob_id
    _, kid2, secret2 = new_user_with_key(iam, bob, policy=json.loads(doc(allow("sts:AssumeRole"))))
    assert iam.get_user(UserName=bob)["User"]["UserId"] != bob_id
    # The namesake is not trusted, and the policy still shows the old ID.
    denied(server.client("sts", kid2, secret2).assume_role, RoleArn=role_arn, RoleSessionName="ss")
    assert trust_doc_of(iam, role)["Statement"][0]["Principal"]["AWS"] == bob_id
    # Re-stating the trust binds it to the new bob.
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:user/{bob}"))
    assert server.client("sts", kid2, secret2).assume_role(RoleArn=role_arn, RoleSessionName="ss")["Credentials"]


def test_trust_policy_names_the_role_not_a_later_namesake(server, iam):
    """A role trusting sessions of role R (role chaining) does not trust a re-created R."""
    r = unique("R")
    r_arn = iam.create_role(RoleName=r, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=r, PolicyName="p", PolicyDocument=doc(allow("sts:AssumeRole")))
    target = unique("T")
    t_arn = iam.create_role(RoleName=target, AssumeRolePolicyDocument=trust(r_arn))["Role"]["Arn"]
    sts = assumer(server, iam)
    first = sts.assume_role(RoleArn=r_arn, RoleSessionName="aa")
    assert session_clients(server, first)[0].assume_role(RoleArn=t_arn, RoleSessionName="bb")["Credentials"]
    delete_role(iam, r)
    iam.create_role(RoleName=r, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    iam.put_role_policy(RoleName=r, PolicyName="p", PolicyDocument=doc(allow("sts:AssumeRole")))
    again = sts.assume_role(RoleArn=r_arn, RoleSessionName="aa")
    denied(session_clients(server, again)[0].assume_role, RoleArn=t_arn, RoleSessionName="bb")


def test_session_of_a_deleted_role_gains_nothing_from_its_namesake(server, iam):
    role = unique("short-lived")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=doc(allow("iam:ListUsers")))
    creds = assumer(server, iam).assume_role(RoleArn=role_arn, RoleSessionName="old")
    _, s_iam = session_clients(server, creds)
    s_iam.list_users()
    delete_role(iam, role)
    # Deleted: the session has no permissions.
    assert "no longer exists" in denied(s_iam.list_users)
    # Re-created under the same name with more permissions: the old session still has none.
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=doc(allow("iam:*")))
    denied(s_iam.list_users)
    denied(s_iam.list_roles)


def test_get_session_token_session_of_a_deleted_user(server, iam):
    target = unique("gst-target")
    t_arn = iam.create_role(RoleName=target, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))["Role"]["Arn"]
    name, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    creds = server.client("sts", kid, secret).get_session_token()
    s_sts, _ = session_clients(server, creds)
    assert s_sts.assume_role(RoleArn=t_arn, RoleSessionName="xx")["Credentials"]
    delete_user(iam, name)
    new_user_with_key(iam, name, policy=json.loads(doc(allow("sts:AssumeRole"))))
    denied(s_sts.assume_role, RoleArn=t_arn, RoleSessionName="xx")


def test_federation_token_of_a_deleted_user(server, iam):
    lookup = allow("cloudtrail:LookupEvents")
    name, kid, secret = new_user_with_key(iam, policy=json.loads(doc(lookup, allow("sts:GetFederationToken"))))
    creds = server.client("sts", kid, secret).get_federation_token(Name="fed", Policy=doc(lookup))["Credentials"]
    ct = server.client("cloudtrail", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    ct.lookup_events(MaxResults=1)
    delete_user(iam, name)
    new_user_with_key(iam, name, policy=json.loads(doc(allow("*"))))
    denied(ct.lookup_events, MaxResults=1, code="AccessDeniedException")


# ---- 2. session policies fail closed ------------------------------------------------------------------------


def test_deleted_session_policy_leaves_the_session_nothing(server, iam):
    role = unique("scoped")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="all", PolicyDocument=doc(allow("iam:*")))
    pname = unique("scope")
    parn = iam.create_policy(PolicyName=pname, PolicyDocument=doc(allow("iam:ListUsers")))["Policy"]["Arn"]
    creds = assumer(server, iam).assume_role(RoleArn=role_arn, RoleSessionName="ss", PolicyArns=[{"arn": parn}])
    _, s_iam = session_clients(server, creds)
    s_iam.list_users()
    denied(s_iam.list_roles)  # narrowed by the session policy
    iam.delete_policy(PolicyArn=parn)
    # The scope-down is gone: the session must not widen to the role's full permissions.
    assert "session policy" in denied(s_iam.list_roles)
    denied(s_iam.list_users)
    # A namesake with a broader document does not resolve for the old session either.
    iam.create_policy(PolicyName=pname, PolicyDocument=doc(allow("iam:*")))
    denied(s_iam.list_roles)
    denied(s_iam.list_users)


def test_unknown_or_foreign_session_policy_arns_refused_at_issue(server, iam):
    role = unique("scoped")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))["Role"]["Arn"]
    sts = assumer(server, iam)
    for arn in [f"arn:aws:iam::{ACCOUNT_ID}:policy/{unique('never-existed')}",
                "arn:aws:iam::999988887777:policy/in-another-account",
                "arn:aws:iam::aws:policy/AdministratorAccess"]:
        msg = denied(sts.assume_role, RoleArn=role_arn, RoleSessionName="ss", PolicyArns=[{"arn": arn}],
                     code="ValidationError")
        assert arn in msg
    other = server.create_account(unique("other"))
    o_iam = server.client("iam", other["AccessKeyId"], other["SecretAccessKey"])
    foreign = o_iam.create_policy(PolicyName="p", PolicyDocument=doc(allow("*")))["Policy"]["Arn"]
    denied(sts.assume_role, RoleArn=role_arn, RoleSessionName="ss", PolicyArns=[{"arn": foreign}], code="ValidationError")
    name, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:GetFederationToken"))))
    denied(server.client("sts", kid, secret).get_federation_token, Name="fed", PolicyArns=[{"arn": foreign}],
           code="ValidationError")


# ---- 3. condition keys of IAM actions -----------------------------------------------------------------------


@pytest.fixture()
def delegated_admin(server, iam):
    """An admin who may do anything in IAM except touch what is tagged protected=true."""
    guard = doc(allow("iam:*"), deny("iam:*", condition={"StringEquals": {"aws:ResourceTag/protected": "true"}}))
    name, kid, secret = new_user_with_key(iam, policy=json.loads(guard))
    return server.client("iam", kid, secret)


def test_protected_role_cannot_be_taken_over(iam, delegated_admin):
    role = unique("crown-jewels")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"),
                    Tags=[{"Key": "protected", "Value": "true"}])
    takeover = trust("*")
    denied(delegated_admin.update_assume_role_policy, RoleName=role, PolicyDocument=takeover)
    denied(delegated_admin.put_role_policy, RoleName=role, PolicyName="x", PolicyDocument=doc(allow("*")))
    denied(delegated_admin.delete_role, RoleName=role)
    denied(delegated_admin.untag_role, RoleName=role, TagKeys=["protected"])
    ordinary = unique("ordinary")
    iam.create_role(RoleName=ordinary, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    delegated_admin.update_assume_role_policy(RoleName=ordinary, PolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))


def test_protected_user_gets_no_new_keys(iam, delegated_admin):
    user = unique("ceo")
    iam.create_user(UserName=user, Tags=[{"Key": "protected", "Value": "true"}])
    denied(delegated_admin.create_access_key, UserName=user)
    denied(delegated_admin.attach_user_policy, UserName=user, PolicyArn=f"arn:aws:iam::{ACCOUNT_ID}:policy/x")
    other = unique("intern")
    iam.create_user(UserName=other)
    assert delegated_admin.create_access_key(UserName=other)["AccessKey"]["AccessKeyId"].startswith("AKIA")


def test_iam_resource_tag_key_works_too(server, iam):
    guard = doc(allow("iam:*"), deny("iam:*", condition={"StringEquals": {"iam:ResourceTag/protected": "true"}}))
    _, kid, secret = new_user_with_key(iam, policy=json.loads(guard))
    admin = server.client("iam", kid, secret)
    user = unique("vip")
    iam.create_user(UserName=user, Tags=[{"Key": "protected", "Value": "true"}])
    denied(admin.create_access_key, UserName=user)


def test_delegated_user_creation_under_a_boundary(server, iam):
    """AWS's documented pattern: an admin may create users and give them permissions only with boundary B."""
    b = iam.create_policy(PolicyName=unique("boundary"), PolicyDocument=doc(allow("s3:*")))["Policy"]["Arn"]
    cond = {"StringEquals": {"iam:PermissionsBoundary": b}}
    admin_policy = doc(
        allow(["iam:CreateUser", "iam:PutUserPolicy", "iam:AttachUserPolicy", "iam:DeleteUserPolicy",
               "iam:DetachUserPolicy", "iam:PutUserPermissionsBoundary"], condition=cond),
        allow(["iam:GetUser", "iam:CreatePolicy"]),
    )
    _, kid, secret = new_user_with_key(iam, policy=json.loads(admin_policy))
    admin = server.client("iam", kid, secret)
    ok = unique("dev")
    admin.create_user(UserName=ok, PermissionsBoundary=b)
    admin.put_user_policy(UserName=ok, PolicyName="p", PolicyDocument=doc(allow("s3:GetObject")))
    denied(admin.create_user, UserName=unique("escape"))  # no boundary
    other_b = iam.create_policy(PolicyName=unique("wide"), PolicyDocument=doc(allow("*")))["Policy"]["Arn"]
    denied(admin.create_user, UserName=unique("escape"), PermissionsBoundary=other_b)
    denied(admin.put_user_permissions_boundary, UserName=ok, PermissionsBoundary=other_b)
    # A user without the boundary (made by root) cannot be given permissions by the delegated admin.
    free = unique("free")
    iam.create_user(UserName=free)
    denied(admin.put_user_policy, UserName=free, PolicyName="p", PolicyDocument=doc(allow("*")))
    denied(admin.attach_user_policy, UserName=free, PolicyArn=b)


def test_policy_arn_condition_on_attach(server, iam):
    allowed_policy = iam.create_policy(PolicyName=unique("ok"), PolicyDocument=doc(allow("s3:GetObject")))["Policy"]["Arn"]
    admin_policy = iam.create_policy(PolicyName=unique("admin"), PolicyDocument=doc(allow("*")))["Policy"]["Arn"]
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(
        allow("iam:AttachRolePolicy", condition={"ArnEquals": {"iam:PolicyARN": allowed_policy}}))))
    admin = server.client("iam", kid, secret)
    role = unique("app")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    admin.attach_role_policy(RoleName=role, PolicyArn=allowed_policy)
    denied(admin.attach_role_policy, RoleName=role, PolicyArn=admin_policy)


def test_request_tags_on_create(server, iam):
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(
        allow("iam:CreateRole", condition={"StringEquals": {"aws:RequestTag/team": "blue"},
                                           "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}))))
    admin = server.client("iam", kid, secret)
    t = trust(f"arn:aws:iam::{ACCOUNT_ID}:root")
    admin.create_role(RoleName=unique("blue"), AssumeRolePolicyDocument=t, Tags=[{"Key": "team", "Value": "blue"}])
    denied(admin.create_role, RoleName=unique("red"), AssumeRolePolicyDocument=t, Tags=[{"Key": "team", "Value": "red"}])
    denied(admin.create_role, RoleName=unique("none"), AssumeRolePolicyDocument=t)
    denied(admin.create_role, RoleName=unique("extra"), AssumeRolePolicyDocument=t,
           Tags=[{"Key": "team", "Value": "blue"}, {"Key": "admin", "Value": "yes"}])


# ---- 4. cross-account confidentiality -----------------------------------------------------------------------


def test_cross_account_denials_reveal_nothing(server, iam):
    other = server.create_account(unique("victim"))
    o_iam = server.client("iam", other["AccessKeyId"], other["SecretAccessKey"])
    secret_role = o_iam.create_role(
        RoleName="payments", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{other['AccountId']}:root"),
        Tags=[{"Key": "owner", "Value": "finance-team"}])["Role"]["Arn"]
    name, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    sts = server.client("sts", kid, secret)
    exists = denied(sts.assume_role, RoleArn=secret_role, RoleSessionName="probe")
    missing_arn = f"arn:aws:iam::{other['AccountId']}:role/no-such-role"
    missing = denied(sts.assume_role, RoleArn=missing_arn, RoleSessionName="probe")
    # Same text apart from the ARN asked for; nothing encoded to decode.
    assert exists.replace(secret_role, "ROLE") == missing.replace(missing_arn, "ROLE")
    assert "Encoded authorization failure message" not in exists
    assert "trust" not in exists and "finance" not in exists
    # Same-account denials keep their encoded detail, decodable in that account.
    own = iam.create_role(RoleName=unique("own"), AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:user/{name}",
                                                                                condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))["Role"]["Arn"]
    msg = denied(sts.assume_role, RoleArn=own, RoleSessionName="probe")
    encoded = msg.split("Encoded authorization failure message: ", 1)[1]
    decoded = json.loads(server.client("sts").decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert decoded["context"]["resource"] == own
