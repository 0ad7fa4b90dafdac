"""Audit trail (issue #6): every STS/IAM call becomes a CloudTrail event, read back with the real
`aws cloudtrail lookup-events` and boto3's cloudtrail client, exported as JSON lines."""

import json
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import BINARY, ROOT_KEY, ROOT_SECRET, error_code, make_server, raw_call, unique
from test_mfa import now_step, totp
from test_oidc import fed  # noqa: F401  (fixture: a server with a local OIDC issuer)


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def lookup(server, key, secret, *extra):
    """All events matching the CLI arguments (the CLI follows NextToken itself)."""
    out = server.aws("cloudtrail", "lookup-events", *extra, key=key, secret=secret)
    return out["Events"]


def by_name(server, key, secret, name):
    return lookup(server, key, secret, "--lookup-attributes", f"AttributeKey=EventName,AttributeValue={name}")


def ct(event):
    return json.loads(event["CloudTrailEvent"])


def export(server, *extra):
    p = subprocess.run([BINARY, "audit", "export", "--data-dir", server.data_dir, "--format", "jsonl", *extra],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


BANNED_KEYS = {"secretaccesskey", "sessiontoken", "tokencode", "authenticationcode1", "authenticationcode2",
               "samlassertion", "webidentitytoken", "password", "x-amz-security-token"}


def keys(v):
    """Every object key anywhere in a JSON value."""
    if isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from keys(x)
    elif isinstance(v, list):
        for x in v:
            yield from keys(x)


def leaves(v):
    """Every scalar anywhere in a JSON value, as strings."""
    if isinstance(v, dict):
        for x in v.values():
            yield from leaves(x)
    elif isinstance(v, list):
        for x in v:
            yield from leaves(x)
    else:
        yield str(v)


@pytest.fixture()
def story(fresh_server):
    """dev user → AssumeRole into prod → IAM call with the session → denied call."""
    s = fresh_server
    dev = s.create_account(unique("dev"))
    prod = s.create_account(unique("prod"))
    prod_iam = s.client("iam", prod["AccessKeyId"], prod["SecretAccessKey"])
    dev_iam = s.client("iam", dev["AccessKeyId"], dev["SecretAccessKey"])
    role = unique("deployer")
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{dev['AccountId']}:root"},
                 "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]})
    role_arn = prod_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    prod_iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["iam:ListUsers"], "Resource": "*"}))
    user = unique("alice")
    dev_iam.create_user(UserName=user)
    dev_iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Resource": role_arn}))
    key = dev_iam.create_access_key(UserName=user)["AccessKey"]
    user_sts = s.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    creds = user_sts.assume_role(RoleArn=role_arn, RoleSessionName="deploy-1", SourceIdentity=user)["Credentials"]
    sess_iam = s.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    sess_iam.list_users()
    with pytest.raises(ClientError) as e:
        sess_iam.create_user(UserName=unique("mallory"))
    assert error_code(e) == "AccessDenied"
    # A call with an unknown key: recorded with what is known.
    bogus = "AKIA" + "Z" * 16
    with pytest.raises(ClientError) as e:
        s.client("sts", bogus, "x" * 40).get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"
    return dict(server=s, dev=dev, prod=prod, role=role, role_arn=role_arn, user=user, key=key, creds=creds,
                bogus=bogus)


