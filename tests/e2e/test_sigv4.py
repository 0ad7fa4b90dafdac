"""SigV4 verification through the real server: header and presigned forms, and every negative case with
AWS's error codes (issue #2)."""

import datetime
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, ROOT_KEY, ROOT_SECRET, error_code, new_user_with_key

BODY = "Action=GetCallerIdentity&Version=2011-06-15"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def send(url, body=None, headers=None, method="POST"):
    """Send raw; return (status, headers, text)."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def code_of(text):
    return text.split("<Code>")[1].split("</Code>")[0]


def signed(server, body=BODY, key=ROOT_KEY, secret=ROOT_SECRET, service="sts", region="us-east-1", when=None, token=None):
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=dict(FORM))
    auth = SigV4Auth(Credentials(key, secret, token), service, region)
    if when is not None:
        # botocore reads the timestamp from datetime.now; sign at a chosen time.
        import botocore.auth as ba

        real = ba.datetime.datetime

        class Fixed(real):
            @classmethod
            def utcnow(cls):
                return when

            @classmethod
            def now(cls, tz=None):
                return when if tz is None else when.replace(tzinfo=tz)

        ba.datetime.datetime = Fixed
        try:
            auth.add_auth(req)
        finally:
            ba.datetime.datetime = real
    else:
        auth.add_auth(req)
    return dict(req.headers)


def test_header_signature_ok(server):
    st, hdrs, text = send(server.endpoint + "/", BODY, signed(server))
    assert st == 200, text
    assert f"arn:aws:iam::{ACCOUNT_ID}:root" in text
    assert 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"' in text
    assert hdrs["x-amzn-RequestId"] in text


def test_tampered_body(server):
    h = signed(server)
    st, _, text = send(server.endpoint + "/", BODY.replace("2011-06-15", "2011-06-15&X=1"), h)
    assert st == 403 and code_of(text) == "SignatureDoesNotMatch"


def test_tampered_signature(server):
    h = signed(server)
    sig = h["Authorization"][-64:]
    h["Authorization"] = h["Authorization"][:-64] + ("0" if sig[0] != "0" else "1") + sig[1:]
    st, _, text = send(server.endpoint + "/", BODY, h)
    assert st == 403 and code_of(text) == "SignatureDoesNotMatch"


def test_wrong_secret(server):
    sts = server.client("sts", ROOT_KEY, "W" * 40)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_code(e) == "SignatureDoesNotMatch"


def test_unknown_key(server):
    sts = server.client("sts", "AKIAIOSFODNN7EXAMPLE", ROOT_SECRET)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"


def test_temporary_key_without_token(server):
    st, _, text = send(server.endpoint + "/", BODY, signed(server, key="ASIABTX3GSDSQCODWEHH"))
    assert st == 403 and code_of(text) == "InvalidClientTokenId"


def test_missing_authentication(server):
    st, _, text = send(server.endpoint + "/", BODY, dict(FORM))
    assert st == 403 and code_of(text) == "MissingAuthenticationToken"


def test_malformed_authorization_header(server):
    h = dict(FORM)
    h["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIA/x"
    h["X-Amz-Date"] = "20250315T120000Z"
    st, _, text = send(server.endpoint + "/", BODY, h)
    assert st == 400 and code_of(text) == "IncompleteSignature"
    h["Authorization"] = "AWS4-ECDSA-P256-SHA256 Credential=AKIA/20250315/sts/aws4_request, SignedHeaders=host, Signature=ab"
    st, _, text = send(server.endpoint + "/", BODY, h)
    assert code_of(text) == "IncompleteSignature"


def test_skewed_clock(server):
    now = datetime.datetime.utcnow()
    for delta in (datetime.timedelta(minutes=-20), datetime.timedelta(minutes=20)):
        st, _, text = send(server.endpoint + "/", BODY, signed(server, when=now + delta))
        assert st == 403 and code_of(text) == "SignatureDoesNotMatch", text
        assert "Signature expired" in text or "Signature not yet current" in text
    st, _, text = send(server.endpoint + "/", BODY, signed(server, when=now - datetime.timedelta(minutes=10)))
    assert st == 200, text


def test_wrong_service_scope(server):
    st, _, text = send(server.endpoint + "/", BODY, signed(server, service="iam"))
    assert st == 403 and code_of(text) == "SignatureDoesNotMatch"
    assert "Credential should be scoped to correct service" in text


def test_any_region(server):
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2", "mars-1"):
        st, _, text = send(server.endpoint + "/", BODY, signed(server, region=region))
        assert st == 200, (region, text)


def test_presigned_get(server):
    req = AWSRequest(method="GET", url=server.endpoint + "/?Action=GetCallerIdentity&Version=2011-06-15")
    SigV4QueryAuth(Credentials(ROOT_KEY, ROOT_SECRET), "sts", "us-east-1", expires=60).add_auth(req)
    st, _, text = send(req.url, method="GET")
    assert st == 200, text
    assert f"<Account>{ACCOUNT_ID}</Account>" in text
    # Tampering with any signed query parameter breaks it.
    st, _, text = send(req.url.replace("Version=2011-06-15", "Version=2011-06-15&Extra=1"), method="GET")
    assert code_of(text) in ("SignatureDoesNotMatch",)


def test_presigned_via_boto3(server, sts):
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    st, _, text = send(url, method="GET")
    assert st == 200, text


def test_expired_presign(server):
    import botocore.auth as ba

    real = ba.datetime.datetime
    past = datetime.datetime.utcnow() - datetime.timedelta(minutes=5)

    class Fixed(real):
        @classmethod
        def utcnow(cls):
            return past

        @classmethod
        def now(cls, tz=None):
            return past if tz is None else past.replace(tzinfo=tz)

    req = AWSRequest(method="GET", url=server.endpoint + "/?Action=GetCallerIdentity&Version=2011-06-15")
    ba.datetime.datetime = Fixed
    try:
        SigV4QueryAuth(Credentials(ROOT_KEY, ROOT_SECRET), "sts", "us-east-1", expires=60).add_auth(req)
    finally:
        ba.datetime.datetime = real
    st, _, text = send(req.url, method="GET")
    assert st == 403 and code_of(text) == "SignatureDoesNotMatch"


def test_unsigned_payload_marker(server):
    """`X-Amz-Content-Sha256: UNSIGNED-PAYLOAD`, signed, is honoured."""
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=BODY, headers={**FORM, "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), "sts", "us-east-1").add_auth(req)
    assert "x-amz-content-sha256" in req.headers["Authorization"]
    st, _, text = send(server.endpoint + "/", BODY, dict(req.headers))
    assert st == 200, text


def test_iam_errors_use_iam_namespace(server):
    body = "Action=GetUser&Version=2010-05-08&UserName=nobody-at-all"
    st, _, text = send(server.endpoint + "/", body, signed(server, body=body, service="iam"))
    assert st == 404 and code_of(text) == "NoSuchEntity"
    assert 'xmlns="https://iam.amazonaws.com/doc/2010-05-08/"' in text
    assert "<Type>Sender</Type>" in text


def test_unknown_and_missing_action(server):
    body = "Action=FlyToTheMoon&Version=2011-06-15"
    st, _, text = send(server.endpoint + "/", body, signed(server, body=body))
    assert st == 400 and code_of(text) == "InvalidAction"
    body = "Version=2011-06-15"
    st, _, text = send(server.endpoint + "/", body, signed(server, body=body))
    assert st == 400 and code_of(text) == "MissingAction"


def test_garbage_never_breaks_the_server(server):
    for body in (b"\xff\xfe\x00garbage", b"Action=%ZZ&&&==", b"Tags.member.99999999999999999999.Key=x&Action=CreateUser&Version=2010-05-08", b"A" * 100000):
        st, _, text = send(server.endpoint + "/", body, dict(FORM))
        assert 400 <= st < 500 and "<ErrorResponse" in text, (body[:30], st, text)
    assert server.client("sts").get_caller_identity()["Account"] == ACCOUNT_ID
