"""LookupEvents latency per attribute on a running stsd (used by scripts/bench-audit.sh).

For every LookupEvents attribute, `ROUNDS` lookups with values drawn from the synthetic traffic of
`stsd audit generate` (existing values, plus one in five that matches nothing), each MaxResults=50 and then
its next page when there is one; prints p50/p99/max of the client-observed time per call (boto3 included).
Usage: bench_audit_lookup.py ENDPOINT LABEL [ROUNDS]"""

import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

import boto3
import botocore.config

endpoint, label = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 100
account = "111122223333"
ct = boto3.client("cloudtrail", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="AKIABTX3GSDSQBHCDE22",
                  aws_secret_access_key="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",
                  config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=120))
rng = random.Random(42)

# Event IDs that exist: from pages at random points in the trail's 30 days.
now = datetime.now(timezone.utc)
event_ids = []
for _ in range(20):
    t = now - timedelta(days=rng.uniform(0, 29))
    for e in ct.lookup_events(StartTime=t - timedelta(hours=1), EndTime=t, MaxResults=10)["Events"]:
        event_ids.append(e["EventId"])
assert event_ids, "the trail is empty"

names = ["AssumeRole", "GetCallerIdentity", "GetUser", "ListRoles", "CreateUser", "PutUserPolicy", "DeleteUser",
         "AttachRolePolicy"]
values = {
    "EventId": lambda: rng.choice(event_ids),
    "EventName": lambda: rng.choice(names),
    "ReadOnly": lambda: rng.choice(["true", "false"]),
    "Username": lambda: f"svc-user-{rng.randrange(1000):04}",
    "ResourceType": lambda: rng.choice(["AWS::IAM::Role", "AWS::IAM::User", "AWS::STS::AssumedRole",
                                        "AWS::IAM::AccessKey"]),
    "ResourceName": lambda: rng.choice([f"arn:aws:iam::{account}:role/app-role-{rng.randrange(200):03}",
                                        f"arn:aws:iam::{account}:user/svc-user-{rng.randrange(1000):04}"]),
    "EventSource": lambda: rng.choice(["sts.amazonaws.com", "iam.amazonaws.com"]),
    "AccessKeyId": lambda: f"AKIA{rng.randrange(3000):016}",
}
def uuid7(t):
    """An event ID of the kind stsd issues (version 7, the event's second) that no event has."""
    ms = int(t.timestamp() * 1000)
    n = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


missing = {
    "EventId": uuid7(now - timedelta(days=3)),
    "EventName": "DeleteAccountAlias",
    "ReadOnly": "false",
    "Username": "nobody-here",
    "ResourceType": "AWS::S3::Bucket",
    "ResourceName": "arn:aws:s3:::no-such-bucket",
    "EventSource": "s3.amazonaws.com",
    "AccessKeyId": "AKIA0000000000009999",
}


def timed(**kw):
    t = time.perf_counter()
    r = ct.lookup_events(**kw)
    return time.perf_counter() - t, r


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


print(f"| trail | attribute | lookups | p50 ms | p99 ms | max ms | events returned (mean) |")
print(f"|---|---|---|---|---|---|---|")
ct.lookup_events(MaxResults=1)  # warm the connection
for attr, gen in values.items():
    times, found = [], []
    for i in range(rounds):
        value = missing[attr] if i % 5 == 4 else gen()
        kw = dict(LookupAttributes=[{"AttributeKey": attr, "AttributeValue": value}], MaxResults=50)
        dt, r = timed(**kw)
        times.append(dt)
        n = len(r["Events"])
        if r.get("NextToken"):
            dt, r = timed(NextToken=r["NextToken"], **kw)
            times.append(dt)
            n += len(r["Events"])
        found.append(n)
    print(f"| {label} | {attr} | {len(times)} | {statistics.median(times) * 1000:.1f} | {pct(times, 99) * 1000:.1f} "
          f"| {max(times) * 1000:.1f} | {statistics.mean(found):.1f} |")
# An EventId of another form (random version 4, as events recorded before version-7 IDs carry): no second to
# narrow to, every index epoch is probed.
times = []
for i in range(max(10, rounds // 5)):
    dt, _ = timed(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": str(__import__("uuid").uuid4())}],
                  MaxResults=50)
    times.append(dt)
print(f"| {label} | EventId (unknown version-4 ID) | {len(times)} | {statistics.median(times) * 1000:.1f} "
      f"| {pct(times, 99) * 1000:.1f} | {max(times) * 1000:.1f} | 0 |")
# A time range alone, and a time range with an attribute: one day somewhere in the window.
for attr in [None, "Username"]:
    times = []
    for i in range(rounds):
        t = now - timedelta(days=rng.uniform(1, 29))
        kw = dict(StartTime=t - timedelta(days=1), EndTime=t, MaxResults=50)
        if attr:
            kw["LookupAttributes"] = [{"AttributeKey": attr, "AttributeValue": values[attr]()}]
        dt, _ = timed(**kw)
        times.append(dt)
    what = "time range (1 day)" if not attr else "time range + Username"
    print(f"| {label} | {what} | {len(times)} | {statistics.median(times) * 1000:.1f} | {pct(times, 99) * 1000:.1f} "
          f"| {max(times) * 1000:.1f} | |")
