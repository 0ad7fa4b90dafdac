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
        # Fetch-policy tests: requests seen per document, and how to misbehave.
        self.lock = threading.Lock()
        self.hits = {"discovery": 0, "jwks": 0}
        self.first_hit = threading.Event()
        self.fail_status = None  # answer every request with this HTTP status
        self.delay = 0.0  # sleep this long before answering
        self.raw = {}  # "discovery"/"jwks" -> bytes served instead of the real document
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == issuer.path + "/.well-known/openid-configuration":
                    kind = "discovery"
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys", "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
                elif self.path == issuer.path + "/keys":
                    kind = "jwks"
                    issuer.jwks_fetches += 1
                    body = {"keys": [issuer.jwk(kid) for kid in list(issuer.keys)]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                with issuer.lock:
                    issuer.hits[kind] += 1
                issuer.first_hit.set()
                if issuer.delay:
                    time.sleep(issuer.delay)
                try:
                    if issuer.fail_status:
                        self.send_response(issuer.fail_status)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    data = issuer.raw.get(kind) or json.dumps(body).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # stsd gave up waiting (fetch timeout)

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


# --- Fetch policy and bounded JSON (issue #17) ------------------------------------------------------------------
#
# Each test below gets its own issuer (so its own cache entry in stsd) and counts the requests that issuer sees.

FETCH_TIMEOUT_MS = 1000


@pytest.fixture(scope="module")
def quick():
    """A server that gives up on an issuer after 1 s (`--oidc-fetch-timeout-ms`), so slow-issuer tests stay short."""
    server = make_server(extra_args=["--allow-http-oidc", "--oidc-fetch-timeout-ms", str(FETCH_TIMEOUT_MS)])
    yield server
    server.stop()


def federated(server, issuer):
    """An IAM OIDC provider for `issuer` and a role any of its tokens may assume; returns the role ARN."""
    iam = server.client("iam")
    arn = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity"}]}
    return iam.create_role(RoleName=unique("fetch"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def unsigned_sts(server):
    """One unsigned STS client, shared by threads (botocore clients are thread-safe; creating them is not)."""
    cfg = botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"total_max_attempts": 1}, read_timeout=60, max_pool_connections=32)
    return boto3.client("sts", endpoint_url=server.endpoint, region_name=REGION, config=cfg)


def web_identity_code(sts, role_arn, token):
    """AssumeRoleWithWebIdentity; the error code, or None when credentials came back."""
    try:
        sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="fetch-policy", WebIdentityToken=token)
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]


