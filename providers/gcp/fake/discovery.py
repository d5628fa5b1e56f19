"""Discovery documents: routing requests to methods and checking JSON against schemas.

Why: a fake that accepts whatever a client sends proves little.  fake_gcp
matches every request to a method of Google's own discovery documents (the
trimmed copies in ./discovery, never /work/shared) and checks its query string
and body the way Google's front end (ESF) would; every response the fake
produces is checked against the method's response schema too, so a bug in
the fake shows up as a problem instead of silently teaching the client a wrong
shape.

Conventions followed (proto3 JSON as Google's JSON transcoding speaks it):

* int64/uint64 are JSON strings ("format": "int64" on a "string" field); a
  request may also send a JSON integer, a response always sends a string.
* int32/uint32 are JSON numbers; a request may send a numeric string.
* enums are names; a request may send the protobuf number (the Rust SDK does,
  with ``$alt=json;enum-encoding=int``).  Numbers come from
  ``x-fakeEnumNumbers`` (see trim_discovery.py), otherwise positions.
* ``null`` for a field means "unset" in a request.
* A response is encoded with enum numbers when the request asked for
  ``enum-encoding=int`` (as ESF does), unless the fake's config says
  ``"enum_encoding": "string"``.
"""

import base64
import json
import os
import re
from urllib.parse import unquote

HERE = os.path.dirname(os.path.abspath(__file__))
DISCOVERY_DIR = os.path.join(HERE, "discovery")
DOC_FILES = ["container.v1.json", "compute.v1.json", "storage.v1.json"]

# System parameters Google's front end accepts on every API.  The Rust SDK
# sends $alt (container: "json;enum-encoding=int", compute: "json") and compute
# also sends $apiVersion.
SYSTEM_PARAMETERS = {"$alt", "$fields", "$prettyPrint", "$apiVersion", "$.xgafv",
                     "$callback", "$quotaUser"}
ALT_VALUES = {"json", "json;enum-encoding=int", "media"}

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")
INT_STRING = re.compile(r"^-?\d+$")
UINT_STRING = re.compile(r"^\d+$")

INT_RANGES = {
    "int32": (-2 ** 31, 2 ** 31 - 1),
    "uint32": (0, 2 ** 32 - 1),
    "int64": (-2 ** 63, 2 ** 63 - 1),
    "uint64": (0, 2 ** 64 - 1),
}


