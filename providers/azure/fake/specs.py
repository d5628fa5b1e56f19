"""The trimmed Azure REST specs: $ref resolution, operation matching, schema checks.

Why: a fake that accepts whatever a client sends proves little.  fake_azure
matches every ARM request to an operation of Azure's own swagger files (the
trimmed copies in ./specs, never /work/shared), checks its path parameters,
query string and body the way ARM and the resource providers would, and checks
every answer it produces against the operation's response schema, so a bug in
the fake shows up as a problem instead of teaching the client a wrong shape.

Conventions (swagger 2.0 as Azure uses it):

* ``$ref`` may point into another file (``./network.json#/...``,
  ``../../../../../../common-types/resource-management/v6/types.json#/...``);
  ``map_ref`` says which file of ./specs holds it.  References to files that
  were not stored resolve to ``fake-substitutes.json`` (see SOURCES.md).
* ``allOf`` merges properties and ``required``; a schema with ``properties``
  and no ``additionalProperties`` takes no other property (as ARM's
  deserialisers and the RPs do in practice: unknown names are refused here);
  an object schema without ``properties`` is free-form.
* ``x-ms-enum.modelAsString: true`` accepts any string; otherwise the value
  must be listed.
* ``readOnly`` properties must not be sent by a client; answers may carry them.
* ``null`` for a property that is not required counts as absent (autorest's
  and oav's default nullability: ``x-nullable`` is not used by these specs).
"""

import base64
import json
import os
import re
from urllib.parse import unquote

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS_DIR = os.path.join(HERE, "specs")

# The trimmed copies of Azure's files (same names as in /work/shared/cloud-api/azure)
# and the fake's own two files.
API_FILES = [
    "resources-2025-04-01.json",
    "network-virtualNetwork-2025-01-01.json",
    "aks-stable-2026-10-01-managedClusters.json",
    "storage-2025-01-01.json",
    "storage-blob-2025-01-01.json",
    "compute-skus-2021-07-01.json",
    "compute-common-2025-04-01.json",
    "fake-operations.json",
]
SUPPORT_FILES = [
    "network-network-2025-01-01.json",
    "storage-common-2025-01-01.json",
    "common-types-types.json",
    "common-types-managedidentity.json",
    "common-types-managedidentitywithdelegation.json",
    "fake-substitutes.json",
]
SUBSTITUTES = "fake-substitutes.json"

# Older common-types versions (v1, v2, v3, v5) are not stored; their definitions
# have the v6 shapes under these names (v1's ErrorResponse is the error *detail*
# {code, message, target, details, additionalInfo}, which v2+ renamed ErrorDetail).
COMMON_RENAMES = {
    ("v1", "/definitions/ErrorResponse"): "/definitions/ErrorDetail",
    ("v2", "/definitions/systemData"): "/definitions/SystemData",
}

# "./<file>" references, by the family of the referring file.
LOCAL_SIBLINGS = {
    "network": {"network.json": "network-network-2025-01-01.json"},
    "storage": {"common.json": "storage-common-2025-01-01.json", "storage.json": "storage-2025-01-01.json"},
    "common": {"managedidentity.json": "common-types-managedidentity.json",
               "managedidentitywithdelegation.json": "common-types-managedidentitywithdelegation.json",
               "types.json": "common-types-types.json"},
}


def family(filename):
    for prefix in ("network", "storage", "common"):
        if filename.startswith(prefix):
            return prefix
    return filename


def map_ref(referrer, ref):
    """(file in ./specs, JSON pointer) that a ``$ref`` written in ``referrer`` means."""
    rel, _, frag = ref.partition("#")
    if not rel:
        return referrer, frag
    base = rel.rsplit("/", 1)[-1]
    if rel in API_FILES + SUPPORT_FILES:
        return rel, frag
    if "common-types/resource-management/" in rel:
        version = rel.split("common-types/resource-management/", 1)[1].split("/", 1)[0]
        if base == "types.json":
            return "common-types-types.json", COMMON_RENAMES.get((version, frag), frag)
        if version == "v6" and base in LOCAL_SIBLINGS["common"]:
            return LOCAL_SIBLINGS["common"][base], frag
    elif rel.startswith("./") and "/" not in rel[2:]:
        target = LOCAL_SIBLINGS.get(family(referrer), {}).get(base)
        if target:
            return target, frag
    # Not stored: the fake's stand-in, named "<file stem>.<Name>".
    kind, _, name = frag.strip("/").partition("/")
    return SUBSTITUTES, "/%s/%s.%s" % (kind, base[:-5] if base.endswith(".json") else base, name)


