"""Virtual MFA devices: create, enable with two consecutive TOTP codes, resync, deactivate, delete, list, get, tags,
DeleteUser conflicts, root-owned devices, persistence across a restart and the aws CLI's --outfile bootstrap."""

import base64
import hashlib
import hmac
import os
import struct
import tempfile
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, error_code, raw_call, status, unique

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def totp(seed_b32, step):
    """RFC 6238: HMAC-SHA1 over the big-endian step, dynamic truncation, 6 digits."""
    if isinstance(seed_b32, bytes):
        seed_b32 = seed_b32.decode()
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[off : off + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def now_step():
    return int(time.time()) // 30


def create_device(iam, name=None, **kw):
    name = name or unique("mfa")
    d = iam.create_virtual_mfa_device(VirtualMFADeviceName=name, **kw)["VirtualMFADevice"]
    return name, d["SerialNumber"], d["Base32StringSeed"].decode()


def enable(iam, user, serial, seed):
    n = now_step()
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1=totp(seed, n - 1), AuthenticationCode2=totp(seed, n)
    )


def test_rfc6238_vector_in_helper():
    # RFC 6238 Appendix B, SHA1, T = 59 → 94287082 (last six digits).
    seed = base64.b32encode(b"12345678901234567890").decode()
    assert totp(seed, 59 // 30) == "287082"


def test_create_returns_serial_seed_and_png(iam):
    name = unique("mfa")
    d = iam.create_virtual_mfa_device(VirtualMFADeviceName=name, Path="/team/")["VirtualMFADevice"]
    assert d["SerialNumber"] == f"arn:aws:iam::{ACCOUNT_ID}:mfa/team/{name}"
    seed = d["Base32StringSeed"]
    assert isinstance(seed, bytes) and len(seed) == 64
    assert len(base64.b32decode(seed)) == 40
    assert d["QRCodePNG"].startswith(PNG_MAGIC)
    assert "User" not in d and "EnableDate" not in d

    with pytest.raises(ClientError) as e:
        iam.create_virtual_mfa_device(VirtualMFADeviceName=name)
    assert error_code(e) == "EntityAlreadyExists"
    assert status(e) == 409

    # Seeds differ per device.
    _, _, other = create_device(iam)
    assert other != seed.decode()


def test_enable_list_get_deactivate_delete(iam):
    user = unique("mfauser")
    iam.create_user(UserName=user)
    name, serial, seed = create_device(iam)

    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial in [d["SerialNumber"] for d in unassigned]
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []

    enable(iam, user, serial, seed)

    devices = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [serial]
    assert devices[0]["UserName"] == user
    assert "EnableDate" in devices[0]

    got = iam.get_mfa_device(SerialNumber=serial, UserName=user)
    assert got["SerialNumber"] == serial and got["UserName"] == user and "EnableDate" in got

    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    mine = [d for d in assigned if d["SerialNumber"] == serial]
    assert len(mine) == 1
    assert mine[0]["User"]["UserName"] == user
    assert mine[0]["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    assert "EnableDate" in mine[0]
    assert "Base32StringSeed" not in mine[0] and "QRCodePNG" not in mine[0]
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial not in [d["SerialNumber"] for d in unassigned]

    # Already assigned → EntityAlreadyExists, for the same user or another one.
    other = unique("mfauser")
    iam.create_user(UserName=other)
    for who in (user, other):
        with pytest.raises(ClientError) as e:
            enable(iam, who, serial, seed)
        assert error_code(e) == "EntityAlreadyExists"

    # Still assigned: neither the device nor the user can be deleted.
    with pytest.raises(ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_code(e) == "DeleteConflict"
    assert status(e) == 409
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user)
    assert error_code(e) == "DeleteConflict"

    # Deactivating for the wrong user is NoSuchEntity.
    with pytest.raises(ClientError) as e:
        iam.deactivate_mfa_device(UserName=other, SerialNumber=serial)
    assert error_code(e) == "NoSuchEntity"

    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    with pytest.raises(ClientError) as e:
        iam.get_mfa_device(SerialNumber=serial, UserName=user)
    assert error_code(e) == "NoSuchEntity"
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial in [d["SerialNumber"] for d in unassigned]

    iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_code(e) == "NoSuchEntity"
    assert status(e) == 404
    iam.delete_user(UserName=user)
    iam.delete_user(UserName=other)


def test_wrong_codes_are_rejected(iam):
    user = unique("mfauser")
    iam.create_user(UserName=user)
    _, serial, seed = create_device(iam)
    n = now_step()
    bad = [
        ("000000", "000000"),
        (totp(seed, n), totp(seed, n - 1)),  # swapped
        (totp(seed, n - 2), totp(seed, n)),  # not consecutive
        (totp(seed, n - 11), totp(seed, n - 10)),  # far in the past
        (totp(seed, n + 5), totp(seed, n + 6)),  # far in the future
    ]
    for c1, c2 in bad:
        if (c1, c2) == (totp(seed, n - 1), totp(seed, n)):
            continue  # astronomically unlikely collision
        with pytest.raises(ClientError) as e:
            iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
        assert error_code(e) == "InvalidAuthenticationCode"
        assert status(e) == 403
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []

    # Malformed codes are a ValidationError (sent raw: botocore would refuse them itself).
    code, body = raw_call(
        iam._stsd_server,
        "iam",
        {
            "Action": "EnableMFADevice",
            "Version": "2010-05-08",
            "UserName": user,
            "SerialNumber": serial,
            "AuthenticationCode1": "12a456",
            "AuthenticationCode2": "1234567",
        },
    )
    assert code == 400 and "ValidationError" in body

    # Unknown device, unknown user.
    with pytest.raises(ClientError) as e:
        enable(iam, user, f"arn:aws:iam::{ACCOUNT_ID}:mfa/{unique('nope')}", seed)
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        enable(iam, unique("nouser"), serial, seed)
    assert error_code(e) == "NoSuchEntity"

    # The right codes still work afterwards.
    enable(iam, user, serial, seed)
    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_user(UserName=user)


def test_used_codes_are_not_accepted_again(iam):
    """Replay guard: once a step is accepted for a device, its code (and every earlier one) never works again,
    even after deactivation."""
    user = unique("mfauser")
    iam.create_user(UserName=user)
    _, serial, seed = create_device(iam)
    n = now_step()
    c1, c2 = totp(seed, n - 1), totp(seed, n)
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    for a, b in ((c1, c2), (c2, totp(seed, n + 1))):
        with pytest.raises(ClientError) as e:
            iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=a, AuthenticationCode2=b)
        assert error_code(e) == "InvalidAuthenticationCode"
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_user(UserName=user)


def test_resync(iam):
    user = unique("mfauser")
    iam.create_user(UserName=user)
    _, serial, seed = create_device(iam)

    # Not assigned to this user yet.
    n = now_step()
    with pytest.raises(ClientError) as e:
        iam.resync_mfa_device(
            UserName=user, SerialNumber=serial, AuthenticationCode1=totp(seed, n), AuthenticationCode2=totp(seed, n + 1)
        )
    assert error_code(e) == "NoSuchEntity"

    enable(iam, user, serial, seed)
    n = now_step()
    # An authenticator running ~2 minutes fast: outside the normal window, inside the resync one.
    c1, c2 = totp(seed, n + 3), totp(seed, n + 4)
    iam.resync_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    # The same codes again are a replay.
    with pytest.raises(ClientError) as e:
        iam.resync_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    assert error_code(e) == "InvalidAuthenticationCode"
    with pytest.raises(ClientError) as e:
        iam.resync_mfa_device(
            UserName=user, SerialNumber=serial, AuthenticationCode1=totp(seed, n + 6), AuthenticationCode2=totp(seed, n + 8)
        )
    assert error_code(e) == "InvalidAuthenticationCode"
    assert status(e) == 403

    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_user(UserName=user)


def test_tags(iam):
    name, serial, _ = create_device(iam, Tags=[{"Key": "env", "Value": "dev"}])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "env", "Value": "dev"}]
    # MFA device tag keys are case-sensitive.
    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "Env", "Value": "x"}, {"Key": "env", "Value": "prod"}])
    tags = {t["Key"]: t["Value"] for t in iam.list_mfa_device_tags(SerialNumber=serial)["Tags"]}
    assert tags == {"env": "prod", "Env": "x"}
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["env"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "Env", "Value": "x"}]
    with pytest.raises(ClientError) as e:
        iam.list_mfa_device_tags(SerialNumber=f"arn:aws:iam::{ACCOUNT_ID}:mfa/{unique('nope')}")
    assert error_code(e) == "NoSuchEntity"
    iam.delete_virtual_mfa_device(SerialNumber=serial)


