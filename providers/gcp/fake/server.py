"""HTTP layer of fake_gcp: routing, validation, fault injection, recording, control API.

Why a single server for three services: hoist's tests point each SDK client
at its own endpoint override, and the three APIs' paths do not overlap
(``/v1/projects/...`` container, ``/compute/v1/...`` compute,
``/storage/v1/...`` and ``/upload/storage/v1/...`` storage), so one loopback
port serves them all and one journal sees every call in order.

Every API request goes through the same steps:

1. match a discovery method (HTTP method + path template); none -> 404, a
   method of the API the fake does not model -> 501; both are problems;
2. check the query string and the JSON body against the discovery document;
   any problem -> 400 in Google's error shape, recorded;
3. an injected fault for this call (config "faults") -> 429/503 in Google's shape;
4. the service model answers (or raises an ApiError);
5. the JSON answer is checked against the method's response schema (a failure
   is a bug in the fake and is recorded as a problem) and, if the request
   asked for ``enum-encoding=int``, enums are re-encoded as numbers.

The control API (``/_fake/...``) is plain JSON and is not validated.
"""

import json
import re
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import discovery
from compute_model import ComputeModel
from container_model import ContainerModel
from errors import ApiError, fault, invalid_argument
from state import DEFAULT_CONFIG, FakeState
from storage_model import StorageModel


