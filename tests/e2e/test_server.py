"""Process contract: bootstrap, account creation, persistence across restart and kill -9, graceful shutdown,
body limits, and authorization of IAM calls by the policy engine (issue #2)."""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, BINARY, ROOT_KEY, TRUST_ACCOUNT, Server, error_code, make_server, new_user_with_key, unique


def test_generated_root_credentials():
    data_dir = tempfile.mkdtemp(prefix="stsd-gen-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STSD_")}
    s = Server(data_dir)
    s.env = env
    s.start()
    try:
        path = os.path.join(data_dir, "root-credentials.json")
        creds = json.load(open(path))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert len(creds["AccountId"]) == 12 and creds["AccessKeyId"].startswith("AKIA")
        err = s.stderr()
        assert creds["AccessKeyId"] in err and creds["SecretAccessKey"] not in err
        sts = s.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"])
        assert sts.get_caller_identity()["Account"] == creds["AccountId"]
        assert sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == creds["AccountId"]
        # A restart reuses the state and does not rewrite the file.
        mtime = os.stat(path).st_mtime
        s.restart()
        assert os.stat(path).st_mtime == mtime
        assert sts.get_caller_identity()["Account"] == creds["AccountId"]
    finally:
        s.stop()


def test_env_ignored_after_first_start(fresh_server):
    fresh_server.env["STSD_ACCOUNT_ID"] = "999999999999"
    fresh_server.env["STSD_ROOT_ACCESS_KEY_ID"] = "AKIAOTHERKEYXXXXXXXX"
    fresh_server.restart()
    assert fresh_server.client("sts").get_caller_identity()["Account"] == ACCOUNT_ID


def test_account_create_and_isolation(fresh_server):
    s = fresh_server
    prod = s.create_account("production", "222233334444")
    assert set(prod) == {"AccountId", "AccessKeyId", "SecretAccessKey"}
    assert prod["AccountId"] == "222233334444"
    dev = s.create_account("development")
    assert len(dev["AccountId"]) == 12 and dev["AccountId"] != ACCOUNT_ID
    p_sts = s.client("sts", prod["AccessKeyId"], prod["SecretAccessKey"])
    assert p_sts.get_caller_identity()["Arn"] == "arn:aws:iam::222233334444:root"
    assert p_sts.get_access_key_info(AccessKeyId=prod["AccessKeyId"])["Account"] == "222233334444"
    # Each account has its own namespace.
    p_iam = s.client("iam", prod["AccessKeyId"], prod["SecretAccessKey"])
    d_iam = s.client("iam", dev["AccessKeyId"], dev["SecretAccessKey"])
    p_iam.create_user(UserName="shared-name")
    d_iam.create_user(UserName="shared-name")
    assert p_iam.get_user(UserName="shared-name")["User"]["Arn"] == "arn:aws:iam::222233334444:user/shared-name"
    assert d_iam.get_user(UserName="shared-name")["User"]["Arn"].startswith(f"arn:aws:iam::{dev['AccountId']}:")
    # A user with admin rights in dev cannot act in prod.
    d_iam.put_user_policy(UserName="shared-name", PolicyName="admin", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    k = d_iam.create_access_key(UserName="shared-name")["AccessKey"]
    dev_user = s.client("iam", k["AccessKeyId"], k["SecretAccessKey"])
    assert dev_user.list_users()["Users"][0]["Arn"].startswith(f"arn:aws:iam::{dev['AccountId']}:")
    assert all(":222233334444:" not in u["Arn"] for u in dev_user.list_users()["Users"])
    # Only the management root may create accounts.
    env = dict(os.environ, AWS_ACCESS_KEY_ID=prod["AccessKeyId"], AWS_SECRET_ACCESS_KEY=prod["SecretAccessKey"])
    p = subprocess.run([BINARY, "account", "create", "--name", "evil", "--endpoint", s.endpoint], env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    # Duplicate IDs are refused.
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ROOT_KEY, AWS_SECRET_ACCESS_KEY=s.env["STSD_ROOT_SECRET_ACCESS_KEY"])
    p = subprocess.run([BINARY, "account", "create", "--name", "again", "--id", "222233334444", "--endpoint", s.endpoint], env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "EntityAlreadyExists" in p.stderr
    # Accounts survive restart.
    s.restart()
    assert p_iam.get_user(UserName="shared-name")["User"]["UserName"] == "shared-name"


def test_state_survives_restart_and_kill9(fresh_server):
    s = fresh_server
    iam = s.client("iam")
    name, kid, secret = new_user_with_key(iam, policy={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})
    role = unique("persist")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT), MaxSessionDuration=5400)
    pol = iam.create_policy(PolicyName=unique("pp"), PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=pol)
    s.restart(sig=signal.SIGKILL)
    iam = s.client("iam")
    assert iam.get_role(RoleName=role)["Role"]["MaxSessionDuration"] == 5400
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"][0]["PolicyArn"] == pol
    # The user's key and its compiled policy work after the restart.
    me = s.client("iam", kid, secret)
    assert me.get_user(UserName=name)["User"]["UserName"] == name
    with pytest.raises(ClientError) as e:
        me.list_users()
    assert error_code(e) == "AccessDenied"
    s.restart(sig=signal.SIGTERM)
    assert s.client("iam").get_role(RoleName=role)["Role"]["RoleName"] == role