def snake(name):
    """camelCase -> snake_case, as ESF names fields in its error messages."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def compile_template(template):
    """A discovery path template -> (regex, [param names]).

    {name} matches one path segment, {+name} any run of characters.  Literal
    text is matched exactly (including ':verb' suffixes).
    """
    names = []
    out = "^"
    pos = 0
    for m in re.finditer(r"\{(\+?)([^}]+)\}", template):
        out += re.escape(template[pos:m.start()])
        out += "(.+)" if m.group(1) else "([^/]+)"
        names.append(m.group(2))
        pos = m.end()
    out += re.escape(template[pos:]) + "$"
    literal = len(re.sub(r"\{[^}]*\}", "", template))
    return re.compile(out), names, literal


class Method:
    """One discovery method, with the absolute path template it answers on."""

    def __init__(self, service, spec, template, media=False):
        self.service = service
        self.spec = spec
        self.id = spec["id"]
        self.http = spec["httpMethod"]
        self.params = spec.get("parameters", {})
        self.request = spec.get("request")
        self.response = spec.get("response")
        self.template = template
        self.media = media
        self.regex, self.names, self.literal = compile_template(template)

    def match(self, path):
        m = self.regex.match(path)
        if not m:
            return None
        return {n: unquote(v) for n, v in zip(self.names, m.groups())}


class Service:
    """One discovery document (container, compute or storage)."""

    def __init__(self, doc):
        self.doc = doc
        self.name = doc["name"]
        self.revision = doc.get("revision")
        self.schemas = doc["schemas"]
        self.global_params = doc.get("parameters", {})
        self.base = "/" + doc.get("servicePath", "")
        self.methods = []

        def walk(resources):
            for res in resources.values():
                for spec in res.get("methods", {}).values():
                    tmpl = spec.get("flatPath") or spec["path"]
                    self.methods.append(Method(self, spec, self.base + tmpl))
                    simple = spec.get("mediaUpload", {}).get("protocols", {}).get("simple")
                    if simple:
                        self.methods.append(Method(self, spec, simple["path"], media=True))
                walk(res.get("resources", {}))

        walk(doc.get("resources", {}))
        self.by_id = {m.id: m for m in self.methods if not m.media}


class Registry:
    """All services, plus the index of methods that exist but are not modelled."""

    def __init__(self, directory=DISCOVERY_DIR):
        self.services = {}
        for f in DOC_FILES:
            with open(os.path.join(directory, f), encoding="utf-8") as fh:
                svc = Service(json.load(fh))
            self.services[svc.name] = svc
        self.unimplemented = []
        path = os.path.join(directory, "unimplemented.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                for name, rows in json.load(fh).items():
                    base = self.services[name].base
                    for row in rows:
                        http, tmpl, mid = row[0], row[1], row[2]
                        absolute = len(row) > 3 and row[3]
                        regex, _, literal = compile_template(tmpl if absolute else base + tmpl)
                        self.unimplemented.append((http, regex, literal, mid, name))

    def method(self, mid):
        svc = mid.split(".", 1)[0]
        return self.services[svc].by_id[mid]

    def match(self, http, path):
        """(Method, path params) of the most specific matching method, or None."""
        best = None
        for svc in self.services.values():
            for m in svc.methods:
                if m.http != http:
                    continue
                params = m.match(path)
                if params is not None and (best is None or m.literal > best[0].literal):
                    best = (m, params)
        return best

    def match_unimplemented(self, http, path):
        """(method id, service name) of an API method the fake does not model."""
        best = None
        for h, regex, literal, mid, svc in self.unimplemented:
            if h == http and regex.match(path) and (best is None or literal > best[0]):
                best = (literal, mid, svc)
        return (best[1], best[2]) if best else None

    def service_for_path(self, path):
        """Which service a path belongs to, for the shape of an error answer."""
        if path.startswith("/compute/"):
            return "compute"
        if path.startswith("/storage/") or path.startswith("/upload/storage/"):
            return "storage"
        return "container"


# ---------------------------------------------------------------------------
# Query strings

def check_query(method, pairs):
    """Problems with a request's query parameters (a list of strings)."""
    problems = []
    svc = method.service
    seen = {}
    for name, value in pairs:
        seen[name] = seen.get(name, 0) + 1
        if name in SYSTEM_PARAMETERS:
            if name == "$alt" and value not in ALT_VALUES:
                problems.append("query parameter $alt=%r is not one of %s" % (value, sorted(ALT_VALUES)))
            continue
        spec = method.params.get(name) or svc.global_params.get(name)
        if spec is None:
            problems.append("unknown query parameter %r (not a parameter of %s nor a global "
                            "parameter of %s %s)" % (name, method.id, svc.name, svc.revision))
            continue
        if spec.get("location") == "path":
            problems.append("%r is a path parameter of %s, not a query parameter" % (name, method.id))
            continue
        p = check_scalar_param(name, value, spec)
        if p:
            problems.append(p)
    for name, n in seen.items():
        spec = method.params.get(name) or svc.global_params.get(name)
        if spec and n > 1 and not spec.get("repeated"):
            problems.append("query parameter %r given %d times but is not repeated" % (name, n))
    for name, spec in method.params.items():
        if spec.get("required") and spec.get("location") == "query" and name not in seen:
            problems.append("required query parameter %r missing" % name)
    return problems


def check_scalar_param(name, value, spec):
    t = spec.get("type")
    if "enum" in spec and value not in spec["enum"]:
        return "query parameter %s=%r is not one of %s" % (name, value, spec["enum"])
    if t == "integer" and not INT_STRING.match(value):
        return "query parameter %s=%r is not an integer" % (name, value)
    if t == "boolean" and value.lower() not in ("true", "false"):
        return "query parameter %s=%r is not a boolean" % (name, value)
    if t == "string" and spec.get("format") in ("int64", "uint64") and not INT_STRING.match(value):
        return "query parameter %s=%r is not an %s" % (name, value, spec["format"])
    return None


