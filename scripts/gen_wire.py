#!/usr/bin/env python3
"""Generate stsd's typed wire layer from botocore's IAM and STS service models.

    python3 scripts/gen_wire.py           # rewrite crates/wire/src/generated/{iam,sts}.rs
    python3 scripts/gen_wire.py --check   # exit 1 if the checked-in output differs from what the models give

Inputs (versioned in the repo): crates/wire/models/{iam-2010-05-08,sts-2011-06-15}.json (botocore's
service-2.json, see crates/wire/models/README.md), crates/wire/models/stsd-iam-extensions.json (stsd's own
operations and members, merged into the IAM model) and crates/wire/models/served.txt (the operations stsd serves).
Only shapes reachable from served operations are generated. The output is deterministic: shapes are emitted in
sorted order, members in model order. Standard library only.
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "crates", "wire", "models")
OUT = os.path.join(ROOT, "crates", "wire", "src", "generated")

SERVICES = [("iam", "iam-2010-05-08.json"), ("sts", "sts-2011-06-15.json")]
# stsd's own operations and additions, merged into a service's model (see `extend`).
EXTENSIONS = {"iam": "stsd-iam-extensions.json"}

# Members the model does not mark `sensitive` but which are secrets all the same: they never reach the audit
# trail. (shape, member) pairs; `*` matches any shape.
SENSITIVE_OVERRIDES = {
    ("Credentials", "SecretAccessKey"),
    ("Credentials", "SessionToken"),
    ("VirtualMFADevice", "Base32StringSeed"),
    ("VirtualMFADevice", "QRCodePNG"),
    ("EnableMFADeviceRequest", "AuthenticationCode1"),
    ("EnableMFADeviceRequest", "AuthenticationCode2"),
    ("ResyncMFADeviceRequest", "AuthenticationCode1"),
    ("ResyncMFADeviceRequest", "AuthenticationCode2"),
    ("AssumeRoleRequest", "TokenCode"),
    ("GetSessionTokenRequest", "TokenCode"),
    ("AssumeRoleWithWebIdentityRequest", "WebIdentityToken"),
    ("AssumeRoleWithSAMLRequest", "SAMLAssertion"),
    ("DecodeAuthorizationMessageRequest", "EncodedMessage"),
    ("DecodeAuthorizationMessageResponse", "DecodedMessage"),
}

# Members the model calls required that AWS itself leaves out in some answers: typed as `Option` so the
# encoder can omit them. (GetUser for the root user answers a `User` with no `Path` or `UserName`.)
OPTIONAL_OVERRIDES = {
    ("User", "Path"),
    ("User", "UserName"),
    # The root user's access keys have no user name.
    ("AccessKey", "UserName"),
    # stsd extension: the root enables and resyncs its own devices by omitting UserName (as for the other
    # MFA actions, where the model already makes it optional).
    ("EnableMFADeviceRequest", "UserName"),
    ("ResyncMFADeviceRequest", "UserName"),
}

# Shapes whose value is too large or too private to echo in a validation message: a placeholder is shown.
# Shapes the model marks `sensitive` are never echoed either.
REDACTED_IN_MESSAGES = {
    "policyDocumentType": "<policy document>",
    "encodedMessageType": "<message>",
    "SAMLMetadataDocumentType": "<metadata>",
    "sessionPolicyDocumentType": "<policy>",
    "unrestrictedSessionPolicyDocumentType": "<policy>",
}

RUST_KEYWORDS = {"type", "match", "ref", "self", "struct", "enum", "fn", "mod", "use", "in", "as", "loop"}


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = s.lower()
    return "r#" + s if s in RUST_KEYWORDS else s


def lower_camel(name):
    return name[:1].lower() + name[1:]


def type_name(shape):
    return shape[:1].upper() + shape[1:]


def rust_str(s):
    return json.dumps(s, ensure_ascii=True)


# `\u` followed by a supplementary-plane code point: five hex digits starting with 1, or six starting with 10.
SUPPLEMENTARY = re.compile(r"\\u(10[0-9A-Fa-f]{4}|1[0-9A-Fa-f]{4})(?![0-9A-Fa-f])")


def rust_pattern(pat):
    """A botocore (Java) pattern as a Rust `regex` full match. `\\w`/`\\d` are ASCII in Java."""
    if pat == "^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$":
        # No look-around in `regex`: "no two hyphens in a row" is checked by `crate::validate::no_double_hyphen`.
        return "^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"
    out = []
    i = 0
    in_class = False
    while i < len(pat):
        c = pat[i]
        if c == "\\" and i + 1 < len(pat):
            n = pat[i + 1]
            if n in "wd":
                body = "0-9A-Za-z_" if n == "w" else "0-9"
                out.append(body if in_class else "[" + body + "]")
            elif n == "u" and SUPPLEMENTARY.match(pat, i):
                # The models write code points beyond the BMP as `\u10000`/`\u10FFFF`; `regex` (like Java) reads
                # `\u` as exactly four digits, which would turn the range into `\u1000`, `0-\u10FF`, `F`, `F`.
                m = SUPPLEMENTARY.match(pat, i)
                out.append("\\u{" + m.group(1) + "}")
                i = m.end()
                continue
            else:
                out.append(pat[i : i + 2])
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        out.append(c)
        i += 1
    body = "".join(out)
    if body.startswith("^") and body.endswith("$"):
        return body
    return "^(?:" + body + ")$"


class Gen:
    def __init__(self, service, model, ops):
        self.service = service
        self.model = model
        self.shapes = model["shapes"]
        self.ops = ops
        self.inputs = set()  # structure shapes that need a decoder
        self.outputs = set()  # structure shapes that need an encoder
        self.patterns = {}  # pattern -> index

    def walk(self, name, into):
        s = self.shapes[name]
        t = s["type"]
        if t == "structure":
            if name in into:
                return
            into.add(name)
            for m in s.get("members", {}).values():
                self.walk(m["shape"], into)
        elif t == "list":
            self.walk(s["member"]["shape"], into)
        elif t == "map":
            self.walk(s["key"]["shape"], into)
            self.walk(s["value"]["shape"], into)

    def collect(self):
        for op in self.ops:
            o = self.model["operations"][op]
            if "input" in o:
                self.walk(o["input"]["shape"], self.inputs)
            if "output" in o:
                self.walk(o["output"]["shape"], self.outputs)

    def rust_type(self, name, direction):
        s = self.shapes[name]
        t = s["type"]
        if t == "string":
            return "String"
        if t in ("integer", "long"):
            return "i64"
        if t == "boolean":
            return "bool"
        if t == "timestamp":
            return "i64"
        if t == "blob":
            return "Vec<u8>"
        if t == "list":
            return "Vec<%s>" % self.rust_type(s["member"]["shape"], direction)
        if t == "map":
            return "BTreeMap<String, String>"
        if t == "structure":
            return type_name(name)
        raise SystemExit("unsupported shape type %s (%s)" % (t, name))

    def required(self, name):
        s = self.shapes[name]
        return {m for m in s.get("required", []) if (name, m) not in OPTIONAL_OVERRIDES}

    def sensitive(self, struct, member, mshape):
        return bool(self.shapes[mshape].get("sensitive")) or (struct, member) in SENSITIVE_OVERRIDES

    def pattern_fn(self, pat):
        if pat not in self.patterns:
            self.patterns[pat] = len(self.patterns)
        return "pattern_%d" % self.patterns[pat]

    # ---- structs -------------------------------------------------------------------------------------------

    def emit_struct(self, name, w):
        s = self.shapes[name]
        members = s.get("members", {})
        required = self.required(name)
        direction = "in" if name in self.inputs else "out"
        uses = []
        if name in self.inputs:
            uses.append("decoded from the Query parameters")
        if name in self.outputs:
            uses.append("written as XML")
        w("/// `%s` (%s)." % (name, ", ".join(uses)))
        w("#[derive(Debug, Clone, Default, PartialEq, Eq)]")
        w("pub struct %s {" % type_name(name))
        for mn, m in members.items():
            rt = self.rust_type(m["shape"], direction)
            if mn not in required:
                rt = "Option<%s>" % rt
            if self.sensitive(name, mn, m["shape"]):
                w("    /// Sensitive: never audited.")
            w("    pub %s: %s," % (snake(mn), rt))
        w("}")
        w("")
        w("impl %s {" % type_name(name))
        w("    /// Wire names of the members, in model order.")
        w("    pub const MEMBERS: &'static [&'static str] = &[%s];" % ", ".join(rust_str(m) for m in members))
        sens = [mn for mn, m in members.items() if self.sensitive(name, mn, m["shape"])]
        w("    /// Members that are secrets (the model's `sensitive` markers plus the generator's overrides).")
        w("    pub const SENSITIVE: &'static [&'static str] = &[%s];" % ", ".join(rust_str(m) for m in sens))
        if name in self.inputs:
            self.emit_decoder(name, members, required, w)
        if name in self.outputs:
            self.emit_encoder(name, members, w)
            self.emit_sensitive_visitor(name, members, w)
        self.emit_json(name, members, w)
        w("}")
        w("")

    # ---- decoding and validation ---------------------------------------------------------------------------

    def checks(self, shape_name, val, shown, path, w, indent):
        """Constraint checks of one scalar string value `val: &str` at `path` (a Rust &str expression)."""
        s = self.shapes[shape_name]
        pad = " " * indent
        mn = s.get("min")
        mx = s.get("max")
        if s["type"] == "string":
            if mn is not None or mx is not None:
                w("%sv.length(%s, %s, %s, %s, %s);" % (pad, val, shown, path, rust_opt(mn), rust_opt(mx)))
            if "pattern" in s:
                f = self.pattern_fn(s["pattern"])
                w("%sv.pattern(%s(%s), %s, %s, %s);" % (pad, f, val, shown, path, rust_str(s["pattern"])))
            if "enum" in s:
                w("%sv.one_of(%s, %s, &[%s]);" % (pad, val, path, ", ".join(rust_str(e) for e in s["enum"])))

    def shown(self, shape_name, val):
        if shape_name in REDACTED_IN_MESSAGES:
            return rust_str(REDACTED_IN_MESSAGES[shape_name])
        if self.shapes[shape_name].get("sensitive"):
            return rust_str("<sensitive>")
        return val

    def emit_decoder(self, name, members, required, w):
        w("")
        w("    /// Read this structure from `p` (member names relative to it); constraint violations are")
        w("    /// collected in `v` under `at` (the lowerCamelCase path of the structure, with a trailing dot).")
        w("    pub fn read(p: &Params, at: &str, v: &mut Violations) -> WireResult<Self> {")
        if not members:
            w("        let _ = (p, at, v);")
            w("        Ok(Self {})")
            w("    }")
            return
        for mn, m in members.items():
            ms = m["shape"]
            sh = self.shapes[ms]
            t = sh["type"]
            var = "m_" + snake(mn).replace("r#", "")
            path = "At(at, %s)" % rust_str(lower_camel(mn))
            req = mn in required
            key = rust_str(mn)
            if t == "string":
                w("        let %s = p.get(%s);" % (var, key))
                buf = []
                self.checks(ms, "s", self.shown(ms, "s"), path, buf.append, 12)
                if buf:
                    w("        if let Some(s) = %s {" % var)
                    lines_extend(w, buf)
                    if req:
                        w("        } else {")
                        w("            v.null(%s);" % path)
                    w("        }")
                elif req:
                    w("        if %s.is_none() {" % var)
                    w("            v.null(%s);" % path)
                    w("        }")
                conv = "%s.map(str::to_owned)" % var
                w("        let %s = %s%s;" % (var, conv, ".unwrap_or_default()" if req else ""))
            elif t in ("integer", "long", "boolean"):
                fn = "int" if t != "boolean" else "boolean"
                w("        let %s = v.%s(p.get(%s), %s)?;" % (var, fn, key, path))
                if t != "boolean" and ("min" in sh or "max" in sh):
                    w("        if let Some(n) = %s {" % var)
                    w("            v.range(n, %s, %s, %s);" % (path, rust_opt(sh.get("min")), rust_opt(sh.get("max"))))
                    w("        }")
                if req:
                    self.emit_required(var, path, w)
            elif t == "list":
                el = sh["member"]["shape"]
                et = self.shapes[el]["type"]
                if et == "structure":
                    w("        let %s = match p.struct_list(%s)? {" % (var, key))
                    w("            Some(items) => {")
                    w("                let mut out = Vec::with_capacity(items.len());")
                    w("                let at = format!(\"{at}%s.member.\");" % lower_camel(mn))
                    w("                for item in &items {")
                    w("                    out.push(%s::read(item, &at, v)?);" % type_name(el))
                    w("                }")
                    w("                Some(out)")
                    w("            }")
                    w("            None => None,")
                    w("        };")
                elif et == "string":
                    w("        let %s = p.list(%s)?;" % (var, key))
                    buf = []
                    self.checks(el, "s", self.shown(el, "s"), "&at", buf.append, 16)
                    if buf:
                        w("        if let Some(items) = &%s {" % var)
                        w("            let at = format!(\"{at}%s.member\");" % lower_camel(mn))
                        w("            for s in items {")
                        w("                let s = s.as_str();")
                        lines_extend(w, buf)
                        w("            }")
                        w("        }")
                elif et == "list" and self.shapes[self.shapes[el]["member"]["shape"]]["type"] == "string":
                    inner = self.shapes[el]["member"]["shape"]
                    w("        let %s = p.list_of_lists(%s)?;" % (var, key))
                    buf = []
                    self.checks(inner, "s", self.shown(inner, "s"), "&at", buf.append, 20)
                    if buf:
                        w("        if let Some(levels) = &%s {" % var)
                        w("            let at = format!(\"{at}%s.member.member\");" % lower_camel(mn))
                        w("            for items in levels {")
                        w("                for s in items {")
                        w("                    let s = s.as_str();")
                        lines_extend(w, buf)
                        w("                }")
                        w("            }")
                        w("        }")
                else:
                    raise SystemExit("unsupported input list element %s in %s.%s" % (et, name, mn))
                self.emit_collection_checks(sh, var, path, req, w)
            elif t == "map":
                w("        let %s = p.map(%s)?;" % (var, key))
                self.emit_collection_checks(sh, var, path, req, w)
            elif t == "structure":
                w("        let sub = p.sub(%s);" % key)
                w("        let %s = if sub.is_empty() {" % var)
                if req:
                    w("            v.null(%s);" % path)
                w("            None")
                w("        } else {")
                w("            Some(%s::read(&sub, &format!(\"{at}%s.\"), v)?)" % (type_name(ms), lower_camel(mn)))
                w("        };")
                if req:
                    w("        let %s = %s.unwrap_or_default();" % (var, var))
            else:
                raise SystemExit("unsupported input member type %s in %s.%s" % (t, name, mn))
        w("        Ok(Self {")
        for mn in members:
            w("            %s: m_%s," % (snake(mn), snake(mn).replace("r#", "")))
        w("        })")
        w("    }")

    def emit_collection_checks(self, sh, var, path, req, w):
        """A decoded list or map's item-count constraint, and the null check (then the default) when required."""
        if "min" in sh or "max" in sh:
            w("        if let Some(items) = &%s {" % var)
            w("            v.count(items.len(), %s, %s, %s);" % (path, rust_opt(sh.get("min")), rust_opt(sh.get("max"))))
            w("        }")
        if req:
            self.emit_required(var, path, w)

    @staticmethod
    def emit_required(var, path, w):
        """A required member decoded as an `Option`: record the null violation, then take the default."""
        w("        if %s.is_none() {" % var)
        w("            v.null(%s);" % path)
        w("        }")
        w("        let %s = %s.unwrap_or_default();" % (var, var))

    # ---- encoding ------------------------------------------------------------------------------------------

    def emit_value(self, shape_name, tag, expr, w, indent):
        """Write `expr` (a reference to a value of `shape_name`) as element `tag`."""
        pad = " " * indent
        s = self.shapes[shape_name]
        t = s["type"]
        if t == "string":
            w("%sx.elem(%s, %s);" % (pad, tag, expr))
        elif t in ("integer", "long"):
            w("%sx.num(%s, *%s);" % (pad, tag, expr))
        elif t == "boolean":
            w("%sx.boolean(%s, *%s);" % (pad, tag, expr))
        elif t == "timestamp":
            w("%sx.elem(%s, &crate::time::iso8601(*%s));" % (pad, tag, expr))
        elif t == "blob":
            w("%sx.elem(%s, &data_encoding::BASE64.encode(%s));" % (pad, tag, expr))
        elif t == "structure":
            w("%sx.open(%s);" % (pad, tag))
            w("%s%s.write(x);" % (pad, expr))
            w("%sx.close(%s);" % (pad, tag))
        elif t == "list":
            # An empty list is `<Tag/>`, as AWS writes it.
            el = s["member"]["shape"]
            w("%sif %s.is_empty() {" % (pad, expr))
            w("%s    x.empty(%s);" % (pad, tag))
            w("%s} else {" % pad)
            w("%s    x.open(%s);" % (pad, tag))
            w("%s    for item in %s {" % (pad, expr))
            self.emit_value(el, "\"member\"", "item", w, indent + 8)
            w("%s    }" % pad)
            w("%s    x.close(%s);" % (pad, tag))
            w("%s}" % pad)
        elif t == "map":
            w("%sx.open(%s);" % (pad, tag))
            w("%sfor (k, val) in %s {" % (pad, expr))
            w("%s    x.open(\"entry\").elem(\"key\", k).elem(\"value\", val).close(\"entry\");" % pad)
            w("%s}" % pad)
            w("%sx.close(%s);" % (pad, tag))
        else:
            raise SystemExit("unsupported output type %s" % t)

    def emit_encoder(self, name, members, w):
        required = self.required(name)
        w("")
        w("    /// Write the members as XML elements, in model order; absent optional members are omitted.")
        w("    pub fn write(&self, x: &mut Xml) {")
        if not members:
            w("        let _ = x;")
        else:
            w("        let Self { %s } = self;" % ", ".join(snake(mn) for mn in members))
        for mn, m in members.items():
            f = snake(mn)
            if mn in required:
                self.emit_value(m["shape"], rust_str(mn), f, w, 8)
            else:
                w("        if let Some(val) = %s {" % f)
                self.emit_value(m["shape"], rust_str(mn), "val", w, 12)
                w("        }")
        w("    }")

    # ---- audit JSON ----------------------------------------------------------------------------------------

    def emit_json_value(self, shape_name, expr, w, indent):
        """Write `expr` (a reference to a value of `shape_name`) as a JSON value into `j`."""
        pad = " " * indent
        s = self.shapes[shape_name]
        t = s["type"]
        # `expr` is `&self.member` or a reference binding; `place` is what a copy or a method call reads.
        place = expr[1:] if expr.startswith("&") else "*" + expr
        owner = expr[1:] if expr.startswith("&") else expr
        if t == "string":
            w("%sj.str_value(%s);" % (pad, expr))
        elif t in ("integer", "long"):
            w("%sj.num_value(%s);" % (pad, place))
        elif t == "boolean":
            w("%sj.bool_value(%s);" % (pad, place))
        elif t == "timestamp":
            w("%sj.str_value(&crate::time::iso8601(%s));" % (pad, place))
        elif t == "blob":
            w("%sj.str_value(&data_encoding::BASE64.encode(%s));" % (pad, expr))
        elif t == "structure":
            w("%s%s.write_json(j);" % (pad, owner))
        elif t == "list":
            w("%sj.begin_list();" % pad)
            w("%sfor item in %s {" % (pad, expr))
            w("%s    j.item();" % pad)
            self.emit_json_value(s["member"]["shape"], "item", w, indent + 4)
            w("%s}" % pad)
            w("%sj.end_list();" % pad)
        elif t == "map":
            w("%sj.begin();" % pad)
            w("%sfor (k, val) in %s {" % (pad, expr))
            w("%s    j.str(k, val);" % pad)
            w("%s}" % pad)
            w("%sj.end();" % pad)
        else:
            raise SystemExit("unsupported audit JSON type %s" % t)

    def emit_json(self, name, members, w):
        """`write_json`: the CloudTrail form of the structure (`requestParameters`, `responseElements`)."""
        required = self.required(name)
        kept = sorted(
            ((lower_camel(mn), mn, m) for mn, m in members.items() if not self.sensitive(name, mn, m["shape"])),
            key=lambda t: t[0],
        )
        w("")
        w("    /// Write the structure as a CloudTrail JSON object: lowerCamelCase member names in sorted order,")
        w("    /// numbers and booleans as such, timestamps as on the wire; sensitive members are left out.")
        w("    pub fn write_json(&self, j: &mut Json<'_>) {")
        w("        j.begin();")
        for jn, mn, m in kept:
            f = "self." + snake(mn)
            if mn in required:
                w("        j.key(%s);" % rust_str(jn))
                self.emit_json_value(m["shape"], "&" + f, w, 8)
            else:
                w("        if let Some(val) = &%s {" % f)
                w("            j.key(%s);" % rust_str(jn))
                self.emit_json_value(m["shape"], "val", w, 12)
                w("        }")
        w("        j.end();")
        w("    }")

    def emit_sensitive_visitor(self, name, members, w):
        """`visit_sensitive`: every sensitive string of an output, nested ones included (the audit trail's last
        check blanks them wherever they might still turn up)."""
        required = self.required(name)
        body = []
        for mn, m in members.items():
            ms = m["shape"]
            t = self.shapes[ms]["type"]
            el = self.shapes[ms]["member"]["shape"] if t == "list" else None
            et = self.shapes[el]["type"] if el else None
            sens = self.sensitive(name, mn, ms)
            f = "self." + snake(mn)
            if sens and t == "string":
                stmt = ["f(%s);"]
            elif sens and t == "list" and et == "string":
                stmt = ["for item in %s {", "    f(item);", "}"]
            elif t == "structure":
                stmt = ["%s.visit_sensitive(f);"]
                if mn in required:
                    body.append("        %s.visit_sensitive(f);" % f)
                    continue
            elif t == "list" and et == "structure":
                stmt = ["for item in %s {", "    item.visit_sensitive(f);", "}"]
            else:
                continue
            if mn in required:
                for line in stmt:
                    body.append("        " + (line % ("&" + f) if "%s" in line else line))
            else:
                body.append("        if let Some(val) = &%s {" % f)
                for line in stmt:
                    body.append("            " + (line % "val" if "%s" in line else line))
                body.append("        }")
        w("")
        w("    /// Call `f` with every sensitive string value (blobs are never written, so not visited).")
        w("    pub fn visit_sensitive<'s>(&'s self, f: &mut dyn FnMut(&'s str)) {")
        if not body:
            w("        let _ = f;")
        lines_extend(w, body)
        w("    }")

    # ---- the dispatch table --------------------------------------------------------------------------------

    def unsigned(self, op):
        """The model's `authtype: none` (Smithy `noAuth`): the caller proves itself in the input (a token or an
        assertion), not with SigV4."""
        return self.model["operations"][op].get("authtype") == "none"

    def emit_dispatch(self, bw):
        """`{service}_dispatch!` (and `{service}_dispatch_unsigned!`): the served operations' dispatch table as a
        macro the server expands with its own wrapper and handler module, so the table is this generated list and
        a served operation without a handler of its snake_case name is a compile error."""
        for suffix, ops in (("", [o for o in self.ops if not self.unsigned(o)]),
                            ("_unsigned", [o for o in self.ops if self.unsigned(o)])):
            if not ops:
                continue
            kind = "unsigned" if suffix else "signed"
            bw("/// The dispatch table of the %s served operations: `%s_dispatch%s!(action, wrap, handlers)` is"
               % (kind, self.service, suffix))
            bw("/// `Some(wrap!(handlers::snake_case_name))` for a served operation named `action`, `None` otherwise.")
            bw("/// A served operation without a handler of its snake_case name does not compile.")
            bw("#[macro_export]")
            bw("macro_rules! %s_dispatch%s {" % (self.service, suffix))
            bw("    ($action:expr, $wrap:ident, $($handlers:ident)::+) => {")
            bw("        Some(match $action {")
            for op in ops:
                bw("            %s => $wrap!($($handlers)::+::%s)," % (rust_str(op), snake(op)))
            bw("            _ => return None,")
            bw("        })")
            bw("    };")
            bw("}")
            bw("")

    # ---- the file ------------------------------------------------------------------------------------------

    def render(self):
        self.collect()
        lines = []
        w = lines.append
        meta = self.model["metadata"]
        w("// @generated by scripts/gen_wire.py from crates/wire/models/%s. Do not edit." % dict(SERVICES)[self.service])
        w("//! %s (API version %s, protocol `%s`): the typed inputs and outputs of the operations stsd" % (meta.get("serviceId", self.service), meta["apiVersion"], meta["protocol"]))
        w("//! serves, their Query decoders and validators, XML encoders, audit JSON writers and sensitive-member")
        w("//! markers.")
        w("")
        w("#![expect(clippy::too_many_lines, reason = \"generated decoders are long and flat\")]")
        w("")
        uses_map = any(
            self.shapes[m["shape"]]["type"] == "map"
            for n in self.inputs | self.outputs
            for m in self.shapes[n].get("members", {}).values()
        )
        if uses_map:
            w("use std::collections::BTreeMap;")
        w("use std::sync::LazyLock;")
        w("")
        w("use crate::error::WireResult;")
        w("use crate::json::Json;")
        w("use crate::query::Params;")
        w("use crate::validate::{compile, At, Violations};")
        w("use crate::xml::Xml;")
        w("use crate::{Input, Output};")
        w("")
        body = []
        bw = body.append
        for name in sorted(self.inputs | self.outputs):
            if self.shapes[name]["type"] == "structure":
                self.emit_struct(name, bw)
        # Operations.
        bw("/// The served operations of this service: name, input shape, output shape (None: no result element).")
        bw("pub const OPERATIONS: &[crate::Operation] = &[")
        for op in self.ops:
            o = self.model["operations"][op]
            bw("    crate::Operation {")
            bw("        name: %s," % rust_str(op))
            bw("        input: %s," % rust_str(o.get("input", {}).get("shape", "")))
            out = o.get("output", {}).get("shape")
            bw("        output: %s," % ("Some(%s)" % rust_str(out) if out else "None"))
            errs = [e["shape"] for e in o.get("errors", [])]
            bw("        errors: &[%s]," % ", ".join(rust_str(e) for e in errs))
            bw("        action: action_catalog::action_const(%s, %s)," % (rust_str(self.service), rust_str(op)))
            bw("        signed: %s," % ("false" if self.unsigned(op) else "true"))
            bw("    },")
        bw("];")
        bw("")
        self.emit_dispatch(bw)
        done_out = set()
        for op in self.ops:
            o = self.model["operations"][op]
            inp = o.get("input", {}).get("shape")
            out = o.get("output", {}).get("shape")
            if not inp:
                # The model gives the operation no input shape: an empty one, so every action is typed alike.
                inp = op + "Request"
                if inp in self.shapes:
                    raise SystemExit("generated input name %s clashes with a model shape" % inp)
                bw("/// `%s` takes no input in the model." % op)
                bw("#[derive(Debug, Clone, Default, PartialEq, Eq)]")
                bw("pub struct %s {}" % inp)
                bw("")
                bw("impl %s {" % inp)
                bw("    pub const MEMBERS: &'static [&'static str] = &[];")
                bw("    pub const SENSITIVE: &'static [&'static str] = &[];")
                bw("")
                bw("    pub fn read(_p: &Params, _at: &str, _v: &mut Violations) -> WireResult<Self> {")
                bw("        Ok(Self {})")
                bw("    }")
                bw("")
                bw("    pub fn write_json(&self, j: &mut Json<'_>) {")
                bw("        j.begin();")
                bw("        j.end();")
                bw("    }")
                bw("}")
                bw("")
            if inp:
                bw("impl Input for %s {" % type_name(inp))
                bw("    const OPERATION: &'static str = %s;" % rust_str(op))
                bw("    fn read_top(p: &Params, v: &mut Violations) -> WireResult<Self> {")
                bw("        Self::read(p, \"\", v)")
                bw("    }")
                bw("    fn write_audit(&self, buf: &mut Vec<u8>) {")
                bw("        crate::json::object_or_null(buf, |j| self.write_json(j));")
                bw("    }")
                bw("}")
                bw("")
            if out and out not in done_out:
                done_out.add(out)
                bw("impl Output for %s {" % type_name(out))
                bw("    fn encode(&self) -> Option<String> {")
                bw("        let mut x = Xml::new();")
                bw("        self.write(&mut x);")
                bw("        Some(x.finish())")
                bw("    }")
                bw("    fn write_audit(&self, buf: &mut Vec<u8>) {")
                bw("        crate::json::object_or_null(buf, |j| self.write_json(j));")
                bw("    }")
                bw("    fn visit_sensitive<'s>(&'s self, f: &mut dyn FnMut(&'s str)) {")
                bw("        Self::visit_sensitive(self, f);")
                bw("    }")
                bw("}")
                bw("")
        bw("/// Decode the input of `operation` and drop it (`None`: not a served operation). For the tests and the")
        bw("/// fuzz target that drive every decoder.")
        bw("pub fn decode_op(operation: &str, p: &Params) -> Option<WireResult<()>> {")
        bw("    Some(match operation {")
        for op in self.ops:
            inp = self.model["operations"][op].get("input", {}).get("shape") or op + "Request"
            bw("        %s => %s::decode(p).map(drop)," % (rust_str(op), type_name(inp)))
        bw("        _ => return None,")
        bw("    })")
        bw("}")
        bw("")
        # Errors.
        bw("/// The error shapes of this service's model: code and HTTP status.")
        bw("pub const ERRORS: &[(&str, u16)] = &[")
        errs = []
        for n, s in sorted(self.shapes.items()):
            if s.get("exception"):
                code = s.get("error", {}).get("code", n)
                errs.append((code, s.get("error", {}).get("httpStatusCode", 400)))
        for code, st in sorted(set(errs)):
            bw("    (%s, %d)," % (rust_str(code), st))
        bw("];")
        bw("")
        # Patterns.
        for pat, i in sorted(self.patterns.items(), key=lambda kv: kv[1]):
            bw("/// `%s`" % pat.replace("`", "'"))
            bw("fn pattern_%d(s: &str) -> bool {" % i)
            bw("    static RE: LazyLock<Option<regex::Regex>> = LazyLock::new(|| compile(%s));" % rust_str(rust_pattern(pat)))
            extra = ""
            if pat == "^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$":
                extra = " && crate::validate::no_double_hyphen(s)"
            bw("    RE.as_ref().is_some_and(|re| re.is_match(s))%s" % extra)
            bw("}")
            bw("")
        bw("#[cfg(test)]")
        bw("pub(crate) const PATTERN_CHECKS: &[fn(&str) -> bool] = &[%s];" % ", ".join("pattern_%d" % i for i in range(len(self.patterns))))
        lines.extend(body)
        return "\n".join(lines) + "\n"


