#!/usr/bin/env python3
"""moto, plus what it lacks, for hoist's AWS tests. Listens on 127.0.0.1 only.

    python3 tests/aws/fake_aws.py        # prints the port it listens on, then serves

moto (an independent AWS emulator, 5.2.1) answers EC2, IAM, STS, EKS, Auto Scaling, ELB, ELBv2
and CloudWatch Logs. This WSGI layer in front of it makes the whole behave as AWS documents it, and
fails loudly on anything it does not know:

  * Every request is named from botocore's published API models (layer_model.py): the service
    from the SigV4 scope (ELB classic and ELBv2 by their Version: "elb:", "elbv2:"), the operation
    from X-Amz-Target, the Action parameter, or the method and URI template. Requests to JSON and
    REST-JSON services (EKS, Logs, Service Quotas, ...) are validated against the operation's input
    shape, also when moto answers them: invalid ones get 400 in the service's error shape (EKS:
    InvalidParameterException). Invalid requests, unidentifiable ones, and moto answers that are
    5xx, "not implemented" or missing routes are recorded as errors.
  * EKS (layer_eks.py, layer_eks_access.py): what CreateCluster sends that moto drops
    (accessConfig, ...), the cluster security group, cluster updates, access entries and policies,
    add-ons (coredns DEGRADED without nodes), node group Auto Scaling groups, pagination,
    CREATING/UPDATING for a few polls, stocked-out zones.
  * EC2 (layer_ec2.py): placement groups; DependencyViolation on deleting subnets, security groups
    and VPCs still in use; NAT gateways release their network interface.
  * Service Quotas GetServiceQuota for EC2 quotas (config "quotas", else 100000).
  * Faults on request: throttling, per-operation errors, roles not yet propagated, calls that
    hang until released.

Call names are "service:Operation", e.g. eks:CreateNodegroup, ec2:DescribeVpcs,
iam:GetAccountAuthorizationDetails, logs:CreateLogGroup, autoscaling:CreateOrUpdateTags,
elb:DescribeLoadBalancers, elbv2:DescribeLoadBalancers, servicequotas:GetServiceQuota.

Control (not AWS):
  POST /_hoist/config         JSON object, merged into the config; answers the whole config:
      "throttle": N                 the next N calls (any service) are throttled
      "throttle_ops": {"ec2:AssociateRouteTable": N}    the next N calls of that op are throttled
      "fail_ops": {"eks:CreateCluster": {"count": 1, "status": 500, "code": "ServerException",
                   "message": "..."}}   the next `count` calls of that op get that error
      "role_not_propagated": N      the next N eks:CreateCluster/eks:CreateNodegroup calls fail as
                                    when IAM has not yet propagated the role (400)
      "hang_ops": {"ec2:ModifyVpcAttribute": N}   the next N calls of that op are recorded, then
                                    wait for POST /_hoist/release (or 120 s), then proceed
      "creating_polls": N           describes that show a new resource CREATING (default 2)
      "stockout": {"us-east-1a": ["p4d.24xlarge"]}   node groups with those types there fail
      "stockout_ids": "subnets"     what the capacity issue names: the subnets (default) or
                                    "instances" (instance ids, as AWS also reports them)
      "quotas": {"L-417A185B": 96}  Service Quotas values
      "page_size": N                EKS lists answer at most N items per page (0 = off)
      "coredns_needs_nodes": bool   coredns DEGRADED while no node group has nodes (default true)
                              Unknown keys, wrong types, and fault tables naming an operation no
                              API model has, are refused (400). A call is recorded, validated,
                              held if it is to hang, then throttled or failed if due, then served.
  GET  /_hoist/config         the config (counters as they stand)
  GET  /_hoist/calls          ["ec2:DescribeVpcs", ...] since the last reset
  GET  /_hoist/requests       [{"op": "eks:CreateCluster", "params": {...}}, ...] since the last
                              reset: validated params (path params included) for JSON protocols,
                              the flat form ({"Action": ..., "ResourceId.1": ...}) for query ones
  POST /_hoist/calls/reset    clears calls and requests
  GET  /_hoist/errors         ["eks:CreateCluster: invalid parameters: ...", ...] since start
  POST /_hoist/errors/reset   clears errors
  POST /_hoist/release        lets every hanging call proceed: {"released": N}; with the body
                              {"drop": true} they are answered 500 and never reach moto
  GET  /_hoist/hanging        call names currently hanging
"""
import io
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.server import DomainDispatcherApplication, create_backend_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from layer_ec2 import Ec2  # noqa: E402
from layer_eks import Eks  # noqa: E402
from layer_http import error, json_answer, throttled  # noqa: E402
from layer_model import Models, validation_error_code  # noqa: E402

