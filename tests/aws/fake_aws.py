#!/usr/bin/env python3
"""moto, plus what it lacks, for hoist's AWS tests. Listens on 127.0.0.1 only.

    python3 tests/aws/fake_aws.py        # prints the port it listens on, then serves

moto (an independent AWS emulator) answers EC2, IAM and EKS. This thin WSGI layer in front of it
adds, as AWS documents them: EKS add-ons (Create/Describe/Delete/ListAddons), clusters and node
groups that stay CREATING for a few polls, Service Quotas GetServiceQuota for EC2 GPU quotas,
and, on request, throttling errors and zone stockouts (a node group with a subnet in a stocked-out
zone goes CREATE_FAILED with an InsufficientInstanceCapacity health issue). It records every
call so tests can count them.

Control (not AWS): POST /_hoist/config with JSON {"throttle": N, "creating_polls": N,
"stockout": {"us-east-1a": ["p4d.24xlarge"]}, "quotas": {"L-417A185B": 96}}; GET /_hoist/calls;
POST /_hoist/calls/reset.
"""
import io
import json
import os
import re
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.server import DomainDispatcherApplication, create_backend_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

ACCOUNT = "123456789012"
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")
EKS_ROUTES = [
    ("POST", r"^/clusters$", "CreateCluster"),
    ("GET", r"^/clusters$", "ListClusters"),
    ("GET", r"^/clusters/[^/]+$", "DescribeCluster"),
    ("DELETE", r"^/clusters/[^/]+$", "DeleteCluster"),
    ("POST", r"^/clusters/[^/]+/updates$", "UpdateClusterVersion"),
    ("POST", r"^/clusters/[^/]+/update-config$", "UpdateClusterConfig"),
    ("POST", r"^/clusters/[^/]+/node-groups$", "CreateNodegroup"),
    ("GET", r"^/clusters/[^/]+/node-groups$", "ListNodegroups"),
    ("GET", r"^/clusters/[^/]+/node-groups/[^/]+$", "DescribeNodegroup"),
    ("DELETE", r"^/clusters/[^/]+/node-groups/[^/]+$", "DeleteNodegroup"),
    ("POST", r"^/clusters/[^/]+/node-groups/[^/]+/update-config$", "UpdateNodegroupConfig"),
    ("POST", r"^/clusters/[^/]+/addons$", "CreateAddon"),
    ("GET", r"^/clusters/[^/]+/addons$", "ListAddons"),
    ("GET", r"^/clusters/[^/]+/addons/[^/]+$", "DescribeAddon"),
    ("DELETE", r"^/clusters/[^/]+/addons/[^/]+$", "DeleteAddon"),
]


def json_response(start_response, status, body, headers=()):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))] + list(headers))
    return [data]