class Fake:
    """Everything one server holds: state, discovery registry and the three models."""

    def __init__(self, default_project="fake-project"):
        self.registry = discovery.Registry()
        self.state = FakeState(default_project)
        self.reset()

    def reset(self):
        st = self.state
        st.records.clear()
        st.problems.clear()
        st.config = json.loads(json.dumps(DEFAULT_CONFIG))
        st.registry_quota_metrics = list(
            self.registry.services["compute"].schemas["Quota"]["properties"]["metric"]["enum"])
        self.container = ContainerModel(st)
        self.compute = ComputeModel(st)
        self.storage = StorageModel(st)
        self.container.compute = self.compute
        self.compute.container = self.container

    # ------------------------------------------------------------------ control API
    def validate_config(self, patch):
        if not isinstance(patch, dict):
            return "config must be a JSON object"
        unknown = set(patch) - set(DEFAULT_CONFIG)
        if unknown:
            return "unknown config keys: %s (known: %s)" % (sorted(unknown), sorted(DEFAULT_CONFIG))
        if "polls" in patch and (not isinstance(patch["polls"], int) or patch["polls"] < 0):
            return "polls must be a non-negative integer"
        if patch.get("stockout_reason") not in (None, "GCE_STOCKOUT", "ZONE_RESOURCE_POOL_EXHAUSTED"):
            return "stockout_reason must be GCE_STOCKOUT or ZONE_RESOURCE_POOL_EXHAUSTED"
        if patch.get("enum_encoding") not in (None, "auto", "string"):
            return "enum_encoding must be auto or string"
        metrics = set(self.state.registry_quota_metrics)
        for region, qs in (patch.get("quotas") or {}).items():
            for m, v in (qs or {}).items():
                if m not in metrics:
                    return "quota metric %r of region %s is not a Quota.metric value of compute v1" % (m, region)
                if v is not None and not set(v) <= {"limit", "usage"}:
                    return "quota %s/%s takes only limit and usage" % (region, m)
        ids = {m.id for svc in self.registry.services.values() for m in svc.methods}
        for f in patch.get("faults") or []:
            if f.get("call") != "*" and f.get("call") not in ids:
                return "fault call %r is not a method the fake implements" % f.get("call")
            if not isinstance(f.get("status", 503), int):
                return "fault status must be an HTTP status code"
        for k in ("stockouts", "zones"):
            for key, zones in (patch.get(k) or {}).items():
                if zones is not None and not isinstance(zones, list):
                    return "%s[%r] must be a list of zones" % (k, key)
        return None

    def resources(self, label):
        out = []
        key, _, value = (label or "").partition("=")
        want = "%s=%s" % (key, value)
        for model in (self.container, self.storage):
            for typ, name, path, labels in model.resources():
                if label is None or labels.get(key) == value:
                    out.append({"type": typ, "name": name, "path": path, "labels_or_description": labels})
        # Compute networks, subnetworks and routers have no labels: match "K=V" in the
        # description as a whole word, so hoist-env=dev does not match hoist-env=dev2.
        word = re.compile(r"(?<![\w.-])%s(?![\w.-])" % re.escape(want))
        for typ, name, path, desc in self.compute.resources():
            if label is None or word.search(desc or ""):
                out.append({"type": typ, "name": name, "path": path, "labels_or_description": desc})
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""

    def log_message(self, fmt, *args):
        if getattr(self.server, "verbose", False):
            sys.stderr.write("fake_gcp: " + fmt % args + "\n")

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # ------------------------------------------------------------------ plumbing
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

    def send(self, status, data=b"", ctype="application/json; charset=UTF-8", server=None):
        self.send_response(status)
        if server:
            self.send_header("Server", server)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        else:
            self.send_header("Content-Length", "0")
        self.send_header("Vary", "Origin")
        self.send_header("Vary", "X-Origin")
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status, obj, server=None):
        self.send(status, (json.dumps(obj, indent=2) + "\n").encode(), server=server)

    def dispatch(self):
        fake = self.server.fake
        split = urlsplit(self.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        raw = self.read_body()
        if split.path.startswith("/_fake/"):
            with fake.state.lock:
                return self.control(fake, split.path, pairs, raw)
        with fake.state.lock:
            self.api(fake, split.path, pairs, raw)

    # ------------------------------------------------------------------ control API
    def control(self, fake, path, pairs, raw):
        st = fake.state
        q = dict(pairs)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            return self.send_json(400, {"error": "control body is not JSON: %s" % e})
        if path == "/_fake/requests" and self.command == "GET":
            return self.send_json(200, st.records)
        if path == "/_fake/problems" and self.command == "GET":
            return self.send_json(200, st.problems)
        if path == "/_fake/config" and self.command == "GET":
            return self.send_json(200, st.config)
        if path == "/_fake/config" and self.command == "POST":
            err = fake.validate_config(body)
            if err:
                return self.send_json(400, {"error": err})
            return self.send_json(200, st.configure(body))
        if path == "/_fake/resize" and self.command == "POST":
            try:
                pool = fake.container.resize(body.get("project") or st.default_project, body["location"],
                                             body["cluster"], body["pool"], body["nodeCount"])
            except KeyError as e:
                return self.send_json(400, {"error": "missing %s" % e})
            except ApiError as e:
                return self.send_json(404, {"error": e.message})
            return self.send_json(200, pool)
        if path == "/_fake/resources" and self.command == "GET":
            return self.send_json(200, fake.resources(q.get("label")))
        if path == "/_fake/reset" and self.command == "POST":
            if body.get("records_only"):
                st.records.clear()
                st.problems.clear()
            else:
                fake.reset()
            return self.send_json(200, {"reset": True})
        return self.send_json(404, {"error": "no control endpoint %s %s" % (self.command, path)})

    # ------------------------------------------------------------------ API requests
    def api(self, fake, path, pairs, raw):
        st, reg = fake.state, fake.registry
        query = {}
        for k, v in pairs:
            query.setdefault(k, []).append(v)
        record = {"method": self.command, "path": path,
                  "query": {k: (v[0] if len(v) == 1 else v) for k, v in query.items()},
                  "call": None, "status": None, "problems": [],
                  "authorization": self.headers.get("Authorization"), "body": None}
        st.records.append(record)
        svc_name = reg.service_for_path(path)
        server = "UploadServer" if svc_name == "storage" else "ESF"

        def problem(msg):
            record["problems"].append(msg)
            st.problem(record["call"], self.command, path, msg)

        def answer_error(err):
            if err.problem:
                problem(err.problem)
            record["status"] = err.http
            self.send_json(err.http, err.body(svc_name), server=server)

        match = reg.match(self.command, path)
        if match is None:
            un = reg.match_unimplemented(self.command, path)
            if un:
                record["call"] = un[0]
                problem("%s (%s %s) is a %s API method that fake_gcp does not implement"
                        % (un[0], self.command, path, un[1]))
                return answer_error(ApiError(501, "Method %s is not implemented by fake_gcp." % un[0],
                                             reason="notImplemented", status="UNIMPLEMENTED", esf=True))
            problem("no discovery method matches %s %s" % (self.command, path))
            return answer_error(ApiError(404, "The requested URL %s was not found on this server." % path,
                                         reason="notFound", status="NOT_FOUND", esf=True))
        method, pp = match
        svc = method.service
        record["call"] = method.id
        problems = ["query: " + p for p in discovery.check_query(method, pairs)]
        body = None
        first = None
        if method.media:
            record["body"] = "<%d bytes>" % len(raw)
        elif method.request:
            text = raw.decode("utf-8", "replace").strip()
            if text:
                try:
                    parsed = json.loads(text)
                except ValueError as e:
                    parsed = None
                    problems.append("body: not JSON (%s)" % e)
                    first = "Invalid JSON payload received. %s" % e
                record["body"] = parsed
            else:
                parsed = {}
            if parsed is not None:
                chk = discovery.Checker(svc, "request", method.id, keep_nulls=svc.name == "storage")
                body = chk.check(parsed, method.request, "")
                for where, msg in chk.problems:
                    problems.append("body: %s: %s" % (where or "(top)", msg))
                    if first is None:
                        first = esf_message(where, msg)
        else:
            text = raw.decode("utf-8", "replace").strip()
            if text and text != "{}":
                problems.append("body: %s takes no request body, got %r" % (method.id, text[:80]))
            if text:
                try:
                    record["body"] = json.loads(text)
                except ValueError:
                    record["body"] = text[:200]
        if st.config.get("require_auth") and not self.headers.get("Authorization"):
            return answer_error(ApiError(401, "Request is missing required authentication credential. Expected "
                                         "OAuth 2 access token, login cookie or other valid authentication "
                                         "credential.", reason="required", status="UNAUTHENTICATED", esf=True))
        if problems:
            for p in problems:
                problem(p)
            msg = first or ("Invalid request: " + problems[0])
            if svc.name == "storage":
                return answer_error(ApiError(400, msg, reason="invalid"))
            return answer_error(invalid_argument(msg))
        code = st.take_fault(method.id)
        if code:
            project = pp.get("projectsId") or pp.get("project") or (query.get("project") or [st.default_project])[0]
            return answer_error(fault(svc.name, code, st.project_number(project), self.command))
        try:
            model = {"container": fake.container, "compute": fake.compute, "storage": fake.storage}[svc.name]
            if svc.name == "storage":
                result = model.handle(method.id, pp, query, body,
                                      raw if method.media else None, dict(self.headers.items()))
            else:
                result = model.handle(method.id, pp, query, body)
        except ApiError as e:
            return answer_error(e)
        except Exception:
            tb = traceback.format_exc()
            problem("fake_gcp crashed (a bug in the fake): " + tb.strip().splitlines()[-1])
            sys.stderr.write(tb)
            return answer_error(ApiError(500, "Internal error encountered.", reason="backendError",
                                         status="INTERNAL", esf=True))
        status, out = result[0], result[1]
        record["status"] = status
        if len(result) == 3:
            return self.send(status, out, ctype=result[2], server=server)
        if out is None:
            return self.send(status, b"", server=server)
        if method.response:
            chk = discovery.Checker(svc, "response", method.id)
            chk.check(out, method.response, "")
            for where, msg in chk.problems:
                problem("response (a bug in fake_gcp): %s: %s" % (where or "(top)", msg))
            if st.config.get("enum_encoding", "auto") == "auto" and discovery.wants_int_enums(pairs):
                out = discovery.encode_int_enums(svc, out, method.response)
        self.send_json(status, out, server=server)


def esf_message(where, msg):
    """The text Google's front end uses for a body that does not bind to the request message."""
    if msg.startswith("unknown field"):
        parent, _, name = where.rpartition(".")
        at = (" at '%s'" % discovery.esf_path(parent)) if parent else ""
        return 'Invalid JSON payload received. Unknown name "%s"%s: Cannot find field.' % (name, at)
    if msg.startswith("required field"):
        return "Required field '%s' not specified: %s" % (where, msg)
    return "Invalid value at '%s': %s" % (discovery.esf_path(where), msg)


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, fake, verbose=False):
        super().__init__(addr, Handler)
        self.fake = fake
        self.verbose = verbose


def make_server(host="127.0.0.1", port=0, project="fake-project", verbose=False):
    return FakeHTTPServer((host, port), Fake(project), verbose)
