"""GetCallerIdentity / GetAccessKeyInfo for root and IAM users (issue #2)."""

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, ROOT_KEY, error_code, new_user_with_key


def test_root_caller_identity(sts):
    ident = sts.get_caller_identity()
    assert ident["Account"] == ACCOUNT_ID
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert ident["UserId"] == ACCOUNT_ID


def test_user_caller_identity(server, iam):
    name, kid, secret = new_user_with_key(iam)
    user = iam.get_user(UserName=name)["User"]
    ident = server.client("sts", kid, secret).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"
    assert ident["UserId"] == user["UserId"]
    assert ident["UserId"].startswith("AIDA") and len(ident["UserId"]) == 21


def test_get_caller_identity_needs_no_policy(server, iam):
    # A user with no permissions at all may still ask who it is.
    name, kid, secret = new_user_with_key(iam)
    assert server.client("sts", kid, secret).get_caller_identity()["Arn"].endswith(f"user/{name}")


def test_access_key_info_decodes_account(sts, iam):
    # The bootstrap key was imported as given; it is resolved by lookup.
    assert sts.get_access_key_info(AccessKeyId=ROOT_KEY)["Account"] == ACCOUNT_ID
    # Keys stsd mints encode their account.
    _, kid, _ = new_user_with_key(iam)
    assert kid.startswith("AKIA") and len(kid) == 20
    assert sts.get_access_key_info(AccessKeyId=kid)["Account"] == ACCOUNT_ID
    # Keys of other systems decode with the same layout, with no lookup (reference §2.1).
    assert sts.get_access_key_info(AccessKeyId="ASIAY34FZKBOKMUTVV7A")["Account"] == "609629065308"
    assert sts.get_access_key_info(AccessKeyId="ASIAGO645SY5AAWF5EID")["Account"] == "444455556666"


def test_access_key_info_requires_permission_for_users(server, iam):
    _, kid, secret = new_user_with_key(iam)
    with pytest.raises(ClientError) as e:
        server.client("sts", kid, secret).get_access_key_info(AccessKeyId=kid)
    assert error_code(e) == "AccessDenied"


def test_access_key_info_validation(sts):
    with pytest.raises(ClientError) as e:
        sts.get_access_key_info(AccessKeyId="not a key id!!!!!!!")
    assert error_code(e) == "ValidationError"
