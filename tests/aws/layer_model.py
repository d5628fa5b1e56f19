"""Which AWS operation a request is, and whether its parameters are valid, from the published API
models that botocore ships (the same models the AWS SDKs are generated from).

    models = Models()
    call = models.identify(environ, body)     # a Call: service, op, params, problems, unknown

The service is the signing name in the request's SigV4 credential scope (ELB classic and ELBv2
share `elasticloadbalancing` and are told apart by their `Version` parameter). The operation is
found by protocol:

    json        X-Amz-Target "Prefix.Operation", checked against the model's targetPrefix
    rest-json   HTTP method + path matched against each operation's `http.requestUri` template
    query, ec2  the Action parameter, checked against the model's operation names

For json and rest-json the request is mapped into a params dict keyed by member names (URI labels,
query string, headers and JSON body, typed by their shapes) and validated against the operation's
input shape with botocore's ParamValidator, extended to check enums and maximums as the services
do. Query-protocol requests are not validated; their params are the flat form dict.
"""
import json
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.validate import ParamValidator, ValidationErrors

SCOPE = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
PRESIGNED_SCOPE = re.compile(r"^([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request$")
# Signing names whose botocore model has another name.
MODEL_NAMES = {"servicequotas": "service-quotas", "monitoring": "cloudwatch"}
# ELB classic and ELBv2 both sign as elasticloadbalancing; their API version tells them apart.
ELB_VERSIONS = {"2012-06-01": "elb", "2015-12-01": "elbv2"}


@dataclass
class Call:
    """One request, as the layer understands it."""

    service: str  # prefix in call names: eks, ec2, iam, elb, elbv2, logs, autoscaling, ...
    op: str  # the model's operation name, or "METHOD /path" when it could not be identified
    protocol: str = ""  # json, rest-json, query, ec2 ("" when the service is unknown)
    region: str = "us-east-1"
    access_key: str = ""
    params: dict = field(default_factory=dict)
    model: object = None  # botocore OperationModel, when identified
    problems: list = field(default_factory=list)  # invalid parameters (json protocols only)
    unknown: str = ""  # why the operation could not be identified

    @property
    def name(self):
        return f"{self.service}:{self.op}"


class StrictErrors(ValidationErrors):
    """botocore's report, plus the checks StrictValidator adds."""

    def _format_error(self, error):
        reason, name, extra = error
        if reason == "invalid enum":
            return f"Invalid value for parameter {self._get_name(name)}, value: {extra['param']}, valid values: {', '.join(extra['valid'])}"
        if reason == "too large":
            return f"Invalid {extra['what']} for parameter {self._get_name(name)}, value: {extra['param']}, valid max: {extra['max']}"
        return super()._format_error(error)


class StrictValidator(ParamValidator):
    """ParamValidator (required members, unknown members, types, minimums), plus enum values and
    maximums, which the services reject but botocore leaves to them."""

    VALIDATED_METADATA_ATTRS = ParamValidator.VALIDATED_METADATA_ATTRS | {"enum", "max"}

    def validate(self, params, shape):
        errors = StrictErrors()
        self._validate(params, shape, errors, name="")
        return errors

    def _validate_string(self, param, shape, errors, name):
        super()._validate_string(param, shape, errors, name)
        if isinstance(param, str):
            if shape.enum and param not in shape.enum:
                errors.report(name, "invalid enum", param=param, valid=shape.enum)
            self._check_max(name, len(param), shape, "length", errors)

    def _validate_list(self, param, shape, errors, name):
        super()._validate_list(param, shape, errors, name)
        if isinstance(param, (list, tuple)):
            self._check_max(name, len(param), shape, "length", errors)

    def _validate_integer(self, param, shape, errors, name):
        super()._validate_integer(param, shape, errors, name)
        if isinstance(param, int) and not isinstance(param, bool):
            self._check_max(name, param, shape, "value", errors)

    _validate_long = _validate_integer

    @staticmethod
    def _check_max(name, value, shape, what, errors):
        limit = shape.metadata.get("max")
        if limit is not None and value > limit:
            errors.report(name, "too large", param=value, max=limit, what=what)