def pointer(doc, frag):
    node = doc
    for part in [p for p in frag.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


class Operation:
    """One swagger operation, with the path template it answers on."""

    def __init__(self, specs, filename, template, method, op, path_params):
        self.file = filename
        self.template = template
        self.method = method.upper()
        self.id = op["operationId"]
        self.api_version = op.get("x-fake-api-version") or specs.docs[filename]["info"]["version"]
        self.params = {}
        self.body = None     # (file, schema, required, name)
        for p in list(path_params) + list(op.get("parameters", [])):
            f, p = specs.deref(filename, p)
            if p["in"] == "body":
                self.body = (f, p["schema"], p.get("required", False), p["name"])
            else:
                self.params[(p["in"], p["name"])] = p
        self.responses = {}
        for code, r in op.get("responses", {}).items():
            f, r = specs.deref(filename, r)
            self.responses[code] = (f, r.get("schema"), r.get("headers", {}))
        self.long_running = bool(op.get("x-ms-long-running-operation"))
        parts = re.split(r"(\{[^}]+\})", template)
        rx, self.names, literal = "", [], 0
        for part in parts:
            if part.startswith("{"):
                rx += "([^/]+)"
                self.names.append(part[1:-1])
            else:
                rx += re.escape(part)
                literal += len(part)
        self.regex = re.compile("^" + rx + "/?$", re.IGNORECASE)
        self.literal = literal

    def match(self, path):
        m = self.regex.match(path)
        if not m:
            return None
        return {n: unquote(v) for n, v in zip(self.names, m.groups())}


class Specs:
    def __init__(self, directory=SPECS_DIR):
        self.docs = {}
        for f in API_FILES + SUPPORT_FILES:
            with open(os.path.join(directory, f), encoding="utf-8") as fh:
                self.docs[f] = json.load(fh)
        self.operations = []
        for f in API_FILES:
            for template, item in self.docs[f].get("paths", {}).items():
                for method, op in item.items():
                    if method == "parameters":
                        continue
                    self.operations.append(Operation(self, f, template, method, op, item.get("parameters", [])))
        self.by_id = {op.id: op for op in self.operations}
        self._flat = {}

    # -- references -----------------------------------------------------------
    def resolve(self, filename, ref):
        f, frag = map_ref(filename, ref)
        return f, pointer(self.docs[f], frag)

    def deref(self, filename, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            filename, node = self.resolve(filename, node["$ref"])
            seen += 1
            if seen > 50:
                raise ValueError("reference loop at %s" % filename)
        return filename, node

    # -- routing ----------------------------------------------------------------
    def match(self, method, path):
        """(Operation, path params) of the most specific operation, or (None, methods with that path)."""
        best, others = None, set()
        for op in self.operations:
            params = op.match(path)
            if params is None:
                continue
            if op.method != method:
                others.add(op.method)
                continue
            if best is None or op.literal > best[0].literal:
                best = (op, params)
        return best if best else (None, sorted(others))

    # -- schemas ----------------------------------------------------------------
    def flatten(self, filename, schema):
        """Merge a schema with its allOf parents: (properties {name: (file, schema)}, required,
        additionalProperties (None | bool | (file, schema)), the schema itself)."""
        filename, schema = self.deref(filename, schema)
        key = (filename, id(schema))
        if key in self._flat:
            return self._flat[key]
        props, required, addl = {}, set(), None
        for parent in schema.get("allOf", []):
            pp, pr, pa, _ = self.flatten(filename, parent)
            props.update(pp)
            required |= pr
            addl = pa if addl is None else addl
        for name, sub in schema.get("properties", {}).items():
            props[name] = (filename, sub)
        required |= set(schema.get("required", []))
        if "additionalProperties" in schema:
            a = schema["additionalProperties"]
            addl = a if isinstance(a, bool) else (filename, a)
        out = (props, required, addl, schema)
        self._flat[key] = out
        return out


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$", re.I)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INT_RANGES = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}


class Checker:
    """Checks a JSON value against a schema; collects (where, message, kind) problems.

    kind: "unknown" (property not in the schema), "readonly" (a read-only property
    sent by a client), "required", "type", "enum", "format", "pattern", "range".
    mode: "request" or "response"."""

    def __init__(self, specs, mode):
        self.specs = specs
        self.mode = mode
        self.problems = []

    def add(self, where, msg, kind):
        self.problems.append((where or "(body)", msg, kind))

    def check(self, value, filename, schema, where=""):
        sibling_ro = isinstance(schema, dict) and schema.get("readOnly")
        filename, schema = self.specs.deref(filename, schema)
        if value is None:
            return
        if self.mode == "request" and (sibling_ro or schema.get("readOnly")):
            self.add(where, "property is read-only and must not be sent", "readonly")
            return
        props, required, addl, schema = self.specs.flatten(filename, schema)
        typ = schema.get("type") or ("object" if props or addl is not None or schema.get("allOf") else None)
        if typ == "object":
            return self.check_object(value, props, required, addl, where)
        if typ == "array":
            return self.check_array(value, filename, schema, where)
        if typ is None:
            return
        self.check_scalar(value, typ, schema, where)

    def check_object(self, value, props, required, addl, where):
        if not isinstance(value, dict):
            return self.add(where, "expected a JSON object, got %s" % json_type(value), "type")
        for name, v in value.items():
            at = "%s.%s" % (where, name) if where else name
            if name in props:
                f, sub = props[name]
                self.check(v, f, sub, at)
            elif isinstance(addl, tuple):
                self.check(v, addl[0], addl[1], at)
            elif addl is True or (not props and addl is None):
                continue
            else:
                self.add(at, "unknown property %r (not in the schema)" % name, "unknown")
        for name in sorted(required):
            if value.get(name) is None:
                at = "%s.%s" % (where, name) if where else name
                self.add(at, "required property %r is missing" % name, "required")

    def check_array(self, value, filename, schema, where):
        if not isinstance(value, list):
            return self.add(where, "expected a JSON array, got %s" % json_type(value), "type")
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.add(where, "at least %d items required" % schema["minItems"], "range")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.add(where, "at most %d items allowed" % schema["maxItems"], "range")
        if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
            self.add(where, "items must be unique", "range")
        items = schema.get("items")
        if items:
            for i, v in enumerate(value):
                self.check(v, filename, items, "%s[%d]" % (where, i))

    def check_scalar(self, value, typ, schema, where):
        for msg, kind in scalar_problems(value, typ, schema):
            self.add(where, msg, kind)


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), type(v).__name__)


