"""Traffic for training the audit trail's compression dictionary (scripts/train-audit-dict.sh).

Drives a running stsd with a seeded, varied mix of what real deployments send — AssumeRole (with and without
tags, policies, durations, external IDs), GetCallerIdentity from users and sessions, GetSessionToken,
GetFederationToken, IAM reads and writes, and refusals (AccessDenied, NoSuchEntity, ValidationError) — from
several SDK user agents, with random names, so the dictionary learns the shape of events (field names, ARN
layouts, event sources, error texts) rather than any one deployment's values.

Usage: audit_dict_corpus.py ENDPOINT ROOT_KEY ROOT_SECRET [CALLS]
"""

import json
import random
import string
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT, ROOT_KEY, ROOT_SECRET = sys.argv[1:4]
CALLS = int(sys.argv[4]) if len(sys.argv) > 4 else 4000
rng = random.Random(20261130)

AGENTS = [
    None,  # boto3's own
    "aws-cli/2.{m}.{p} md/awscrt#0.{m}.{p} ua/2.0 os/linux#6.{p} md/arch#x86_64 lang/python#3.12.{p} md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 command/sts.assume-role",
    "aws-sdk-rust/1.{m}.{p} ua/2.1 api/sts/1.{m}.{p} os/linux lang/rust/1.8{p}.0",
    "aws-sdk-go-v2/1.{m}.{p} ua/2.0 os/linux lang/go#1.22.{p} md/GOOS#linux md/GOARCH#amd64 api/sts#1.{m}.{p} m/E",
    "aws-sdk-java/2.{m}.{p} ua/2.1 os/Linux#5.15 lang/java#21.0.{p} md/OpenJDK_64-Bit_Server_VM#21.0.{p}+7-LTS md/vendor#Eclipse_Adoptium md/en_US exec-env/AWS_ECS_FARGATE m/D,N",
    "aws-sdk-js/3.{m}.{p} ua/2.1 os/linux#5.10 lang/js md/nodejs#20.{p}.0 api/sts#3.{m}.{p} m/E,N",
    "APN/1.0 HashiCorp/1.0 Terraform/1.{p}.0 (+https://www.terraform.io) terraform-provider-aws/5.{m}.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.{m}.{p} ua/2.0 os/linux lang/go#1.22.{p}",
    "Boto3/1.{m}.{p} md/Botocore#1.{m}.{p} ua/2.0 os/linux#6.{p} md/arch#x86_64 lang/python#3.11.{p} md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.{m}.{p} Custodian/0.9.{p}",
]
WORDS = ["app", "svc", "deploy", "ci", "data", "etl", "web", "api", "batch", "audit", "ops", "build", "read",
         "write", "admin", "dev", "prod", "stage", "billing", "search", "reports", "ingest", "ml", "cache"]


def word_name(parts=2):
    return "-".join(rng.choice(WORDS) for _ in range(parts)) + "-" + "".join(rng.choices(string.digits, k=3))


def client(service, key, secret, token=None):
    agent = rng.choice(AGENTS)
    cfg = Config(retries={"max_attempts": 1})
    if agent:
        cfg = Config(retries={"max_attempts": 1},
                     user_agent=agent.format(m=rng.randint(10, 99), p=rng.randint(0, 20)))
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=rng.choice(["us-east-1", "eu-west-1", "us-west-2"]),
                        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token, config=cfg)


def quiet(f, *a, **kw):
    try:
        return f(*a, **kw)
    except ClientError:
        return None


root_iam = client("iam", ROOT_KEY, ROOT_SECRET)
account = client("sts", ROOT_KEY, ROOT_SECRET).get_caller_identity()["Account"]
trust_any = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
     "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
roles = []
for _ in range(12):
    name = word_name()
    arn = root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_any,
                               Path=rng.choice(["/", "/service/", "/team/"]))["Role"]["Arn"]
    root_iam.put_role_policy(RoleName=name, PolicyName="work", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "sts:GetCallerIdentity", "iam:Get*", "iam:List*"], "Resource": "*"}]}))
    roles.append(arn)
users = []
for _ in range(16):
    name = word_name()
    root_iam.create_user(UserName=name)
    root_iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession", "sts:GetFederationToken", "iam:GetUser", "iam:ListRoles"], "Resource": "*"}]}))
    k = root_iam.create_access_key(UserName=name)["AccessKey"]
    users.append((name, k["AccessKeyId"], k["SecretAccessKey"]))

for i in range(CALLS):
    name, key, secret = rng.choice(users)
    roll = rng.random()
    sts = client("sts", key, secret)
    if roll < 0.45:
        kw = dict(RoleArn=rng.choice(roles), RoleSessionName=rng.choice([name, word_name(1), f"botocore-session-{rng.randint(10**9, 10**10)}"]))
        if rng.random() < 0.3:
            kw["Tags"] = [{"Key": rng.choice(["team", "project", "cost-center", "env"]), "Value": rng.choice(WORDS)}]
        if rng.random() < 0.2:
            kw["DurationSeconds"] = rng.choice([900, 1800, 3600])
        if rng.random() < 0.1:
            kw["ExternalId"] = "".join(rng.choices(string.ascii_letters + string.digits, k=16))
        if rng.random() < 0.05:
            kw["RoleArn"] = f"arn:aws:iam::{account}:role/{word_name()}"  # refused
        creds = quiet(sts.assume_role, **kw)
        if creds and rng.random() < 0.5:
            c = creds["Credentials"]
            s = client("sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
            s.get_caller_identity()
            if rng.random() < 0.3:
                quiet(client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).list_roles)
    elif roll < 0.60:
        sts.get_caller_identity()
    elif roll < 0.68:
        quiet(sts.get_session_token, DurationSeconds=rng.choice([900, 3600, 43200]))
    elif roll < 0.74:
        quiet(sts.get_federation_token, Name=word_name(1)[:32], Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    elif roll < 0.86:
        iam = client("iam", key, secret)
        quiet(rng.choice([lambda: iam.get_user(), lambda: iam.list_roles(),
                          lambda: iam.get_user(UserName=rng.choice(users)[0]),
                          lambda: iam.get_role(RoleName=word_name())]))
    else:
        target = rng.choice(users)[0]
        op = rng.random()
        if op < 0.3:
            root_iam.tag_user(UserName=target, Tags=[{"Key": rng.choice(WORDS), "Value": word_name(1)}])
        elif op < 0.6:
            root_iam.put_user_policy(UserName=target, PolicyName=rng.choice(WORDS), PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": f"s3:{rng.choice(['Get', 'Put', 'List'])}*", "Resource": f"arn:aws:s3:::{word_name()}/*"}]}))
        elif op < 0.8:
            quiet(root_iam.get_role, RoleName=rng.choice(roles).rsplit("/", 1)[1])
        else:
            quiet(root_iam.delete_user_policy, UserName=target, PolicyName=rng.choice(WORDS))
print(f"{CALLS} calls for account {account}", file=sys.stderr)
