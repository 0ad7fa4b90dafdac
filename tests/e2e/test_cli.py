"""The aws CLI, unchanged, against stsd (issue #2)."""

import json
import os
import tempfile

from conftest import ACCOUNT_ID, TRUST_ACCOUNT, unique


def test_cli_tour(server):
    role = unique("Admin")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(TRUST_ACCOUNT, f)
    out = server.aws("iam", "create-role", "--role-name", role, "--assume-role-policy-document", f"file://{f.name}")
    assert out["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
    assert out["Role"]["AssumeRolePolicyDocument"] == TRUST_ACCOUNT
    assert server.aws("sts", "get-caller-identity")["Account"] == ACCOUNT_ID
    user = unique("cli-user")
    server.aws("iam", "create-user", "--user-name", user, "--tags", "Key=team,Value=blue")
    server.aws("iam", "put-user-policy", "--user-name", user, "--policy-name", "p", "--policy-document",
               json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetAccessKeyInfo", "Resource": "*"}]}))
    key = server.aws("iam", "create-access-key", "--user-name", user)["AccessKey"]
    ident = server.aws("sts", "get-caller-identity", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert ident["Arn"].endswith(f"user/{user}")
    listed = server.aws("iam", "list-users", "--max-items", "1000")
    assert user in [u["UserName"] for u in listed["Users"]]
    # The CLI's own auto-pagination across MaxItems pages.
    paged = server.aws("iam", "list-roles", "--page-size", "1")
    assert role in [r["RoleName"] for r in paged["Roles"]]
    # Errors surface with AWS's codes and a non-zero exit.
    p = server.aws("iam", "get-role", "--role-name", unique("missing"), check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr
    p = server.aws("iam", "create-user", "--user-name", user, key=key["AccessKeyId"], secret=key["SecretAccessKey"], check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    os.unlink(f.name)
