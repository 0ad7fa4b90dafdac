"""Console passwords through the IAM API (boto3): login profiles, ChangePassword, the account password policy with
AWS's rules and errors, PasswordLastUsed and the credential report's password columns, and persistence across a
restart."""

import csv
import io
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, error_code, make_server, new_user_with_key, raw_call, status, unique

GOOD = "Corr3ct-Horse!"


@pytest.fixture()
def srv():
    """A server of its own: the password policy is account-wide state."""
    s = make_server()
    yield s
    s.stop()


def test_login_profile_lifecycle(iam):
    user = unique("lp")
    iam.create_user(UserName=user)
    created = iam.create_login_profile(UserName=user, Password=GOOD, PasswordResetRequired=True)["LoginProfile"]
    assert created["UserName"] == user and created["PasswordResetRequired"] is True
    got = iam.get_login_profile(UserName=user)["LoginProfile"]
    assert got["UserName"] == user and got["PasswordResetRequired"] is True and got["CreateDate"]
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=user, Password=GOOD)
    assert error_code(e) == "EntityAlreadyExists" and status(e) == 409
    iam.update_login_profile(UserName=user, PasswordResetRequired=False)
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
    # A user with a password cannot be deleted until the login profile is.
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user)
    assert error_code(e) == "DeleteConflict"
    iam.delete_login_profile(UserName=user)
    for call in (iam.get_login_profile, iam.delete_login_profile):
        with pytest.raises(ClientError) as e:
            call(UserName=user)
        assert error_code(e) == "NoSuchEntity" and status(e) == 404
    with pytest.raises(ClientError) as e:
        iam.update_login_profile(UserName=user, Password=GOOD)
    assert error_code(e) == "NoSuchEntity"
    iam.delete_user(UserName=user)
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=user, Password=GOOD)
    assert error_code(e) == "NoSuchEntity"


def test_default_rules_refuse_weak_passwords(iam):
    user = unique("lp")
    iam.create_user(UserName=user)
    for weak in ("Sh0rt!", "alllowercase1", "NoDigitsOrSymbols"):
        with pytest.raises(ClientError) as e:
            iam.create_login_profile(UserName=user, Password=weak)
        assert error_code(e) == "PasswordPolicyViolation" and status(e) == 400
        assert weak not in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        iam.get_login_profile(UserName=user)
    assert error_code(e) == "NoSuchEntity"


def test_password_policy_rules_errors_and_persistence(srv):
    iam = srv.client("iam")
    with pytest.raises(ClientError) as e:
        iam.get_account_password_policy()
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.delete_account_password_policy()
    assert error_code(e) == "NoSuchEntity"
    # botocore checks the range itself: send it raw to see the server's answer.
    code, text = raw_call(srv, "iam", {"Action": "UpdateAccountPasswordPolicy", "Version": "2010-05-08", "MinimumPasswordLength": "5"})
    assert code == 400 and "<Code>ValidationError</Code>" in text
    iam.update_account_password_policy(
        MinimumPasswordLength=12, RequireSymbols=True, RequireNumbers=True, RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True, AllowUsersToChangePassword=True, MaxPasswordAge=90, PasswordReusePrevention=3,
    )
    pp = iam.get_account_password_policy()["PasswordPolicy"]
    assert pp["MinimumPasswordLength"] == 12 and pp["RequireSymbols"] and pp["RequireNumbers"]
    assert pp["RequireUppercaseCharacters"] and pp["RequireLowercaseCharacters"] and pp["AllowUsersToChangePassword"]
    assert pp["ExpirePasswords"] is True and pp["MaxPasswordAge"] == 90 and pp["PasswordReusePrevention"] == 3
    assert pp["HardExpiry"] is False
    iam.create_user(UserName="pat")
    for bad, why in (("Short1!a", "minimum length of 12"), ("nouppercase1!x", "uppercase"),
                     ("NOLOWERCASE1!X", "lowercase"), ("NoNumbersHere!x", "number"), ("NoSymbolsHere1x", "symbol")):
        with pytest.raises(ClientError) as e:
            iam.create_login_profile(UserName="pat", Password=bad)
        assert error_code(e) == "PasswordPolicyViolation", bad
        assert why in e.value.response["Error"]["Message"], bad
    iam.create_login_profile(UserName="pat", Password="Long-Enough-1x")
    # State survives a restart: the policy and the login profile.
    srv.restart()
    iam = srv.client("iam")
    assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 12
    assert iam.get_login_profile(UserName="pat")["LoginProfile"]["UserName"] == "pat"
    iam.delete_account_password_policy()
    with pytest.raises(ClientError) as e:
        iam.get_account_password_policy()
    assert error_code(e) == "NoSuchEntity"


