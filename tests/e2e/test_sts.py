"""Temporary credentials end to end with boto3 and the aws CLI (issue #4 scenarios)."""

import base64
import datetime
import json
import os
import signal
import subprocess
import tempfile
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import (ACCOUNT_ID, REGION, ROOT_KEY, ROOT_SECRET, TRUST_ACCOUNT, error_code, make_server, new_user_with_key,
                      raw_call, unique)


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", condition=None):
    s = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def trust(principal, actions=("sts:AssumeRole",), condition=None):
    s = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": list(actions)}
    if condition:
        s["Condition"] = condition
    return doc(s)


def make_role(iam, trust_doc, policy=None, **kw):
    name = unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc, **kw)["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="perms", PolicyDocument=policy)
    return name, arn


def session_clients(server, creds):
    c = creds["Credentials"]
    return (server.client("sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]),
            server.client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))


def test_scenario1_same_account_switch(server, iam):
    role, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root"), doc(allow(["iam:ListUsers", "iam:GetRole"])))
    user, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole", role_arn), allow("iam:ListGroups"))))
    user_sts = server.client("sts", kid, secret)
    user_iam = server.client("iam", kid, secret)
    with pytest.raises(ClientError) as e:
        user_iam.list_users()
    assert error_code(e) == "AccessDenied"
    creds = user_sts.assume_role(RoleArn=role_arn, RoleSessionName="alice-session", DurationSeconds=900)
    c = creds["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["AccessKeyId"]) == 20
    assert len(c["SecretAccessKey"]) == 40 and c["SessionToken"]
    assert 880 <= (c["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds() <= 905
    aru = creds["AssumedRoleUser"]
    role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
    assert aru["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/alice-session"
    assert aru["AssumedRoleId"] == f"{role_id}:alice-session"
    s_sts, s_iam = session_clients(server, creds)
    ident = s_sts.get_caller_identity()
    assert ident["Arn"] == aru["Arn"] and ident["UserId"] == aru["AssumedRoleId"] and ident["Account"] == ACCOUNT_ID
    assert user in [u["UserName"] for u in s_iam.list_users(MaxItems=1000)["Users"]]  # role allows it
    with pytest.raises(ClientError) as e:
        s_iam.list_groups()  # the user could; the session cannot ("one role at a time")
    assert error_code(e) == "AccessDenied"
    assert f"assumed-role/{role}/alice-session is not authorized to perform: iam:ListGroups" in e.value.response["Error"]["Message"]
    assert server.client("sts").get_access_key_info(AccessKeyId=c["AccessKeyId"])["Account"] == ACCOUNT_ID
    # Without the identity grant the same-account AssumeRole (trust names the account) is refused.
    _, k2, s2 = new_user_with_key(iam)
    with pytest.raises(ClientError) as e:
        server.client("sts", k2, s2).assume_role(RoleArn=role_arn, RoleSessionName="x1")
    assert error_code(e) == "AccessDenied"
    # Root may not assume roles; unknown roles look like denials.
    with pytest.raises(ClientError) as e:
        server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="root")
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        user_sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/does-not-exist", RoleSessionName="x1")
    assert error_code(e) == "AccessDenied"


def test_trust_naming_user_needs_no_identity_policy(server, iam):
    user, kid, secret = new_user_with_key(iam)
    user_arn = iam.get_user(UserName=user)["User"]["Arn"]
    _, role_arn = make_role(iam, trust(user_arn))
    creds = server.client("sts", kid, secret).assume_role(RoleArn=role_arn, RoleSessionName="direct")
    assert creds["AssumedRoleUser"]["Arn"].endswith("/direct")


def test_scenario2_cross_account(fresh_server):
    s = fresh_server
    prod = s.create_account("production")
    dev = s.create_account("development")
    p_iam = s.client("iam", prod["AccessKeyId"], prod["SecretAccessKey"])
    d_iam = s.client("iam", dev["AccessKeyId"], dev["SecretAccessKey"])
    role_arn = p_iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{dev['AccountId']}:root"))["Role"]["Arn"]
    p_iam.put_role_policy(RoleName="deploy", PolicyName="p", PolicyDocument=doc(allow("iam:ListRoles")))
    d_iam.create_user(UserName="dev-user")
    k = d_iam.create_access_key(UserName="dev-user")["AccessKey"]
    dev_sts = s.client("sts", k["AccessKeyId"], k["SecretAccessKey"])
    # Dev side missing → denied.
    with pytest.raises(ClientError) as e:
        dev_sts.assume_role(RoleArn=role_arn, RoleSessionName="ci")
    assert error_code(e) == "AccessDenied"
    d_iam.put_user_policy(UserName="dev-user", PolicyName="assume", PolicyDocument=doc(allow("sts:AssumeRole", role_arn)))
    creds = dev_sts.assume_role(RoleArn=role_arn, RoleSessionName="ci")
    assert creds["Credentials"]["AccessKeyId"].startswith("ASIA")
    s_sts, s_iam = session_clients(s, creds)
    assert s_sts.get_caller_identity()["Account"] == prod["AccountId"]
    assert s.client("sts").get_access_key_info(AccessKeyId=creds["Credentials"]["AccessKeyId"])["Account"] == prod["AccountId"]
    assert [r["RoleName"] for r in s_iam.list_roles()["Roles"]] == ["deploy"]  # acts in production
    # Prod side missing → denied.
    p_iam.update_assume_role_policy(RoleName="deploy", PolicyDocument=trust(f"arn:aws:iam::{prod['AccountId']}:root"))
    with pytest.raises(ClientError) as e:
        dev_sts.assume_role(RoleArn=role_arn, RoleSessionName="ci")
    assert error_code(e) == "AccessDenied"
    # Another account's role: nothing about why (its trust policy is not the caller's business).
    assert e.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{dev['AccountId']}:user/dev-user is not authorized to perform: "
        f"sts:AssumeRole on resource: {role_arn}")


def test_scenario3_external_id(server, iam):
    _, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root", condition={"StringEquals": {"sts:ExternalId": "Unique-3rd-Party-ID"}}))
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    sts = server.client("sts", kid, secret)
    for kw in ({}, {"ExternalId": "wrong-id"}):
        with pytest.raises(ClientError) as e:
            sts.assume_role(RoleArn=role_arn, RoleSessionName="vendor", **kw)
        assert error_code(e) == "AccessDenied"
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="vendor", ExternalId="Unique-3rd-Party-ID")["Credentials"]


def test_scenario5_session_tags_and_transitivity(server, iam):
    base = f"arn:aws:iam::{ACCOUNT_ID}:root"
    hr_policy = doc(allow("iam:ListUsers", condition={"StringEquals": {"aws:PrincipalTag/Department": "HR"}}))
    role_a, arn_a = make_role(iam, trust(base, ("sts:AssumeRole", "sts:TagSession")), hr_policy)
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow(["sts:AssumeRole", "sts:TagSession"]))))
    sts = server.client("sts", kid, secret)
    tagged = sts.assume_role(RoleArn=arn_a, RoleSessionName="hr", Tags=[{"Key": "Department", "Value": "HR"}, {"Key": "Project", "Value": "x"}],
                             TransitiveTagKeys=["Department"])
    untagged = sts.assume_role(RoleArn=arn_a, RoleSessionName="plain")
    assert session_clients(server, tagged)[1].list_users()["Users"] is not None
    with pytest.raises(ClientError) as e:
        session_clients(server, untagged)[1].list_users()
    assert error_code(e) == "AccessDenied"
    # Case-insensitive duplicate keys are refused.
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn_a, RoleSessionName="dup", Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert error_code(e) in ("InvalidParameterValue", "ValidationError")
    # Without sts:TagSession in the trust policy, tags are refused.
    _, arn_notag = make_role(iam, trust(base), hr_policy)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn_notag, RoleSessionName="t1", Tags=[{"Key": "Department", "Value": "HR"}])
    assert error_code(e) == "AccessDenied"
    # Chaining: the transitive tag survives, the other does not.
    chain_policy = doc(allow("iam:ListUsers", condition={"StringEquals": {"aws:PrincipalTag/Department": "HR"}}),
                       allow("iam:ListRoles", condition={"StringEquals": {"aws:PrincipalTag/Project": "x"}}))
    _, arn_b = make_role(iam, trust(base, ("sts:AssumeRole", "sts:TagSession")), chain_policy)
    iam.put_role_policy(RoleName=role_a, PolicyName="chain", PolicyDocument=doc(allow("sts:AssumeRole", arn_b)))
    a_sts, _ = session_clients(server, tagged)
    chained = a_sts.assume_role(RoleArn=arn_b, RoleSessionName="chained")
    _, b_iam = session_clients(server, chained)
    assert b_iam.list_users()["Users"] is not None
    with pytest.raises(ClientError) as e:
        b_iam.list_roles()
    assert error_code(e) == "AccessDenied"
    # An inherited transitive tag cannot be overridden.
    with pytest.raises(ClientError) as e:
        a_sts.assume_role(RoleArn=arn_b, RoleSessionName="override", Tags=[{"Key": "department", "Value": "IT"}])
    assert error_code(e) in ("InvalidParameterValue", "ValidationError", "AccessDenied")