def test_list_virtual_devices_paginates(iam):
    serials = {create_device(iam)[1] for _ in range(3)}
    seen, marker = [], None
    while True:
        kw = {"MaxItems": 2, "AssignmentStatus": "Any"}
        if marker:
            kw["Marker"] = marker
        page = iam.list_virtual_mfa_devices(**kw)
        assert len(page["VirtualMFADevices"]) <= 2
        seen += [d["SerialNumber"] for d in page["VirtualMFADevices"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert serials <= set(seen)
    assert len(seen) == len(set(seen))
    for s in serials:
        iam.delete_virtual_mfa_device(SerialNumber=s)


def test_root_owned_device(iam):
    """The root may own devices: UserName omitted by the root means the root itself."""
    _, serial, seed = create_device(iam)
    n = now_step()
    code, body = raw_call(
        iam._stsd_server,
        "iam",
        {
            "Action": "EnableMFADevice",
            "Version": "2010-05-08",
            "SerialNumber": serial,
            "AuthenticationCode1": totp(seed, n - 1),
            "AuthenticationCode2": totp(seed, n),
        },
    )
    assert code == 200, body
    mine = [d for d in iam.list_mfa_devices()["MFADevices"] if d["SerialNumber"] == serial]
    assert len(mine) == 1
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    entry = [d for d in assigned if d["SerialNumber"] == serial][0]
    assert entry["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    iam.get_mfa_device(SerialNumber=serial)
    iam.deactivate_mfa_device(SerialNumber=serial)
    assert [d for d in iam.list_mfa_devices()["MFADevices"] if d["SerialNumber"] == serial] == []
    iam.delete_virtual_mfa_device(SerialNumber=serial)


def test_at_most_eight_devices_per_user(iam):
    user = unique("mfauser")
    iam.create_user(UserName=user)
    devices = [create_device(iam) for _ in range(9)]
    for _, serial, seed in devices[:8]:
        enable(iam, user, serial, seed)
    _, serial9, seed9 = devices[8]
    with pytest.raises(ClientError) as e:
        enable(iam, user, serial9, seed9)
    assert error_code(e) == "LimitExceeded"
    assert len(iam.list_mfa_devices(UserName=user)["MFADevices"]) == 8
    page = iam.list_mfa_devices(UserName=user, MaxItems=5)
    assert page["IsTruncated"] and len(page["MFADevices"]) == 5
    rest = iam.list_mfa_devices(UserName=user, Marker=page["Marker"])
    assert len(rest["MFADevices"]) == 3 and not rest["IsTruncated"]
    for _, serial, _ in devices:
        if serial != serial9:
            iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_user(UserName=user)


def test_assignment_and_guard_survive_restart(fresh_server):
    iam = fresh_server.client("iam")
    iam.create_user(UserName="alice")
    _, serial, seed = create_device(iam, Tags=[{"Key": "k", "Value": "v"}])
    n = now_step()
    c1, c2 = totp(seed, n - 1), totp(seed, n)
    iam.enable_mfa_device(UserName="alice", SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    _, serial2, _ = create_device(iam)

    fresh_server.restart()
    iam = fresh_server.client("iam")
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName="alice")["MFADevices"]] == [serial]
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "k", "Value": "v"}]
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert [d["SerialNumber"] for d in unassigned] == [serial2]
    iam.deactivate_mfa_device(UserName="alice", SerialNumber=serial)
    # The used step was persisted: the same codes are refused after the restart.
    with pytest.raises(ClientError) as e:
        iam.enable_mfa_device(UserName="alice", SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    assert error_code(e) == "InvalidAuthenticationCode"
    assert "Base32" not in fresh_server.stderr() and seed not in fresh_server.stderr()


@pytest.mark.parametrize("method", ["Base32StringSeed", "QRCodePNG"])
def test_cli_outfile_bootstrap(server, iam, method):
    name = unique("climfa")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "seed")
        res = server.aws(
            "iam",
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            name,
            "--outfile",
            out,
            "--bootstrap-method",
            method,
        )
        with open(out, "rb") as f:
            data = f.read()
    serial = res["VirtualMFADevice"]["SerialNumber"]
    assert serial == f"arn:aws:iam::{ACCOUNT_ID}:mfa/{name}"
    if method == "Base32StringSeed":
        assert len(data) == 64
        assert len(base64.b32decode(data)) == 40
    else:
        assert data.startswith(PNG_MAGIC)
    iam.delete_virtual_mfa_device(SerialNumber=serial)