def test_story_every_link_through_the_cli(story):
    s, dev, prod, creds = story["server"], story["dev"], story["prod"], story["creds"]
    pk, ps = prod["AccessKeyId"], prod["SecretAccessKey"]
    dk, ds = dev["AccessKeyId"], dev["SecretAccessKey"]
    session_key = creds["AccessKeyId"]

    # Prod (the role's account) sees the AssumeRole, made by the dev user.
    [ev] = by_name(s, pk, ps, "AssumeRole")
    assert ev["EventSource"] == "sts.amazonaws.com"
    assert ev["AccessKeyId"] == story["key"]["AccessKeyId"]
    assert ev["Username"] == story["user"]
    assert {"ResourceType": "AWS::IAM::Role", "ResourceName": story["role_arn"]} in ev["Resources"]
    prod_ar = ct(ev)
    assert prod_ar["recipientAccountId"] == prod["AccountId"]
    assert prod_ar["eventType"] == "AwsApiCall" and prod_ar["eventVersion"]
    assert prod_ar["awsRegion"] == "eu-west-1"
    assert prod_ar["userIdentity"]["type"] == "IAMUser"
    assert prod_ar["userIdentity"]["accountId"] == dev["AccountId"]
    assert prod_ar["userIdentity"]["userName"] == story["user"]
    assert prod_ar["userIdentity"]["arn"] == f"arn:aws:iam::{dev['AccountId']}:user/{story['user']}"
    assert prod_ar["requestParameters"]["roleArn"] == story["role_arn"]
    assert prod_ar["requestParameters"]["roleSessionName"] == "deploy-1"
    assert prod_ar["requestParameters"]["sourceIdentity"] == story["user"]
    assert prod_ar["responseElements"]["credentials"]["accessKeyId"] == session_key
    assert "sessionToken" not in prod_ar["responseElements"]["credentials"]
    assert prod_ar["responseElements"]["assumedRoleUser"]["arn"].endswith(f"assumed-role/{story['role']}/deploy-1")
    assert prod_ar["readOnly"] is True
    assert prod_ar["requestID"] and prod_ar["eventID"]

    # Dev (the caller's account) sees the same call.
    [dev_ev] = by_name(s, dk, ds, "AssumeRole")
    dev_ar = ct(dev_ev)
    assert dev_ar["recipientAccountId"] == dev["AccountId"]
    assert dev_ar["requestID"] == prod_ar["requestID"]
    assert dev_ar["sharedEventID"] == prod_ar["sharedEventID"]
    assert dev_ar["responseElements"]["credentials"]["accessKeyId"] == session_key

    # Actions made with the session: linked to the role, the session and the source identity.
    evs = lookup(s, pk, ps, "--lookup-attributes", f"AttributeKey=AccessKeyId,AttributeValue={session_key}")
    names = [e["EventName"] for e in evs]
    assert names == ["CreateUser", "ListUsers"], names  # newest first
    denied, allowed = ct(evs[0]), ct(evs[1])
    for e in (denied, allowed):
        ui = e["userIdentity"]
        assert e["eventSource"] == "iam.amazonaws.com"
        assert ui["type"] == "AssumedRole"
        assert ui["accessKeyId"] == session_key
        assert ui["arn"] == f"arn:aws:sts::{prod['AccountId']}:assumed-role/{story['role']}/deploy-1"
        issuer = ui["sessionContext"]["sessionIssuer"]
        assert issuer["type"] == "Role" and issuer["arn"] == story["role_arn"]
        assert issuer["userName"] == story["role"] and issuer["accountId"] == prod["AccountId"]
        assert ui["principalId"] == f"{issuer['principalId']}:deploy-1"
        assert ui["sessionContext"]["sourceIdentity"] == story["user"]
        assert ui["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
        assert ui["sessionContext"]["attributes"]["creationDate"].endswith("Z")
    assert "errorCode" not in allowed and allowed["readOnly"] is True
    assert denied["errorCode"] == "AccessDenied"
    assert "not authorized to perform: iam:CreateUser" in denied["errorMessage"]
    assert denied["readOnly"] is False

    # Each account sees only its own events.
    assert lookup(s, dk, ds, "--lookup-attributes", f"AttributeKey=AccessKeyId,AttributeValue={session_key}") == []
    # The unknown key's call landed nowhere a tenant can see, but it is in the store.
    assert not any(e.get("AccessKeyId") == story["bogus"] for e in lookup(s, pk, ps))
    [bad] = [e for e in export(s) if e["userIdentity"].get("accessKeyId") == story["bogus"]]
    assert bad["errorCode"] == "InvalidClientTokenId" and bad["eventName"] == "GetCallerIdentity"
    assert bad["userIdentity"]["type"] == "Unknown"


def test_story_through_boto3_and_survives_restart(story):
    s, prod = story["server"], story["prod"]
    client = s.client("cloudtrail", prod["AccessKeyId"], prod["SecretAccessKey"])
    resp = client.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}])
    [ev] = resp["Events"]
    assert ev["EventTime"].year >= 2024
    before = {e["EventId"] for e in lookup(s, prod["AccessKeyId"], prod["SecretAccessKey"])}
    assert len(before) >= 5
    s.restart()
    after = {e["EventId"] for e in lookup(s, prod["AccessKeyId"], prod["SecretAccessKey"])}
    assert before <= after
    [again] = client.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": ev["EventId"]}])["Events"]
    assert again["CloudTrailEvent"] == ev["CloudTrailEvent"]