def test_scenario6_revoke_older_sessions(server, iam):
    role, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root"), doc(allow("iam:ListUsers")))
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    sts = server.client("sts", kid, secret)
    old = session_clients(server, sts.assume_role(RoleArn=role_arn, RoleSessionName="old"))[1]
    old.list_users()
    time.sleep(1.1)
    cutoff = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    iam.put_role_policy(RoleName=role, PolicyName="AWSRevokeOlderSessions", PolicyDocument=doc(
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}))
    with pytest.raises(ClientError) as e:
        old.list_users()
    assert error_code(e) == "AccessDenied"
    assert "explicit deny" in e.value.response["Error"]["Message"]
    time.sleep(1.1)
    new = session_clients(server, sts.assume_role(RoleArn=role_arn, RoleSessionName="new"))[1]
    new.list_users()


def test_scenario7_duration_rules(server, iam):
    role, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root"), doc(allow("sts:AssumeRole")), MaxSessionDuration=7200)
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    sts = server.client("sts", kid, secret)
    st, text = raw_call(server, "sts", {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role_arn, "RoleSessionName": "s1", "DurationSeconds": "899"}, kid, secret)
    assert st == 400 and "<Code>ValidationError</Code>" in text
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=7201)
    assert error_code(e) == "ValidationError" and "MaxSessionDuration" in e.value.response["Error"]["Message"]
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=7200)
    s_sts, _ = session_clients(server, creds)
    with pytest.raises(ClientError) as e:
        s_sts.assume_role(RoleArn=role_arn, RoleSessionName="chain", DurationSeconds=3601)
    assert error_code(e) == "ValidationError"
    assert s_sts.assume_role(RoleArn=role_arn, RoleSessionName="chain", DurationSeconds=3600)["Credentials"]
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="bad name!")
    assert error_code(e) == "ValidationError"