def test_guessing_codes_locks_the_device_for_that_caller(server, iam):
    """Issue #11: MFA codes cannot be guessed without limit. After 5 wrong codes the device refuses every code
    (even a valid one) for this caller during the cooling-off period; the lockout is audited; another user's
    device is not affected."""
    from conftest import new_user_with_key

    def user_with_device():
        name, kid, secret = new_user_with_key(iam)
        _, serial, seed = create_device(iam)
        enable(iam, name, serial, seed)
        return server.client("sts", kid, secret), serial, seed

    sts, serial, seed = user_with_device()
    good = totp(seed, now_step() + 1)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(ClientError) as e:
            sts.get_session_token(SerialNumber=serial, TokenCode=wrong)
        assert error_code(e) == "AccessDenied"
        assert "invalid MFA one time pass code" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        sts.get_session_token(SerialNumber=serial, TokenCode=good)
    assert error_code(e) == "AccessDenied"
    assert "too many invalid MFA codes" in e.value.response["Error"]["Message"]
    # Someone else's device still works.
    other_sts, other_serial, other_seed = user_with_device()
    assert other_sts.get_session_token(SerialNumber=other_serial, TokenCode=totp(other_seed, now_step() + 1))["Credentials"]
    # The refusal is in the audit trail.
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetSessionToken"}], MaxResults=50)["Events"]
    import json as _json
    assert any("too many invalid MFA codes" in _json.loads(ev["CloudTrailEvent"]).get("errorMessage", "")
               for ev in events)
