"""Instance profiles (issue #19): lifecycle, AWS's validation, quotas and errors, the role-deletion guard,
authorization (including iam:PassRole for AddRoleToInstanceProfile), tags, and the Terraform AWS provider's role
lifecycle replayed call by call."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, TRUST_ACCOUNT, error_code, new_user_with_key, raw_call, status, unique


def make_role(iam, name=None, path="/"):
    name = name or unique("role")
    iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    return name


def test_instance_profile_lifecycle(iam):
    name = unique("web")
    ip = iam.create_instance_profile(InstanceProfileName=name, Path="/app/", Tags=[{"Key": "Team", "Value": "web"}])["InstanceProfile"]
    assert ip["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/app/{name}"
    assert ip["InstanceProfileId"].startswith("AIPA") and len(ip["InstanceProfileId"]) == 21
    assert ip["Path"] == "/app/" and ip["Roles"] == [] and ip["Tags"] == [{"Key": "Team", "Value": "web"}]
    # Names are unique case-insensitively.
    with pytest.raises(ClientError) as e:
        iam.create_instance_profile(InstanceProfileName=name.upper())
    assert error_code(e) == "EntityAlreadyExists" and status(e) == 409
    assert f"Instance Profile {name.upper()} already exists." == e.value.response["Error"]["Message"]
    role = make_role(iam, path="/svc/")
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    assert got["Roles"][0]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/svc/{role}"
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == TRUST_ACCOUNT
    assert got["Tags"] == [{"Key": "Team", "Value": "web"}]
    # One role per profile, the same role included (AWS answers LimitExceeded for both).
    other = make_role(iam)
    for r in (role, other):
        with pytest.raises(ClientError) as e:
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=r)
        assert error_code(e) == "LimitExceeded" and status(e) == 409
        assert e.value.response["Error"]["Message"] == "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"
    # The role cannot be deleted while in a profile, nor the profile while it holds the role.
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=role)
    assert error_code(e) == "DeleteConflict"
    assert e.value.response["Error"]["Message"] == "Cannot delete entity, must remove roles from instance profile first."
    with pytest.raises(ClientError) as e:
        iam.delete_instance_profile(InstanceProfileName=name)
    assert error_code(e) == "DeleteConflict"
    # Listings: by path prefix and for the role.
    listed = iam.list_instance_profiles(PathPrefix="/app/")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in listed] == [name]
    assert "Tags" not in listed[0]  # List operations omit tags
    for_role = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    assert [p["Arn"] for p in for_role] == [ip["Arn"]]
    assert iam.list_instance_profiles_for_role(RoleName=other)["InstanceProfiles"] == []
    # GetAccountAuthorizationDetails shows the profile in the role's InstanceProfileList.
    details = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    rd = next(r for r in details if r["RoleName"] == role)
    assert [p["InstanceProfileName"] for p in rd["InstanceProfileList"]] == [name]
    assert rd["InstanceProfileList"][0]["Roles"][0]["RoleName"] == role
    # Removing: a role not in the profile is NoSuchEntity.
    with pytest.raises(ClientError) as e:
        iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=other)
    assert error_code(e) == "NoSuchEntity"
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role)
    assert iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"] == []
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=other)
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=other)
    iam.delete_role(RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as e:
        iam.get_instance_profile(InstanceProfileName=name)
    assert error_code(e) == "NoSuchEntity" and status(e) == 404
    assert e.value.response["Error"]["Message"] == f"Instance Profile {name} cannot be found."
    for call in (
        lambda: iam.delete_instance_profile(InstanceProfileName=name),
        lambda: iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=other),
        lambda: iam.list_instance_profile_tags(InstanceProfileName=name),
        lambda: iam.list_instance_profiles_for_role(RoleName=unique("nobody")),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "NoSuchEntity"
    iam.delete_role(RoleName=other)


def test_instance_profile_validation(iam):
    for bad in ["bad name", "a" * 129, "x/y"]:
        st, text = raw_call(iam._stsd_server, "iam", {"Action": "CreateInstanceProfile", "Version": "2010-05-08", "InstanceProfileName": bad})
        assert st == 400 and "<Code>ValidationError</Code>" in text, (bad, text)
    st, text = raw_call(iam._stsd_server, "iam", {"Action": "CreateInstanceProfile", "Version": "2010-05-08", "InstanceProfileName": unique("p"), "Path": "noslash"})
    assert st == 400 and "<Code>ValidationError</Code>" in text
    # 128 characters is the longest name.
    long_name = ("p" + unique("x")).ljust(128, "x")
    iam.create_instance_profile(InstanceProfileName=long_name)
    iam.delete_instance_profile(InstanceProfileName=long_name)
    with pytest.raises(ClientError) as e:
        iam.create_instance_profile(InstanceProfileName=unique("p"), Tags=[{"Key": "aws:x", "Value": "v"}])
    assert error_code(e) in ("InvalidInput", "ValidationError")


def test_instance_profile_tags_are_case_sensitive(iam):
    name = unique("tagged")
    iam.create_instance_profile(InstanceProfileName=name)
    iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "env", "Value": "a"}, {"Key": "Env", "Value": "b"}])
    tags = iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("Env", "b"), ("env", "a")]
    iam.untag_instance_profile(InstanceProfileName=name, TagKeys=["ENV", "env"])
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [{"Key": "Env", "Value": "b"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    with pytest.raises(ClientError) as e:
        iam.tag_instance_profile(InstanceProfileName=name, Tags=many)
    assert error_code(e) == "LimitExceeded"
    iam.delete_instance_profile(InstanceProfileName=name)


def test_instance_profile_quota(fresh_server):
    iam = fresh_server.client("iam")
    for i in range(1000):
        raw_call(fresh_server, "iam", {"Action": "CreateInstanceProfile", "Version": "2010-05-08", "InstanceProfileName": f"p{i:04d}"})
    assert len(iam.get_paginator("list_instance_profiles").paginate().build_full_result()["InstanceProfiles"]) == 1000
    with pytest.raises(ClientError) as e:
        iam.create_instance_profile(InstanceProfileName="one-too-many")
    assert error_code(e) == "LimitExceeded"
    assert e.value.response["Error"]["Message"] == "Cannot exceed quota for InstanceProfilesPerAccount: 1000"
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["InstanceProfiles"] == 1000 and summary["InstanceProfilesQuota"] == 1000
    # The profiles are stored: they survive a restart.
    fresh_server.restart()
    assert fresh_server.client("iam").get_instance_profile(InstanceProfileName="p0999")["InstanceProfile"]["Arn"].endswith("/p0999")


def test_instance_profile_authorization(server, iam):
    """Tag conditions apply to instance profiles; adding a role also needs iam:PassRole on the role."""
    role = make_role(iam)
    mine, theirs = unique("mine"), unique("theirs")
    iam.create_instance_profile(InstanceProfileName=mine, Tags=[{"Key": "owner", "Value": "me"}])
    iam.create_instance_profile(InstanceProfileName=theirs, Tags=[{"Key": "owner", "Value": "other"}])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:GetInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile"],
             "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/owner": "me"}}},
            {"Effect": "Allow", "Action": "iam:CreateInstanceProfile", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/owner": "me"}}},
        ],
    }
    owner, kid, secret = new_user_with_key(iam, policy=policy)
    user_iam = server.client("iam", kid, secret)
    assert user_iam.get_instance_profile(InstanceProfileName=mine)["InstanceProfile"]["InstanceProfileName"] == mine
    with pytest.raises(ClientError) as e:
        user_iam.get_instance_profile(InstanceProfileName=theirs)
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        user_iam.create_instance_profile(InstanceProfileName=unique("untagged"))
    assert error_code(e) == "AccessDenied"
    user_iam.create_instance_profile(InstanceProfileName=unique("tagged"), Tags=[{"Key": "owner", "Value": "me"}])
    # Allowed on the profile, but without iam:PassRole on the role the role cannot be added.
    with pytest.raises(ClientError) as e:
        user_iam.add_role_to_instance_profile(InstanceProfileName=mine, RoleName=role)
    assert error_code(e) == "AccessDenied" and "iam:PassRole" in e.value.response["Error"]["Message"]
    # PassRole limited to EC2 (the service a role in an instance profile is passed to) is enough.
    iam.put_user_policy(UserName=owner, PolicyName="pass", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT_ID}:role/{role}",
                       "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"},
                                     "ArnLike": {"iam:AssociatedResourceArn": f"arn:aws:ec2:*:{ACCOUNT_ID}:instance/*"}}}],
    }))
    user_iam.add_role_to_instance_profile(InstanceProfileName=mine, RoleName=role)
    with pytest.raises(ClientError) as e:
        user_iam.add_role_to_instance_profile(InstanceProfileName=theirs, RoleName=role)
    assert error_code(e) == "AccessDenied"
    user_iam.remove_role_from_instance_profile(InstanceProfileName=mine, RoleName=role)
    # The calls are in the audit trail under the instance profile's name.
    events = server.client("cloudtrail").lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": mine}])["Events"]
    names = {e["EventName"] for e in events}
    assert {"AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile", "GetInstanceProfile", "CreateInstanceProfile"} <= names


def test_terraform_role_lifecycle_call_order(iam):
    """The Terraform AWS provider's calls for an aws_iam_role with an aws_iam_role_policy_attachment, an inline
    aws_iam_role_policy and an aws_iam_instance_profile — apply, refresh, destroy — in the provider's order
    (internal/service/iam: role.go, role_policy_attachment.go, role_policy.go, instance_profile.go)."""
    role, profile, pname = unique("tf-role"), unique("tf-profile"), unique("tf-policy")
    trust = json.dumps(TRUST_ACCOUNT)
    tags = [{"Key": "ManagedBy", "Value": "terraform"}]
    # apply: aws_iam_role (create, then read back until visible)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, Description="tf", MaxSessionDuration=3600, Path="/", Tags=tags)
    r = iam.get_role(RoleName=role)["Role"]
    assert r["RoleLastUsed"] == {} and r["Tags"] == tags
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    # aws_iam_policy
    parn = iam.create_policy(PolicyName=pname, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.get_policy(PolicyArn=parn)
    iam.get_policy_version(PolicyArn=parn, VersionId="v1")
    iam.list_policy_tags(PolicyArn=parn)
    # aws_iam_role_policy_attachment (attach, then find it among the attached policies)
    iam.attach_role_policy(RoleName=role, PolicyArn=parn)
    assert parn in [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
    # aws_iam_role_policy (inline)
    inline = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]})
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=inline)
    assert iam.get_role_policy(RoleName=role, PolicyName="inline")["PolicyDocument"] == json.loads(inline)
    # aws_iam_instance_profile (create with tags, add the role, read back)
    iam.create_instance_profile(InstanceProfileName=profile, Path="/", Tags=tags)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    got = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
    assert [x["RoleName"] for x in got["Roles"]] == [role] and got["Tags"] == tags
    # refresh (plan): every resource read again
    iam.get_role(RoleName=role)
    iam.list_role_policies(RoleName=role)
    iam.get_role_policy(RoleName=role, PolicyName="inline")
    iam.list_attached_role_policies(RoleName=role)
    iam.get_instance_profile(InstanceProfileName=profile)
    iam.get_policy(PolicyArn=parn)
    # destroy, dependents first: the instance profile (remove role, delete, wait for NoSuchEntity) ...
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=profile)
    with pytest.raises(ClientError) as e:
        iam.get_instance_profile(InstanceProfileName=profile)
    assert error_code(e) == "NoSuchEntity"
    # ... the inline policy and the attachment ...
    iam.delete_role_policy(RoleName=role, PolicyName="inline")
    iam.detach_role_policy(RoleName=role, PolicyArn=parn)
    # ... then the role: deleteRoleInstanceProfiles (ListInstanceProfilesForRole, tolerating only NoSuchEntity),
    # then its policies, then DeleteRole, then wait until GetRole says NoSuchEntity.
    assert iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"] == []
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    iam.delete_role(RoleName=role)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=role)
    assert error_code(e) == "NoSuchEntity"
    # A second destroy (state out of date) sees NoSuchEntity where the provider tolerates it.
    with pytest.raises(ClientError) as e:
        iam.list_instance_profiles_for_role(RoleName=role)
    assert error_code(e) == "NoSuchEntity"
    # aws_iam_policy: list versions, delete the non-default ones, delete the policy.
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=parn)["Versions"]] == ["v1"]
    iam.delete_policy(PolicyArn=parn)


def test_terraform_destroy_with_profile_still_attached(iam):
    """When the provider deletes the role before the instance profile is gone (force_detach_policies), it first
    lists the role's instance profiles and removes the role from each, then deletes the role."""
    role, profile = unique("tf-role"), unique("tf-profile")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    for p in iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=p["InstanceProfileName"], RoleName=role)
    iam.delete_role(RoleName=role)
    # The profile survives, empty; a namesake role created later is not in it.
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    assert iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"] == []
    iam.delete_role(RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=profile)