HANG_SECONDS = 120
# Config keys and the type of their values.
CONFIG_TYPES = {
    "throttle": int, "creating_polls": int, "stockout": dict, "quotas": dict, "page_size": int,
    "fail_ops": dict, "throttle_ops": dict, "role_not_propagated": int, "hang_ops": dict,
    "coredns_needs_nodes": bool, "stockout_ids": str,
}
NODE_ROLE_MESSAGE = "The provided role doesn't have the Amazon EKS Managed Policies associated with it. Please ensure the following policies [arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy, arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly] are attached"


class Layer:
    def __init__(self, app):
        self.app = app
        self.models = Models()
        self.lock = threading.Lock()  # the layer's own records and config
        self.world = threading.RLock()  # moto's backends and the modules' state: one call at a time
        self.released = threading.Condition(self.lock)
        self.release_generation = 0
        self.drop_released = False
        self.hanging = []
        self.calls, self.requests, self.errors = [], [], []
        self.config = {
            "throttle": 0, "creating_polls": 2, "stockout": {}, "quotas": {}, "page_size": 0,
            "fail_ops": {}, "throttle_ops": {}, "role_not_propagated": 0, "hang_ops": {},
            "coredns_needs_nodes": True, "stockout_ids": "subnets",
        }
        self.polls = {}
        self.eks = Eks(self)
        self.ec2 = Ec2(self)

    # -- shared with the modules ------------------------------------------------------------
    def record_error(self, message):
        with self.lock:
            self.errors.append(message)

    def creating(self, key):
        """True while `key` should still look CREATING (a few polls, as a real cloud takes time)."""
        with self.lock:
            left = self.polls.setdefault(key, self.config["creating_polls"])
            if left > 0:
                self.polls[key] = left - 1
                return True
            return False

    def call_moto(self, environ, body):
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured = {}

        def sr(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        data = b"".join(self.app(environ, sr))
        return captured["status"], captured["headers"], data

    def forwarder(self, call):
        """A function that passes the request to moto and records answers that betray a gap."""

        def forward(environ, body):
            try:
                status, headers, data = self.call_moto(environ, body)
            except Exception as e:  # moto's own failure (e.g. NotImplementedError), propagated
                message = f"moto failed: {type(e).__name__}: {e}"
                self.record_error(f"{call.name}: {message}")
                return error(call.protocol, 500, "InternalFailure", message)
            code = int(status.split()[0])
            text = data[:4000].decode("utf-8", "replace")
            lowered = text.lower()
            if code >= 500 or "not yet implemented" in lowered or "has not been implemented" in lowered:
                self.record_error(f"{call.name}: moto answered {status}: {' '.join(text.split())[:300]}")
            elif code == 404 and lowered.lstrip().startswith("<!doctype html"):
                self.record_error(f"{call.name}: moto has no route for {environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}")
            return status, headers, data

        return forward

    # -- faults -----------------------------------------------------------------------------
    def take(self, table, name):
        """Count down `table[name]` (a number or {"count": N, ...}); the entry if it was due."""
        entry = self.config[table].get(name)
        if entry is None:
            return None
        left = entry.get("count", 1) if isinstance(entry, dict) else entry
        if left <= 0:
            return None
        if left == 1:
            del self.config[table][name]
        elif isinstance(entry, dict):
            entry["count"] = left - 1
        else:
            self.config[table][name] = left - 1
        return entry

    def hold(self, call):
        """Wait for POST /_hoist/release if `call` is due to hang (it is already recorded).
        True when the release said to drop it: the call never reaches AWS, as when the client
        was killed before sending it."""
        with self.released:
            if not self.take("hang_ops", call.name):
                return False
            generation = self.release_generation
            self.hanging.append(call.name)
            deadline = time.monotonic() + HANG_SECONDS
            while self.release_generation == generation and time.monotonic() < deadline:
                self.released.wait(deadline - time.monotonic())
            self.hanging.remove(call.name)
            return self.drop_released

    def fault(self, call):
        """The injected answer for `call`, if one is due."""
        with self.lock:
            if self.config["throttle"] > 0:
                self.config["throttle"] -= 1
                return throttled(call.protocol)
            if self.take("throttle_ops", call.name):
                return throttled(call.protocol)
            failure = self.take("fail_ops", call.name)
            if failure is not None:
                f = failure if isinstance(failure, dict) else {}
                return error(call.protocol, int(f.get("status", 500)), f.get("code", "InternalFailure"), f.get("message", f"injected failure of {call.name}"))
            if call.name in ("eks:CreateCluster", "eks:CreateNodegroup") and self.config["role_not_propagated"] > 0:
                self.config["role_not_propagated"] -= 1
                if call.op == "CreateCluster":
                    message = f"Role with arn: {call.params.get('roleArn')} could not be assumed because it does not exist or the trusted entity is not correct"
                else:
                    message = NODE_ROLE_MESSAGE
                return error(call.protocol, 400, "InvalidParameterException", message)
        return None

    # -- what moto lacks that is not EKS or EC2 ---------------------------------------------
    def quota(self, call):
        code = call.params.get("QuotaCode", "")
        value = float(self.config["quotas"].get(code, 100000))
        return json_answer(200, {"Quota": {"ServiceCode": call.params.get("ServiceCode", "ec2"), "QuotaCode": code, "QuotaName": code, "Value": value, "Unit": "None", "Adjustable": True, "GlobalQuota": False}})

    # -- WSGI -------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_hoist/"):
            status, headers, data = self.control(environ, path, body)
        else:
            status, headers, data = self.serve(environ, body)
        start_response(status, headers)
        return [data]

    def serve(self, environ, body):
        call = self.models.identify(environ, body)
        with self.lock:
            self.calls.append(call.name)
            self.requests.append({"op": call.name, "params": call.params})
        if call.unknown:
            self.record_error(f"{call.name}: {call.unknown}")
            if call.protocol in ("query", "ec2"):
                return error(call.protocol, 400, "InvalidAction", f"The action {call.op} is not valid for this web service.")
            return error(call.protocol or "rest-json", 404 if call.protocol == "rest-json" else 400, "UnknownOperationException", call.unknown)
        if call.problems:
            self.record_error(f"{call.name}: invalid parameters: " + "; ".join(call.problems))
            return error(call.protocol, 400, validation_error_code(call), "; ".join(call.problems))
        if self.hold(call):
            return error(call.protocol, 500, "InternalFailure", f"{call.name} was dropped (its client was gone)")
        injected = self.fault(call)
        if injected is not None:
            return injected
        forward = self.forwarder(call)
        with self.world:
            if call.name == "servicequotas:GetServiceQuota":
                return self.quota(call)
            module = {"eks": self.eks, "ec2": self.ec2}.get(call.service)
            answer = module.handle(call, environ, body, forward) if module else None
            return answer if answer is not None else forward(environ, body)

    def check_config(self, update):
        """Refuse config the layer would not understand: unknown keys, wrong types, and fault
        tables naming operations that no published API model has (a typo would never fire)."""
        assert isinstance(update, dict), "the config is a JSON object"
        for key, value in update.items():
            assert key in CONFIG_TYPES, f"unknown config key {key!r}; known: {', '.join(sorted(CONFIG_TYPES))}"
            kind = CONFIG_TYPES[key]
            assert isinstance(value, kind) and (kind is bool or not isinstance(value, bool)), f"{key} takes a {kind.__name__}"
            if key in ("fail_ops", "throttle_ops", "hang_ops"):
                for name, entry in value.items():
                    assert self.models.knows(name), f"{key}: {name!r} is not a call name like eks:CreateCluster"
                    if key == "fail_ops":
                        assert isinstance(entry, dict) and set(entry) <= {"count", "status", "code", "message"}, f"fail_ops[{name!r}] takes count, status, code and message"
                    else:
                        assert isinstance(entry, int), f"{key}[{name!r}] takes a count"

    def control(self, environ, path, body):
        method = environ["REQUEST_METHOD"]
        if path == "/_hoist/config" and method == "POST":
            try:
                update = json.loads(body or b"{}")
                self.check_config(update)
            except (ValueError, AssertionError) as e:
                return json_answer(400, {"message": str(e)})
            with self.lock:
                self.config.update(update)
                return json_answer(200, self.config)
        with self.lock:
            if path == "/_hoist/config":
                return json_answer(200, self.config)
            if path == "/_hoist/calls/reset":
                self.calls, self.requests = [], []
                return json_answer(200, {})
            if path == "/_hoist/calls":
                return json_answer(200, self.calls)
            if path == "/_hoist/requests":
                return json_answer(200, self.requests)
            if path == "/_hoist/errors/reset":
                self.errors = []
                return json_answer(200, {})
            if path == "/_hoist/errors":
                return json_answer(200, self.errors)
            if path == "/_hoist/hanging":
                return json_answer(200, self.hanging)
            if path == "/_hoist/release" and method == "POST":
                released = len(self.hanging)
                self.drop_released = bool(json.loads(body or b"{}").get("drop", False))
                self.release_generation += 1
                self.released.notify_all()
                return json_answer(200, {"released": released})
        return json_answer(404, {"message": "unknown control path"})


def backend_app(service):
    """moto's app for `service`, letting unexpected exceptions reach the layer (not an HTML 500)."""
    app = create_backend_app(service)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    return app


def main():
    app = Layer(DomainDispatcherApplication(backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
