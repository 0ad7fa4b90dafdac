"""OIDC federation: IAM OpenID Connect providers and AssumeRoleWithWebIdentity against a local issuer.

The issuer is a Python http.server thread on a loopback port serving a discovery document and a JWKS with
keys made here; tokens are signed with `cryptography` (RS256/RS384/RS512/ES256/ES384). stsd runs with
`--allow-http-oidc` so the plain-http loopback issuer is accepted.
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conftest import ACCOUNT_ID, REGION, error_code, make_server, status, unique

CLIENT_ID = "sts.amazonaws.com"
GITHUB_SUB = "repo:example-org/service:ref:refs/heads/main"

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_b64(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return b64(n.to_bytes(size, "big"))


def encode(header, claims):
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


class Issuer:
    """A minimal OIDC issuer: discovery + JWKS on a loopback port, signing keys made by the test."""

    def __init__(self):
        self.path = "/" + uuid.uuid4().hex[:8]
        self.keys = {}  # kid -> (private key, alg)
        self.jwks_fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == issuer.path + "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys", "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
                elif self.path == issuer.path + "/keys":
                    issuer.jwks_fetches += 1
                    body = {"keys": [issuer.jwk(kid) for kid in list(issuer.keys)]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host_path(self):
        return f"127.0.0.1:{self.port}{self.path}"

    @property
    def url(self):
        return "http://" + self.host_path

    def add_rsa(self, kid, alg="RS256"):
        self.keys[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048), alg)
        return kid

    def add_ec(self, kid, alg="ES256"):
        curve = ec.SECP256R1() if alg == "ES256" else ec.SECP384R1()
        self.keys[kid] = (ec.generate_private_key(curve), alg)
        return kid

    def jwk(self, kid):
        key, alg = self.keys[kid]
        pub = key.public_key()
        if alg.startswith("RS"):
            nums = pub.public_numbers()
            return {"kty": "RSA", "kid": kid, "use": "sig", "alg": alg, "n": int_b64(nums.n), "e": int_b64(nums.e)}
        nums = pub.public_numbers()
        size = 32 if alg == "ES256" else 48
        return {
            "kty": "EC",
            "kid": kid,
            "use": "sig",
            "alg": alg,
            "crv": "P-256" if alg == "ES256" else "P-384",
            "x": int_b64(nums.x, size),
            "y": int_b64(nums.y, size),
        }

    def claims(self, **over):
        now = int(time.time())
        c = {"iss": self.url, "aud": CLIENT_ID, "sub": GITHUB_SUB, "iat": now, "nbf": now - 5, "exp": now + 600}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, kid, header_extra=None, **claims):
        key, alg = self.keys[kid]
        header = {"alg": alg, "kid": kid, "typ": "JWT"}
        header.update(header_extra or {})
        signing_input = encode(header, self.claims(**claims))
        h = HASHES[alg[2:]]()
        if alg.startswith("RS"):
            sig = key.sign(signing_input.encode(), padding.PKCS1v15(), h)
        else:
            r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(h)))
            size = 32 if alg == "ES256" else 48
            sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return signing_input + "." + b64(sig)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def fed():
    """A server accepting http issuers, an issuer with an RSA and an EC key, and its IAM OIDC provider."""
    server = make_server(extra_args=["--allow-http-oidc"])
    issuer = Issuer()
    issuer.add_rsa("rsa1")
    issuer.add_ec("ec1")
    iam = server.client("iam")
    arn = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[CLIENT_ID, "other-client"])["OpenIDConnectProviderArn"]
    yield {"server": server, "issuer": issuer, "iam": iam, "sts": server.client("sts"), "provider": arn}
    issuer.close()
    server.stop()


def make_role(fed, conditions=None, actions=("sts:AssumeRoleWithWebIdentity",), policy=None, name=None):
    name = name or unique("gha")
    hp = fed["issuer"].host_path
    cond = conditions if conditions is not None else {"StringEquals": {f"{hp}:aud": CLIENT_ID}, "StringLike": {f"{hp}:sub": "repo:example-org/*:ref:refs/heads/main"}}
    stmt = {"Effect": "Allow", "Principal": {"Federated": fed["provider"]}, "Action": list(actions)}
    if cond:
        stmt["Condition"] = cond
    trust = {"Version": "2012-10-17", "Statement": [stmt]}
    role = fed["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    if policy:
        fed["iam"].put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return role["Arn"]


def assume(fed, role_arn, token, **kw):
    return fed["sts"].assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="gha-run-1", WebIdentityToken=token, **kw)


def refused(fed, role_arn, token):
    with pytest.raises(ClientError) as e:
        assume(fed, role_arn, token)
    return e


# --- IAM provider API -------------------------------------------------------------------------------------------


def test_provider_lifecycle(fed):
    iam, issuer = fed["iam"], fed["issuer"]
    arn = fed["provider"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer.host_path}"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == issuer.host_path
    assert got["ClientIDList"] == [CLIENT_ID, "other-client"]
    assert got["ThumbprintList"] == []
    assert "CreateDate" in got
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]

    other = iam.create_open_id_connect_provider(
        Url="https://idp.example.com/tenant/a",
        ClientIDList=["c1"],
        ThumbprintList=["A" * 40],
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    oarn = other["OpenIDConnectProviderArn"]
    assert oarn == f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/idp.example.com/tenant/a"
    assert other["Tags"] == [{"Key": "team", "Value": "blue"}]
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://idp.example.com/tenant/a", ClientIDList=["c1"])
    assert error_code(e) == "EntityAlreadyExists"

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=oarn, ClientID="c2")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=oarn, ClientID="c2")  # idempotent
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=oarn, ClientID="c1")
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=oarn, ThumbprintList=["b" * 40, "c" * 40])
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=oarn, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=oarn, TagKeys=["team"])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=oarn)["Tags"] == [{"Key": "env", "Value": "prod"}]

    # Persisted per entity: survives a restart.
    fed["server"].restart()
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oarn)
    assert got["ClientIDList"] == ["c2"]
    assert got["ThumbprintList"] == ["b" * 40, "c" * 40]

    with pytest.raises(ClientError) as e:
        iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=oarn, ThumbprintList=["z" * 40])
    assert error_code(e) == "ValidationError"
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oarn)
    with pytest.raises(ClientError) as e:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oarn)
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oarn)
    assert error_code(e) == "NoSuchEntity"


def test_http_url_needs_the_flag(iam):
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="http://127.0.0.1:9/x", ClientIDList=["a"])
    assert error_code(e) == "InvalidInput"
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://idp.example.com:8443", ClientIDList=["a"])
    assert error_code(e) == "InvalidInput"


# --- AssumeRoleWithWebIdentity ----------------------------------------------------------------------------------


def test_assume_role_with_web_identity(fed):
    role_arn = make_role(fed)
    for kid in ("rsa1", "ec1"):
        r = assume(fed, role_arn, fed["issuer"].token(kid), DurationSeconds=900)
        assert r["SubjectFromWebIdentityToken"] == GITHUB_SUB
        assert r["Provider"] == fed["provider"]
        assert r["Audience"] == CLIENT_ID
        role_name = role_arn.split("/")[-1]
        assert r["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/gha-run-1"
        assert "PackedPolicySize" not in r
        c = r["Credentials"]
        assert c["AccessKeyId"].startswith("ASIA")
        me = fed["server"].client("sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()
        assert me["Arn"] == r["AssumedRoleUser"]["Arn"]


def test_other_algorithms(fed):
    issuer = fed["issuer"]
    role_arn = make_role(fed)
    issuer.add_rsa("rsa384", "RS384")
    issuer.add_rsa("rsa512", "RS512")
    issuer.add_ec("ec384", "ES384")
    time.sleep(1.1)  # the unknown-kid refresh is rate-limited to one per second per issuer
    for kid in ("rsa384", "rsa512", "ec384"):
        assert assume(fed, role_arn, issuer.token(kid))["Audience"] == CLIENT_ID


def test_boto3_web_identity_credential_provider(fed):
    role_arn = make_role(fed)
    with tempfile.NamedTemporaryFile("w", suffix=".jwt", delete=False) as f:
        f.write(fed["issuer"].token("rsa1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ROLE_ARN=role_arn,
        AWS_WEB_IDENTITY_TOKEN_FILE=f.name,
        AWS_ROLE_SESSION_NAME="from-token-file",
        AWS_ENDPOINT_URL=fed["server"].endpoint,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
    )
    code = "import boto3; s = boto3.Session(); print(s.get_credentials().method); print(s.client('sts').get_caller_identity()['Arn'])"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    os.unlink(f.name)
    assert p.returncode == 0, p.stderr
    method, arn = p.stdout.split()
    assert method == "assume-role-with-web-identity"
    assert arn == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_arn.split('/')[-1]}/from-token-file"


def test_key_rotation_picks_up_new_kid(fed):
    issuer = fed["issuer"]
    role_arn = make_role(fed)
    assume(fed, role_arn, issuer.token("rsa1"))
    new = issuer.add_rsa(unique("rotated"))
    time.sleep(1.1)
    before = issuer.jwks_fetches
    assert assume(fed, role_arn, issuer.token(new))["SubjectFromWebIdentityToken"] == GITHUB_SUB
    assert issuer.jwks_fetches == before + 1
    # Cached now: no further fetch for the same kid.
    assume(fed, role_arn, issuer.token(new))
    assert issuer.jwks_fetches == before + 1


def test_refusals(fed):
    issuer = fed["issuer"]
    role_arn = make_role(fed)
    good = issuer.token("rsa1")

    e = refused(fed, role_arn, issuer.token("rsa1", aud="someone-else"))
    assert (error_code(e), status(e)) == ("InvalidIdentityToken", 400)
    assert "audience" in e.value.response["Error"]["Message"]

    e = refused(fed, role_arn, issuer.token("rsa1", iss="https://token.actions.githubusercontent.com"))
    assert error_code(e) == "InvalidIdentityToken"
    assert e.value.response["Error"]["Message"] == "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com"

    e = refused(fed, role_arn, issuer.token("rsa1", exp=int(time.time()) - 300, iat=int(time.time()) - 900, nbf=None))
    assert (error_code(e), status(e)) == ("ExpiredTokenException", 400)

    e = refused(fed, role_arn, issuer.token("rsa1", iat=int(time.time()) + 3600))
    assert error_code(e) == "InvalidIdentityToken"

    # Tampered payload, original signature.
    h, _, s = good.split(".")
    forged = h + "." + b64(json.dumps(issuer.claims(sub="repo:example-org/evil:ref:refs/heads/main", exp=int(time.time()) + 9999)).encode()) + "." + s
    assert error_code(refused(fed, role_arn, forged)) == "InvalidIdentityToken"

    # Signature of another key under this kid.
    stranger = Issuer()
    stranger.add_rsa("rsa1")
    other = stranger.token("rsa1", iss=issuer.url)
    stranger.close()
    assert error_code(refused(fed, role_arn, other)) == "InvalidIdentityToken"

    # alg: none.
    none = encode({"alg": "none", "typ": "JWT"}, issuer.claims()) + "."
    assert error_code(refused(fed, role_arn, none)) == "InvalidIdentityToken"

    # HS256 keyed with the issuer's public key (PEM and JWK-JSON forms): algorithm confusion.
    pub = issuer.keys["rsa1"][0].public_key()
    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (pem, json.dumps(issuer.jwk("rsa1")).encode()):
        si = encode({"alg": "HS256", "kid": "rsa1", "typ": "JWT"}, issuer.claims())
        tok = si + "." + b64(hmac.new(secret, si.encode(), hashlib.sha256).digest())
        assert error_code(refused(fed, role_arn, tok)) == "InvalidIdentityToken"

    # A kid the issuer does not publish, even after a refresh.
    ghost = Issuer()
    ghost.add_rsa("ghost-kid")
    tok = ghost.token("ghost-kid", iss=issuer.url)
    ghost.close()
    time.sleep(1.1)
    e = refused(fed, role_arn, tok)
    assert error_code(e) == "InvalidIdentityToken"
    assert "key ID" in e.value.response["Error"]["Message"]

    # Not a JWT at all; ProviderId is for OAuth2 providers only.
    assert error_code(refused(fed, role_arn, "not-a-jwt")) == "InvalidIdentityToken"
    with pytest.raises(ClientError) as e:
        assume(fed, role_arn, good, ProviderId="www.amazon.com")
    assert error_code(e) == "InvalidParameterValue"

    # A sub too short for SubjectFromWebIdentityToken.
    assert error_code(refused(fed, role_arn, issuer.token("rsa1", sub="abc"))) == "InvalidIdentityToken"

    # The good token still works.
    assert assume(fed, role_arn, good)["Audience"] == CLIENT_ID


def test_unreachable_issuer_is_communication_error(fed):
    iam = fed["iam"]
    dead = Issuer()
    dead.add_rsa("k")
    dead.close()  # nothing listens there any more
    arn = iam.create_open_id_connect_provider(Url=dead.url, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity"}]}
    role = iam.create_role(RoleName=unique("dead"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    sts = fed["server"].client("sts")
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="s1", WebIdentityToken=dead.token("k"))
    assert (error_code(e), status(e)) == ("IDPCommunicationError", 400)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_trust_conditions_on_sub_and_aud(fed):
    issuer = fed["issuer"]
    role_arn = make_role(fed)
    assume(fed, role_arn, issuer.token("rsa1", sub="repo:example-org/other:ref:refs/heads/main"))
    e = refused(fed, role_arn, issuer.token("rsa1", sub="repo:example-org/service:ref:refs/heads/dev"))
    assert (error_code(e), status(e)) == ("AccessDenied", 403)
    assert "sts:AssumeRoleWithWebIdentity" in e.value.response["Error"]["Message"]
    e = refused(fed, role_arn, issuer.token("rsa1", sub="repo:evil-org/service:ref:refs/heads/main"))
    assert error_code(e) == "AccessDenied"
    # A registered client ID that the trust policy does not accept.
    r = issuer.token("rsa1", aud=["other-client"])
    assert error_code(refused(fed, role_arn, r)) == "AccessDenied"
    # An audience array containing the accepted client ID.
    assert assume(fed, role_arn, issuer.token("rsa1", aud=["unknown", CLIENT_ID]))["Audience"] == CLIENT_ID

    # A trust policy naming another provider does not match.
    other = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/idp.example.org"}, "Action": "sts:AssumeRoleWithWebIdentity"}]}
    name = unique("other")
    fed["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(other))
    e = refused(fed, f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", issuer.token("rsa1"))
    assert error_code(e) == "AccessDenied"
    # A role that does not exist: AccessDenied, not NoSuchEntity.
    e = refused(fed, f"arn:aws:iam::{ACCOUNT_ID}:role/{unique('missing')}", issuer.token("rsa1"))
    assert error_code(e) == "AccessDenied"


def test_session_tags_and_source_identity_from_token(fed):
    issuer = fed["issuer"]
    hp = issuer.host_path
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
            {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*", "Condition": {"StringLike": {f"{hp}:sub": "repo:example-org/*"}, "StringEquals": {"aws:FederatedProvider": fed["provider"]}}},
        ],
    }
    role_arn = make_role(fed, actions=("sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"), policy=policy)

    def session(team):
        tags = {"principal_tags": {"team": [team], "cost-center": ["42"]}, "transitive_tag_keys": ["team"]}
        r = assume(fed, role_arn, issuer.token("rsa1", **{"https://aws.amazon.com/tags": tags, "https://aws.amazon.com/source_identity": "alice"}))
        assert r["SourceIdentity"] == "alice"
        assert r["PackedPolicySize"] > 0
        c = r["Credentials"]
        return fed["server"].client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    blue = session("blue")
    blue.list_users()
    blue.list_roles()  # the token's sub and the provider stay visible as condition keys
    red = session("red")
    with pytest.raises(ClientError) as e:
        red.list_users()
    assert error_code(e) == "AccessDenied"

    # Tags in the token need sts:TagSession in the trust policy; a source identity needs sts:SetSourceIdentity.
    plain = make_role(fed)
    tagged = issuer.token("rsa1", **{"https://aws.amazon.com/tags": {"principal_tags": {"team": ["blue"]}}})
    assert error_code(refused(fed, plain, tagged)) == "AccessDenied"
    si = issuer.token("rsa1", **{"https://aws.amazon.com/source_identity": "alice"})
    assert error_code(refused(fed, plain, si)) == "AccessDenied"
    bad = issuer.token("rsa1", **{"https://aws.amazon.com/tags": {"principal_tags": {"aws:team": ["x"]}}})
    assert error_code(refused(fed, role_arn, bad)) == "InvalidIdentityToken"


def test_duration_and_session_policy(fed):
    issuer = fed["issuer"]
    role_arn = make_role(fed)
    with pytest.raises(ClientError) as e:
        assume(fed, role_arn, issuer.token("rsa1"), DurationSeconds=7200)
    assert error_code(e) == "ValidationError"
    deny_all = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    r = assume(fed, role_arn, issuer.token("rsa1"), Policy=deny_all)
    assert r["PackedPolicySize"] > 0
    with pytest.raises(ClientError) as e:
        assume(fed, role_arn, issuer.token("rsa1"), Policy="{not json")
    assert error_code(e) == "MalformedPolicyDocument"


def test_unsigned_request_over_plain_http(fed):
    """The request needs no credentials at all (botocore sends it unsigned)."""
    role_arn = make_role(fed)
    sts = boto3.client(
        "sts",
        endpoint_url=fed["server"].endpoint,
        region_name=REGION,
        config=botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}),
    )
    r = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="anon", WebIdentityToken=fed["issuer"].token("ec1"))
    assert r["Provider"] == fed["provider"]