def wants_int_enums(pairs):
    return any(k in ("$alt", "alt") and "enum-encoding=int" in v for k, v in pairs)


# ---------------------------------------------------------------------------
# JSON bodies

class Checker:
    """Checks (and canonicalises) JSON values against a service's schemas.

    mode "request": what Google accepts (ints for int64, enum numbers, numeric
    strings for int32, null for unset).  mode "response": what Google sends
    (int64 as strings, enums by name, no nulls) -- the fake must be exact.
    """

    def __init__(self, service, mode, method_id=None, keep_nulls=False):
        self.svc = service
        self.mode = mode
        self.method_id = method_id
        # GCS PATCH gives null a meaning (remove the label / clear the field);
        # for proto-based APIs null is just "unset" and is dropped.
        self.keep_nulls = keep_nulls
        self.problems = []   # (json path, message)

    def resolve(self, schema):
        seen = 0
        while "$ref" in schema:
            name = schema["$ref"]
            schema = self.svc.schemas.get(name)
            if schema is None:
                raise KeyError("schema %s not in trimmed %s document" % (name, self.svc.name))
            seen += 1
        return schema

    def schema_name(self, schema):
        return schema.get("$ref") or schema.get("id") or schema.get("type", "?")

    def fail(self, where, msg):
        self.problems.append((where, msg))

    def check(self, value, schema, where=""):
        """Validate value; return its canonical form (request mode)."""
        label = self.schema_name(schema)
        schema = self.resolve(schema)
        if value is None:
            if self.mode == "response":
                self.fail(where, "null in a response (Google omits unset fields)")
            return None
        t = schema.get("type")
        if t == "any":
            return value
        if t == "object" or (t is None and ("properties" in schema or "additionalProperties" in schema)):
            return self.check_object(value, schema, where, label)
        if t == "array":
            if not isinstance(value, list):
                self.fail(where, "expected a JSON array, got %s" % json_type(value))
                return value
            return [self.check(v, schema.get("items", {"type": "any"}), "%s[%d]" % (where, i))
                    for i, v in enumerate(value)]
        if t == "string":
            return self.check_string(value, schema, where)
        if t == "integer":
            return self.check_integer(value, schema, where)
        if t == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                if self.mode == "request" and value in ("NaN", "Infinity", "-Infinity"):
                    return value
                self.fail(where, "expected a JSON number, got %s" % json_type(value))
            return value
        if t == "boolean":
            if not isinstance(value, bool):
                self.fail(where, "expected a JSON boolean, got %s" % json_type(value))
            return value
        self.fail(where, "schema type %r not understood by the fake" % t)
        return value

    def check_object(self, value, schema, where, label):
        if not isinstance(value, dict):
            self.fail(where, "expected a JSON object (%s), got %s" % (label, json_type(value)))
            return value
        props = schema.get("properties", {})
        addl = schema.get("additionalProperties")
        out = {}
        for k, v in value.items():
            sub = where + "." + k if where else k
            if k in props:
                canon = self.check(v, props[k], sub)
            elif addl is not None:
                canon = self.check(v, addl, sub)
            else:
                self.fail(sub, "unknown field %r (not in %s of %s %s)" % (
                    k, label, self.svc.name, self.svc.revision))
                continue
            if canon is not None or (self.keep_nulls and v is None):
                out[k] = canon
        if self.mode == "request" and self.method_id:
            for k, p in props.items():
                req = (p.get("annotations") or {}).get("required", [])
                if self.method_id in req and value.get(k) in (None, ""):
                    self.fail(where + "." + k if where else k,
                              "required field %r missing for %s" % (k, self.method_id))
        return out

    def enum_numbers(self, schema):
        nums = schema.get("x-fakeEnumNumbers")
        return nums if nums is not None else list(range(len(schema["enum"])))

    def check_string(self, value, schema, where):
        fmt = schema.get("format")
        if fmt in ("int64", "uint64"):
            lo, hi = INT_RANGES[fmt]
            if isinstance(value, int) and not isinstance(value, bool) and self.mode == "request":
                if not lo <= value <= hi:
                    self.fail(where, "%d out of range for %s" % (value, fmt))
                return str(value)
            if not isinstance(value, str):
                self.fail(where, "expected an %s as a JSON string, got %s" % (fmt, json_type(value)))
                return value
            if not (UINT_STRING if fmt == "uint64" else INT_STRING).match(value) or not lo <= int(value) <= hi:
                self.fail(where, "%r is not a valid %s" % (value, fmt))
            return value
        if "enum" in schema:
            names = schema["enum"]
            if isinstance(value, int) and not isinstance(value, bool) and self.mode == "request":
                nums = self.enum_numbers(schema)
                if value in nums:
                    return names[nums.index(value)]
                self.fail(where, "enum number %d is not one of %s" % (
                    value, [n for n in nums if n is not None]))
                return value
            if not isinstance(value, str):
                self.fail(where, "expected an enum name (string), got %s" % json_type(value))
            elif value not in names:
                self.fail(where, "%r is not one of the enum values %s" % (value, names[:40]))
            return value
        if not isinstance(value, str):
            self.fail(where, "expected a JSON string, got %s" % json_type(value))
            return value
        if fmt in ("google-datetime", "date-time") and not RFC3339.match(value):
            self.fail(where, "%r is not an RFC 3339 timestamp (format %s)" % (value, fmt))
        elif fmt == "date" and not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            self.fail(where, "%r is not a date YYYY-MM-DD" % value)
        elif fmt == "google-duration" and not DURATION.match(value):
            self.fail(where, "%r is not a duration like '3.5s'" % value)
        elif fmt == "byte":
            ok = bool(BASE64.match(value))
            if ok:
                try:
                    pad = "=" * (-len(value.rstrip("=")) % 4)
                    base64.b64decode(value.rstrip("=").replace("-", "+").replace("_", "/") + pad,
                                     validate=True)
                except Exception:
                    ok = False
            if not ok:
                self.fail(where, "%r is not base64 (format byte)" % value)
        return value

    def check_integer(self, value, schema, where):
        fmt = schema.get("format", "int32")
        lo, hi = INT_RANGES.get(fmt, INT_RANGES["int64"])
        if isinstance(value, str) and self.mode == "request" and INT_STRING.match(value):
            value = int(value)
        if isinstance(value, float) and value.is_integer() and self.mode == "request":
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, "expected an integer (%s), got %s" % (fmt, json_type(value)))
            return value
        if not lo <= value <= hi:
            self.fail(where, "%d out of range for %s" % (value, fmt))
        return value


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean %s" % json.dumps(v)
    if isinstance(v, (int, float)):
        return "number %s" % json.dumps(v)
    if isinstance(v, str):
        return "string %s" % json.dumps(v[:60])
    if isinstance(v, list):
        return "array"
    return "object"


def esf_path(where):
    """'cluster.nodePools[0].initialNodeCount' -> 'cluster.node_pools[0].initial_node_count'."""
    return ".".join(snake(p) for p in where.split(".")) if where else ""


def encode_int_enums(service, value, schema):
    """Re-encode enum names as proto numbers (for $alt=json;enum-encoding=int).

    A value whose number is unknown (null in x-fakeEnumNumbers) stays a name;
    the SDK reads both.
    """
    c = Checker(service, "response")
    schema = c.resolve(schema)
    t = schema.get("type")
    if isinstance(value, dict) and (t == "object" or "properties" in schema):
        props = schema.get("properties", {})
        addl = schema.get("additionalProperties")
        out = {}
        for k, v in value.items():
            sub = props.get(k, addl)
            out[k] = encode_int_enums(service, v, sub) if sub else v
        return out
    if isinstance(value, list) and t == "array":
        return [encode_int_enums(service, v, schema.get("items", {})) for v in value]
    if isinstance(value, str) and t == "string" and "enum" in schema and value in schema["enum"]:
        nums = c.enum_numbers(schema)
        n = nums[schema["enum"].index(value)]
        return value if n is None else n
    return value
