"""Users, groups, membership, tags, boundaries, access keys, pagination (issue #2)."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, ALLOW_ALL, error_code, new_user_with_key, status, unique


def test_user_lifecycle(iam):
    name = unique("alice")
    u = iam.create_user(UserName=name, Path="/eng/", Tags=[{"Key": "Team", "Value": "Blue Sky"}])["User"]
    assert u["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/eng/{name}"
    assert u["Path"] == "/eng/"
    assert u["UserId"].startswith("AIDA")
    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == u["UserId"]
    assert got["Tags"] == [{"Key": "Team", "Value": "Blue Sky"}]
    # Case-insensitive uniqueness.
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=name.upper())
    assert error_code(e) == "EntityAlreadyExists" and status(e) == 409
    # Rename and move.
    new = unique("alice2")
    iam.update_user(UserName=name, NewUserName=new, NewPath="/ops/")
    assert iam.get_user(UserName=new)["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/ops/{new}"
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert error_code(e) == "NoSuchEntity" and status(e) == 404
    iam.delete_user(UserName=new)
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=new)
    assert error_code(e) == "NoSuchEntity"


def test_user_validation(iam):
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="bad name")
    assert error_code(e) == "ValidationError"
    assert "userName" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="x" * 65)
    assert error_code(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=unique("u"), Path="no-slashes")
    assert error_code(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=unique("u"), Tags=[{"Key": "aws:reserved", "Value": "x"}])
    assert error_code(e) == "InvalidInput"


def test_user_tags_case_insensitive(iam):
    name = unique("tagged")
    iam.create_user(UserName=name)
    iam.tag_user(UserName=name, Tags=[{"Key": "Department", "Value": "a"}])
    iam.tag_user(UserName=name, Tags=[{"Key": "department", "Value": "b"}])
    tags = iam.list_user_tags(UserName=name)["Tags"]
    assert tags == [{"Key": "department", "Value": "b"}]
    iam.untag_user(UserName=name, TagKeys=["DEPARTMENT"])
    assert iam.list_user_tags(UserName=name)["Tags"] == []
    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert error_code(e) == "ValidationError"


def test_list_users_pagination(iam):
    prefix = f"/{unique('page')}/"
    names = sorted(unique("pu") for _ in range(7))
    for n in names:
        iam.create_user(UserName=n, Path=prefix)
    seen, marker, pages = [], None, 0
    while True:
        kw = {"PathPrefix": prefix, "MaxItems": 3}
        if marker:
            kw["Marker"] = marker
        r = iam.list_users(**kw)
        pages += 1
        seen += [u["UserName"] for u in r["Users"]]
        if not r["IsTruncated"]:
            assert "Marker" not in r
            break
        marker = r["Marker"]
    assert pages == 3
    assert sorted(seen) == names
    # The boto3 paginator follows the same markers.
    paged = [u["UserName"] for page in iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2}) for u in page["Users"]]
    assert sorted(paged) == names
    # ListUsers omits tags and boundary.
    assert all("Tags" not in u for u in r["Users"])


def test_groups_and_membership(iam):
    g = unique("devs")
    u = unique("member")
    grp = iam.create_group(GroupName=g, Path="/teams/")["Group"]
    assert grp["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group/teams/{g}"
    assert grp["GroupId"].startswith("AGPA")
    iam.create_user(UserName=u)
    iam.add_user_to_group(GroupName=g, UserName=u)
    iam.add_user_to_group(GroupName=g, UserName=u)  # idempotent
    got = iam.get_group(GroupName=g)
    assert [x["UserName"] for x in got["Users"]] == [u]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=u)["Groups"]] == [g]
    assert any(x["GroupName"] == g for x in iam.list_groups(PathPrefix="/teams/")["Groups"])
    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName=g)
    assert error_code(e) == "DeleteConflict"
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=u)
    assert error_code(e) == "DeleteConflict"
    # Rename the group: membership follows.
    g2 = unique("devs2")
    iam.update_group(GroupName=g, NewGroupName=g2)
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=u)["Groups"]] == [g2]
    iam.remove_user_from_group(GroupName=g2, UserName=u)
    with pytest.raises(ClientError) as e:
        iam.remove_user_from_group(GroupName=g2, UserName=u)
    assert error_code(e) == "NoSuchEntity"
    iam.delete_group(GroupName=g2)
    iam.delete_user(UserName=u)


def test_groups_per_user_quota(iam):
    u = unique("joiner")
    iam.create_user(UserName=u)
    groups = [unique("g") for _ in range(11)]
    for g in groups:
        iam.create_group(GroupName=g)
    for g in groups[:10]:
        iam.add_user_to_group(GroupName=g, UserName=u)
    with pytest.raises(ClientError) as e:
        iam.add_user_to_group(GroupName=groups[10], UserName=u)
    assert error_code(e) == "LimitExceeded"


def test_access_keys(server, iam):
    name = unique("keys")
    iam.create_user(UserName=name)
    k1 = iam.create_access_key(UserName=name)["AccessKey"]
    assert k1["Status"] == "Active" and len(k1["SecretAccessKey"]) == 40 and k1["UserName"] == name
    k2 = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=name)
    assert error_code(e) == "LimitExceeded"
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {k1["AccessKeyId"], k2["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)
    # An inactive key cannot authenticate.
    sts_k1 = server.client("sts", k1["AccessKeyId"], k1["SecretAccessKey"])
    assert sts_k1.get_caller_identity()["Arn"].endswith(name)
    iam.update_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        sts_k1.get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as e:
        iam.update_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"], Status="Expired")
    assert error_code(e) == "ValidationError"
    last = iam.get_access_key_last_used(AccessKeyId=k2["AccessKeyId"])
    assert last["UserName"] == name
    assert last["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    iam.delete_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"])
    iam.delete_access_key(UserName=name, AccessKeyId=k2["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        iam.delete_access_key(UserName=name, AccessKeyId=k2["AccessKeyId"])
    assert error_code(e) == "NoSuchEntity"
    # A deleted key is unknown.
    with pytest.raises(ClientError) as e:
        server.client("sts", k2["AccessKeyId"], k2["SecretAccessKey"]).get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"


def test_user_manages_own_keys_without_username(server, iam):
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:*AccessKey*"], "Resource": "arn:aws:iam::*:user/${aws:username}"}]}
    name, kid, secret = new_user_with_key(iam, policy=policy)
    me = server.client("iam", kid, secret)
    listed = me.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [kid]
    new = me.create_access_key()["AccessKey"]
    assert new["UserName"] == name
    me.delete_access_key(AccessKeyId=new["AccessKeyId"])


def test_user_boundary(iam):
    pol = iam.create_policy(PolicyName=unique("bnd"), PolicyDocument=json.dumps(ALLOW_ALL))["Policy"]
    name = unique("bounded")
    iam.create_user(UserName=name, PermissionsBoundary=pol["Arn"])
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": pol["Arn"],
    }
    iam.delete_user_permissions_boundary(UserName=name)
    assert "PermissionsBoundary" not in iam.get_user(UserName=name)["User"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=pol["Arn"])
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=pol["Arn"])
    assert error_code(e) == "DeleteConflict"
    with pytest.raises(ClientError) as e:
        iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=f"arn:aws:iam::{ACCOUNT_ID}:policy/missing")
    assert error_code(e) == "NoSuchEntity"