def coerce(text, shape):
    """A string from a URI, query string or header, as the Python value of `shape`'s type.
    Unparseable values stay strings, so the validator reports them."""
    kind = shape.type_name
    if kind in ("integer", "long") and re.fullmatch(r"-?\d+", text):
        return int(text)
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def from_wire(value, shape):
    """A JSON value with its structures' keys renamed from wire names to member names (unknown
    keys stay, for the validator to report)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict) and not getattr(shape, "is_document_type", False):
        names = {m.serialization.get("name", k): k for k, m in shape.members.items()}
        out = {}
        for key, item in value.items():
            member = names.get(key)
            out[member or key] = from_wire(item, shape.members[member]) if member else item
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [from_wire(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: from_wire(v, shape.value) for k, v in value.items()}
    return value


def flat_form(environ, body):
    """Query-protocol parameters: the query string and a form body, one value per name."""
    form = {}
    for source in (environ.get("QUERY_STRING", ""), body.decode("utf-8", "replace")):
        for k, v in parse_qsl(source, keep_blank_values=True):
            form.setdefault(k, v)
    return form


class Route:
    """One rest-json operation's method and URI template, compiled."""

    def __init__(self, op_model):
        self.op = op_model
        self.method = op_model.http["method"]
        template, _, query = op_model.http["requestUri"].partition("?")
        self.literal_query = [q.split("=")[0] for q in query.split("&") if q]
        self.labels = []
        pattern = ""
        for part in re.split(r"(\{[^}]+\})", template):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                self.labels.append(label.rstrip("+"))
                pattern += "(.+)" if greedy else "([^/]+)"
            else:
                pattern += re.escape(part)
        self.regex = re.compile(f"^{pattern}$")
        # The most literal template wins: /clusters/{name}/updates before /clusters/{name}/{x}.
        self.specificity = len(re.sub(r"\{[^}]+\}", "", template))

    def match(self, method, path, query_keys):
        if method != self.method or any(q not in query_keys for q in self.literal_query):
            return None
        m = self.regex.match(path)
        return dict(zip(self.labels, (unquote(g) for g in m.groups()))) if m else None


