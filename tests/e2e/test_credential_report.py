"""The credential report (issue #19): AWS's CSV columns, values and states, 4-hour reuse, expiry, persistence."""

import base64
import csv
import datetime
import io

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, ROOT_KEY, client_clock, error_code, make_server, new_user_with_key, status

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,"
    "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
    "cert_2_last_rotated"
)
HOUR = 3600
DAY = 86_400


def iso(ts):
    return ts.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def report_rows(iam):
    r = iam.get_credential_report()
    assert r["ReportFormat"] == "text/csv"
    text = r["Content"].decode()
    assert text.split("\n")[0] == HEADER and not text.endswith("\n")
    return r, list(csv.DictReader(io.StringIO(text)))


def key_cells(iam, user, key):
    """The five report cells of one access key, computed from the IAM API."""
    meta = next(k for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"] if k["AccessKeyId"] == key)
    last = iam.get_access_key_last_used(AccessKeyId=key)["AccessKeyLastUsed"]
    used = [iso(last["LastUsedDate"]), last["Region"], last["ServiceName"]] if "LastUsedDate" in last else ["N/A"] * 3
    return ["true" if meta["Status"] == "Active" else "false", iso(meta["CreateDate"]), *used]


def test_report_states_columns_and_values():
    from test_mfa import create_device, enable

    s = make_server()
    try:
        iam = s.client("iam")
        with pytest.raises(ClientError) as e:
            iam.get_credential_report()
        assert error_code(e) == "ReportNotPresent" and status(e) == 410
        assert isinstance(e.value, iam.exceptions.CredentialReportNotPresentException)
        # Users: no keys; two keys (one used, one inactive and never used); MFA enabled.
        iam.create_user(UserName="plain")
        keyed, kid1, secret1 = new_user_with_key(iam, name="keyed")
        kid2 = iam.create_access_key(UserName="keyed")["AccessKey"]["AccessKeyId"]
        iam.update_access_key(UserName="keyed", AccessKeyId=kid2, Status="Inactive")
        s.client("sts", kid1, secret1, region="eu-west-3").get_caller_identity()
        iam.create_user(UserName="with-mfa")
        _, serial, seed = create_device(iam)
        enable(iam, "with-mfa", serial, seed)

        first = iam.generate_credential_report()
        assert first["State"] == "STARTED"
        assert first["Description"] == "No report exists. Starting a new report generation task"
        again = iam.generate_credential_report()
        assert again["State"] == "COMPLETE" and "Description" not in again
        r, rows = report_rows(iam)
        assert abs((r["GeneratedTime"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 120

        users = {u["UserName"]: u for u in iam.list_users()["Users"]}
        assert [row["user"] for row in rows] == ["<root_account>", "keyed", "plain", "with-mfa"]
        root = rows[0]
        assert list(root.values())[:8] == [
            "<root_account>", f"arn:aws:iam::{ACCOUNT_ID}:root", root["user_creation_time"], "not_supported",
            "no_information", "not_supported", "not_supported", "false",
        ]
        root_key = iam.list_access_keys()["AccessKeyMetadata"]
        assert [k["AccessKeyId"] for k in root_key] == [ROOT_KEY]
        assert (root["access_key_1_active"], root["access_key_1_last_rotated"]) == ("true", iso(root_key[0]["CreateDate"]))
        # The root key signed every call of this test, the generating call last.
        used = datetime.datetime.fromisoformat(root["access_key_1_last_used_date"])
        assert abs((used - r["GeneratedTime"]).total_seconds()) < 5
        assert (root["access_key_1_last_used_region"], root["access_key_1_last_used_service"]) == (REGION, "iam")
        assert list(root.values())[13:] == ["false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"]
        no_password = ["false", "N/A", "N/A", "N/A"]
        no_key = ["false", "N/A", "N/A", "N/A", "N/A"]
        no_certs = ["false", "N/A", "false", "N/A"]
        for name, mfa, keys in [
            ("keyed", "false", key_cells(iam, "keyed", kid1) + key_cells(iam, "keyed", kid2)),
            ("plain", "false", no_key + no_key),
            ("with-mfa", "true", no_key + no_key),
        ]:
            row = next(x for x in rows if x["user"] == name)
            u = users[name]
            assert list(row.values()) == [name, u["Arn"], iso(u["CreateDate"]), *no_password, mfa, *keys, *no_certs], name
        keyed_row = next(x for x in rows if x["user"] == "keyed")
        assert keyed_row["access_key_1_last_used_region"] == "eu-west-3"
        assert keyed_row["access_key_1_last_used_service"] == "sts"
        assert keyed_row["access_key_2_active"] == "false" and keyed_row["access_key_2_last_used_date"] == "N/A"
    finally:
        s.stop()


def test_reuse_regeneration_expiry_and_restart():
    s = make_server()
    try:
        iam = s.client("iam")
        iam.create_user(UserName="early")
        assert iam.generate_credential_report()["State"] == "STARTED"
        r1, rows1 = report_rows(iam)
        # Within four hours the report is reused: a new user does not appear.
        iam.create_user(UserName="late")
        assert iam.generate_credential_report()["State"] == "COMPLETE"
        r, rows = report_rows(iam)
        assert r["GeneratedTime"] == r1["GeneratedTime"] and [x["user"] for x in rows] == ["<root_account>", "early"]
        # Stored: the same report after a restart (kill -9 too: it was committed when generated).
        s.restart()
        iam = s.client("iam")
        assert iam.get_credential_report()["Content"] == r1["Content"]
        # Five hours later (server and client clocks moved together) a new report is generated.
        s.restart_with_clock_offset(5 * HOUR)
        with client_clock(5 * HOUR):
            iam = s.client("iam")
            assert iam.get_credential_report()["Content"] == r1["Content"]  # still served until replaced
            regen = iam.generate_credential_report()
            assert regen["State"] == "STARTED" and "Description" not in regen
            r2, rows2 = report_rows(iam)
            assert [x["user"] for x in rows2] == ["<root_account>", "early", "late"]
            assert (r2["GeneratedTime"] - r1["GeneratedTime"]).total_seconds() >= 5 * HOUR - 60
        # Thirty days on, the report has expired.
        offset = 5 * HOUR + 31 * DAY
        s.restart_with_clock_offset(offset)
        with client_clock(offset):
            iam = s.client("iam")
            with pytest.raises(ClientError) as e:
                iam.get_credential_report()
            assert error_code(e) == "ReportExpired" and status(e) == 410
            assert isinstance(e.value, iam.exceptions.CredentialReportExpiredException)
            assert iam.generate_credential_report()["State"] == "STARTED"
            report_rows(iam)
    finally:
        s.stop()


def test_report_with_the_aws_cli_and_authorization(server, iam):
    out = server.aws("iam", "generate-credential-report")
    assert out["State"] in ("STARTED", "COMPLETE")
    got = server.aws("iam", "get-credential-report")
    assert got["ReportFormat"] == "text/csv"
    assert base64.b64decode(got["Content"]).decode().startswith(HEADER + "\n<root_account>,")
    reader = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetCredentialReport", "Resource": "*"}]}
    _, kid, secret = new_user_with_key(iam, policy=reader)
    user_iam = server.client("iam", kid, secret)
    assert user_iam.get_credential_report()["ReportFormat"] == "text/csv"
    with pytest.raises(ClientError) as e:
        user_iam.generate_credential_report()
    assert error_code(e) == "AccessDenied"
    assert "iam:GenerateCredentialReport" in e.value.response["Error"]["Message"]