def test_no_secret_or_token_in_any_stored_event(story):
    s = story["server"]
    # Also an MFA-free GetSessionToken and a CreateAccessKey by the management root.
    root_sts = s.client("sts")
    gst = root_sts.get_session_token()["Credentials"]
    iam = s.client("iam")
    name = unique("u")
    iam.create_user(UserName=name)
    k2 = iam.create_access_key(UserName=name)["AccessKey"]
    # MFA: the device seed, the enable codes and the TokenCode never land in an event.
    d = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("mfa"))["VirtualMFADevice"]
    seed, serial = d["Base32StringSeed"].decode(), d["SerialNumber"]
    n = now_step()
    c1, c2 = totp(seed, n - 1), totp(seed, n)
    iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    u_sts = s.client("sts", k2["AccessKeyId"], k2["SecretAccessKey"])
    c3 = totp(seed, n + 1)
    mfa_creds = u_sts.get_session_token(SerialNumber=serial, TokenCode=c3)["Credentials"]
    # Flush the queue through a lookup, then scan the store.
    lookup(s, ROOT_KEY, ROOT_SECRET, "--max-items", "1")
    events = export(s)
    assert len(events) >= 15
    secrets = [ROOT_SECRET, story["dev"]["SecretAccessKey"], story["prod"]["SecretAccessKey"],
               story["key"]["SecretAccessKey"], story["creds"]["SecretAccessKey"], story["creds"]["SessionToken"],
               gst["SecretAccessKey"], gst["SessionToken"], k2["SecretAccessKey"], seed,
               mfa_creds["SecretAccessKey"], mfa_creds["SessionToken"]]
    codes = {c1, c2, c3}
    for e in events:
        text = json.dumps(e)
        for secret in secrets:
            assert secret not in text, f"secret leaked in {e['eventName']}"
        for k in keys(e):
            assert k.lower() not in BANNED_KEYS, f"{k} in {e['eventName']}"
        assert not codes & set(leaves(e)), f"TOTP code in {e['eventName']}"
    [mfa_ev] = [e for e in events if e["eventName"] == "GetSessionToken"
                and e["userIdentity"].get("accessKeyId") == k2["AccessKeyId"]]
    assert mfa_ev["requestParameters"]["serialNumber"] == serial
    assert "tokenCode" not in mfa_ev["requestParameters"]
    [en] = [e for e in events if e["eventName"] == "EnableMFADevice"]
    assert set(en["requestParameters"]) == {"userName", "serialNumber"}
    # The issued key IDs are there.
    ids = {e["responseElements"]["accessKey"]["accessKeyId"] for e in events if e["eventName"] == "CreateAccessKey"}
    assert k2["AccessKeyId"] in ids
    assert any((e.get("responseElements") or {}).get("credentials", {}).get("accessKeyId") == gst["AccessKeyId"]
               for e in events)
    # --since filters by time.
    assert export(s, "--since", "2999-01-01T00:00:00Z") == []
    assert len(export(s, "--since", "0")) == len(events)


def test_pagination_and_filters(fresh_server):
    s = fresh_server
    sts = s.client("sts")
    for _ in range(7):
        sts.get_caller_identity()
    iam = s.client("iam")
    user = unique("pg")
    iam.create_user(UserName=user)
    client = s.client("cloudtrail")
    pages = list(client.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}],
        PaginationConfig={"PageSize": 3}))
    assert [len(p["Events"]) for p in pages] == [3, 3, 1]
    times = [e["EventTime"] for p in pages for e in p["Events"]]
    assert times == sorted(times, reverse=True)
    ids = [e["EventId"] for p in pages for e in p["Events"]]
    assert len(set(ids)) == 7
    # The CLI follows NextToken on its own.
    assert len(lookup(s, ROOT_KEY, ROOT_SECRET, "--lookup-attributes",
                      "AttributeKey=EventName,AttributeValue=GetCallerIdentity", "--page-size", "2")) == 7
    # Attribute filters.
    src = lookup(s, ROOT_KEY, ROOT_SECRET, "--lookup-attributes", "AttributeKey=EventSource,AttributeValue=iam.amazonaws.com")
    assert {e["EventName"] for e in src} == {"CreateUser"}
    rw = lookup(s, ROOT_KEY, ROOT_SECRET, "--lookup-attributes", "AttributeKey=ReadOnly,AttributeValue=false")
    assert {e["EventName"] for e in rw} == {"CreateUser"}
    [res] = lookup(s, ROOT_KEY, ROOT_SECRET, "--lookup-attributes", f"AttributeKey=ResourceName,AttributeValue={user}")
    assert res["EventName"] == "CreateUser"
    # (The lookups are recorded too, as CloudTrail records its own calls: leave them out of the counts.)
    def calls(events):
        return [e for e in events if e["EventName"] != "LookupEvents"]

    assert len(calls(lookup(s, ROOT_KEY, ROOT_SECRET, "--lookup-attributes", "AttributeKey=Username,AttributeValue=root"))) == 8
    assert len(calls(lookup(s, ROOT_KEY, ROOT_SECRET, "--lookup-attributes", f"AttributeKey=AccessKeyId,AttributeValue={ROOT_KEY}"))) == 8
    # Time range.
    future = int(time.time()) + 3600
    assert lookup(s, ROOT_KEY, ROOT_SECRET, "--start-time", str(future)) == []
    assert len(calls(lookup(s, ROOT_KEY, ROOT_SECRET, "--end-time", str(future)))) == 8
    # Errors in the JSON protocol shape.
    with pytest.raises(ClientError) as e:
        client.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "x"},
                                               {"AttributeKey": "Username", "AttributeValue": "y"}])
    assert error_code(e) == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as e:
        client.lookup_events(NextToken="not-a-token")
    assert error_code(e) == "InvalidNextTokenException"
    with pytest.raises(ClientError) as e:
        client.lookup_events(StartTime=future, EndTime=future - 10)
    assert error_code(e) == "InvalidTimeRangeException"