def scalar_problems(value, typ, schema):
    """Problems of one scalar against a swagger type/format/enum/pattern/range."""
    out = []
    fmt = schema.get("format")
    if typ == "string":
        if not isinstance(value, str):
            return [("expected a string, got %s %s" % (json_type(value), json.dumps(value)), "type")]
        if fmt == "date-time" and not RFC3339.match(value):
            out.append(("%r is not an RFC 3339 date-time" % value, "format"))
        elif fmt == "date" and not DATE.match(value):
            out.append(("%r is not a date" % value, "format"))
        elif fmt == "uuid" and not UUID.match(value):
            out.append(("%r is not a UUID" % value, "format"))
        elif fmt == "byte":
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                out.append(("%r is not base64" % value[:40], "format"))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(("%r does not match the pattern %s" % (value, schema["pattern"]), "pattern"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(("%r is shorter than %d characters" % (value, schema["minLength"]), "range"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(("%r is longer than %d characters" % (value, schema["maxLength"]), "range"))
    elif typ == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            if not (isinstance(value, float) and value.is_integer()):
                return [("expected an integer, got %s %s" % (json_type(value), json.dumps(value)), "type")]
            value = int(value)
        lo, hi = INT_RANGES.get(fmt, INT_RANGES["int64"])
        if not lo <= value <= hi:
            out.append(("%d is out of range for %s" % (value, fmt or "integer"), "range"))
    elif typ == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [("expected a number, got %s %s" % (json_type(value), json.dumps(value)), "type")]
    elif typ == "boolean":
        if not isinstance(value, bool):
            return [("expected a boolean, got %s %s" % (json_type(value), json.dumps(value)), "type")]
    if typ in ("integer", "number"):
        if "minimum" in schema and (value < schema["minimum"] or
                                    (schema.get("exclusiveMinimum") and value == schema["minimum"])):
            out.append(("%s is below the minimum %s" % (value, schema["minimum"]), "range"))
        if "maximum" in schema and (value > schema["maximum"] or
                                    (schema.get("exclusiveMaximum") and value == schema["maximum"])):
            out.append(("%s is above the maximum %s" % (value, schema["maximum"]), "range"))
    if "enum" in schema and value not in schema["enum"]:
        if not schema.get("x-ms-enum", {}).get("modelAsString", False):
            out.append(("%s is not one of %s" % (json.dumps(value), schema["enum"]), "enum"))
    return out


def parameter_value(param, raw):
    """A path/query parameter's string converted to its type: (value, [problems])."""
    typ = param.get("type", "string")
    if typ == "boolean":
        if raw.lower() not in ("true", "false"):
            return raw, [("%r is not a boolean" % raw, "type")]
        value = raw.lower() == "true"
    elif typ == "integer":
        if not re.match(r"^-?\d+$", raw):
            return raw, [("%r is not an integer" % raw, "type")]
        value = int(raw)
    else:
        value = raw
    return value, [p for p in scalar_problems(value, typ, param)]