def test_sigterm_drains_and_port_is_reusable(fresh_server):
    s = fresh_server
    t0 = time.time()
    rc = s.stop(sig=signal.SIGTERM)
    assert rc == 0
    assert time.time() - t0 < 6
    s.start()  # same address, immediately
    assert s.client("sts").get_caller_identity()["Account"] == ACCOUNT_ID
    t0 = time.time()
    assert s.stop(sig=signal.SIGINT) == 0
    assert time.time() - t0 < 6
    s.start()


def test_body_limits(server):
    from test_sigv4 import FORM, code_of, send, signed

    # 12 MB of padding in an otherwise valid signed request is accepted.
    body = "Action=GetCallerIdentity&Version=2011-06-15&Pad=" + "a" * (12 * 1024 * 1024)
    st, _, text = send(server.endpoint + "/", body, signed(server, body=body))
    assert st == 200, text[:300]
    # Above 16 MiB: an AWS error envelope, not a reset.
    body = "Action=GetCallerIdentity&Version=2011-06-15&Pad=" + "a" * (17 * 1024 * 1024)
    st, _, text = send(server.endpoint + "/", body, dict(FORM))
    assert st == 413 and code_of(text) == "RequestEntityTooLarge"


def test_iam_calls_are_authorized_by_policy(server, iam):
    # No policy: implicit deny, with AWS's message.
    name, kid, secret = new_user_with_key(iam)
    me = server.client("iam", kid, secret)
    with pytest.raises(ClientError) as e:
        me.create_user(UserName=unique("x"))
    assert error_code(e) == "AccessDenied"
    msg = e.value.response["Error"]["Message"]
    assert f"User: arn:aws:iam::{ACCOUNT_ID}:user/{name} is not authorized to perform: iam:CreateUser" in msg
    assert "because no identity-based policy allows the iam:CreateUser action" in msg
    # A group policy allows; a user deny wins.
    group = unique("admins")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="all-iam", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    iam.add_user_to_group(GroupName=group, UserName=name)
    created = unique("ok")
    me.create_user(UserName=created)
    iam.put_user_policy(UserName=name, PolicyName="no-delete", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"}]}))
    with pytest.raises(ClientError) as e:
        me.delete_user(UserName=created)
    assert error_code(e) == "AccessDenied"
    assert "with an explicit deny in an identity-based policy" in e.value.response["Error"]["Message"]
    # Resource-level scoping with a policy variable and a tag condition.
    iam.delete_user_policy(UserName=name, PolicyName="no-delete")
    iam.remove_user_from_group(GroupName=group, UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="scoped", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/${aws:username}"},
            {"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}},
        ],
    }))
    assert me.get_user(UserName=name)["User"]["UserName"] == name
    with pytest.raises(ClientError) as e:
        me.get_user(UserName=created)
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        me.create_user(UserName=unique("t"), Tags=[{"Key": "team", "Value": "red"}])
    assert error_code(e) == "AccessDenied"
    me.create_user(UserName=unique("t"), Tags=[{"Key": "team", "Value": "blue"}])
    # GetUser without a name returns the caller.
    assert me.get_user()["User"]["UserName"] == name