def test_lookup_is_authorized_by_policy(fresh_server):
    s = fresh_server
    iam = s.client("iam")
    nobody = unique("nobody")
    iam.create_user(UserName=nobody)
    k1 = iam.create_access_key(UserName=nobody)["AccessKey"]
    auditor = unique("auditor")
    iam.create_user(UserName=auditor)
    iam.put_user_policy(UserName=auditor, PolicyName="ct", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}))
    k2 = iam.create_access_key(UserName=auditor)["AccessKey"]
    with pytest.raises(ClientError) as e:
        s.client("cloudtrail", k1["AccessKeyId"], k1["SecretAccessKey"]).lookup_events()
    assert error_code(e) == "AccessDeniedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    events = s.client("cloudtrail", k2["AccessKeyId"], k2["SecretAccessKey"]).lookup_events(MaxResults=50)["Events"]
    assert any(e["EventName"] == "CreateUser" for e in events)
    with pytest.raises(ClientError) as e:
        s.client("cloudtrail", "AKIA" + "Q" * 16, "x" * 40).lookup_events()
    assert error_code(e) == "UnrecognizedClientException"


def test_audit_log_sink(tmp_path):
    s = make_server()
    s.stop()
    log = tmp_path / "audit.jsonl"
    p = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{s.port}", "--data-dir", s.data_dir,
                          "--audit-log", str(log), "--audit-retention-days", "30"],
                         env=s.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                s.client("sts").get_caller_identity()
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        s.client("sts").get_caller_identity()
    finally:
        p.terminate()
        p.wait(timeout=10)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) >= 2 and all(e["eventName"] == "GetCallerIdentity" for e in lines)
    assert all(e["recipientAccountId"] == "111122223333" for e in lines)