def _signed_at(server, creds, when, body="Action=GetCallerIdentity&Version=2011-06-15"):
    from test_sigv4 import code_of, send
    import botocore.auth as ba
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    real = ba.datetime.datetime

    class Fixed(real):
        @classmethod
        def utcnow(cls):
            return when

        @classmethod
        def now(cls, tz=None):
            return when if tz is None else when.replace(tzinfo=tz)

    c = creds["Credentials"]
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    ba.datetime.datetime = Fixed
    try:
        SigV4Auth(Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]), "sts", "us-east-1").add_auth(req)
    finally:
        ba.datetime.datetime = real
    st, _, text = send(server.endpoint + "/", body, dict(req.headers))
    return st, text


def test_scenario7_expired_and_scenario9_restart(fresh_server):
    s = fresh_server
    iam = s.client("iam")
    _, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root"), doc(allow("iam:ListRoles")))
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    creds = s.client("sts", kid, secret).assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=900)
    gst = s.client("sts", kid, secret).get_session_token(DurationSeconds=900)
    # Scenario 9: still valid after a restart (and after kill -9).
    s.restart(sig=signal.SIGKILL)
    s_sts, s_iam = session_clients(s, creds)
    assert s_sts.get_caller_identity()["Arn"].endswith("/s1")
    assert s_iam.list_roles()["Roles"]
    assert ":user/" in session_clients(s, gst)[0].get_caller_identity()["Arn"]
    # Scenario 7: past Expiration → ExpiredToken (server clock moved 1000 s ahead, request signed at that time).
    s.stop()
    s.env["STSD_CLOCK_OFFSET_SECS"] = "1000"
    s.start()
    later = datetime.datetime.utcnow() + datetime.timedelta(seconds=1000)
    st, text = _signed_at(s, creds, later)
    assert st == 403 and "<Code>ExpiredToken</Code>" in text, text


