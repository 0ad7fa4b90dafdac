"""Presigned GetCallerIdentity with every kind of credentials (issue #11): how Kubernetes authenticators
(aws-iam-authenticator, `aws eks get-token`) prove an identity — a presigned URL, an extra signed header
`x-k8s-aws-id`, base64url-encoded after a `k8s-aws-v1.` prefix — must work with long-term keys and with every
kind of temporary credentials."""

import base64
import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import ACCOUNT_ID, REGION, ROOT_KEY, ROOT_SECRET, new_user_with_key, unique
from test_sts import allow, doc, trust


def fetch(url, method="GET", headers=None):
    req = urllib.request.Request(url, data=b"" if method == "POST" else None, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture(scope="module")
def credentials(server):
    """(label, key, secret, token, expected ARN) for every credential kind stsd issues."""
    iam = server.client("iam")
    name, kid, secret = new_user_with_key(
        iam, policy=json.loads(doc(allow(["sts:AssumeRole", "sts:GetFederationToken"]))))
    role = unique("k8s")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))["Role"]["Arn"]
    sts = server.client("sts", kid, secret)
    out = [("root", ROOT_KEY, ROOT_SECRET, None, f"arn:aws:iam::{ACCOUNT_ID}:root"),
           ("user", kid, secret, None, f"arn:aws:iam::{ACCOUNT_ID}:user/{name}")]
    c = sts.get_session_token()["Credentials"]
    out.append(("session-token", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"))
    c = sts.assume_role(RoleArn=role_arn, RoleSessionName="kube")["Credentials"]
    out.append(("role", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/kube"))
    c = sts.get_federation_token(Name="fed")["Credentials"]
    out.append(("federated", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], f"arn:aws:sts::{ACCOUNT_ID}:federated-user/fed"))
    return out


def test_boto3_presigned_get_with_every_credential_kind(server, credentials):
    for label, key, secret, token, arn in credentials:
        client = server.client("sts", key, secret, token)
        url = client.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
        st, text = fetch(url)
        assert st == 200, (label, text)
        assert f"<Arn>{arn}</Arn>" in text, (label, text)


def test_boto3_default_presign_is_for_post(server, credentials):
    """Without HttpMethod boto3 signs the operation's own method (POST), as on AWS: a POST of the URL works."""
    for label, key, secret, token, arn in credentials:
        url = server.client("sts", key, secret, token).generate_presigned_url("get_caller_identity", ExpiresIn=60)
        st, text = fetch(url, method="POST")
        assert st == 200 and f"<Arn>{arn}</Arn>" in text, (label, text)


def eks_token(server, key, secret, token, cluster):
    """`aws eks get-token` — the CLI's own EKS token generator — against stsd."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION=REGION,
               AWS_ENDPOINT_URL_STS=server.endpoint, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    env.pop("AWS_SESSION_TOKEN", None)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    p = subprocess.run(["aws", "eks", "get-token", "--cluster-name", cluster], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["status"]["token"]


def verify_like_an_authenticator(token, cluster):
    """What aws-iam-authenticator's server does with a token: decode, check, GET with the cluster header."""
    assert token.startswith("k8s-aws-v1.")
    b = token[len("k8s-aws-v1."):]
    url = base64.urlsafe_b64decode(b + "=" * (-len(b) % 4)).decode()
    assert "x-k8s-aws-id" in url  # the header is signed
    return fetch(url, headers={"x-k8s-aws-id": cluster})


def test_eks_tokens_with_every_credential_kind(server, credentials):
    for label, key, secret, token, arn in credentials:
        t = eks_token(server, key, secret, token, "prod-cluster")
        st, text = verify_like_an_authenticator(t, "prod-cluster")
        assert st == 200 and f"<Arn>{arn}</Arn>" in text, (label, text)


def test_eks_token_is_bound_to_its_cluster(server, credentials):
    _, key, secret, token, _ = [c for c in credentials if c[0] == "role"][0]
    t = eks_token(server, key, secret, token, "prod-cluster")
    st, text = verify_like_an_authenticator(t, "other-cluster")
    assert st == 403 and "SignatureDoesNotMatch" in text, text
