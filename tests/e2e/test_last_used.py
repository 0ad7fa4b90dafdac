"""Last-used tracking (issue #19): GetAccessKeyLastUsed and RoleLastUsed are set by use, recorded off the request
path, stored in batches, and survive restarts."""

import datetime
import json
import signal

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, ROOT_KEY, TRUST_ACCOUNT, client_clock, error_code, make_server, new_user_with_key, unique

ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


def near_now(ts, offset=0, slack=120):
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return abs((ts - now).total_seconds()) < slack


def test_access_key_last_used(server, iam):
    name, kid, secret = new_user_with_key(iam, policy=ASSUME)
    never = iam.get_access_key_last_used(AccessKeyId=kid)
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    # A signed request is a use: service and region come from the signature scope.
    server.client("sts", kid, secret, region="ap-southeast-2").get_caller_identity()
    used = iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
    assert used["ServiceName"] == "sts" and used["Region"] == "ap-southeast-2"
    assert near_now(used["LastUsedDate"])
    # A denied request still used the key; the latest use wins.
    with pytest.raises(ClientError) as e:
        server.client("iam", kid, secret, region="us-east-1").list_users()
    assert error_code(e) == "AccessDenied"
    used = iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("iam", "us-east-1")
    # The root's own key is tracked too (this very call signs with it).
    root = iam.get_access_key_last_used(AccessKeyId=ROOT_KEY)
    assert "UserName" not in root and root["AccessKeyLastUsed"]["ServiceName"] == "iam"


def test_role_last_used_by_assume_role_and_by_its_sessions(server, iam):
    role = unique("used")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["Arn"]
    assert iam.get_role(RoleName=role)["Role"]["RoleLastUsed"] == {}
    _, kid, secret = new_user_with_key(iam, policy=ASSUME)
    creds = server.client("sts", kid, secret, region="eu-central-1").assume_role(RoleArn=arn, RoleSessionName="session")["Credentials"]
    last = iam.get_role(RoleName=role)["Role"]["RoleLastUsed"]
    assert last["Region"] == "eu-central-1" and near_now(last["LastUsedDate"])
    # A request made with the role's session is a use of the role, in that request's region.
    server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], region="sa-east-1").get_caller_identity()
    assert iam.get_role(RoleName=role)["Role"]["RoleLastUsed"]["Region"] == "sa-east-1"
    # GetAccountAuthorizationDetails carries the same; ListRoles omits it, as AWS does.
    rd = next(r for r in iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"] if r["RoleName"] == role)
    assert rd["RoleLastUsed"]["Region"] == "sa-east-1"
    assert all("RoleLastUsed" not in r for r in iam.list_roles()["Roles"])


def test_last_used_survives_restart_and_is_per_unique_id():
    s = make_server()
    try:
        iam = s.client("iam")
        name, kid, secret = new_user_with_key(iam, policy=ASSUME)
        role = unique("durable")
        arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["Arn"]
        s.client("sts", kid, secret, region="us-west-2").assume_role(RoleArn=arn, RoleSessionName="session")
        before_key = iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
        before_role = iam.get_role(RoleName=role)["Role"]["RoleLastUsed"]
        # SIGTERM: the server stores pending uses before it exits.
        s.restart()
        iam = s.client("iam")
        assert iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"] == before_key
        assert iam.get_role(RoleName=role)["Role"]["RoleLastUsed"] == before_role
        # A namesake role created later is a new role: never used.
        iam.delete_role(RoleName=role)
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
        assert iam.get_role(RoleName=role)["Role"]["RoleLastUsed"] == {}
        s.restart(sig=signal.SIGKILL)
        assert s.client("iam").get_role(RoleName=role)["Role"]["RoleLastUsed"] == {}
    finally:
        s.stop()


def test_uses_at_a_later_server_time():
    """With the server clock moved ahead (and the client signing at that time), the recorded date moves too."""
    s = make_server()
    try:
        _, kid, secret = new_user_with_key(s.client("iam"), policy=ASSUME)
        s.client("sts", kid, secret).get_caller_identity()
        day = 86_400
        s.restart_with_clock_offset(3 * day)
        with client_clock(3 * day):
            s.client("sts", kid, secret, region="eu-north-1").get_caller_identity()
            used = s.client("iam").get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
        assert used["Region"] == "eu-north-1" and near_now(used["LastUsedDate"], offset=3 * day)
    finally:
        s.stop()