def test_web_identity_events(fed):
    from test_oidc import GITHUB_SUB, assume, make_role

    s = fed["server"]
    role_arn = make_role(fed)
    token = fed["issuer"].token("rsa1")
    c = assume(fed, role_arn, token)["Credentials"]
    s.client("sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()
    evs = lookup(s, ROOT_KEY, ROOT_SECRET, "--lookup-attributes",
                 "AttributeKey=EventName,AttributeValue=AssumeRoleWithWebIdentity")
    [ev] = [ct(e) for e in evs if ct(e)["responseElements"]
            and ct(e)["responseElements"]["credentials"]["accessKeyId"] == c["AccessKeyId"]]
    ui = ev["userIdentity"]
    assert ui["type"] == "WebIdentityUser"
    assert ui["userName"] == GITHUB_SUB and ui["identityProvider"] == fed["provider"]
    assert "webIdentityToken" not in ev["requestParameters"]
    assert ev["responseElements"]["subjectFromWebIdentityToken"] == GITHUB_SUB
    [gci] = lookup(s, ROOT_KEY, ROOT_SECRET, "--lookup-attributes", f"AttributeKey=AccessKeyId,AttributeValue={c['AccessKeyId']}")
    sc = ct(gci)["userIdentity"]["sessionContext"]
    assert sc["sessionIssuer"]["arn"] == role_arn
    assert sc["webIdFederationData"]["federatedProvider"]
    for e in export(s):
        text = json.dumps(e)
        assert token not in text and c["SessionToken"] not in text and c["SecretAccessKey"] not in text


def test_lookup_events_calls_are_recorded(fresh_server):
    """Issue #11: CloudTrail records its own API calls (event source cloudtrail.amazonaws.com): allowed,
    denied and failed authentication."""
    s = fresh_server
    iam = s.client("iam")
    nobody = unique("nobody")
    iam.create_user(UserName=nobody)
    k = iam.create_access_key(UserName=nobody)["AccessKey"]
    root = s.client("cloudtrail")
    root.lookup_events(MaxResults=5, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}])
    with pytest.raises(ClientError):
        s.client("cloudtrail", k["AccessKeyId"], k["SecretAccessKey"]).lookup_events()
    with pytest.raises(ClientError):
        s.client("cloudtrail", k["AccessKeyId"], "wrong-secret-" + "x" * 27).lookup_events()
    time.sleep(0.1)
    events = [ct(e) for e in root.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "cloudtrail.amazonaws.com"}],
        MaxResults=50)["Events"]]
    assert all(e["eventName"] == "LookupEvents" and e["readOnly"] for e in events)
    ok = [e for e in events if "errorCode" not in e]
    assert ok and ok[-1]["requestParameters"]["LookupAttributes"][0]["AttributeValue"] == "CreateUser"
    assert ok[-1]["userIdentity"]["type"] == "Root"
    codes = {e.get("errorCode") for e in events}
    assert "AccessDeniedException" in codes
    assert "InvalidSignatureException" in codes
    denied = [e for e in events if e.get("errorCode") == "AccessDeniedException"][0]
    assert denied["userIdentity"]["userName"] == nobody


def test_requests_refused_before_an_action_are_recorded(fresh_server):
    """Issue #11: requests refused before an action is known (no or unknown Action, wrong Version, duplicate
    parameters, oversize) leave a trace too."""
    s = fresh_server
    probes = [
        ({"Version": "2011-06-15"}, "MissingAction", "Unknown"),
        ({"Action": "BecomeAdmin", "Version": "2011-06-15"}, "InvalidAction", "BecomeAdmin"),
        ({"Action": "GetCallerIdentity", "Version": "1999-01-01"}, "InvalidAction", "GetCallerIdentity"),
    ]
    for params, code, _ in probes:
        st, text = raw_call(s, "sts", params)
        assert f"<Code>{code}</Code>" in text, text
    # The same parameter twice (query string and body).
    import urllib.request
    req = urllib.request.Request(s.endpoint + "/?Action=GetCallerIdentity", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 400
    # Oversize (16 MiB limit).
    req = urllib.request.Request(s.endpoint + "/?Action=CreateUser&Version=2010-05-08", data=b"x" * (17 * 1024 * 1024),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST")
    try:
        urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        assert e.code == 413
    # The writer commits in batches: wait until the last probe's event is stored.
    deadline = time.time() + 10
    while True:
        events = export(s)
        by_code = {}
        for e in events:
            by_code.setdefault(e.get("errorCode"), []).append(e)
        if "RequestEntityTooLarge" in by_code or time.time() > deadline:
            break
        time.sleep(0.1)
    for _, code, name in probes:
        assert any(e["eventName"] == name for e in by_code.get(code, [])), (code, name)
    assert by_code.get("InvalidParameterCombination"), "duplicate parameters not recorded"
    [big] = by_code["RequestEntityTooLarge"]
    assert big["eventName"] == "CreateUser" and big["eventSource"] == "iam.amazonaws.com"


def test_no_answered_request_loses_its_event_on_kill9(fresh_server):
    """A request is answered only once its audit event is stored: killing the server right after the answer
    loses no event (before, events waited up to 2 ms in memory)."""
    import signal as sig

    s = fresh_server
    iam = s.client("iam")
    names = [unique("durable") for _ in range(5)]
    for name in names:
        iam.create_user(UserName=name)
        s.proc.send_signal(sig.SIGKILL)
        s.proc.wait(timeout=10)
        s.start()
        iam = s.client("iam")
    stored = {e["requestParameters"]["userName"] for e in export(s) if e["eventName"] == "CreateUser"
              and "errorCode" not in e}
    assert set(names) <= stored
