"""Tests of fake_gcp: replay of recorded real exchanges (part of test_fake.py's run).

Why: each recorded exchange (./http-logs, from Config Connector's golden logs;
see SOURCES.md) is what real Google answered to a request, so the fake must
answer the same request with the same status code and, for the keys it
models, the same top-level keys with the same JSON types.
"""

import json
import os
import re
import uuid

import container_model
from test_harness import HERE, FakeTest


LOG_DIR = os.path.join(HERE, "http-logs")
REAL_HOSTS = re.compile(r"^https://(container|compute|storage)\.googleapis\.com")

COMPUTE_OP_KEYS = {"id", "insertTime", "kind", "name", "operationType", "progress", "selfLink", "startTime",
                   "status", "targetId", "targetLink", "user", "endTime", "region"}
# Keys of each answer the fake models; the recorded answer may have more (set by real Google).
MODELLED = {
    "container.projects.locations.clusters.create": container_model.OPERATION_KEYS,
    "container.projects.locations.clusters.update": container_model.OPERATION_KEYS,
    "container.projects.locations.clusters.delete": container_model.OPERATION_KEYS,
    "container.projects.locations.clusters.nodePools.create": container_model.OPERATION_KEYS,
    "container.projects.locations.clusters.nodePools.delete": container_model.OPERATION_KEYS,
    "container.projects.locations.operations.get": container_model.OPERATION_KEYS,
    "container.projects.locations.clusters.get": container_model.CLUSTER_KEYS,
    "container.projects.locations.clusters.nodePools.get": container_model.POOL_KEYS,
    "container.projects.locations.clusters.nodePools.list": {"nodePools"},
    "compute.networks.insert": COMPUTE_OP_KEYS,
    "compute.networks.delete": COMPUTE_OP_KEYS,
    "compute.subnetworks.insert": COMPUTE_OP_KEYS,
    "compute.subnetworks.delete": COMPUTE_OP_KEYS,
    "compute.globalOperations.wait": COMPUTE_OP_KEYS,
    "compute.regionOperations.wait": COMPUTE_OP_KEYS,
    "compute.networks.get": {"autoCreateSubnetworks", "creationTimestamp", "id", "kind", "name",
                             "networkFirewallPolicyEnforcementOrder", "routingConfig", "selfLink", "selfLinkWithId"},
    "compute.subnetworks.get": {"creationTimestamp", "fingerprint", "gatewayAddress", "id", "ipCidrRange", "kind",
                                "name", "network", "privateIpGoogleAccess", "privateIpv6GoogleAccess", "purpose",
                                "region", "selfLink", "stackType", "state"},
    "storage.buckets.insert": None,     # None: every key of the recorded answer
    "storage.buckets.get": None,
    "storage.buckets.list": None,
}
ITEM_KEYS = {"container.projects.locations.clusters.nodePools.list": ("nodePools", container_model.POOL_KEYS),
             "storage.buckets.list": ("items", None)}


def parse_log(path):
    """The exchanges of a normalised KCC log: request line, headers, body; status, headers, body."""
    out = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for part in text.split("\n---\n\n"):
        lines = part.rstrip("\n").split("\n")
        method, url = lines[0].split(" ", 1)
        i = 1
        while lines[i]:
            i += 1
        j = i + 1
        while not re.match(r"^\d{3} ", lines[j]):
            j += 1
        req_body = "\n".join(lines[i + 1:j]).strip()
        status = int(lines[j].split()[0])
        k = j + 1
        while k < len(lines) and lines[k]:
            k += 1
        resp_body = "\n".join(lines[k + 1:]).strip()
        out.append({"method": method, "url": url, "body": req_body, "status": status,
                    "response": json.loads(resp_body) if resp_body else None})
    return out


def json_kind(v):
    return type(v).__name__ if not isinstance(v, bool) else "bool"


class ReplayTests(FakeTest):
    def replay(self, log):
        self.f.control("POST", "config", {"polls": 0})
        uid = uuid.uuid4().hex[:6]
        subs = {"${projectId}": self.project, "${uniqueId}": uid, "${networkID}": "net-" + uid,
                "${subnetworkID}": "sub-" + uid}
        last_op = None
        for n, ex in enumerate(parse_log(os.path.join(LOG_DIR, log))):
            def sub(text):
                for k, v in subs.items():
                    text = text.replace(k, v)
                return text.replace("${operationID}", last_op or "")
            url = REAL_HOSTS.sub("", sub(ex["url"]))
            body = json.loads(sub(ex["body"])) if ex["body"] else None
            status, got = self.f.call(ex["method"], url, body)
            where = "%s exchange %d: %s %s" % (log, n, ex["method"], url)
            self.assertEqual(status, ex["status"], "%s: %s" % (where, got))
            call = self.f.control("GET", "requests")[-1]["call"]
            if isinstance(got, dict) and "operationType" in got:
                last_op = got["name"]
            if ex["response"] is None:
                self.assertIn(got, (b"", None), where)
                continue
            self.compare(ex["response"], got, MODELLED[call], where)
            if call in ITEM_KEYS:
                field, keys = ITEM_KEYS[call]
                for want, have in zip(ex["response"][field], got[field]):
                    self.compare(want, have, keys, where + " " + field)

    def compare(self, want, got, modelled, where):
        wk = set(want) if modelled is None else set(want) & modelled
        gk = set(got) if modelled is None else set(got) & modelled
        self.assertEqual(sorted(wk), sorted(gk), "%s: top-level keys differ" % where)
        for k in wk:
            self.assertEqual(json_kind(want[k]), json_kind(got[k]), "%s: type of %s" % (where, k))

    def test_replay_gke_clusters_crud(self):
        self.replay("gke-clusters-crud.http.log")

    def test_replay_gke_nodepool_crud(self):
        self.replay("gke-nodepool-crud.http.log")

    def test_replay_compute_network_crud(self):
        self.replay("compute-network-crud.http.log")

    def test_replay_compute_subnetwork_crud(self):
        self.replay("compute-subnetwork-crud.http.log")

    def test_replay_storage_bucket_crud(self):
        self.replay("storage-bucket-crud.http.log")