def test_tampered_and_foreign_tokens(server, iam):
    _, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    sts = server.client("sts", kid, secret)
    a = sts.assume_role(RoleArn=role_arn, RoleSessionName="a1")["Credentials"]
    b = sts.assume_role(RoleArn=role_arn, RoleSessionName="b1")["Credentials"]
    raw = bytearray(base64.b64decode(a["SessionToken"]))
    raw[-1] ^= 1
    cases = [
        (a["AccessKeyId"], a["SecretAccessKey"], base64.b64encode(bytes(raw)).decode()),  # tampered
        (a["AccessKeyId"], a["SecretAccessKey"], a["SessionToken"][: len(a["SessionToken"]) // 2]),  # truncated
        (a["AccessKeyId"], a["SecretAccessKey"], b["SessionToken"]),  # another key's token
        (a["AccessKeyId"], a["SecretAccessKey"], "not-a-token"),
    ]
    for k, sec, tok in cases:
        with pytest.raises(ClientError) as e:
            server.client("sts", k, sec, tok).get_caller_identity()
        assert error_code(e) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as e:
        server.client("sts", a["AccessKeyId"], b["SecretAccessKey"], a["SessionToken"]).get_caller_identity()
    assert error_code(e) == "SignatureDoesNotMatch"


def test_get_session_token(server, iam):
    user, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("iam:ListUsers"), allow("sts:AssumeRole"))))
    sts = server.client("sts", kid, secret)
    creds = sts.get_session_token()
    c = creds["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    hours = (c["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 3600
    assert 11.9 < hours <= 12.0  # default 43200 s for users
    s_sts, s_iam = session_clients(server, creds)
    assert s_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    with pytest.raises(ClientError) as e:
        s_iam.list_users()  # no MFA → no IAM: AWS answers as for an invalid token (GetSessionToken docs)
    assert error_code(e) == "InvalidClientTokenId"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        s_sts.get_session_token()
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s_sts.get_federation_token(Name="fed")
    assert error_code(e) == "AccessDenied"
    # The session may assume a role.
    _, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    assert s_sts.assume_role(RoleArn=role_arn, RoleSessionName="from-gst")["Credentials"]
    # Root: capped at one hour.
    root = server.client("sts").get_session_token(DurationSeconds=129600)["Credentials"]
    assert (root["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds() <= 3605
    with pytest.raises(ClientError) as e:
        sts.get_session_token(DurationSeconds=129601)
    assert error_code(e) == "ValidationError"


def test_get_federation_token(server, iam):
    user, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:GetFederationToken"), allow("s3:*"))))
    sts = server.client("sts", kid, secret)
    fed = sts.get_federation_token(Name="carol", Policy=doc(allow("s3:GetObject", "arn:aws:s3:::b/*")), DurationSeconds=900)
    assert fed["FederatedUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:federated-user/carol"
    assert fed["FederatedUser"]["FederatedUserId"] == f"{ACCOUNT_ID}:carol"
    assert "PackedPolicySize" in fed
    f_sts, f_iam = session_clients(server, fed)
    assert f_sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:federated-user/carol"
    with pytest.raises(ClientError) as e:
        f_iam.list_users()
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        sts.get_federation_token(Name="carol", Policy="{not json")
    assert error_code(e) == "MalformedPolicyDocument"
    _, k2, s2 = new_user_with_key(iam)
    with pytest.raises(ClientError) as e:
        server.client("sts", k2, s2).get_federation_token(Name="nope")
    assert error_code(e) == "AccessDenied"


def test_session_policy_narrows(server, iam):
    _, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root"), doc(allow(["iam:ListUsers", "iam:ListRoles"])))
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    creds = server.client("sts", kid, secret).assume_role(RoleArn=role_arn, RoleSessionName="narrow", Policy=doc(allow("iam:ListUsers")))
    assert "PackedPolicySize" in creds and 0 < creds["PackedPolicySize"] <= 100
    _, s_iam = session_clients(server, creds)
    s_iam.list_users()
    with pytest.raises(ClientError) as e:
        s_iam.list_roles()
    assert error_code(e) == "AccessDenied"
    assert "session policy" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        server.client("sts", kid, secret).assume_role(RoleArn=role_arn, RoleSessionName="bad", Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}')
    assert error_code(e) == "MalformedPolicyDocument"


def test_scenario8_cli_and_boto3_assume_role_provider(server, iam):
    _, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root", condition={"StringEquals": {"sts:ExternalId": "ext-123"}}),
                            doc(allow("iam:ListRoles")))
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    d = tempfile.mkdtemp()
    cfg = os.path.join(d, "config")
    with open(cfg, "w") as f:
        f.write(f"[profile src]\naws_access_key_id = {kid}\naws_secret_access_key = {secret}\nregion = {REGION}\n\n"
                f"[profile deploy]\nrole_arn = {role_arn}\nsource_profile = src\nexternal_id = ext-123\nrole_session_name = cli-session\nregion = {REGION}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=cfg, AWS_SHARED_CREDENTIALS_FILE=os.path.join(d, "none"), AWS_ENDPOINT_URL=server.endpoint, AWS_MAX_ATTEMPTS="1")
    p = subprocess.run(["aws", "sts", "get-caller-identity", "--profile", "deploy", "--output", "json"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["Arn"].endswith(":assumed-role/" + role_arn.split("/")[-1] + "/cli-session")
    # boto3's AssumeRoleProvider, same config.
    old = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        sess = boto3.Session(profile_name="deploy")
        ident = sess.client("sts", config=botocore.config.Config(retries={"max_attempts": 1})).get_caller_identity()
        assert ident["Arn"].endswith("/cli-session")
        assert sess.client("iam").list_roles()["Roles"]
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_token_key_rotation(fresh_server):
    from conftest import BINARY

    s = fresh_server
    iam = s.client("iam")
    _, role_arn = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT_ID}:root"), doc(allow("iam:ListRoles")))
    _, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"))))
    sts = s.client("sts", kid, secret)
    before = sts.assume_role(RoleArn=role_arn, RoleSessionName="before")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ROOT_KEY, AWS_SECRET_ACCESS_KEY=ROOT_SECRET)
    p = subprocess.run([BINARY, "keys", "rotate", "--endpoint", s.endpoint], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["ActiveKeyId"] == 2
    # The new key is published first (every node sharing the store learns it) and seals after 5 seconds.
    during = sts.assume_role(RoleArn=role_arn, RoleSessionName="during")
    time.sleep(5.5)
    after = sts.assume_role(RoleArn=role_arn, RoleSessionName="after")
    # Each token names its key: version byte, then the key ID.
    assert base64.b64decode(before["Credentials"]["SessionToken"])[1:5] == (1).to_bytes(4, "big")
    assert base64.b64decode(during["Credentials"]["SessionToken"])[1:5] == (1).to_bytes(4, "big")
    assert base64.b64decode(after["Credentials"]["SessionToken"])[1:5] == (2).to_bytes(4, "big")
    s.restart()
    for creds in (before, after):
        assert session_clients(s, creds)[1].list_roles()["Roles"]
    # Only the management root may rotate.
    _, k2, s2 = new_user_with_key(iam, policy=json.loads(doc(allow("*"))))
    env = dict(os.environ, AWS_ACCESS_KEY_ID=k2, AWS_SECRET_ACCESS_KEY=s2)
    p = subprocess.run([BINARY, "keys", "rotate", "--endpoint", s.endpoint], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "AccessDenied" in p.stderr


def test_scenario4_mfa_protected_role(server, iam):
    from test_mfa import create_device, enable, now_step, totp

    mfa_trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole",
                     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}, "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}})
    _, role_arn = make_role(iam, mfa_trust, doc(allow("iam:ListRoles")))
    user, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:AssumeRole"), allow("iam:ListUsers"))))
    _, serial, seed = create_device(iam)
    enable(iam, user, serial, seed)  # uses steps n-1 and n
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["MFADevicesInUse"] >= 1 and summary["MFADevices"] >= summary["MFADevicesInUse"]
    sts = server.client("sts", kid, secret)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="nomfa")
    assert error_code(e) == "AccessDenied"
    wrong = f"{(int(totp(seed, now_step() + 1)) + 1) % 1_000_000:06d}"
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="wrong", SerialNumber=serial, TokenCode=wrong)
    assert error_code(e) == "AccessDenied"
    assert "MultiFactorAuthentication failed" in e.value.response["Error"]["Message"]
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="withmfa", SerialNumber=serial, TokenCode=totp(seed, now_step() + 1))
    assert session_clients(server, creds)[1].list_roles()["Roles"]
    # The same code is never accepted twice.
    with pytest.raises(ClientError) as e:
        sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, now_step() + 1))
    assert error_code(e) == "AccessDenied"
    # GetSessionToken with MFA, then AssumeRole without a code.
    time.sleep(max(0, 30 - time.time() % 30) + 0.5)  # a fresh step
    gst = sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, now_step() + 1), DurationSeconds=900)
    g_sts, g_iam = session_clients(server, gst)
    assert g_iam.list_users()["Users"] is not None  # MFA sessions may call IAM
    assert g_sts.assume_role(RoleArn=role_arn, RoleSessionName="via-gst")["Credentials"]