class Layer:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.calls = []
        self.config = {"throttle": 0, "creating_polls": 2, "stockout": {}, "quotas": {}}
        self.addons = {}
        self.polls = {}

    # -- helpers ---------------------------------------------------------------------------
    def action(self, environ, body):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = SCOPE.search(auth)
        service = m.group(2) if m else "unknown"
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            return service, target.split(".")[-1]
        if service == "eks":
            method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
            for verb, pattern, name in EKS_ROUTES:
                if verb == method and re.match(pattern, path):
                    return service, name
            return service, f"{method} {path}"
        form = parse_qs(body.decode("utf-8", "replace"))
        return service, form.get("Action", ["?"])[0]

    def throttled(self, service, start_response):
        if service in ("ec2",):
            xml = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>throttle</RequestID></Response>"
            start_response("503 Service Unavailable", [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
            return [xml]
        if service in ("iam", "sts"):
            xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>throttle</RequestId></ErrorResponse>"
            start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
            return [xml]
        return json_response(start_response, "429 Too Many Requests", {"message": "Rate exceeded"}, [("x-amzn-errortype", "ThrottlingException")])

    def creating(self, key):
        """True while `key` should still look CREATING (a few polls, as a real cloud takes time)."""
        with self.lock:
            left = self.polls.setdefault(key, self.config["creating_polls"])
            if left > 0:
                self.polls[key] = left - 1
                return True
            return False

    def zone_of(self, subnet_id):
        from moto.ec2.models import ec2_backends
        for region, backend in ec2_backends[ACCOUNT].items():
            try:
                return backend.get_subnet(subnet_id).availability_zone
            except Exception:
                continue
        return None

    def call_moto(self, environ, body):
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured = {}

        def sr(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        data = b"".join(self.app(environ, sr))
        return captured["status"], captured["headers"], data

    # -- what moto lacks ---------------------------------------------------------------------
    def addon_call(self, name, environ, body, start_response):
        path = environ.get("PATH_INFO", "").split("/")
        cluster = path[2]
        if name == "ListAddons":
            return json_response(start_response, "200 OK", {"addons": sorted(a for (c, a) in self.addons if c == cluster)})
        if name == "CreateAddon":
            req = json.loads(body or b"{}")
            addon = req["addonName"]
            with self.lock:
                if (cluster, addon) not in self.addons:
                    self.addons[(cluster, addon)] = {
                        "addonName": addon,
                        "clusterName": cluster,
                        "addonVersion": "v1.0.0-eksbuild.1",
                        "addonArn": f"arn:aws:eks:us-east-1:{ACCOUNT}:addon/{cluster}/{addon}/{uuid.uuid4()}",
                        "tags": req.get("tags", {}),
                        "createdAt": time.time(),
                    }
            return json_response(start_response, "200 OK", {"addon": dict(self.addons[(cluster, addon)], status="CREATING")})
        addon = path[4]
        found = self.addons.get((cluster, addon))
        if found is None:
            return json_response(start_response, "404 Not Found", {"message": f"No addon: {addon} found in cluster: {cluster}"}, [("x-amzn-errortype", "ResourceNotFoundException")])
        if name == "DeleteAddon":
            with self.lock:
                self.addons.pop((cluster, addon), None)
            return json_response(start_response, "200 OK", {"addon": dict(found, status="DELETING")})
        status = "CREATING" if self.creating(("addon", cluster, addon)) else "ACTIVE"
        return json_response(start_response, "200 OK", {"addon": dict(found, status=status)})

    def quota(self, body, start_response):
        req = json.loads(body or b"{}")
        code = req.get("QuotaCode", "")
        value = float(self.config["quotas"].get(code, 100000))
        return json_response(start_response, "200 OK", {"Quota": {"ServiceCode": req.get("ServiceCode", "ec2"), "QuotaCode": code, "QuotaName": code, "Value": value, "Unit": "None", "Adjustable": True, "GlobalQuota": False}})

    def rewrite(self, name, data):
        """CREATING for a few polls; stocked-out zones fail node groups as AWS reports it."""
        try:
            doc = json.loads(data)
        except ValueError:
            return data
        if name == "DescribeCluster" and "cluster" in doc:
            c = doc["cluster"]
            if self.creating(("cluster", c["name"])):
                c["status"] = "CREATING"
        if name == "DescribeNodegroup" and "nodegroup" in doc:
            ng = doc["nodegroup"]
            types = ng.get("instanceTypes") or []
            short = [s for s in ng.get("subnets", []) if any(t in self.config["stockout"].get(self.zone_of(s) or "", []) for t in types)]
            if short:
                ng["status"] = "CREATE_FAILED"
                ng["health"] = {"issues": [{"code": "InsufficientInstanceCapacity", "message": "We currently do not have sufficient capacity in the Availability Zone you requested.", "resourceIds": short}]}
            elif self.creating(("nodegroup", ng["clusterName"], ng["nodegroupName"])):
                ng["status"] = "CREATING"
        return json.dumps(doc).encode()

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_hoist/"):
            return self.control(environ, path, body, start_response)
        service, name = self.action(environ, body)
        with self.lock:
            self.calls.append(f"{service}:{name}")
            throttle = self.config["throttle"] > 0
            if throttle:
                self.config["throttle"] -= 1
        if throttle:
            return self.throttled(service, start_response)
        if service == "eks" and name in ("CreateAddon", "DescribeAddon", "DeleteAddon", "ListAddons"):
            return self.addon_call(name, environ, body, start_response)
        if name == "GetServiceQuota":
            return self.quota(body, start_response)
        status, headers, data = self.call_moto(environ, body)
        if service == "eks" and name in ("DescribeCluster", "DescribeNodegroup") and status.startswith("200"):
            data = self.rewrite(name, data)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(data)))]
        start_response(status, headers)
        return [data]

    def control(self, environ, path, body, start_response):
        if path == "/_hoist/config" and environ["REQUEST_METHOD"] == "POST":
            with self.lock:
                self.config.update(json.loads(body or b"{}"))
            return json_response(start_response, "200 OK", self.config)
        if path == "/_hoist/calls/reset":
            with self.lock:
                self.calls = []
            return json_response(start_response, "200 OK", {})
        if path == "/_hoist/calls":
            return json_response(start_response, "200 OK", self.calls)
        return json_response(start_response, "404 Not Found", {"message": "unknown control path"})


def main():
    app = Layer(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