def test_permissions_boundary_narrows(server, iam):
    bnd = iam.create_policy(PolicyName=unique("bnd"), PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}]}))["Policy"]["Arn"]
    name, kid, secret = new_user_with_key(iam, policy={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=bnd)
    me = server.client("iam", kid, secret)
    assert me.get_user(UserName=name)["User"]["UserName"] == name
    with pytest.raises(ClientError) as e:
        me.list_users()
    assert error_code(e) == "AccessDenied"
    assert "permissions boundary" in e.value.response["Error"]["Message"]


def test_health_readiness_and_metrics(server):
    """Load balancers and Prometheus: /healthz, /readyz and /metrics answer without authentication."""
    import urllib.request

    def decisions():
        with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as r:
            return {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in r.read().decode().splitlines()
                    if line.startswith("stsd_authorization_decisions_total{")}

    before = decisions()
    server.client("sts").get_caller_identity()
    with pytest.raises(ClientError):
        server.client("sts", "AKIA" + "Z" * 16, "x" * 40).get_caller_identity()
    # One decision of each kind the policy engine makes for these calls: an identity deny, a trust allow and
    # a trust deny.
    iam = server.client("iam")
    _, kid, secret = new_user_with_key(iam, policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
    role = iam.create_role(RoleName=unique("metrics"), AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    with pytest.raises(ClientError):
        server.client("iam", kid, secret).list_users()
    sts_user = server.client("sts", kid, secret)
    sts_user.assume_role(RoleArn=role["Arn"], RoleSessionName="metrics")
    with pytest.raises(ClientError):
        # The trust policy allows sts:AssumeRole but not sts:TagSession.
        sts_user.assume_role(RoleArn=role["Arn"], RoleSessionName="metrics", Tags=[{"Key": "k", "Value": "v"}])
    after = decisions()
    grew = {k: after[k] - before.get(k, 0) for k in after}
    assert grew['stsd_authorization_decisions_total{kind="identity",decision="implicit_deny"}'] >= 1
    assert grew['stsd_authorization_decisions_total{kind="trust",decision="allow"}'] >= 1
    assert grew['stsd_authorization_decisions_total{kind="trust",decision="implicit_deny"}'] >= 1
    for path, body in (("/healthz", "ok"), ("/readyz", "ready")):
        with urllib.request.urlopen(server.endpoint + path, timeout=10) as r:
            assert r.status == 200 and r.read().decode().strip() == body
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as r:
        text = r.read().decode()
    assert r.headers["Content-Type"].startswith("text/plain")
    counts = {}
    for line in text.splitlines():
        if line.startswith("stsd_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels] = int(value)
    assert counts.get('stsd_requests_total{action="GetCallerIdentity",outcome="ok"}', 0) >= 1
    assert counts.get('stsd_requests_total{action="GetCallerIdentity",outcome="InvalidClientTokenId"}', 0) >= 1
    assert 'stsd_request_duration_seconds_bucket{action="GetCallerIdentity",outcome="ok",le="+Inf"}' in text
    for gauge in ("stsd_audit_queue_depth", "stsd_store_generation", "stsd_store_errors_total",
                  "stsd_change_feed_lag_seconds"):
        assert f"\n{gauge} " in text
    # Every answer waited for its audit group's commit, so some were timed; IAM commits have their series too.
    audit_commits = re.search(r'\nstsd_store_commit_duration_seconds_count\{what="audit"\} (\d+)\n', text)
    assert audit_commits and int(audit_commits.group(1)) >= 1
    assert 'stsd_store_commit_duration_seconds_bucket{what="iam",le="+Inf"}' in text
    assert "Secret" not in text and "Zx9Tq4" not in text