def lines_extend(w, buf):
    for line in buf:
        w(line)


def rust_opt(n):
    return "None" if n is None else "Some(%d)" % n


def rustfmt(text):
    """Format like `cargo fmt` does, so the checked-in file is both readable and stable under `cargo fmt`."""
    edition = "2021"
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        m = re.search(r'^edition = "(\d+)"', f.read(), re.M)
        if m:
            edition = m.group(1)
    res = subprocess.run(
        ["rustfmt", "--edition", edition, "--emit", "stdout", "--quiet"],
        input=text, capture_output=True, text=True, cwd=ROOT, check=True,
    )
    return res.stdout


def extend(model, ext):
    """Merge stsd's own operations and shapes (botocore format) into AWS's model. AWS's shapes keep every
    member they have; `extend_shapes` only adds members."""
    for name, op in ext.get("operations", {}).items():
        if name in model["operations"]:
            raise SystemExit("extension operation %s is already in the model" % name)
        model["operations"][name] = op
    for name, shape in ext.get("shapes", {}).items():
        if name in model["shapes"]:
            raise SystemExit("extension shape %s is already in the model" % name)
        model["shapes"][name] = shape
    for name, more in ext.get("extend_shapes", {}).items():
        members = model["shapes"][name]["members"]
        for mn, m in more["members"].items():
            if mn in members:
                raise SystemExit("extension member %s.%s is already in the model" % (name, mn))
            members[mn] = m


