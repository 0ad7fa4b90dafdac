"""The audit trail under production rules: bounded by size and by age (events are exported before they are
removed, never dropped), exported as CloudTrail-named gzip JSON Lines files, sealed by signed digests, and
checked by `stsd audit verify`, which names what an attacker with write access to the store or the files
altered, removed or reordered."""

import concurrent.futures
import glob
import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import ACCOUNT_ID, BINARY, REGION, make_server, unique


def metrics(server):
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def wait_for(predicate, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def exported_events(export_dir):
    """Every record in the export files, with the file it came from."""
    out = []
    for path in sorted(glob.glob(os.path.join(export_dir, "AWSLogs", "*", "CloudTrail", "**", "*.json.gz"),
                                 recursive=True)):
        with gzip.open(path, "rt") as f:
            out.extend((path, json.loads(line)) for line in f if line.strip())
    return out


def stored_events(data_dir):
    p = subprocess.run([BINARY, "audit", "export", "--data-dir", data_dir, "--format", "jsonl"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def verify(data_dir, export_dir=None, key=None):
    args = [BINARY, "audit", "verify", "--data-dir", data_dir]
    if export_dir:
        args += ["--export-dir", export_dir]
    if key:
        args += ["--public-key", key]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def public_key(data_dir):
    p = subprocess.run([BINARY, "audit", "public-key", "--data-dir", data_dir], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def calls(server, n, workers=8):
    """`n` GetCallerIdentity calls (one audit event each), in parallel."""
    def one(_):
        server.client("sts").get_caller_identity()

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))


@pytest.fixture(scope="module")
def sealed():
    """A stopped server whose trail has exports every second and a signed digest every second, then an intact
    verification: tests copy it and tamper with the copy."""
    export_dir = tempfile.mkdtemp(prefix="stsd-export-")
    s = make_server(extra_args=["--audit-export-dir", export_dir, "--audit-export-interval", "1",
                                "--audit-digest-interval", "1"])
    iam = s.client("iam")
    for i in range(3):
        for _ in range(4):
            iam.create_user(UserName=unique("sealed"))
        s.client("sts").get_caller_identity()
        time.sleep(1.1)
    wait_for(lambda: metrics(s).get("stsd_audit_digests_total", 0) >= 2, what="two digests")
    s.stop()
    key = public_key(s.data_dir)
    p = verify(s.data_dir, export_dir, key)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "audit trail intact" in p.stdout
    yield s.data_dir, export_dir, key
    shutil.rmtree(export_dir, ignore_errors=True)


@pytest.fixture()
def copy(sealed, tmp_path):
    data_dir, export_dir, key = sealed
    d, e = str(tmp_path / "data"), str(tmp_path / "export")
    shutil.copytree(data_dir, d)
    shutil.copytree(export_dir, e)
    return d, e, key


def db(data_dir):
    return sqlite3.connect(os.path.join(data_dir, "audit.db"))


def problems(p):
    assert p.returncode == 1, f"verify should fail: {p.stdout} {p.stderr}"
    lines = [line for line in p.stdout.splitlines() if line.startswith("PROBLEM: ")]
    assert lines, p.stdout
    return "\n".join(lines)


def test_the_sealed_trail_is_complete(sealed):
    data_dir, export_dir, _ = sealed
    files = exported_events(export_dir)
    names = [os.path.basename(path) for path, _ in files]
    assert all(re.fullmatch(rf"{ACCOUNT_ID}_CloudTrail_{REGION}_\d{{8}}T\d{{4}}Z_[0-9A-Za-z]{{16}}\.json\.gz", n)
               for n in names), names
    exported_ids = {e["eventID"] for _, e in files}
    stored_ids = {e["eventID"] for e in stored_events(data_dir)}
    # Every event but those of the last period (still to be exported) is in a file, exactly once.
    assert len(exported_ids) == len(files)
    assert exported_ids <= stored_ids and len(exported_ids) >= 12
    digests = glob.glob(os.path.join(export_dir, "AWSLogs", "*", "CloudTrail-Digest", "**", "*.json.gz"),
                        recursive=True)
    assert len(digests) >= 2
    for d in digests:
        with open(d + ".sig") as f:
            assert re.fullmatch(r"[0-9a-f]{128}", f.read().strip())


def test_an_altered_event_is_named(copy):
    d, e, key = copy
    with db(d) as c:
        seq, data = c.execute("SELECT seq, data FROM audit_records ORDER BY seq LIMIT 1 OFFSET 4").fetchone()
        c.execute("UPDATE audit_records SET data = ? WHERE seq = ?", (data[:-1] + bytes([data[-1] ^ 1]), seq))
    out = problems(verify(d, e, key))
    assert f"event {seq}" in out


def test_a_deleted_event_is_named(copy):
    d, e, key = copy
    with db(d) as c:
        (seq,) = c.execute("SELECT seq FROM audit_records ORDER BY seq LIMIT 1 OFFSET 6").fetchone()
        c.execute("DELETE FROM audit_records WHERE seq = ?", (seq,))
    out = problems(verify(d, e, key))
    assert f"event {seq} is missing" in out


def test_reordered_events_are_detected(copy):
    d, e, key = copy
    with db(d) as c:
        rows = c.execute("SELECT seq, hash, data FROM audit_records ORDER BY seq LIMIT 2 OFFSET 2").fetchall()
        (s1, h1, d1), (s2, h2, d2) = rows
        # Swap both the records and their chain hashes: each record's hash is still its own.
        c.execute("UPDATE audit_records SET hash = ?, data = ? WHERE seq = ?", (h2, d2, s1))
        c.execute("UPDATE audit_records SET hash = ?, data = ? WHERE seq = ?", (h1, d1, s2))
    out = problems(verify(d, e, key))
    assert f"event {s1}" in out


def test_an_altered_block_count_is_named(copy):
    """A row's event count (what the store uses to find an event's block) is also inside its chained bytes."""
    d, e, key = copy
    with db(d) as c:
        seq, events = c.execute("SELECT seq, events FROM audit_records ORDER BY seq LIMIT 1 OFFSET 3").fetchone()
        c.execute("UPDATE audit_records SET events = ? WHERE seq = ?", (events + 1, seq))
    out = problems(verify(d, e, key))
    assert f"event {seq}" in out and "altered event count" in out


def test_removing_the_newest_events_is_detected(copy):
    """Truncating the tail (and rewinding the head) leaves a chain that is internally consistent; the signed
    digests still claim the removed events."""
    d, e, key = copy
    with db(d) as c:
        (last,) = c.execute("SELECT max(seq) FROM audit_records").fetchone()
        cut = last - 3
        (h,) = c.execute("SELECT hash FROM audit_records WHERE seq = ?", (cut,)).fetchone()
        c.execute("DELETE FROM audit_records WHERE seq > ?", (cut,))
        c.execute("UPDATE audit_head SET next_seq = ?, last_hash = ?", (cut + 1, h))
    problems(verify(d, e, key))


def test_an_altered_export_file_is_named(copy):
    d, e, key = copy
    path, _ = exported_events(e)[0]
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    first = json.loads(lines[0])
    first["sourceIPAddress"] = "203.0.113.9"
    lines[0] = json.dumps(first)
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    out = problems(verify(d, e, key))
    assert os.path.basename(path) in out and "altered" in out


def test_a_removed_export_file_is_named(copy):
    d, e, key = copy
    path, _ = exported_events(e)[0]
    os.remove(path)
    out = problems(verify(d, e, key))
    assert os.path.basename(path) in out and "missing" in out


def test_a_removed_digest_file_is_detected(copy):
    d, e, key = copy
    digest = sorted(glob.glob(os.path.join(e, "AWSLogs", "*", "CloudTrail-Digest", "**", "*.json.gz"),
                              recursive=True))[0]
    os.remove(digest)
    problems(verify(d, e, key))


def test_a_digest_rewritten_in_the_store_fails_its_signature(copy):
    d, e, key = copy
    with db(d) as c:
        end, body = c.execute("SELECT end_time, body FROM audit_digests ORDER BY end_time LIMIT 1").fetchone()
        doc = json.loads(body)
        doc["stsdChain"]["lastSeq"] = doc["stsdChain"]["lastSeq"] - 1
        c.execute("UPDATE audit_digests SET body = ? WHERE end_time = ?", (json.dumps(doc), end))
    problems(verify(d, e, key))


def test_digests_not_signed_by_the_pinned_key_are_refused(copy):
    """Someone with the data directory could rewrite events and re-sign the digests with a key of their own;
    pinning the public key (kept apart from the store) refuses every digest it did not sign."""
    d, e, key = copy
    other = make_server()
    try:
        other_key = public_key(other.data_dir)
    finally:
        other.stop()
    assert other_key != key
    p = verify(d, e, other_key)
    out = problems(p)
    assert "trusted key" in out


def test_size_limit_exports_before_it_removes(tmp_path):
    """With --audit-max-bytes the stored trail stays bounded; every removed event is in an export file first,
    the purge is counted in /metrics and logged, and the remaining trail plus the files still verify."""
    export_dir = str(tmp_path / "export")
    limit = 192 * 1024
    s = make_server(extra_args=["--audit-max-bytes", "192K", "--audit-export-dir", export_dir,
                                "--audit-check-interval", "1"])
    try:
        made = 0
        deadline = time.time() + 240
        while metrics(s).get('stsd_audit_purged_events_total{reason="size"}', 0) == 0:
            assert time.time() < deadline, "the size limit never purged"
            calls(s, 300)
            made += 300
        m = wait_for(lambda: (lambda m: m if m["stsd_audit_stored_bytes"] <= limit else None)(metrics(s)),
                     what="the trail below its limit")
        assert m['stsd_audit_purged_events_total{reason="size"}'] > 0
        assert m['stsd_audit_purged_events_total{reason="age"}'] == 0
        assert "removed exported audit events" in s.stderr() and "size limit" in s.stderr()
        size = os.path.getsize(os.path.join(s.data_dir, "audit.db"))
    finally:
        s.stop()
    stored = stored_events(s.data_dir)
    files = exported_events(export_dir)
    exported_ids = [e["eventID"] for _, e in files]
    assert len(exported_ids) == len(set(exported_ids))
    everything = set(exported_ids) | {e["eventID"] for e in stored}
    calls_seen = [e for _, e in files] + stored
    assert sum(1 for e in calls_seen if e["eventName"] == "GetCallerIdentity") >= made
    assert len(everything) >= made
    assert len(stored) < made, "nothing was removed from the store"
    # The file on disk is bounded too (pages freed by a purge are reused; WAL checkpointed on stop).
    assert size < 4 * limit, size
    p = verify(s.data_dir, export_dir, public_key(s.data_dir))
    assert p.returncode == 0, p.stdout + p.stderr


def test_retention_removes_old_events_after_exporting_them(tmp_path):
    s = make_server(extra_args=["--audit-retention-days", "1"])
    iam = s.client("iam")
    old = [unique("old") for _ in range(3)]
    for name in old:
        iam.create_user(UserName=name)
    s.stop()
    # Two days later (the server's clock moved; clients sign with the same offset).
    from conftest import client_clock

    s.extra_args += ["--audit-check-interval", "1"]
    s.restart_with_clock_offset(2 * 86400)
    try:
        with client_clock(2 * 86400):
            new = unique("new")
            s.client("iam").create_user(UserName=new)
            wait_for(lambda: metrics(s).get('stsd_audit_purged_events_total{reason="age"}', 0) > 0,
                     what="the retention purge")
            names = {e["requestParameters"]["userName"] for e in stored_events(s.data_dir)
                     if e["eventName"] == "CreateUser"}
            assert new in names and not (set(old) & names)
            # Without --audit-export-dir the removed events went to DATA_DIR/audit-export first.
            archived = {e["requestParameters"]["userName"] for _, e in
                        exported_events(os.path.join(s.data_dir, "audit-export")) if e["eventName"] == "CreateUser"}
            assert set(old) <= archived
            assert "retention" in s.stderr()
    finally:
        s.stop()
    p = verify(s.data_dir)
    assert p.returncode == 0, p.stdout + p.stderr


def test_export_command_writes_cloudtrail_files(fresh_server, tmp_path):
    s = fresh_server
    s.client("iam").create_user(UserName=unique("exported"))
    out = str(tmp_path / "out")
    p = subprocess.run([BINARY, "audit", "export", "--data-dir", s.data_dir, "--format", "cloudtrail", "--out", out],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    files = exported_events(out)
    assert any(e["eventName"] == "CreateUser" for _, e in files)
    for path, e in files:
        y, m, d = e["eventTime"][:10].split("-")
        assert f"/AWSLogs/{ACCOUNT_ID}/CloudTrail/{REGION}/{y}/{m}/{d}/" in path


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_gives_clear_errors_and_loses_no_acknowledged_write(tmp_path):
    """The data directory on an 8 MiB tmpfs, filled up: requests get a clear ServiceUnavailable (or
    ServiceFailure when the IAM commit itself fails) and change nothing; every acknowledged write survives;
    once space is freed the server serves again by itself, and the trail still verifies. The server's own
    log is on the full disk too (the harness writes it into the data dir): failing to log must not stop it."""
    from botocore.exceptions import ClientError

    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True)
    s = None
    try:
        data = str(mnt / "data")
        os.makedirs(data)
        from conftest import Server, ROOT_KEY, ROOT_SECRET
        s = Server(data, env={"STSD_ACCOUNT_ID": ACCOUNT_ID, "STSD_ROOT_ACCESS_KEY_ID": ROOT_KEY,
                              "STSD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}).start()
        iam = s.client("iam")
        acknowledged = {"before-full"}
        iam.create_user(UserName="before-full")
        st = os.statvfs(str(mnt))
        filler = mnt / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - 96 * 1024))
        refused = {}
        for i in range(40):
            name = f"while-full-{i}"
            try:
                iam.create_user(UserName=name, Path="/" + "p" * 200 + "/")
                acknowledged.add(name)
            except ClientError as e:
                code = e.response["Error"]["Code"]
                assert code in ("ServiceUnavailable", "ServiceFailure"), e.response
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] in (500, 503)
                refused[code] = refused.get(code, 0) + 1
        assert refused, "the disk never filled"
        assert "full" in s.stderr()
        assert metrics(s).get('stsd_requests_total{action="-",outcome="ServiceUnavailable"}', 0) > 0 or \
            refused.get("ServiceFailure")
        os.remove(filler)
        # Service resumes without a restart once the writer's retry gets through.
        wait_for(lambda: _creates(iam, "after-space"), timeout=30, what="service to resume")
        acknowledged.add("after-space")
        s.restart()
        names = {u["UserName"] for u in s.client("iam").list_users(MaxItems=1000)["Users"]}
        assert names == acknowledged, (names ^ acknowledged)
        s.stop()
        p = verify(data)
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        if s:
            s.stop()
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _creates(iam, name):
    from botocore.exceptions import ClientError

    try:
        iam.create_user(UserName=name)
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] == "EntityAlreadyExists":
            return True
        return False