def test_decode_authorization_message(server, iam):
    user, kid, secret = new_user_with_key(iam, policy=json.loads(doc(allow("sts:DecodeAuthorizationMessage"))))
    me = server.client("iam", kid, secret)
    with pytest.raises(ClientError) as e:
        me.create_user(UserName=unique("x"))
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith(f"User: arn:aws:iam::{ACCOUNT_ID}:user/{user} is not authorized to perform: iam:CreateUser")
    encoded = msg.split("Encoded authorization failure message: ")[1]
    decoded = json.loads(server.client("sts", kid, secret).decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["context"]["action"] == "iam:CreateUser"
    assert decoded["context"]["principal"]["arn"].endswith(f"user/{user}")
    keys = {c["key"].lower() for c in decoded["context"]["conditions"]["items"]}
    assert "aws:username" in keys
    with pytest.raises(ClientError) as e:
        server.client("sts").decode_authorization_message(EncodedMessage=encoded[:-4] + "AAAA")
    assert error_code(e) == "InvalidAuthorizationMessageException"
    # Another account cannot read it.
    other = server.create_account(unique("acct"))
    with pytest.raises(ClientError) as e:
        server.client("sts", other["AccessKeyId"], other["SecretAccessKey"]).decode_authorization_message(EncodedMessage=encoded)
    assert error_code(e) == "InvalidAuthorizationMessageException"


@pytest.mark.parametrize("call", ["assume_role", "assume_role_with_web_identity", "assume_role_with_saml"])
def test_role_arn_that_is_not_an_arn_is_a_validation_error(server, call):
    """Issue #11: AWS answers ValidationError before any authorization for a RoleArn that is not a role ARN."""
    _, kid, secret = new_user_with_key(server.client("iam"))
    sts = server.client("sts", kid, secret)
    args = {"RoleArn": "nothing-valid-in-here"}
    if call == "assume_role":
        args["RoleSessionName"] = "s1"
    elif call == "assume_role_with_web_identity":
        args.update(RoleSessionName="s1", WebIdentityToken="not-a-token")
    else:
        args.update(PrincipalArn=f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/Okta", SAMLAssertion="bm90LXNhbWw=")
    with pytest.raises(ClientError) as e:
        getattr(sts, call)(**args)
    assert error_code(e) == "ValidationError", e.value.response
    assert "nothing-valid-in-here" in e.value.response["Error"]["Message"]
