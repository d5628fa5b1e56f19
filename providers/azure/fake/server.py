"""HTTP layer of fake_azure: routing, validation, fault injection, recording, control API.

Every ARM request goes through the same steps:

1. match an operation of the trimmed specs (HTTP method + path template, fixed
   segments case-insensitive as ARM's); none -> 404 (405 when the path exists
   for other methods); both are problems;
2. ``Authorization: Bearer <--token>`` -> else 401 AuthenticationFailed (a problem);
3. path parameters against their declared pattern / length / format, then the
   subscription (another one -> 404 SubscriptionNotFound, not a problem);
4. ``api-version`` must be the spec's version for the operation, other query
   parameters must be declared; the JSON body against the operation's body
   schema (unknown / read-only / missing required properties, types, enums,
   patterns, ranges) -> 400, each a problem;
5. an injected fault for the operation (config "faults") -> 429/5xx, recorded,
   not a problem;
6. the model answers (or raises an ArmError);
7. the answer is checked against the operation's response schema for its
   status (errors against ``default``); a failure is a bug in the fake and is
   recorded as a problem.

The control API (``/_fake/...``) is plain JSON and is not validated.
"""

import json
import sys
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from compute_model import SKUS, USAGE_NAMES
from errors import ArmError, fault
from model import Arm
from specs import Checker, Specs, parameter_value
from state import DEFAULT_CONFIG, FakeState, Req

PATH_PARAM_CODES = {"subscriptionId": "InvalidSubscriptionId", "resourceGroupName": "InvalidResourceGroupName",
                    "accountName": "AccountNameInvalid"}


