"""The authorizer end to end, all real: nginx (Debian's package) with `auth_request` → stsd's `/_stsd/authorize`,
in front of a real S3 server that trusts the proxy (moto's server mode, from `.venv-s3`), three stsd accounts,
and the aws CLI. The nginx configuration is the README's snippet, read from the README.

The seed's story: a developer in the dev account assumes a role in the prod account (a CLI profile with
`role_arn` + `source_profile`) and runs `aws s3 cp` / `aws s3 ls` through nginx; the allowed bucket works,
another bucket is refused, a bucket policy that denies the dev account is honoured, an External ID role for a
third party works only with the right ID, and attaching AWSRevokeOlderSessions cuts the session's S3 access."""

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ROOT, free_port, make_server

NGINX = os.environ.get("NGINX_BIN", shutil.which("nginx") or "/usr/sbin/nginx")
MOTO = os.environ.get("S3_SERVER_BIN", os.path.join(ROOT, ".venv-s3", "bin", "moto_server"))
S3_DOMAIN = "s3.stsd.test"
EXTERNAL_ID = "Partner-7f3a"


def marked_block(path, marker, lang):
    """The fenced block between `<!-- MARKER:begin -->` and `<!-- MARKER:end -->` in a document of the repository."""
    text = open(os.path.join(ROOT, path)).read()
    m = re.search(rf"<!-- {marker}:begin -->\n```{lang}\n(.*?)```\n<!-- {marker}:end -->", text, re.S)
    assert m, f"{path} has no {lang} block between the {marker} markers"
    return m.group(1)


def readme_snippet():
    return marked_block("README.md", "nginx-s3-snippet", "nginx")


def test_the_docs_show_exactly_what_the_tests_run():
    """docs/authorizer.md shows the README's nginx snippet (the one this file runs) and the example's route file
    (the one crates/stsd/tests/authz_layer.rs runs), byte for byte."""
    assert marked_block("docs/authorizer.md", "nginx-s3-snippet", "nginx") == readme_snippet()
    routes = open(os.path.join(ROOT, "crates", "stsd-authz-layer", "examples", "notes-routes.json")).read()
    assert marked_block("docs/authorizer.md", "notes-routes", "json") == routes
    json.loads(routes)


def wait_port(port, proc, what, timeout=30):
    import socket

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening")


class Stack:
    pass


