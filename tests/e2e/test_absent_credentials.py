"""Credential kinds stsd does not have (login profiles, password policy, SSH keys, service-specific credentials,
signing and server certificates) are answered truthfully — empty lists, NoSuchEntity — so the tools that call
them work (issue #19): e.g. the Terraform AWS provider destroying a `force_destroy` user."""

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, error_code, new_user_with_key, status, unique


def test_truthful_empty_answers(iam):
    name = unique("nopass")
    iam.create_user(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.get_login_profile(UserName=name)
    assert error_code(e) == "NoSuchEntity" and status(e) == 404
    assert e.value.response["Error"]["Message"] == f"Login Profile for User {name} cannot be found."
    with pytest.raises(ClientError) as e:
        iam.get_account_password_policy()
    assert error_code(e) == "NoSuchEntity"
    assert e.value.response["Error"]["Message"] == f"The Password Policy with domain name {ACCOUNT_ID} cannot be found."
    assert iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"] == []
    assert iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"] == []
    assert iam.list_signing_certificates(UserName=name)["Certificates"] == []
    assert iam.list_server_certificates()["ServerCertificateMetadataList"] == []
    for call in (lambda: iam.list_ssh_public_keys(UserName=unique("ghost")), lambda: iam.get_login_profile(UserName=unique("ghost"))):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "NoSuchEntity" and "cannot be found" in e.value.response["Error"]["Message"]
    iam.delete_user(UserName=name)


def test_authorized_like_any_call(server, iam):
    _, kid, secret = new_user_with_key(iam, policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ListSSHPublicKeys", "Resource": "arn:aws:iam::*:user/${aws:username}"}]})
    user_iam = server.client("iam", kid, secret)
    assert user_iam.list_ssh_public_keys()["SSHPublicKeys"] == []  # its own, by default
    other = unique("other")
    iam.create_user(UserName=other)
    for call in (lambda: user_iam.list_ssh_public_keys(UserName=other), lambda: user_iam.get_login_profile(UserName=other),
                 lambda: user_iam.get_account_password_policy()):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "AccessDenied"


def test_terraform_force_destroy_user_call_order(iam):
    """aws_iam_user with force_destroy = true: the provider's deletion calls, in its order (internal/service/iam
    user.go): group memberships, access keys, SSH keys, virtual and other MFA devices, login profile (NoSuchEntity
    tolerated), signing certificates, service-specific credentials, then DeleteUser."""
    from test_mfa import create_device, enable

    name = unique("tf-user")
    group = unique("tf-group")
    iam.create_user(UserName=name, Tags=[{"Key": "ManagedBy", "Value": "terraform"}])
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.create_access_key(UserName=name)
    _, serial, seed = create_device(iam)
    enable(iam, name, serial, seed)
    for g in iam.list_groups_for_user(UserName=name)["Groups"]:
        iam.remove_user_from_group(GroupName=g["GroupName"], UserName=name)
    for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    for k in iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"]:
        pytest.fail(f"unexpected SSH key {k}")
    for d in iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]:
        if d.get("User", {}).get("UserName") == name:
            iam.deactivate_mfa_device(UserName=name, SerialNumber=d["SerialNumber"])
            iam.delete_virtual_mfa_device(SerialNumber=d["SerialNumber"])
    assert iam.list_mfa_devices(UserName=name)["MFADevices"] == []
    with pytest.raises(ClientError) as e:
        iam.delete_login_profile(UserName=name)
    assert error_code(e) == "NoSuchEntity"
    assert iam.list_signing_certificates(UserName=name)["Certificates"] == []
    assert iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"] == []
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert error_code(e) == "NoSuchEntity"
    iam.delete_group(GroupName=group)
