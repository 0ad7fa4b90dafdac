"""Cloud Custodian (c7n, from PyPI) against stsd (issue #19): `custodian run` with AWS_ENDPOINT_URL_IAM /
AWS_ENDPOINT_URL_STS pointing at the server finds exactly the expected roles and users — unused roles (by
RoleLastUsed), stale access keys and users without MFA (from the credential report and ListMFADevices) — and its
remediation (deactivating the stale key) takes effect in stsd.

"100 days ago" is real: the first phase runs on a server whose clock is 100 days behind (the test's own boto3
clients sign at that time), the second after a restart at the real time, where Custodian runs unmodified."""

import json
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, ROOT, ROOT_KEY, ROOT_SECRET, TRUST_ACCOUNT, client_clock, error_code, make_server

VENV = os.path.join(ROOT, ".venv-custodian")
REQUIREMENTS = os.path.join(ROOT, "tests", "e2e", "requirements-custodian.txt")
DAY = 86_400

POLICIES = """
policies:
  - name: unused-roles
    resource: iam-role
    filters:
      - or:
          - "RoleLastUsed.LastUsedDate": absent
          - type: value
            key: RoleLastUsed.LastUsedDate
            value_type: age
            op: greater-than
            value: 30
  - name: users-without-mfa
    resource: iam-user
    filters:
      - type: credential
        key: mfa_active
        value: false
        report_delay: 0
  - name: users-without-mfa-device
    resource: iam-user
    filters:
      - type: mfa-device
        value: empty
  - name: deactivate-stale-keys
    resource: iam-user
    filters:
      - type: credential
        key: access_keys.active
        value: true
        report_delay: 0
      - type: credential
        key: access_keys.last_used_date
        value_type: age
        op: greater-than
        value: 30
        report_delay: 0
    actions:
      - type: remove-keys
        disable: true
        matched: true
"""


@pytest.fixture(scope="session")
def custodian():
    """The `custodian` command, from CUSTODIAN_BIN or .venv-custodian (created from its pinned requirements)."""
    path = os.environ.get("CUSTODIAN_BIN") or os.path.join(VENV, "bin", "custodian")
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS], check=True)
    return path


def run_custodian(custodian, server, workdir):
    policy = os.path.join(workdir, "policies.yml")
    with open(policy, "w") as f:
        f.write(POLICIES)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": workdir,
        "AWS_ACCESS_KEY_ID": ROOT_KEY,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_IAM": server.endpoint,
        "AWS_ENDPOINT_URL_STS": server.endpoint,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_MAX_ATTEMPTS": "1",
    }
    out = os.path.join(workdir, "out")
    p = subprocess.run([custodian, "run", "--cache-period", "0", "-r", "us-east-1", "-s", out, policy],
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr

    def found(name):
        with open(os.path.join(out, name, "resources.json")) as f:
            return {r.get("RoleName") or r.get("UserName") for r in json.load(f)}

    return found, p.stderr


def test_custodian_finds_unused_roles_stale_keys_and_users_without_mfa(custodian, tmp_path):
    from test_mfa import create_device, enable

    s = make_server(env={"STSD_CLOCK_OFFSET_SECS": str(-100 * DAY)})
    try:
        trust = json.dumps(TRUST_ACCOUNT)
        assume_any = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
        keys = {}
        # Phase 1, 100 days ago: everyone is created; "stale" uses its key to assume "old-role".
        with client_clock(-100 * DAY):
            iam = s.client("iam")
            for user in ("stale", "fresh", "nomfa", "withmfa"):
                iam.create_user(UserName=user)
            for user in ("stale", "fresh"):
                iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=assume_any)
                k = iam.create_access_key(UserName=user)["AccessKey"]
                keys[user] = (k["AccessKeyId"], k["SecretAccessKey"])
            for role in ("old-role", "new-role", "never-role"):
                iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
            s.client("sts", *keys["stale"]).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/old-role", RoleSessionName="batch")
        # Phase 2, today (SIGTERM stored the pending uses): "fresh" uses its key and "new-role"; MFA for "withmfa".
        s.restart_with_clock_offset(0)
        iam = s.client("iam")
        s.client("sts", *keys["fresh"]).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/new-role", RoleSessionName="deploy")
        _, serial, seed = create_device(iam)
        enable(iam, "withmfa", serial, seed)

        found, log = run_custodian(custodian, s, str(tmp_path))
        assert found("unused-roles") == {"old-role", "never-role"}, log
        assert found("users-without-mfa") == {"stale", "fresh", "nomfa"}, log
        assert found("users-without-mfa-device") == {"stale", "fresh", "nomfa"}, log
        assert found("deactivate-stale-keys") == {"stale"}, log

        # The remediation took effect in stsd: the stale key is inactive and no longer authenticates.
        assert [k["Status"] for k in iam.list_access_keys(UserName="stale")["AccessKeyMetadata"]] == ["Inactive"]
        assert [k["Status"] for k in iam.list_access_keys(UserName="fresh")["AccessKeyMetadata"]] == ["Active"]
        with pytest.raises(ClientError) as e:
            s.client("sts", *keys["stale"]).get_caller_identity()
        assert error_code(e) == "InvalidClientTokenId"
        s.client("sts", *keys["fresh"]).get_caller_identity()

        # Every call Custodian made was served: none was refused as unknown, and each was audited.
        events = []
        for page in s.client("cloudtrail").get_paginator("lookup_events").paginate():
            events.extend(page["Events"])
        names = {e["EventName"] for e in events}
        assert {"GenerateCredentialReport", "GetCredentialReport", "ListRoles", "GetRole", "ListUsers", "ListMFADevices",
                "ListAccessKeys", "UpdateAccessKey"} <= names
        refused = [json.loads(e["CloudTrailEvent"]) for e in events]
        assert not [e for e in refused if e.get("errorCode") == "InvalidAction"]
    finally:
        s.stop()