@pytest.fixture(scope="module")
def stack():
    assert os.path.exists(NGINX), f"nginx not found at {NGINX} (scripts/test.sh installs Debian's nginx)"
    assert os.path.exists(MOTO), f"the S3 server is not installed at {MOTO} (scripts/test.sh creates .venv-s3)"
    s = Stack()
    s.stsd = make_server(extra_args=["--s3-domain", S3_DOMAIN])
    s.dir = tempfile.mkdtemp(prefix="stsd-authz-e2e-")
    # The S3 server.
    s.s3_port = free_port()
    s.moto_log = open(os.path.join(s.dir, "moto.log"), "wb")
    s.moto = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(s.s3_port)], stdout=s.moto_log, stderr=subprocess.STDOUT)
    wait_port(s.s3_port, s.moto, "the S3 server")
    # nginx with the README's snippet.
    s.port = free_port()
    snippet = readme_snippet()
    for placeholder in ("127.0.0.1:8556", "127.0.0.1:9000", "listen 127.0.0.1:8080;"):
        assert placeholder in snippet, placeholder
    snippet = (
        snippet.replace("127.0.0.1:8556", f"127.0.0.1:{s.stsd.port}")
        .replace("127.0.0.1:9000", f"127.0.0.1:{s.s3_port}")
        .replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{s.port};")
    )
    with open(os.path.join(s.dir, "stsd-s3.conf"), "w") as f:
        f.write(snippet)
    temp = {t: os.path.join(s.dir, t) for t in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for d in temp.values():
        os.makedirs(d, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    with open(os.path.join(s.dir, "nginx.conf"), "w") as f:
        f.write(
            f"""{user}worker_processes 1;
daemon off;
pid {s.dir}/nginx.pid;
error_log {s.dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {s.dir}/access.log;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {s.dir}/stsd-s3.conf;
}}
"""
        )
    s.nginx = subprocess.Popen([NGINX, "-p", s.dir, "-c", os.path.join(s.dir, "nginx.conf")], stderr=subprocess.PIPE)
    wait_port(s.port, s.nginx, "nginx")
    s.endpoint = f"http://127.0.0.1:{s.port}"
    # Three accounts besides the management account: prod owns the buckets, dev has the developer, partner is a
    # third party.
    s.accounts = {name: s.stsd.create_account(name) for name in ("prod", "dev", "partner")}
    s.home = os.path.join(s.dir, "home")
    os.makedirs(s.home)
    yield s
    for p in (s.nginx, s.moto):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    s.moto_log.close()
    s.stsd.stop()


def root_client(s, account, service):
    a = s.accounts[account]
    return s.stsd.client(service, key=a["AccessKeyId"], secret=a["SecretAccessKey"], region="us-east-1")


def write_aws_config(s, profiles, credentials):
    """Write the CLI's config and credentials files; profiles: name → dict of settings."""
    cfg = os.path.join(s.home, "config")
    creds = os.path.join(s.home, "credentials")
    with open(cfg, "w") as f:
        for name, settings in profiles.items():
            f.write(f"[profile {name}]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n  addressing_style = path\n")
            for k, v in settings.items():
                f.write(f"{k} = {v}\n")
            f.write("\n")
    with open(creds, "w") as f:
        for name, (key, secret) in credentials.items():
            f.write(f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n\n")


def cli(s, profile, *args, stdin=None, check=True):
    """The aws CLI with a profile from the written files: S3 through nginx, STS at stsd."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=s.home,
        AWS_CONFIG_FILE=os.path.join(s.home, "config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(s.home, "credentials"),
        AWS_PROFILE=profile,
        AWS_ENDPOINT_URL_STS=s.stsd.endpoint,
        AWS_ENDPOINT_URL_S3=s.endpoint,
        AWS_MAX_ATTEMPTS="1",
        AWS_RETRY_MODE="standard",
    )
    p = subprocess.run(["aws", *args], env=env, input=stdin, capture_output=True, timeout=180)
    if check:
        assert p.returncode == 0, f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr.decode(errors='replace')}"
    return p


def refused(p):
    err = p.stderr.decode(errors="replace")
    return p.returncode != 0 and ("AccessDenied" in err or "Forbidden" in err or "403" in err)


@pytest.fixture(scope="module")
def story(stack):
    """The prod account's buckets and roles, the dev developer, the partner."""
    s = stack
    prod, dev, partner = (s.accounts[n]["AccountId"] for n in ("prod", "dev", "partner"))
    s.ids = {"prod": prod, "dev": dev, "partner": partner}
    piam = root_client(s, "prod", "iam")
    diam = root_client(s, "dev", "iam")
    xiam = root_client(s, "partner", "iam")
    # prod registers its buckets, then creates them through nginx (CreateBucket by the prod root).
    for b in ("prod-data", "prod-secret", "prod-shared"):
        status, text = query(s, "prod", {"Action": "RegisterBucket", "BucketName": b})
        assert status == 200, text
    write_aws_config(
        s,
        {"prod-root": {}},
        {"prod-root": (s.accounts["prod"]["AccessKeyId"], s.accounts["prod"]["SecretAccessKey"])},
    )
    for b in ("prod-data", "prod-secret", "prod-shared"):
        cli(s, "prod-root", "s3", "mb", f"s3://{b}")
    cli(s, "prod-root", "s3", "cp", "-", "s3://prod-secret/keys.txt", stdin=b"top secret\n")
    cli(s, "prod-root", "s3", "cp", "-", "s3://prod-shared/report.txt", stdin=b"quarterly report\n")
    # The role developers assume: trusts the dev account, may use prod-data only.
    piam.create_role(
        RoleName="DevDataAccess",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{dev}:root"}, "Action": "sts:AssumeRole"}]}
        ),
    )
    data_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], "Resource": "arn:aws:s3:::prod-data/*"},
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": "arn:aws:s3:::prod-data"},
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        ],
    }
    piam.put_role_policy(RoleName="DevDataAccess", PolicyName="data", PolicyDocument=json.dumps(data_policy))
    # The third party's role: its account, only with the External ID.
    piam.create_role(
        RoleName="PartnerAudit",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner}:root"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}
        ),
    )
    piam.put_role_policy(
        RoleName="PartnerAudit",
        PolicyName="list",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": ["arn:aws:s3:::prod-data", "arn:aws:s3:::prod-data/*"]}]}),
    )
    # The developer in dev: may assume the prod role and use S3 anywhere (the other side decides).
    diam.create_user(UserName="alice")
    diam.put_user_policy(
        UserName="alice",
        PolicyName="dev",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{prod}:role/*"},
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            ]}
        ),
    )
    alice = diam.create_access_key(UserName="alice")["AccessKey"]
    diam.create_user(UserName="bob")  # no policy at all
    bob = diam.create_access_key(UserName="bob")["AccessKey"]
    xiam.create_user(UserName="auditor")
    xiam.put_user_policy(
        UserName="auditor",
        PolicyName="assume",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}),
    )
    auditor = xiam.create_access_key(UserName="auditor")["AccessKey"]
    write_aws_config(
        s,
        {
            "prod-root": {},
            "dev": {},
            "bob": {},
            "prod-data": {"role_arn": f"arn:aws:iam::{prod}:role/DevDataAccess", "source_profile": "dev", "role_session_name": "alice-data"},
            "partner": {},
            "partner-audit": {"role_arn": f"arn:aws:iam::{prod}:role/PartnerAudit", "source_profile": "partner", "external_id": EXTERNAL_ID},
            "partner-wrong-id": {"role_arn": f"arn:aws:iam::{prod}:role/PartnerAudit", "source_profile": "partner", "external_id": "guessed"},
            "partner-no-id": {"role_arn": f"arn:aws:iam::{prod}:role/PartnerAudit", "source_profile": "partner"},
        },
        {
            "prod-root": (s.accounts["prod"]["AccessKeyId"], s.accounts["prod"]["SecretAccessKey"]),
            "dev": (alice["AccessKeyId"], alice["SecretAccessKey"]),
            "bob": (bob["AccessKeyId"], bob["SecretAccessKey"]),
            "partner": (auditor["AccessKeyId"], auditor["SecretAccessKey"]),
        },
    )
    s.alice = alice
    return s


def query(s, account, params):
    """A signed IAM-namespace Query call (stsd's extension actions have no boto3 operation)."""
    from conftest import raw_call

    a = s.accounts[account]
    params = {"Version": "2010-05-08", **params}
    return raw_call(s.stsd, "iam", params, key=a["AccessKeyId"], secret=a["SecretAccessKey"])


def test_developer_assumes_the_prod_role_and_uses_the_allowed_bucket(story):
    s = story
    who = json.loads(cli(s, "prod-data", "sts", "get-caller-identity").stdout)
    assert who["Arn"] == f"arn:aws:sts::{s.ids['prod']}:assumed-role/DevDataAccess/alice-data"
    cli(s, "prod-data", "s3", "cp", "-", "s3://prod-data/reports/today.txt", stdin=b"hello from dev\n")
    out = cli(s, "prod-data", "s3", "cp", "s3://prod-data/reports/today.txt", "-").stdout
    assert out == b"hello from dev\n"
    listing = cli(s, "prod-data", "s3", "ls", "s3://prod-data/reports/").stdout.decode()
    assert "today.txt" in listing
    # A 9 MiB file goes up in parts (CreateMultipartUpload, UploadPart, CompleteMultipartUpload).
    big = os.path.join(s.dir, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(9 * 1024 * 1024))
    cli(s, "prod-data", "s3", "cp", big, "s3://prod-data/big.bin")
    back = os.path.join(s.dir, "big-back.bin")
    cli(s, "prod-data", "s3", "cp", "s3://prod-data/big.bin", back)
    assert open(back, "rb").read() == open(big, "rb").read()
    # CopyObject inside the bucket: s3:PutObject on the target and s3:GetObject on the source.
    cli(s, "prod-data", "s3", "cp", "s3://prod-data/reports/today.txt", "s3://prod-data/reports/copy.txt")
    assert cli(s, "prod-data", "s3", "cp", "s3://prod-data/reports/copy.txt", "-").stdout == b"hello from dev\n"


def test_another_bucket_is_refused(story):
    s = story
    p = cli(s, "prod-data", "s3", "ls", "s3://prod-secret/", check=False)
    assert refused(p), p.stderr
    p = cli(s, "prod-data", "s3", "cp", "s3://prod-secret/keys.txt", "-", check=False)
    assert refused(p), p.stderr
    # Copying the secret into the allowed bucket needs s3:GetObject on the source: refused too.
    p = cli(s, "prod-data", "s3", "cp", "s3://prod-secret/keys.txt", "s3://prod-data/stolen.txt", check=False)
    assert refused(p), p.stderr
    p = cli(s, "prod-data", "s3", "cp", "s3://prod-data/stolen.txt", "-", check=False)
    assert p.returncode != 0


def test_bucket_policy_grants_and_then_denies_the_dev_account(story):
    s = story
    dev = s.ids["dev"]
    # Cross-account without a bucket policy: the dev user's own allow is not enough.
    p = cli(s, "dev", "s3", "cp", "s3://prod-shared/report.txt", "-", check=False)
    assert refused(p), p.stderr
    grant = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "DevRead", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{dev}:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::prod-shared/*"}],
    }
    status, text = query(s, "prod", {"Action": "PutResourcePolicy", "ResourceArn": "arn:aws:s3:::prod-shared", "PolicyDocument": json.dumps(grant)})
    assert status == 200, text
    status, text = query(s, "prod", {"Action": "GetResourcePolicy", "ResourceArn": "arn:aws:s3:::prod-shared"})
    assert status == 200 and "DevRead" in urllib.request.unquote(text), text
    # Both sides allow now: alice (identity policy s3:*) reads; bob (no identity policy) still does not.
    assert cli(s, "dev", "s3", "cp", "s3://prod-shared/report.txt", "-").stdout == b"quarterly report\n"
    p = cli(s, "bob", "s3", "cp", "s3://prod-shared/report.txt", "-", check=False)
    assert refused(p), p.stderr
    # Only what the bucket policy grants: no listing, no writes.
    p = cli(s, "dev", "s3", "cp", "-", "s3://prod-shared/x.txt", stdin=b"x", check=False)
    assert refused(p), p.stderr
    # An explicit deny of the dev account wins over the grant.
    grant["Statement"].append({"Sid": "NoDev", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{dev}:root"}, "Action": "s3:*", "Resource": ["arn:aws:s3:::prod-shared", "arn:aws:s3:::prod-shared/*"]})
    status, text = query(s, "prod", {"Action": "PutResourcePolicy", "ResourceArn": "arn:aws:s3:::prod-shared", "PolicyDocument": json.dumps(grant)})
    assert status == 200, text
    p = cli(s, "dev", "s3", "cp", "s3://prod-shared/report.txt", "-", check=False)
    assert refused(p), p.stderr
    # The prod role session is a prod principal: the deny of the dev account does not name it.
    dev_deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{dev}:root"}, "Action": "s3:*", "Resource": "arn:aws:s3:::prod-data/*"}]}
    status, text = query(s, "prod", {"Action": "PutResourcePolicy", "ResourceArn": "arn:aws:s3:::prod-data", "PolicyDocument": json.dumps(dev_deny)})
    assert status == 200, text
    assert cli(s, "prod-data", "s3", "cp", "s3://prod-data/reports/today.txt", "-").stdout == b"hello from dev\n"
    status, text = query(s, "prod", {"Action": "DeleteResourcePolicy", "ResourceArn": "arn:aws:s3:::prod-data"})
    assert status == 200, text
    # Another account cannot put a policy on prod's bucket.
    status, text = query(s, "dev", {"Action": "PutResourcePolicy", "ResourceArn": "arn:aws:s3:::prod-shared", "PolicyDocument": json.dumps(grant)})
    assert status != 200 and "not registered to this account" in text, text


def test_external_id_role_works_only_with_the_right_id(story):
    s = story
    for profile in ("partner-wrong-id", "partner-no-id"):
        p = cli(s, profile, "s3", "ls", "s3://prod-data/", check=False)
        assert p.returncode != 0 and "AccessDenied" in p.stderr.decode(), p.stderr
    listing = cli(s, "partner-audit", "s3", "ls", "s3://prod-data/reports/").stdout.decode()
    assert "today.txt" in listing
    # The partner's role may read prod-data only.
    p = cli(s, "partner-audit", "s3", "ls", "s3://prod-secret/", check=False)
    assert refused(p), p.stderr


def sign_s3(method, url, creds, host=None, headers=None, body=b""):
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if host:
        req.headers["Host"] = host
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return req


def send(url, method="GET", headers=None, body=None):
    r = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def test_unsigned_presigned_and_virtual_hosted_requests(story):
    s = story
    # Unsigned: 401, with stsd's S3-style XML error as the body (nginx's error_page from X-Stsd-Error).
    status, body, _ = send(f"{s.endpoint}/prod-data/reports/today.txt")
    assert status == 401
    assert b"<Error><Code>AccessDenied</Code>" in body and b"not signed" in body
    # A presigned URL (SigV4, query form) works through the proxy; tampered, it does not.
    url = cli(s, "prod-root", "s3", "presign", "s3://prod-secret/keys.txt", "--expires-in", "300").stdout.decode().strip()
    assert "X-Amz-Signature=" in url
    status, body, _ = send(url)
    assert (status, body) == (200, b"top secret\n")
    status, body, _ = send(url.replace("keys.txt", "keys.txT"))
    assert status == 403 and b"SignatureDoesNotMatch" in body
    # Virtual-hosted style: the bucket in the Host (BUCKET.s3.stsd.test, --s3-domain), signed for that host.
    prod = Credentials(s.accounts["prod"]["AccessKeyId"], s.accounts["prod"]["SecretAccessKey"])
    host = f"prod-secret.{S3_DOMAIN}:{s.port}"
    req = sign_s3("GET", f"http://{host}/keys.txt", prod, host=host)
    status, body, _ = send(f"{s.endpoint}/keys.txt", headers={k: v for k, v in req.headers.items()})
    assert (status, body) == (200, b"top secret\n"), body
    # A wrong secret: SignatureDoesNotMatch.
    bad = Credentials(s.accounts["prod"]["AccessKeyId"], "x" * 40)
    req = sign_s3("GET", f"{s.endpoint}/prod-secret/keys.txt", bad)
    status, body, _ = send(f"{s.endpoint}/prod-secret/keys.txt", headers=dict(req.headers))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    # An unknown access key: S3's InvalidAccessKeyId.
    req = sign_s3("GET", f"{s.endpoint}/prod-secret/keys.txt", Credentials("AKIAUNKNOWNUNKNOWN00", "x" * 40))
    status, body, _ = send(f"{s.endpoint}/prod-secret/keys.txt", headers=dict(req.headers))
    assert status == 403 and b"<Code>InvalidAccessKeyId</Code>" in body
    # Dot segments could reach another object upstream: refused.
    req = sign_s3("GET", f"{s.endpoint}/prod-data/a/../../prod-secret/keys.txt", prod)
    status, body, _ = send(f"{s.endpoint}/prod-data/a/../../prod-secret/keys.txt", headers=dict(req.headers))
    assert status == 403, body


def s3_events(s, account):
    """Every s3.amazonaws.com event in `account`'s trail, as records."""
    ct = root_client(s, account, "cloudtrail")
    out, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "s3.amazonaws.com"}], MaxResults=50, **kw)
        out += [json.loads(e["CloudTrailEvent"]) for e in page["Events"]]
        token = page.get("NextToken")
        if not token:
            return out


def test_decisions_are_audited_in_both_accounts(story):
    s = story
    records = s3_events(s, "prod")
    names = {r["eventName"] for r in records}
    assert {"GetObject", "PutObject", "ListObjectsV2", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject"} <= names, names
    by_role = [r for r in records if r["userIdentity"].get("arn", "").endswith("assumed-role/DevDataAccess/alice-data")]
    assert by_role and all(r["eventSource"] == "s3.amazonaws.com" and r["eventCategory"] == "Data" for r in by_role)
    assert any(r["eventName"] == "GetObject" and r["requestParameters"]["bucketName"] == "prod-data" for r in by_role)
    denied = [r for r in by_role if r.get("errorCode") == "AccessDenied"]
    assert any(r["requestParameters"]["bucketName"] == "prod-secret" for r in denied), "the refused prod-secret requests are recorded"
    # No presign field (the session token travels in the query) ever reaches an event.
    for r in records:
        assert "X-Amz-Security-Token" not in json.dumps(r)
    # alice's cross-account reads of prod-shared are in dev's trail (the caller's) and in prod's (the owner's).
    def alice_shared(rs):
        return [r for r in rs if (r["requestParameters"] or {}).get("bucketName") == "prod-shared" and r["userIdentity"].get("userName") == "alice"]

    in_dev, in_prod = alice_shared(s3_events(s, "dev")), alice_shared(records)
    assert in_dev and in_prod
    assert {r["eventID"] for r in in_dev}.isdisjoint({r["eventID"] for r in in_prod})
    assert {r["requestID"] for r in in_dev} == {r["requestID"] for r in in_prod}
    # Unsigned and badly signed requests are decisions too.
    assert any(r.get("errorCode") == "SignatureDoesNotMatch" for r in records)


def test_revoking_older_sessions_cuts_s3_access(story):
    s = story
    # The CLI caches the role session (in HOME/.aws/cli/cache): this is the session issued earlier.
    assert cli(s, "prod-data", "s3", "cp", "s3://prod-data/reports/today.txt", "-").stdout == b"hello from dev\n"
    time.sleep(1.1)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    revoke = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"], "Condition": {"DateLessThan": {"aws:TokenIssueTime": now}}}]}
    root_client(s, "prod", "iam").put_role_policy(RoleName="DevDataAccess", PolicyName="AWSRevokeOlderSessions", PolicyDocument=json.dumps(revoke))
    p = cli(s, "prod-data", "s3", "cp", "s3://prod-data/reports/today.txt", "-", check=False)
    assert refused(p), p.stderr
    p = cli(s, "prod-data", "s3", "ls", "s3://prod-data/", check=False)
    assert refused(p), p.stderr
    # A new session (issued after the revocation time) works again.
    shutil.rmtree(os.path.join(s.home, ".aws", "cli", "cache"), ignore_errors=True)
    time.sleep(1.1)
    assert cli(s, "prod-data", "s3", "cp", "s3://prod-data/reports/today.txt", "-").stdout == b"hello from dev\n"


def test_bucket_registrations_and_policies_survive_a_restart(story):
    """Bucket registrations and resource policies are stored like IAM: after a restart the bucket policy still
    denies the dev account through nginx, and the bucket still belongs to prod."""
    s = story
    s.stsd.restart()
    status, text = query(s, "prod", {"Action": "GetResourcePolicy", "ResourceArn": "arn:aws:s3:::prod-shared"})
    assert status == 200 and "NoDev" in urllib.request.unquote(text), text
    p = cli(s, "dev", "s3", "cp", "s3://prod-shared/report.txt", "-", check=False)
    assert refused(p), p.stderr
    dev = s.ids["dev"]
    takeover = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{dev}:root"},
                                                        "Action": "s3:*", "Resource": "arn:aws:s3:::prod-shared/*"}]}
    status, text = query(s, "dev", {"Action": "PutResourcePolicy", "ResourceArn": "arn:aws:s3:::prod-shared",
                                    "PolicyDocument": json.dumps(takeover)})
    assert status != 200 and "not registered to this account" in text, text