def start_together(calls):
    """Start each zero-argument call on its own thread, released at once; returns (threads, results) where
    results[i] becomes (return value, time.monotonic() at return)."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        value = call()
        results[i] = (value, time.monotonic())

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    return threads, results


def join_all(threads):
    for t in threads:
        t.join(60)
        assert not t.is_alive()


def test_unknown_kid_flood_refreshes_once(quick):
    """10 concurrent then 10 rapid tokens naming a kid the issuer does not publish: at most one refresh per second
    (today: one JWKS fetch per request)."""
    issuer = Issuer()
    issuer.add_rsa("rsa1")
    role = federated(quick, issuer)
    sts = unsigned_sts(quick)
    assert web_identity_code(sts, role, issuer.token("rsa1")) is None  # warm: discovery + JWKS once
    assert issuer.hits == {"discovery": 1, "jwks": 1}
    ghost = Issuer()
    ghost.add_rsa("ghost")
    tokens = [ghost.token("ghost", iss=issuer.url, sub=f"{GITHUB_SUB}-{i}") for i in range(20)]
    ghost.close()
    time.sleep(1.1)  # past the refresh interval: an unknown kid may now cause one refresh

    started = time.monotonic()
    threads, results = start_together([lambda t=t: web_identity_code(sts, role, t) for t in tokens[:10]])
    join_all(threads)
    codes = [code for code, _ in results] + [web_identity_code(sts, role, t) for t in tokens[10:]]
    elapsed = time.monotonic() - started
    assert codes == ["InvalidIdentityToken"] * 20
    refreshes = issuer.hits["jwks"] - 1
    assert 1 <= refreshes <= (1 if elapsed < 1 else 2), (refreshes, elapsed)
    assert issuer.hits["discovery"] == issuer.hits["jwks"]
    # The known key still verifies from the cache.
    assert web_identity_code(sts, role, issuer.token("rsa1")) is None
    issuer.close()


def test_failing_issuer_is_fetched_once_per_backoff(quick):
    """An issuer answering 500: the first failure is remembered for 1 s, the next for 2 s; every caller meanwhile
    gets IDPCommunicationError without a fetch, even after the issuer recovers (today: one fetch per request)."""
    issuer = Issuer()
    issuer.add_rsa("rsa1")
    issuer.fail_status = 500
    role = federated(quick, issuer)
    sts = unsigned_sts(quick)
    token = issuer.token("rsa1")

    def burst():
        started = time.monotonic()
        codes = [web_identity_code(sts, role, token) for _ in range(10)]
        return codes, time.monotonic() - started

    codes, elapsed = burst()
    assert codes == ["IDPCommunicationError"] * 10
    assert 1 <= issuer.hits["discovery"] <= (1 if elapsed < 1 else 2), elapsed

    time.sleep(1.1)  # the first backoff (1 s) is over: one more attempt, which fails and backs off 2 s
    fetched = issuer.hits["discovery"]
    codes, elapsed = burst()
    assert codes == ["IDPCommunicationError"] * 10
    assert issuer.hits["discovery"] == fetched + 1
    assert issuer.hits["jwks"] == 0

    issuer.fail_status = None  # recovered, but the failure is still remembered for the rest of the 2 s
    assert web_identity_code(sts, role, token) == "IDPCommunicationError"
    assert issuer.hits["discovery"] == fetched + 1
    deadline = time.monotonic() + 5
    while web_identity_code(sts, role, token) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert issuer.hits["discovery"] == fetched + 2
    assert issuer.hits["jwks"] == 1
    issuer.close()


def test_slow_issuer_is_fetched_once_and_others_are_served(quick):
    """Six concurrent requests against an issuer slower than the fetch timeout: one fetch, all answered
    IDPCommunicationError, and GetCallerIdentity answered while the fetch is outstanding (today: six fetches)."""
    issuer = Issuer()
    issuer.add_rsa("rsa1")
    issuer.delay = 3 * FETCH_TIMEOUT_MS / 1000
    role = federated(quick, issuer)
    sts = unsigned_sts(quick)
    root = quick.client("sts")
    token = issuer.token("rsa1")

    threads, results = start_together([lambda: web_identity_code(sts, role, token) for _ in range(6)])
    assert issuer.first_hit.wait(10)
    answered = []
    for _ in range(3):
        assert root.get_caller_identity()["Account"] == ACCOUNT_ID
        answered.append(time.monotonic())
    join_all(threads)
    assert [code for code, _ in results] == ["IDPCommunicationError"] * 6
    assert max(answered) < min(at for _, at in results)
    assert issuer.hits == {"discovery": 1, "jwks": 0}
    issuer.close()


def test_web_identity_never_runs_on_an_async_worker(quick):
    """A GET whose query is AssumeRoleWithWebIdentity and whose (ignored) body says `Action=GetCallerIdentity` must
    still go to the blocking pool: with more such requests than async workers waiting on a slow issuer,
    GetCallerIdentity is still answered while they wait (today they run inline and stall every worker)."""
    import http.client
    import urllib.parse

    issuer = Issuer()
    issuer.add_rsa("rsa1")
    issuer.delay = 3 * FETCH_TIMEOUT_MS / 1000
    role = federated(quick, issuer)
    root = quick.client("sts")
    query = urllib.parse.urlencode(
        {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": role, "RoleSessionName": "smuggled", "WebIdentityToken": issuer.token("rsa1")}
    )

    def smuggled():
        conn = http.client.HTTPConnection("127.0.0.1", quick.port, timeout=60)
        conn.request("GET", "/?" + query, body="Action=GetCallerIdentity", headers={"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        text = resp.read().decode()
        conn.close()
        return resp.status, text

    threads, results = start_together([smuggled for _ in range((os.cpu_count() or 2) + 2)])
    assert issuer.first_hit.wait(10)
    answered = []
    for _ in range(3):
        assert root.get_caller_identity()["Account"] == ACCOUNT_ID
        answered.append(time.monotonic())
    join_all(threads)
    for (status_code, text), _ in results:
        assert status_code == 400 and "<Code>IDPCommunicationError</Code>" in text, text
    assert max(answered) < min(at for _, at in results)
    assert issuer.hits["discovery"] == 1
    issuer.close()


def test_concurrent_fetches_are_capped_across_issuers(quick):
    """Ten slow issuers hit at once: at most 8 fetches are outstanding; the others are refused at once."""
    issuers = []
    calls = []
    sts = unsigned_sts(quick)
    for _ in range(10):
        issuer = Issuer()
        issuer.add_ec("ec1")
        issuer.delay = 3 * FETCH_TIMEOUT_MS / 1000
        role = federated(quick, issuer)
        token = issuer.token("ec1")
        issuers.append(issuer)
        calls.append(lambda role=role, token=token: web_identity_code(sts, role, token))
    threads, results = start_together(calls)
    join_all(threads)
    assert [code for code, _ in results] == ["IDPCommunicationError"] * 10
    fetched = sum(i.hits["discovery"] for i in issuers)
    assert 1 <= fetched <= 8, fetched
    closing, _ = start_together([issuer.close for issuer in issuers])  # each close waits up to 0.5 s
    join_all(closing)


def nested(levels, opener="[", closer="]", inner=""):
    return opener * levels + inner + closer * levels


def test_deeply_nested_token_json_is_refused_and_server_survives(quick):
    """JWT headers and claims nested far beyond serde_json's 128-level limit are refused as invalid tokens; the
    server keeps answering. The API's 20,000-character limit caps how deep a token can nest at all (a 50,000-level
    token is refused by length before any parsing); the others reach the JSON parser."""
    issuer = Issuer()
    issuer.add_rsa("rsa1")
    role = federated(quick, issuer)
    sts = unsigned_sts(quick)
    root = quick.client("sts")
    header = {"alg": "RS256", "kid": "rsa1", "typ": "JWT"}
    good_claims = b64(json.dumps(issuer.claims()).encode())
    good_header = b64(json.dumps(header).encode())
    cases = [
        # Well-formed JSON, 7,000 levels of arrays in the header.
        (b64(('{"alg":"RS256","kid":"rsa1","x":' + nested(7000) + "}").encode()) + "." + good_claims + ".c2ln", "InvalidIdentityToken"),
        # Well-formed JSON, 2,400 levels of objects in the claims.
        (good_header + "." + b64(('{"iss":"' + issuer.url + '","x":' + nested(2400, '{"a":', "}", "1") + "}").encode()) + ".c2ln", "InvalidIdentityToken"),
        # As deep as a token can be: unclosed arrays filling the header up to the length limit (~14,800 levels).
        (b64(b"[" * ((20000 - len(good_claims) - 8) * 3 // 4)) + "." + good_claims + ".c2ln", "InvalidIdentityToken"),
        # 50,000 levels: over the WebIdentityToken length limit.
        (b64(nested(50000).encode()) + "." + good_claims + ".c2ln", "ValidationError"),
    ]
    for token, code in cases:
        assert web_identity_code(sts, role, token) == code
        assert root.get_caller_identity()["Account"] == ACCOUNT_ID
    assert issuer.hits == {"discovery": 0, "jwks": 0}
    assert web_identity_code(sts, role, issuer.token("rsa1")) is None
    issuer.close()


@pytest.mark.parametrize("document", ["discovery", "jwks"])
def test_deeply_nested_issuer_documents_are_refused(quick, document):
    """A discovery document or JWKS nested 150,000+ levels deep (within the 1 MiB size limit) is an
    IDPCommunicationError; the server keeps answering."""
    issuer = Issuer()
    issuer.add_rsa("rsa1")
    if document == "discovery":
        issuer.raw["discovery"] = ('{"jwks_uri":' + nested(300_000) + "}").encode()
    else:
        issuer.raw["jwks"] = ('{"keys":[' + nested(150_000, '{"a":', "}", "1") + "]}").encode()
    assert len(issuer.raw[document]) < 1024 * 1024
    role = federated(quick, issuer)
    sts = unsigned_sts(quick)
    assert web_identity_code(sts, role, issuer.token("rsa1")) == "IDPCommunicationError"
    assert issuer.hits[document] == 1
    assert quick.client("sts").get_caller_identity()["Account"] == ACCOUNT_ID
    issuer.close()