class Fake:
    """Everything one server holds: specs, state and the ARM model."""

    def __init__(self, subscription, token):
        self.specs = Specs()
        self.state = FakeState(subscription, token)
        self.reset()

    def reset(self):
        st = self.state
        st.records.clear()
        st.problems.clear()
        st.config = json.loads(json.dumps(DEFAULT_CONFIG))
        self.arm = Arm(st)

    def validate_config(self, patch):
        if not isinstance(patch, dict):
            return "config must be a JSON object"
        unknown = set(patch) - set(DEFAULT_CONFIG)
        if unknown:
            return "unknown config keys: %s (known: %s)" % (sorted(unknown), sorted(DEFAULT_CONFIG))
        if "polls" in patch and (not isinstance(patch["polls"], int) or patch["polls"] < 0):
            return "polls must be a non-negative integer"
        for f in patch.get("faults") or []:
            if not isinstance(f, dict) or set(f) - {"operation", "status", "count", "retry_after"}:
                return "a fault is {operation, status, count, retry_after}: %r" % (f,)
            if f.get("operation") != "*" and f.get("operation") not in self.specs.by_id:
                return "fault operation %r is not an operationId the fake serves" % f.get("operation")
            if not isinstance(f.get("status", 503), int) or not 400 <= f.get("status", 503) <= 599:
                return "fault status must be an HTTP error status"
        sizes = {s.lower() for s in SKUS}
        for loc, qs in (patch.get("quotas") or {}).items():
            for usage, v in (qs or {}).items():
                if usage not in USAGE_NAMES:
                    return "quota %r of %s is not a usage the fake reports (%s)" % (usage, loc, USAGE_NAMES)
                if v is not None and (not isinstance(v, dict) or set(v) - {"limit", "current"}):
                    return "quota %s/%s takes only limit and current" % (loc, usage)
        for size, locs in (patch.get("sku_restrictions") or {}).items():
            if size.lower() not in sizes:
                return "sku_restrictions: %r is not a VM size of the fake's SKU table" % size
            if locs is not None and not all(isinstance(z, list) for z in locs.values()):
                return "sku_restrictions[%r] must map locations to lists of zones" % size
        for size, zones in (patch.get("allocation_failures") or {}).items():
            if size != "*" and size.lower() not in sizes:
                return "allocation_failures: %r is not a VM size of the fake's SKU table" % size
            if zones is not None and not isinstance(zones, list):
                return "allocation_failures[%r] must be a list of zones" % size
        if set(patch.get("kube") or {}) - {"server", "ca_pem"}:
            return "kube takes only server and ca_pem"
        names = patch.get("taken_storage_account_names")
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            return "taken_storage_account_names must be a list of names"
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def log_message(self, fmt, *args):
        if getattr(self.server, "verbose", False):
            sys.stderr.write("fake_azure: " + fmt % args + "\n")

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, obj=None, headers=None):
        data = b"" if obj is None else (json.dumps(obj, indent=2) + "\n").encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        rid = str(uuid.uuid4())
        self.send_header("x-ms-request-id", rid)
        self.send_header("x-ms-correlation-request-id", rid)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def dispatch(self):
        fake = self.server.fake
        split = urlsplit(self.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        raw = self.read_body()
        with fake.state.lock:
            if split.path.startswith("/_fake/"):
                return self.control(fake, split.path, pairs, raw)
            self.api(fake, split.path, pairs, raw)

    # ------------------------------------------------------------------ control API
    def control(self, fake, path, pairs, raw):
        st = fake.state
        q = dict(pairs)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            return self.send(400, {"error": "control body is not JSON: %s" % e})
        cmd = self.command
        if path == "/_fake/requests" and cmd == "GET":
            return self.send(200, st.records)
        if path == "/_fake/problems" and cmd == "GET":
            return self.send(200, st.problems)
        if path == "/_fake/config" and cmd == "GET":
            return self.send(200, st.config)
        if path == "/_fake/config" and cmd == "POST":
            err = fake.validate_config(body)
            if err:
                return self.send(400, {"error": err})
            return self.send(200, st.configure(body))
        if path == "/_fake/resources" and cmd == "GET":
            return self.send(200, fake.arm.resources(q.get("tag")))
        if path == "/_fake/resize" and cmd == "POST":
            try:
                return self.send(200, fake.arm.resize(body["resourceGroup"], body["cluster"], body["pool"],
                                                      body["count"]))
            except KeyError as e:
                return self.send(404 if "agent pool" in str(e) else 400, {"error": "missing or unknown: %s" % e})
        if path == "/_fake/reset" and cmd == "POST":
            if body.get("records_only"):
                st.records.clear()
                st.problems.clear()
            else:
                fake.reset()
            return self.send(200, {"reset": True})
        return self.send(404, {"error": "no control endpoint %s %s" % (cmd, path)})

    # ------------------------------------------------------------------ ARM requests
    def api(self, fake, path, pairs, raw):
        st, specs = fake.state, fake.specs
        method = self.command
        text = raw.decode("utf-8", "replace").strip()
        try:
            recorded_body = json.loads(text) if text else None
        except ValueError:
            recorded_body = text[:2000]
        record = {"method": method, "path": path, "query": dict(pairs), "operation": None, "status": None,
                  "problems": [], "authorization": self.headers.get("Authorization"), "body": recorded_body}
        st.records.append(record)

        def problem(msg):
            record["problems"].append(msg)
            st.problem(record["operation"], method, path, msg)

        op = None

        def answer(status, body=None, headers=None, error=False):
            record["status"] = status
            if op is not None:
                check_response(status, body, error)
            self.send(status, body, headers)

        def check_response(status, body, error):
            resp = op.responses.get(str(status)) or (op.responses.get("default") if status >= 400 else None)
            if resp is None:
                if status < 400:
                    problem("response (a bug in fake_azure): status %d is not declared by %s" % (status, op.id))
                return
            f, schema, _ = resp
            if schema is None:
                if body is not None and not error:
                    problem("response (a bug in fake_azure): %s %d declares no body" % (op.id, status))
                return
            if body is None:
                if status < 400:
                    problem("response (a bug in fake_azure): %s %d must have a body" % (op.id, status))
                return
            chk = Checker(specs, "response")
            chk.check(body, f, schema, "")
            for where, msg, _ in chk.problems:
                problem("response (a bug in fake_azure): %s: %s" % (where, msg))

        def fail(err):
            if err.problem:
                problem(err.problem)
            answer(err.http, err.body(), err.headers, error=True)

        op, params = specs.match(method, path)
        if op is None:
            if params:
                problem("%s %s: the path is an operation of the specs only for %s" % (method, path, params))
                op = None
                return fail(ArmError(405, "MethodNotAllowed", "The requested resource does not support http "
                                     "method '%s'." % method))
            problem("no operation of the trimmed specs matches %s %s" % (method, path))
            return fail(ArmError(404, "NotFound", "No route matches %s %s in fake_azure's specs." % (method, path)))
        record["operation"] = op.id

        auth = self.headers.get("Authorization")
        if auth != "Bearer " + st.token:
            why = "missing" if not auth else "not 'Bearer <the --token value>'"
            problem("Authorization header %s" % why)
            msg = ("Authentication failed. The 'Authorization' header is missing." if not auth else
                   "Authentication failed. The access token is invalid.")
            return fail(ArmError(401, "AuthenticationFailed", msg, headers={
                "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/%s", '
                                    'error="invalid_token", error_description="%s"' % ("common", msg)}))

        problems = []
        for (where, name), p in op.params.items():
            if where != "path" or name not in params:
                continue
            _, bad = parameter_value(p, params[name])
            for msg, _ in bad:
                problems.append((PATH_PARAM_CODES.get(name, "InvalidParameter"),
                                 "path parameter %s: %s" % (name, msg)))
        if problems:
            for _, msg in problems:
                problem(msg)
            return fail(ArmError(400, problems[0][0], "The value of %s is invalid." % problems[0][1]))
        sub = params.get("subscriptionId")
        if sub is not None and sub.lower() != st.subscription.lower():
            return fail(ArmError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % sub))

        query, declared = {}, {name.lower(): p for (where, name), p in op.params.items() if where == "query"}
        for name, value in pairs:
            p = declared.get(name.lower())
            if p is None:
                problems.append(("InvalidQueryParameter", "query parameter %r is not declared by %s" % (name, op.id)))
                continue
            if p["name"] == "api-version":
                if value != op.api_version:
                    problems.append(("InvalidApiVersionParameter",
                                     "The api-version '%s' is invalid. The supported versions are '%s'."
                                     % (value, op.api_version)))
                continue
            v, bad = parameter_value(p, value)
            problems.extend(("InvalidQueryParameterValue", "query parameter %s: %s" % (p["name"], m)) for m, _ in bad)
            query[p["name"]] = v
        if "api-version" not in {n.lower() for n, _ in pairs}:
            problems.append(("MissingApiVersionParameter",
                             "The api-version query parameter (?api-version=) is required for all requests."))
        for (where, name), p in op.params.items():
            if where == "query" and p.get("required") and name != "api-version" and name not in query:
                problems.append(("MissingRequiredQueryParameter", "query parameter %s is required" % name))

        body = None
        if op.body:
            f, schema, required, bname = op.body
            if not text:
                if required:
                    problems.append(("InvalidRequestContent", "The request content was invalid and could not be "
                                     "deserialized: the body (%s) is required." % bname))
            elif isinstance(recorded_body, str):
                problems.append(("InvalidRequestContent", "The request content was invalid and could not be "
                                 "deserialized: not JSON."))
            else:
                body = recorded_body
                chk = Checker(specs, "request")
                chk.check(body, f, schema, "")
                for where, msg, kind in chk.problems:
                    problems.append(("InvalidRequestContent", "The request content was invalid and could not be "
                                     "deserialized: '%s': %s." % (where, msg)))
        elif text and text != "{}":
            problems.append(("InvalidRequestContent", "%s takes no request body, got %r" % (op.id, text[:80])))
        if problems:
            for _, msg in problems:
                problem(msg)
            return fail(ArmError(400, problems[0][0], problems[0][1]))

        f = st.take_fault(op.id)
        if f:
            return fail(fault(*f))

        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        req = Req(params, query, body, "http://" + host, dict(self.headers.items()))
        try:
            ans = fake.arm.handle(op.id, req)
        except ArmError as e:
            return fail(e)
        except Exception:
            tb = traceback.format_exc()
            problem("fake_azure crashed (a bug in the fake): " + tb.strip().splitlines()[-1])
            sys.stderr.write(tb)
            return fail(ArmError(500, "InternalServerError", "An error has occurred in fake_azure."))
        answer(ans.status, ans.body, ans.headers)


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, fake, verbose=False):
        super().__init__(addr, Handler)
        self.fake = fake
        self.verbose = verbose


def make_server(host="127.0.0.1", port=0, subscription="00000000-0000-0000-0000-000000000001",
                token="static-test-token", verbose=False):
    return FakeHTTPServer((host, port), Fake(subscription, token), verbose)