# Errors of the Query protocol itself, which the service models do not list (aws-reference.md §1.4, "Common
# (non-modeled) errors"; RequestEntityTooLarge and RequestTimeout are HTTP's): code, HTTP status, when stsd answers.
COMMON_ERRORS = [
    ("MissingAuthenticationToken", 403, "no credentials: neither a signature nor a token"),
    ("IncompleteSignature", 400, "an Authorization header or presigned query that is not a whole signature"),
    ("InvalidClientTokenId", 403, "an access key ID or session token stsd does not know"),
    ("SignatureDoesNotMatch", 403, "a signature that does not verify, or a request outside its time window"),
    ("ExpiredToken", 403, "expired temporary credentials"),
    ("AccessDenied", 403, "refused by policy"),
    ("ValidationError", 400, "a violated input constraint (every one, in one message)"),
    ("InvalidAction", 400, "an operation this service does not have"),
    ("MissingAction", 400, "no Action parameter"),
    ("MissingParameter", 400, "a required parameter the model leaves optional"),
    ("InvalidParameterValue", 400, "a value of the wrong shape or a rule the model cannot state"),
    ("InvalidParameterCombination", 400, "parameters that exclude each other, or one given twice"),
    ("MalformedQueryString", 404, "an unreadable query: too many parameters, unusable list indexes"),
    ("RequestEntityTooLarge", 413, "a body over the size limit"),
    ("RequestTimeout", 408, "a body that did not arrive in time"),
    ("InternalFailure", 500, "an unexpected failure inside stsd"),
    ("ServiceUnavailable", 503, "stsd cannot act now (its audit trail refuses events: the disk is full)"),
]