def test_change_password_rules(srv):
    iam = srv.client("iam")
    iam.update_account_password_policy(MinimumPasswordLength=8, AllowUsersToChangePassword=True, PasswordReusePrevention=2)
    user, kid, secret = new_user_with_key(iam)
    iam.create_login_profile(UserName=user, Password="First-pass-1", PasswordResetRequired=True)
    me = srv.client("iam", kid, secret)
    with pytest.raises(ClientError) as e:
        me.change_password(OldPassword="wrong-old-1", NewPassword="Second-pass-2")
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        me.change_password(OldPassword="First-pass-1", NewPassword="First-pass-1")
    assert error_code(e) == "PasswordPolicyViolation"
    me.change_password(OldPassword="First-pass-1", NewPassword="Second-pass-2")
    # Changing it clears PasswordResetRequired.
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
    # The root is not an IAM user.
    with pytest.raises(ClientError) as e:
        iam.change_password(OldPassword="whatever1A!", NewPassword="Other-pass-3")
    assert error_code(e) == "InvalidUserType"
    # Without AllowUsersToChangePassword the user needs iam:ChangePassword.
    iam.delete_account_password_policy()
    with pytest.raises(ClientError) as e:
        me.change_password(OldPassword="Second-pass-2", NewPassword="Third-pass-3")
    assert error_code(e) == "AccessDenied"
    iam.put_user_policy(UserName=user, PolicyName="cp", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"}]}))
    me.change_password(OldPassword="Second-pass-2", NewPassword="Third-pass-3")


def test_login_profile_actions_are_authorized(iam, server):
    target = unique("lp")
    iam.create_user(UserName=target)
    _, kid, secret = new_user_with_key(iam, policy={
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetLoginProfile", "Resource": "*"}]})
    other = server.client("iam", kid, secret)
    with pytest.raises(ClientError) as e:
        other.create_login_profile(UserName=target, Password=GOOD)
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        other.update_account_password_policy(MinimumPasswordLength=10)
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        other.get_login_profile(UserName=target)
    assert error_code(e) == "NoSuchEntity"


def test_credential_report_password_columns(srv):
    # A server of its own: a report younger than 4 hours is served as it is, without newer users.
    iam = srv.client("iam")
    user = unique("lp")
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password=GOOD)
    deadline = time.time() + 30
    while iam.generate_credential_report()["State"] != "COMPLETE" and time.time() < deadline:
        time.sleep(0.2)
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode()))}
    row = rows[user]
    assert row["password_enabled"] == "true"
    assert row["password_last_used"] == "no_information"
    assert row["password_last_changed"].startswith("20")
    assert "PasswordLastUsed" not in iam.get_user(UserName=user)["User"]


def test_password_is_never_in_the_audit_trail(server, iam):
    user = unique("lp")
    secret_password = "Audit-Secret-" + unique("pw")
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password=secret_password)
    iam.update_login_profile(UserName=user, Password=secret_password + "2")
    trail = server.client("cloudtrail")
    events = []
    for name in ("CreateLoginProfile", "UpdateLoginProfile"):
        events += trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]
    mine = [e for e in events if user in e["CloudTrailEvent"]]
    assert len(mine) >= 2
    for e in mine:
        assert secret_password not in e["CloudTrailEvent"]
