"""End-to-end harness: starts the real `stsd` binary on a free loopback port with a temporary data dir and
hands tests boto3 clients and an aws CLI runner pointed at it."""

import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import boto3
import botocore.config
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("STSD_BIN", os.path.join(ROOT, "target", "debug", "stsd"))
ACCOUNT_ID = "111122223333"
ROOT_KEY = "AKIABTX3GSDSQBHCDE22"
ROOT_SECRET = "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"
REGION = "eu-west-1"  # any region must work


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One stsd process; `restart()` keeps the data dir and the port."""

    def __init__(self, data_dir, port=None, env=None, extra_args=None):
        self.data_dir = data_dir
        self.extra_args = list(extra_args or [])  # more `serve` flags, e.g. ["--allow-http-oidc"]
        self.port = port or free_port()
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.stderr_path = os.path.join(data_dir, f"stderr-{uuid.uuid4().hex[:6]}.log")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir, *self.extra_args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr_file,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stsd exited early: {self.stderr()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("stsd did not start listening")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        if getattr(self, "stderr_file", None):
            self.stderr_file.close()
        return self.proc.returncode if self.proc else None

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def restart_with_clock_offset(self, seconds):
        """Restart with the server clock moved `seconds` (STSD_CLOCK_OFFSET_SECS); sign with `client_clock`."""
        self.stop()
        self.env["STSD_CLOCK_OFFSET_SECS"] = str(int(seconds))
        return self.start()

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def client(self, service, key=ROOT_KEY, secret=ROOT_SECRET, token=None, region=REGION):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def aws(self, *args, key=ROOT_KEY, secret=ROOT_SECRET, check=True):
        """Run the aws CLI against this server; returns parsed JSON (or None for empty output)."""
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=key,
            AWS_SECRET_ACCESS_KEY=secret,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            AWS_MAX_ATTEMPTS="1",
        )
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        p = subprocess.run(
            ["aws", "--endpoint-url", self.endpoint, "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        if not check:
            return p
        return json.loads(p.stdout) if p.stdout.strip() else None

    def create_account(self, name, account_id=None):
        env = dict(os.environ)
        env.update(AWS_ACCESS_KEY_ID=ROOT_KEY, AWS_SECRET_ACCESS_KEY=ROOT_SECRET, AWS_REGION=REGION)
        args = [BINARY, "account", "create", "--name", name, "--endpoint", self.endpoint]
        if account_id:
            args += ["--id", account_id]
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)


def make_server(**kw):
    data_dir = tempfile.mkdtemp(prefix="stsd-e2e-")
    env = {
        "STSD_ACCOUNT_ID": ACCOUNT_ID,
        "STSD_ROOT_ACCESS_KEY_ID": ROOT_KEY,
        "STSD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET,
    }
    env.update(kw.pop("env", {}))
    return Server(data_dir, env=env, **kw).start()


@pytest.fixture(scope="session")
def server():
    s = make_server()
    yield s
    s.stop()


@pytest.fixture()
def fresh_server():
    s = make_server()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def iam(server):
    c = server.client("iam")
    c._stsd_server = server
    return c


@pytest.fixture(scope="session")
def sts(server):
    return server.client("sts")


@contextlib.contextmanager
def client_clock(offset_secs):
    """Sign SigV4 requests (boto3 in this process) as if the clock were `offset_secs` ahead: a server run with
    STSD_CLOCK_OFFSET_SECS checks request times against its own shifted clock."""
    import botocore.auth as ba

    real = ba.get_current_datetime

    def shifted(remove_tzinfo=True):
        return real(remove_tzinfo) + datetime.timedelta(seconds=offset_secs)

    ba.get_current_datetime = shifted
    try:
        yield
    finally:
        ba.get_current_datetime = real


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}],
}

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def new_user_with_key(iam, name=None, policy=None):
    """Create a user (optionally with an inline policy) and an access key; returns (name, key_id, secret)."""
    name = name or unique("user")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return name, k["AccessKeyId"], k["SecretAccessKey"]


def raw_call(server, service, params, key=ROOT_KEY, secret=ROOT_SECRET):
    """A signed Query call that bypasses botocore's client-side validation; returns (status, text)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = urllib.parse.urlencode(params)
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(req)
    r = urllib.request.Request(req.url, data=body.encode(), headers=dict(req.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