class Models:
    """botocore's service models, loaded on first use, and what they say about a request."""

    def __init__(self):
        self._session = botocore.session.get_session()
        self._lock = threading.Lock()
        self._models = {}
        self._routes = {}
        self._validator = StrictValidator()

    def service_model(self, name):
        with self._lock:
            if name not in self._models:
                try:
                    self._models[name] = self._session.get_service_model(name)
                except UnknownServiceError:
                    self._models[name] = None
            return self._models[name]

    def routes(self, model):
        with self._lock:
            name = model.service_name
            if name not in self._routes:
                routes = [Route(model.operation_model(op)) for op in model.operation_names]
                # Ties (S3's /{Bucket} and /{Bucket}?tagging) go to the most literal query.
                self._routes[name] = sorted(routes, key=lambda r: (-r.specificity, -len(r.literal_query)))
            return self._routes[name]

    def knows(self, name):
        """Whether the call name "service:Operation" names an operation of a published model."""
        service, _, op = name.partition(":")
        model = self.service_model(MODEL_NAMES.get(service, service))
        return model is not None and op in model.operation_names

    # -- identification ---------------------------------------------------------------------
    def identify(self, environ, body):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        call = Call(service="unknown", op=f"{method} {path}")
        m = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if m:
            call.access_key, call.region, signing = m.groups()
        else:
            presigned = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential", "")
            p = PRESIGNED_SCOPE.match(presigned)
            if not p:
                call.unknown = "the request is not signed with SigV4, so its service is unknown"
                return call
            call.access_key, call.region, signing = p.groups()
        call.service = signing
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        form = None
        if signing == "elasticloadbalancing":
            form = flat_form(environ, body)
            model_name = ELB_VERSIONS.get(form.get("Version", ""))
            if not model_name:
                call.op = form.get("Action", call.op)
                call.params = form
                call.unknown = f"elasticloadbalancing API version {form.get('Version')!r} is neither ELB classic (2012-06-01) nor ELBv2 (2015-12-01)"
                return call
            call.service = model_name
        else:
            model_name = MODEL_NAMES.get(signing, signing)
        model = self.service_model(model_name)
        if model is None:
            call.unknown = f"botocore has no model for service {signing!r}"
            return call
        call.protocol = model.metadata.get("protocol", "")
        if target:
            return self._json(call, model, target, body)
        if call.protocol in ("query", "ec2"):
            return self._query(call, model, form if form is not None else flat_form(environ, body))
        if call.protocol == "rest-json":
            return self._rest_json(call, model, environ, body)
        if call.protocol == "rest-xml":
            return self._rest_xml(call, model, environ)
        if call.protocol == "json":
            call.unknown = f"{signing} speaks json, but the request has no X-Amz-Target"
        else:
            call.unknown = f"{signing} speaks {call.protocol}, which this layer does not read"
        return call

    def _json(self, call, model, target, body):
        call.protocol = "json"
        prefix, _, op = target.rpartition(".")
        call.op = op or target
        if prefix != model.metadata.get("targetPrefix") or op not in model.operation_names:
            call.unknown = f"{model.service_name} has no operation for X-Amz-Target {target!r}"
            return call
        call.model = model.operation_model(op)
        try:
            doc = json.loads(body or b"{}")
        except ValueError as e:
            call.problems = [f"the body is not JSON: {e}"]
            return call
        if not isinstance(doc, dict):
            call.problems = ["the body is not a JSON object"]
            return call
        call.params = from_wire(doc, call.model.input_shape)
        self._validate(call)
        return call

    def _query(self, call, model, form):
        call.params = form
        call.op = form.get("Action", call.op)
        if "Action" not in form:
            call.unknown = "the request has no Action parameter"
        elif call.op not in model.operation_names:
            call.unknown = f"{model.service_name} has no operation {call.op!r}"
        else:
            call.model = model.operation_model(call.op)
        return call

    def _rest_json(self, call, model, environ, body):
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        raw = re.sub(r"^[a-z]+://[^/]+", "", raw)
        path = raw.partition("?")[0]
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        query_keys = {k for k, _ in query}
        method = environ["REQUEST_METHOD"]
        for route in self.routes(model):
            labels = route.match(method, path, query_keys)
            if labels is not None:
                break
        else:
            call.unknown = f"{model.service_name} has no operation at {method} {path}"
            return call
        call.op, call.model = route.op.name, route.op
        shape = route.op.input_shape
        params, problems = {}, []
        members = shape.members if shape is not None else {}
        by_location = {}
        for member_name, member in members.items():
            loc = member.serialization.get("location")
            if loc:
                by_location[(loc, member.serialization.get("name", member_name))] = (member_name, member)
        for label, value in labels.items():
            member_name, member = by_location[("uri", label)]
            params[member_name] = coerce(value, member)
        for key, value in query:
            if key in route.literal_query or key.startswith("X-Amz-"):
                continue
            found = by_location.get(("querystring", key))
            if not found:
                problems.append(f"Unknown query string parameter {key!r} for {call.op}")
                continue
            member_name, member = found
            if member.type_name == "list":
                params.setdefault(member_name, []).append(coerce(value, member.member))
            else:
                params[member_name] = coerce(value, member)
        for (loc, wire), (member_name, member) in by_location.items():
            if loc == "header":
                value = environ.get("HTTP_" + wire.upper().replace("-", "_"))
                if value is not None:
                    params[member_name] = coerce(value, member)
        payload = shape.serialization.get("payload") if shape is not None else None
        if body:
            try:
                doc = json.loads(body)
            except ValueError as e:
                doc = None
                if payload is None or members[payload].type_name == "structure":
                    problems.append(f"the body is not JSON: {e}")
            if payload:
                params[payload] = from_wire(doc, members[payload]) if members[payload].type_name == "structure" else body.decode("utf-8", "replace")
            elif isinstance(doc, dict):
                wire_names = {m.serialization.get("name", k): k for k, m in members.items() if not m.serialization.get("location")}
                for key, value in doc.items():
                    member_name = wire_names.get(key)
                    if member_name is None:
                        if key in params or key in members:
                            problems.append(f"Unknown parameter in body: {key!r} (it belongs in the URI, query string or headers)")
                            continue
                        params[key] = value  # reported as an unknown field by the validator
                    else:
                        params[member_name] = from_wire(value, members[member_name])
            elif doc is not None:
                problems.append("the body is not a JSON object")
        call.params = params
        call.problems = problems
        self._validate(call)
        return call

    def _rest_xml(self, call, model, environ):
        """S3 (path-style): the operation from the method, path and literal query keys; the
        XML bodies are not validated, as for the query protocols."""
        path = environ.get("PATH_INFO", "") or "/"
        if path.count("/") == 2 and path.endswith("/"):
            path = path[:-1]  # the SDKs address a bucket as /BUCKET/
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        query_keys = {k for k, _ in query}
        method = environ["REQUEST_METHOD"]
        for route in self.routes(model):
            labels = route.match(method, path, query_keys)
            if labels is not None:
                call.op, call.model = route.op.name, route.op
                call.params = dict(labels, **{k: v for k, v in query if not k.startswith("X-Amz-")})
                return call
        call.unknown = f"{model.service_name} has no operation at {method} {path}"
        return call

    def _validate(self, call):
        shape = call.model.input_shape
        if shape is None:
            if call.params:
                call.problems.append(f"{call.op} takes no parameters, got {sorted(call.params)}")
            return
        report = self._validator.validate(call.params, shape)
        if report.has_errors():
            call.problems.extend(report.generate_report().split("\n"))


def validation_error_code(call):
    """The error a service answers an invalid request with (EKS: InvalidParameterException)."""
    if call.service == "eks":
        return "InvalidParameterException"
    names = [e.name for e in (call.model.error_shapes if call.model else [])]
    for code in ("InvalidParameterException", "ValidationException", "InvalidParameterValueException", "IllegalArgumentException", "InvalidRequestException"):
        if code in names:
            return code
    return "ValidationException"