def render_errors(gens):
    """`ErrorCode`: the Query protocol's common errors plus every error shape the served operations list in their
    models, with the HTTP status the model gives it. A code both services model must agree on its status."""
    codes = {}
    for code, status, why in COMMON_ERRORS:
        codes[code] = (status, "common: " + why)
    for g in gens:
        for op in g.ops:
            for e in g.model["operations"][op].get("errors", []):
                shape = g.shapes[e["shape"]]
                code = shape.get("error", {}).get("code", e["shape"])
                status = shape.get("error", {}).get("httpStatusCode", 400)
                if code in codes and codes[code][0] != status:
                    raise SystemExit("error %s has statuses %d and %d" % (code, codes[code][0], status))
                if code not in codes:
                    codes[code] = (status, "modeled: %s %s" % (g.service, e["shape"]))
    lines = []
    w = lines.append
    w("// @generated by scripts/gen_wire.py from crates/wire/models (IAM and STS). Do not edit.")
    w("//! The AWS error codes stsd can answer with: the Query protocol's common errors and every error shape the")
    w("//! served operations list in their models, each with the HTTP status AWS answers it with.")
    w("")
    w("/// An AWS error code. The wire string ([`ErrorCode::as_str`]) is the variant name.")
    w("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]")
    w("pub enum ErrorCode {")
    for code in codes:
        w("    /// %s" % codes[code][1])
        w("    %s," % code)
    w("}")
    w("")
    w("impl ErrorCode {")
    w("    /// Every code, common ones first, then in the order the served operations list them.")
    w("    pub const ALL: &'static [ErrorCode] = &[%s];" % ", ".join("ErrorCode::" + c for c in codes))
    w("")
    w("    /// The `Code` string on the wire.")
    w("    pub fn as_str(self) -> &'static str {")
    w("        match self {")
    for code in codes:
        w("            ErrorCode::%s => %s," % (code, rust_str(code)))
    w("        }")
    w("    }")
    w("")
    w("    /// The HTTP status AWS answers this code with.")
    w("    pub fn status(self) -> u16 {")
    w("        match self {")
    for code in codes:
        w("            ErrorCode::%s => %d," % (code, codes[code][0]))
    w("        }")
    w("    }")
    w("}")
    return "\n".join(lines) + "\n"


def served():
    by = {"iam": [], "sts": []}
    with open(os.path.join(MODELS, "served.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                svc, op = line.split()
                by[svc].append(op)
    return by


def main():
    check = "--check" in sys.argv[1:]
    ops = served()
    stale = []
    outputs = []
    gens = []
    for svc, file in SERVICES:
        with open(os.path.join(MODELS, file)) as f:
            model = json.load(f)
        if svc in EXTENSIONS:
            with open(os.path.join(MODELS, EXTENSIONS[svc])) as f:
                extend(model, json.load(f))
        gen = Gen(svc, model, ops[svc])
        gens.append(gen)
        outputs.append((os.path.join(OUT, svc + ".rs"), rustfmt(gen.render())))
    outputs.append((os.path.join(OUT, "errors.rs"), rustfmt(render_errors(gens))))
    for path, text in outputs:
        if check:
            try:
                with open(path) as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            os.makedirs(OUT, exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    if stale:
        print("generated wire code is stale, run: python3 scripts/gen_wire.py", file=sys.stderr)
        for p in stale:
            print("  " + os.path.relpath(p, ROOT), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
