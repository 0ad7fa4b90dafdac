"""Account aliases, the complete GetAccountSummary key set and CreateRole's PermissionsBoundary (issue #19)."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, TRUST_ACCOUNT, error_code, make_server, new_user_with_key, raw_call, status, unique


def test_account_alias_lifecycle_and_uniqueness():
    s = make_server()
    try:
        iam = s.client("iam")
        assert iam.list_account_aliases()["AccountAliases"] == []
        iam.create_account_alias(AccountAlias="example-corp")
        assert iam.list_account_aliases()["AccountAliases"] == ["example-corp"]
        # Creating again is a no-op; a new alias replaces the old one (one alias per account).
        iam.create_account_alias(AccountAlias="example-corp")
        iam.create_account_alias(AccountAlias="example-corp-2")
        assert iam.list_account_aliases()["AccountAliases"] == ["example-corp-2"]
        assert s.aws("iam", "list-account-aliases") == {"AccountAliases": ["example-corp-2"]}
        # Unique across the accounts this server hosts.
        other = s.create_account("tenant-b")
        other_iam = s.client("iam", other["AccessKeyId"], other["SecretAccessKey"])
        with pytest.raises(ClientError) as e:
            other_iam.create_account_alias(AccountAlias="example-corp-2")
        assert error_code(e) == "EntityAlreadyExists" and status(e) == 409
        other_iam.create_account_alias(AccountAlias="example-corp")  # released by the first account
        # Deleting: only the current alias.
        with pytest.raises(ClientError) as e:
            iam.delete_account_alias(AccountAlias="example-corp")
        assert error_code(e) == "NoSuchEntity" and status(e) == 404
        iam.delete_account_alias(AccountAlias="example-corp-2")
        assert iam.list_account_aliases()["AccountAliases"] == []
        other_iam.create_account_alias(AccountAlias="example-corp-2")
        # Stored with the account.
        s.restart()
        assert s.client("iam", other["AccessKeyId"], other["SecretAccessKey"]).list_account_aliases()["AccountAliases"] == ["example-corp-2"]
        assert s.client("iam").list_account_aliases()["AccountAliases"] == []
    finally:
        s.stop()


@pytest.mark.parametrize("alias", ["ab", "a" * 64, "-abc", "abc-", "ab--cd", "Upper", "under_score", "dot.ted"])
def test_account_alias_pattern(server, alias):
    st, text = raw_call(server, "iam", {"Action": "CreateAccountAlias", "Version": "2010-05-08", "AccountAlias": alias})
    assert st == 400 and "<Code>ValidationError</Code>" in text, (alias, text)


def test_account_alias_all_digits_and_authorization(server, iam):
    st, text = raw_call(server, "iam", {"Action": "CreateAccountAlias", "Version": "2010-05-08", "AccountAlias": "123456789012"})
    assert st == 400 and "<Code>InvalidInput</Code>" in text
    reader = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListAccountAliases", "Resource": "*"}]}
    _, kid, secret = new_user_with_key(iam, policy=reader)
    user_iam = server.client("iam", kid, secret)
    user_iam.list_account_aliases()
    with pytest.raises(ClientError) as e:
        user_iam.create_account_alias(AccountAlias=unique("x").lower())
    assert error_code(e) == "AccessDenied"


def test_account_summary_has_every_key(server, iam):
    summary = iam.get_account_summary()["SummaryMap"]
    expected = {
        "Users", "UsersQuota", "Groups", "GroupsQuota", "Roles", "RolesQuota", "Policies", "PoliciesQuota",
        "PolicySizeQuota", "PolicyVersionsInUse", "PolicyVersionsInUseQuota", "VersionsPerPolicyQuota",
        "UserPolicySizeQuota", "GroupPolicySizeQuota", "RolePolicySizeQuota", "AssumeRolePolicySizeQuota",
        "AccessKeysPerUserQuota", "AttachedPoliciesPerUserQuota", "AttachedPoliciesPerGroupQuota",
        "AttachedPoliciesPerRoleQuota", "GroupsPerUserQuota", "AccountAccessKeysPresent", "AccountMFAEnabled",
        "MFADevices", "MFADevicesInUse", "Providers", "GlobalEndpointTokenVersion",
        # The seven keys issue #19 found missing.
        "InstanceProfiles", "InstanceProfilesQuota", "ServerCertificates", "ServerCertificatesQuota",
        "SigningCertificatesPerUserQuota", "AccountPasswordPresent", "AccountSigningCertificatesPresent",
    }
    assert set(summary) == expected
    assert summary["InstanceProfilesQuota"] == 1000 and summary["ServerCertificatesQuota"] == 20
    assert summary["SigningCertificatesPerUserQuota"] == 2
    assert summary["AccountPasswordPresent"] == 0 and summary["AccountSigningCertificatesPresent"] == 0
    before = summary["InstanceProfiles"]
    name = unique("counted")
    iam.create_instance_profile(InstanceProfileName=name)
    assert iam.get_account_summary()["SummaryMap"]["InstanceProfiles"] == before + 1
    iam.delete_instance_profile(InstanceProfileName=name)


def test_create_role_echoes_the_boundary(iam):
    boundary = iam.create_policy(PolicyName=unique("boundary"), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Policy"]["Arn"]
    name = unique("bounded")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT), PermissionsBoundary=boundary,
                              Tags=[{"Key": "k", "Value": "v"}])["Role"]
    expected = {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": boundary}
    assert created["PermissionsBoundary"] == expected
    assert created["Tags"] == [{"Key": "k", "Value": "v"}]
    assert "RoleLastUsed" not in created
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"] == expected
    plain = iam.create_role(RoleName=unique("plain"), AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    assert "PermissionsBoundary" not in plain and plain["Arn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/")
