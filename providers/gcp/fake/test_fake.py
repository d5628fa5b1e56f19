#!/usr/bin/env python3
"""Tests of fake_gcp (stdlib unittest; run: python3 providers/gcp/fake/test_fake.py).

Why these tests: hoist's end-to-end tests trust the fake to accept what
Google accepts, refuse what Google refuses and answer in Google's shapes.  So
besides the modelled behaviour (operations, stockouts, quotas, faults, TPU
rules, VPC ordering rules, bucket rules) they replay the request bodies of
recorded real exchanges (./http-logs, from Config Connector's golden logs)
and compare the shapes of the answers, and drive the real gcloud CLI against
the fake.

One fake server is started for the whole run and reset before each test.

This file runs every test: the replay tests are in test_fake_replay.py, the
gcloud test in test_fake_gcloud.py, the node pool / instance group size tests
in test_fake_igm.py, and the fake as a subprocess with the
base test class in test_harness.py; their test classes are imported here so
that ``python3 providers/gcp/fake/test_fake.py`` stays the one command.
"""

import os
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import discovery  # noqa: E402
from test_harness import FakeTest, stop_shared_fake  # noqa: E402
# Imported so that unittest.main() below finds and runs them too.
from test_fake_gcloud import GcloudTests  # noqa: E402,F401
from test_fake_igm import InstanceGroupTests  # noqa: E402,F401
from test_fake_replay import ReplayTests  # noqa: E402,F401


class ContainerTests(FakeTest):
    def test_cluster_lifecycle_and_recording(self):
        body = {"cluster": {"name": "c1", "resourceLabels": {"hoist-env": "dev"},
                            "releaseChannel": {"channel": 3},
                            "workloadIdentityConfig": {"workloadPool": "%s.svc.id.goog" % self.project},
                            "ipAllocationPolicy": {"useIpAliases": True},
                            "privateClusterConfig": {"enablePrivateNodes": True, "masterIpv4CidrBlock": "172.16.0.0/28"},
                            "nodePools": [{"name": "cpu", "initialNodeCount": 2,
                                           "config": {"machineType": "e2-standard-4"}}]},
                "parent": "projects/%s/locations/us-central1" % self.project}
        s, op = self.gke("POST", "/clusters", body, query={"$alt": "json"})
        self.assertEqual(s, 200, op)
        self.assertRegex(op["name"], r"^operation-\d+-[0-9a-f]+$")
        self.assertEqual((op["operationType"], op["status"]), ("CREATE_CLUSTER", "RUNNING"))
        self.assertTrue(op["selfLink"].endswith("/operations/" + op["name"]))
        self.assertTrue(op["targetLink"].endswith("/clusters/c1"))
        s, c = self.gke("GET", "/clusters/c1", query={"$alt": "json"})
        self.assertEqual(c["status"], "PROVISIONING")
        statuses = [self.gke("GET", "/operations/" + op["name"], query={"$alt": "json"})[1]["status"]
                    for _ in range(3)]
        self.assertEqual(statuses, ["RUNNING", "RUNNING", "DONE"])   # polls = 2
        s, c = self.gke("GET", "/clusters/c1", query={"$alt": "json"})
        self.assertEqual(c["status"], "RUNNING")
        self.assertEqual(c["locations"], ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"])
        self.assertEqual(c["resourceLabels"], {"hoist-env": "dev"})
        self.assertEqual(c["releaseChannel"], {"channel": "STABLE"})
        self.assertEqual(c["privateClusterConfig"]["privateEndpoint"], "172.16.0.2")
        self.assertEqual(c["currentNodeCount"], 8)
        self.assertTrue(c["endpoint"] and c["masterAuth"]["clusterCaCertificate"])
        self.assertEqual(c["nodePools"][0]["instanceGroupUrls"][0].split("/zones/")[1].split("/")[0], "us-central1-a")
        # The SDK's $alt=json;enum-encoding=int gets numbers back, as Google's front end does.
        s, c = self.gke("GET", "/clusters/c1")
        self.assertEqual((c["status"], c["releaseChannel"]["channel"]), (2, 3))
        reqs = self.f.control("GET", "requests")
        self.assertEqual(reqs[0]["call"], "container.projects.locations.clusters.create")
        self.assertEqual(reqs[0]["authorization"], "Bearer fake-token")
        self.assertEqual(reqs[0]["status"], 200)
        self.assertEqual(reqs[0]["problems"], [])
        # Delete: STOPPING, then gone with its pools.
        s, op = self.gke("DELETE", "/clusters/c1")
        self.assertEqual(op["operationType"], 2)   # DELETE_CLUSTER by number
        self.assertEqual(self.gke("GET", "/clusters/c1", query={"$alt": "json"})[1]["status"], "STOPPING")
        self.wait_gke(op)
        s, err = self.gke("GET", "/clusters/c1")
        self.assertEqual(s, 404)
        self.assertEqual(err["error"]["status"], "NOT_FOUND")
        self.assertEqual(err["error"]["errors"][0]["reason"], "notFound")

    def test_default_pool_and_create_rules(self):
        s, err = self.gke("POST", "/clusters", {"cluster": {"name": "c0"}})
        self.assertEqual(s, 400)
        self.assertIn("initial_node_count must be greater than zero", err["error"]["message"])
        s, err = self.gke("POST", "/clusters", {"cluster": {"name": "Bad_Name", "initialNodeCount": 1}})
        self.assertEqual(s, 400)
        s, err = self.gke("POST", "/clusters", {"cluster": {"name": "c2", "initialNodeCount": 1,
                                                            "network": "nope"}})
        self.assertEqual(s, 400)
        self.assertIn('Network "nope" does not exist', err["error"]["message"])
        self.make_cluster("c1", loc="europe-west4-b", pools=None)
        s, op = self.gke("POST", "/clusters", {"cluster": {"name": "c3", "initialNodeCount": 2,
                                                           "nodeConfig": {"machineType": "n2-standard-8"}}},
                         loc="us-east1")
        self.wait_gke(op, "us-east1")
        s, c = self.gke("GET", "/clusters/c3", loc="us-east1", query={"$alt": "json"})
        self.assertEqual([p["name"] for p in c["nodePools"]], ["default-pool"])
        self.assertEqual(c["nodePools"][0]["config"]["machineType"], "n2-standard-8")
        self.assertEqual(c["locations"], ["us-east1-a", "us-east1-b", "us-east1-c"])
        s, dup = self.gke("POST", "/clusters", {"cluster": {"name": "c3", "initialNodeCount": 1}}, loc="us-east1")
        self.assertEqual((s, dup["error"]["status"]), (409, "ALREADY_EXISTS"))
        # A region lists its zonal clusters too; "-" lists everything.
        s, lst = self.gke("GET", "/clusters", loc="-")
        self.assertEqual(sorted(c["name"] for c in lst["clusters"]), ["c1", "c3"])

    def test_unknown_field_is_rejected_and_recorded(self):
        self.expect_problems = True
        s, err = self.gke("POST", "/clusters", {"cluster": {"name": "c1", "initialNodeCount": 1,
                                                            "nodePools": [], "bogusField": 1}})
        self.assertEqual(s, 400)
        self.assertEqual(err["error"]["status"], "INVALID_ARGUMENT")
        self.assertEqual(err["error"]["errors"][0]["reason"], "invalid")
        self.assertIn('Unknown name "bogusField" at \'cluster\'', err["error"]["message"])
        probs = self.problems()
        self.assertEqual(len(probs), 1)
        self.assertIn("bogusField", probs[0]["problem"])
        self.assertEqual(probs[0]["call"], "container.projects.locations.clusters.create")
        self.assertEqual(self.f.control("GET", "requests")[0]["status"], 400)
        s, err = self.gke("GET", "/clusters", query={"bogusParam": "1"})
        self.assertEqual(s, 400)
        self.assertEqual(len(self.problems()), 2)

    def test_wrong_json_types(self):
        self.expect_problems = True
        for cl in ({"name": "c1", "initialNodeCount": "three"},
                   {"name": "c1", "nodePools": {"name": "x"}},
                   {"name": "c1", "initialNodeCount": 1, "resourceLabels": {"a": 1}},
                   {"name": "c1", "initialNodeCount": 1, "releaseChannel": {"channel": "FASTEST"}},
                   {"name": "c1", "initialNodeCount": 1, "releaseChannel": {"channel": 17}},
                   {"name": "c1", "initialNodeCount": True}):
            s, err = self.gke("POST", "/clusters", {"cluster": cl})
            self.assertEqual(s, 400, cl)
            self.assertEqual(err["error"]["status"], "INVALID_ARGUMENT")
        self.assertEqual(len(self.problems()), 6)

    def test_int_enums_and_int64_strings_accepted(self):
        self.make_cluster()
        pool = {"name": "gpu", "initialNodeCount": 1,
                "config": {"machineType": "n1-standard-8",
                           "accelerators": [{"acceleratorCount": "2", "acceleratorType": "nvidia-tesla-t4",
                                             "gpuDriverInstallationConfig": {"gpuDriverVersion": 2}}],
                           "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": 1}],
                           "workloadMetadataConfig": {"mode": 1}},
                "upgradeSettings": {"maxSurge": "1", "strategy": 3},     # SURGE is proto number 3
                "maxPodsConstraint": {"maxPodsPerNode": 64}}               # int64 as a JSON number
        s, op = self.gke("POST", "/clusters/c1/nodePools", {"nodePool": pool})
        self.assertEqual(s, 200, op)
        self.wait_gke(op)
        s, p = self.gke("GET", "/clusters/c1/nodePools/gpu", query={"$alt": "json"})
        self.assertEqual(p["upgradeSettings"], {"maxSurge": 1, "strategy": "SURGE"})
        self.assertEqual(p["maxPodsConstraint"], {"maxPodsPerNode": "64"})
        acc = p["config"]["accelerators"][0]
        self.assertEqual((acc["acceleratorCount"], acc["gpuDriverInstallationConfig"]["gpuDriverVersion"]),
                         ("2", "DEFAULT"))
        self.assertEqual(p["config"]["taints"][0]["effect"], "NO_SCHEDULE")
        s, p = self.gke("GET", "/clusters/c1/nodePools/gpu")
        self.assertEqual(p["upgradeSettings"]["strategy"], 3)

    def test_incompatible_operation(self):
        s, op = self.gke("POST", "/clusters", {"cluster": {"name": "c1", "initialNodeCount": 1}})
        s, err = self.gke("POST", "/clusters/c1/nodePools", {"nodePool": {"name": "p2", "initialNodeCount": 1}})
        self.assertEqual(s, 400)
        self.assertEqual(err["error"]["status"], "FAILED_PRECONDITION")
        self.assertEqual(err["error"]["message"], "Cluster is running incompatible operation %s." % op["name"])
        self.wait_gke(op)
        s, op2 = self.gke("POST", "/clusters/c1/nodePools", {"nodePool": {"name": "p2", "initialNodeCount": 1}})
        self.assertEqual(s, 200, op2)

    def test_stockout_fails_the_operation_naming_the_zone(self):
        self.make_cluster()
        self.f.control("POST", "config", {"stockouts": {"g2-standard-8": ["us-central1-b"]}})
        s, op = self.gke("POST", "/clusters/c1/nodePools",
                         {"nodePool": {"name": "l4", "initialNodeCount": 1, "config": {"machineType": "g2-standard-8"}}})
        done = self.wait_gke(op)
        self.assertEqual(done["error"]["code"], 8)
        self.assertIn("GCE_STOCKOUT in zone us-central1-b: The zone 'projects/%s/zones/us-central1-b' does not "
                      "have enough resources available to fulfill the request." % self.project, done["statusMessage"])
        s, p = self.gke("GET", "/clusters/c1/nodePools/l4", query={"$alt": "json"})
        self.assertEqual(p["status"], "ERROR")
        self.assertIn("us-central1-b", p["statusMessage"])
        self.assertEqual(p["config"]["accelerators"], [{"acceleratorCount": "1", "acceleratorType": "nvidia-l4"}])
        self.f.control("POST", "config", {"stockouts": {"*": ["us-central1-c"]},
                                          "stockout_reason": "ZONE_RESOURCE_POOL_EXHAUSTED"})
        s, op = self.gke("POST", "/clusters/c1/nodePools",
                         {"nodePool": {"name": "cpu", "initialNodeCount": 1, "locations": ["us-central1-c"]}})
        done = self.wait_gke(op)
        self.assertIn("ZONE_RESOURCE_POOL_EXHAUSTED in zone us-central1-c", done["error"]["message"])
        s, op = self.gke("POST", "/clusters/c1/nodePools",
                         {"nodePool": {"name": "ok", "initialNodeCount": 1, "locations": ["us-central1-a"]}})
        self.assertNotIn("error", self.wait_gke(op))

    def test_tpu_multi_host_rules(self):
        self.make_cluster()

        def pool(name, count, locations, topo="4x4", mt="ct5lp-hightpu-4t", autoscaling=None):
            np = {"name": name, "initialNodeCount": count, "locations": locations,
                  "config": {"machineType": mt}, "placementPolicy": {"type": "COMPACT", "tpuTopology": topo}}
            if autoscaling:
                np["autoscaling"] = autoscaling
            return self.gke("POST", "/clusters/c1/nodePools", {"nodePool": np})

        s, err = pool("t1", 4, ["us-central1-a", "us-central1-b"])
        self.assertEqual(s, 400)
        self.assertIn("exactly one zone", err["error"]["message"])
        s, err = pool("t1", 3, ["us-central1-a"])
        self.assertEqual(s, 400)
        self.assertIn("exactly 4 nodes", err["error"]["message"])
        s, err = pool("t1", 4, ["us-central1-a"], topo="2x2x4")
        self.assertEqual(s, 400)
        self.assertIn("2 dimensions", err["error"]["message"])
        s, err = pool("t1", 0, ["us-central1-a"], autoscaling={"enabled": True, "minNodeCount": 1, "maxNodeCount": 4})
        self.assertEqual(s, 400)
        s, op = pool("t1", 0, ["us-central1-a"], autoscaling={"enabled": True, "minNodeCount": 0, "maxNodeCount": 4})
        self.assertEqual(s, 200, op)
        self.wait_gke(op)
        s, err = self.gke("POST", "/clusters/c1/nodePools/t1:setSize", {"nodeCount": 2})
        self.assertEqual(s, 400)
        s, op = pool("t2", 4, ["us-central1-a"], topo="2x2x4", mt="ct5p-hightpu-4t")
        self.assertEqual(s, 200, op)
        self.wait_gke(op)
        s, op = pool("t3", 3, ["us-central1-a", "us-central1-b"], topo="2x2")   # single host: any count
        self.assertEqual(s, 200, op)
        self.wait_gke(op)
        s, p = self.gke("GET", "/clusters/c1/nodePools/t2", query={"$alt": "json"})
        self.assertEqual((p["initialNodeCount"], p["placementPolicy"]["tpuTopology"]), (4, "2x2x4"))

    def test_pool_size_autoscaling_update_labels(self):
        self.make_cluster(pools=[{"name": "p", "initialNodeCount": 1, "locations": ["us-central1-a", "us-central1-b"],
                                  "config": {"resourceLabels": {"hoist-env": "e1"}}}])
        s, op = self.gke("POST", "/clusters/c1/nodePools/p:setSize", {"name": "x", "nodeCount": 3})
        self.assertEqual(op["operationType"], 14)
        self.assertEqual(self.gke("GET", "/clusters/c1/nodePools/p", query={"$alt": "json"})[1]["status"],
                         "RECONCILING")
        self.wait_gke(op)
        s, p = self.gke("GET", "/clusters/c1/nodePools/p", query={"$alt": "json"})
        # As GKE: initialNodeCount stays at the create-time value, the cluster counts the live nodes.
        self.assertEqual((p["initialNodeCount"], p["status"]), (1, "RUNNING"))
        self.assertEqual(self.gke("GET", "/clusters/c1", query={"$alt": "json"})[1]["currentNodeCount"], 6)
        s, op = self.gke("POST", "/clusters/c1/nodePools/p:setSize", {})      # proto3: absent nodeCount is 0
        self.wait_gke(op)
        self.assertNotIn("currentNodeCount", self.gke("GET", "/clusters/c1")[1])
        self.assertEqual(self.gke("GET", "/clusters/c1/nodePools/p")[1]["initialNodeCount"], 1)
        s, op = self.gke("POST", "/clusters/c1/nodePools/p:setAutoscaling",
                         {"autoscaling": {"enabled": True, "maxNodeCount": 5}})
        self.wait_gke(op)
        a = self.gke("GET", "/clusters/c1/nodePools/p", query={"$alt": "json"})[1]["autoscaling"]
        self.assertEqual(a, {"enabled": True, "maxNodeCount": 5, "locationPolicy": "BALANCED"})
        s, op = self.gke("PUT", "/clusters/c1/nodePools/p",
                         {"labels": {"labels": {"role": "gpu"}}, "taints": {"taints": [{"key": "k", "effect": 3}]},
                          "resourceLabels": {"labels": {"hoist-env": "e2"}}, "nodeVersion": "-"})
        self.assertEqual(s, 200, op)
        self.wait_gke(op)
        cfg = self.gke("GET", "/clusters/c1/nodePools/p", query={"$alt": "json"})[1]["config"]
        self.assertEqual(cfg["labels"], {"role": "gpu"})
        self.assertEqual(cfg["taints"], [{"key": "k", "effect": "NO_EXECUTE"}])
        self.assertEqual(cfg["resourceLabels"], {"hoist-env": "e2", "goog-gke-node-pool-provisioning-model": "on-demand"})
        # Cluster labels need the current fingerprint.
        c = self.gke("GET", "/clusters/c1", query={"$alt": "json"})[1]
        s, err = self.gke("POST", "/clusters/c1:setResourceLabels", {"resourceLabels": {"a": "b"},
                                                                     "labelFingerprint": "00000000"})
        self.assertEqual(s, 400)
        s, op = self.gke("POST", "/clusters/c1:setResourceLabels", {"resourceLabels": {"a": "b"},
                                                                    "labelFingerprint": c["labelFingerprint"]})
        self.assertEqual(op["operationType"], 12)
        self.wait_gke(op)
        self.assertEqual(self.gke("GET", "/clusters/c1", query={"$alt": "json"})[1]["resourceLabels"], {"a": "b"})
        s, op = self.gke("PUT", "/clusters/c1", {"update": {"desiredNodePoolId": "p", "desiredNodePoolAutoscaling":
                                                            {"enabled": True, "minNodeCount": 1, "maxNodeCount": 2}}})
        self.wait_gke(op)
        s, op = self.gke("PUT", "/clusters/c1", {"update": {"desiredMasterVersion": "1.33.9-gke.1000"}})
        self.assertEqual(op["operationType"], 3)
        self.wait_gke(op)
        self.assertEqual(self.gke("GET", "/clusters/c1")[1]["currentMasterVersion"], "1.33.9-gke.1000")

    def test_unsupported_update_is_a_problem(self):
        self.expect_problems = True
        self.make_cluster()
        s, err = self.gke("PUT", "/clusters/c1", {"update": {"desiredImageType": "UBUNTU_CONTAINERD"}})
        self.assertEqual(s, 400)
        self.assertEqual(len(self.problems()), 1)
        self.assertIn("not modelled", self.problems()[0]["problem"])

    def test_control_resize_and_resources(self):
        self.make_cluster(pools=[{"name": "p", "initialNodeCount": 1, "config": {"resourceLabels": {"hoist-env": "x"}}}],
                          resourceLabels={"hoist-env": "x"})
        pool = self.f.control("POST", "resize", {"project": self.project, "location": "us-central1",
                                                 "cluster": "c1", "pool": "p", "nodeCount": 5})
        self.assertEqual(pool["initialNodeCount"], 1)      # the create-time value, as GKE keeps it
        # 5 per zone in each of us-central1's 4 zones: the live total.
        self.assertEqual(self.gke("GET", "/clusters/c1", query={"$alt": "json"})[1]["currentNodeCount"], 20)
        s, op = self.compute("POST", "/global/networks", {"name": "n1", "autoCreateSubnetworks": False,
                                                         "description": "managed by hoist; hoist-env=x"})
        self.wait_compute(op)
        s, b = self.f.call("POST", "/storage/v1/b", {"name": "bkt-" + self.project, "labels": {"hoist-env": "x"}},
                           {"project": self.project})
        self.assertEqual(s, 200, b)
        res = self.f.control("GET", "resources?label=hoist-env=x")
        self.assertEqual(sorted((r["type"], r["name"]) for r in res),
                         [("bucket", "bkt-" + self.project), ("cluster", "c1"), ("network", "n1"), ("nodePool", "p")])
        self.assertEqual(self.f.control("GET", "resources?label=hoist-env=y"), [])

    def test_faults_then_normal(self):
        self.make_cluster()
        cfg = self.f.control("POST", "config", {"faults": [
            {"call": "container.projects.locations.clusters.nodePools.create", "status": 429, "times": 2},
            {"call": "compute.networks.get", "status": 503, "times": 1}]})
        self.assertEqual(len(cfg["faults"]), 2)
        for _ in range(2):
            s, err = self.gke("POST", "/clusters/c1/nodePools", {"nodePool": {"name": "p2", "initialNodeCount": 1}})
            self.assertEqual(s, 429)
            self.assertEqual(err["error"]["status"], "RESOURCE_EXHAUSTED")
            self.assertIn("Quota exceeded for quota metric", err["error"]["message"])
            self.assertEqual(err["error"]["details"][0]["reason"], "RATE_LIMIT_EXCEEDED")
        s, op = self.gke("POST", "/clusters/c1/nodePools", {"nodePool": {"name": "p2", "initialNodeCount": 1}})
        self.assertEqual(s, 200, op)
        s, err = self.compute("GET", "/global/networks/n")
        self.assertEqual((s, err["error"]["status"]), (503, "UNAVAILABLE"))
        s, err = self.compute("GET", "/global/networks/n")
        self.assertEqual(s, 404)
        self.assertNotIn("status", err["error"])
        self.assertEqual(self.f.control("GET", "config")["faults"][0]["times"], 0)
        s, bad = self.f.call("POST", "/_fake/config", {"faults": [{"call": "container.nope", "status": 429}]})
        self.assertEqual(s, 400)

    def test_quotas_reported_and_overridable(self):
        s, r = self.compute("GET", "/regions/us-central1")
        self.assertEqual(s, 200, r)
        q = {x["metric"]: x for x in r["quotas"]}
        self.assertEqual((q["NVIDIA_L4_GPUS"]["limit"], q["NVIDIA_L4_GPUS"]["usage"]), (1000, 0))
        for m in ("TPU_V6E", "NVIDIA_H100_MEGA_GPUS", "TPU_LITE_PODSLICE_V5", "PREEMPTIBLE_TPU_V5P"):
            self.assertEqual(q[m]["limit"], 1000, m)
        self.assertEqual(len(r["zones"]), 4)
        self.f.control("POST", "config", {"quotas": {"us-central1": {"NVIDIA_L4_GPUS": {"limit": 0, "usage": 0},
                                                                     "TPU_V6E": {"limit": 16, "usage": 8}}}})
        q = {x["metric"]: x for x in self.compute("GET", "/regions/us-central1")[1]["quotas"]}
        self.assertEqual(q["NVIDIA_L4_GPUS"]["limit"], 0)
        self.assertEqual((q["TPU_V6E"]["limit"], q["TPU_V6E"]["usage"]), (16, 8))
        q = {x["metric"]: x for x in self.compute("GET", "/regions/us-east1")[1]["quotas"]}
        self.assertEqual(q["NVIDIA_L4_GPUS"]["limit"], 1000)
        s, bad = self.f.call("POST", "/_fake/config", {"quotas": {"us-central1": {"NO_SUCH_METRIC": {"limit": 1}}}})
        self.assertEqual(s, 400)
        s, lst = self.compute("GET", "/regions")
        self.assertIn("us-central1", [x["name"] for x in lst["items"]])


class ComputeTests(FakeTest):
    def test_network_subnet_router_lifecycle(self):
        s, op = self.compute("POST", "/global/networks", {"name": "net", "autoCreateSubnetworks": False,
                                                         "routingConfig": {"routingMode": "GLOBAL"}})
        self.assertEqual((s, op["kind"], op["operationType"], op["status"], op["progress"]),
                         (200, "compute#operation", "insert", "RUNNING", 0))
        self.assertEqual(self.compute("GET", "/global/networks/net")[0], 404)    # not until DONE
        for expect in ("RUNNING", "RUNNING", "DONE"):
            self.assertEqual(self.compute("GET", "/global/operations/" + op["name"])[1]["status"], expect)
        s, net = self.compute("GET", "/global/networks/net")
        self.assertEqual((net["kind"], net["routingConfig"]["routingMode"]), ("compute#network", "GLOBAL"))
        self.assertTrue(net["id"].isdigit() and net["selfLink"].startswith("https://www.googleapis.com/compute/v1/"))
        s, dup = self.compute("POST", "/global/networks", {"name": "net", "autoCreateSubnetworks": False})
        self.assertEqual((s, dup["error"]["errors"][0]["reason"]), (409, "alreadyExists"))
        sub = {"name": "sub", "network": "projects/%s/global/networks/net" % self.project, "ipCidrRange": "10.0.0.0/20",
               "privateIpGoogleAccess": True, "description": "hoist-env=dev",
               "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"},
                                     {"rangeName": "services", "ipCidrRange": "10.8.0.0/20"}]}
        s, op = self.compute("POST", "/regions/us-central1/subnetworks", sub)
        self.assertEqual(s, 200, op)
        self.assertTrue(op["region"].endswith("/regions/us-central1"))
        self.wait_compute(op)
        s, overlap = self.compute("POST", "/regions/us-east1/subnetworks",
                                  {"name": "sub2", "network": "global/networks/net", "ipCidrRange": "10.0.8.0/24"})
        self.assertEqual(s, 400)
        self.assertIn("conflicts", overlap["error"]["message"])
        s, got = self.compute("GET", "/regions/us-central1/subnetworks/sub")
        self.assertEqual((got["gatewayAddress"], got["secondaryIpRanges"][0]["rangeName"]), ("10.0.0.1", "pods"))
        nat = {"name": "nat", "natIpAllocateOption": "AUTO_ONLY",
               "sourceSubnetworkIpRangesToNat": "LIST_OF_SUBNETWORKS",
               "subnetworks": [{"name": got["selfLink"], "sourceIpRangesToNat": ["ALL_IP_RANGES"]}],
               "logConfig": {"enable": True, "filter": "ERRORS_ONLY"}}
        s, op = self.compute("POST", "/regions/us-central1/routers",
                             {"name": "rt", "network": net["selfLink"], "nats": [nat]})
        self.assertEqual(s, 200, op)
        self.wait_compute(op)
        s, lst = self.compute("GET", "/global/networks", query={"filter": 'name = "net"'})
        self.assertEqual([n["name"] for n in lst["items"]], ["net"])
        s, lst = self.compute("GET", "/global/networks", query={"filter": "name eq ne.*"})
        self.assertEqual(len(lst["items"]), 1)
        s, lst = self.compute("GET", "/global/networks", query={"filter": "name eq other"})
        self.assertNotIn("items", lst)
        s, agg = self.compute("GET", "/aggregated/routers")
        self.assertEqual(agg["items"]["regions/us-central1"]["routers"][0]["nats"][0]["name"], "nat")
        self.assertIn("warning", agg["items"]["regions/us-east1"])
        # A cluster on the subnet keeps it in use.
        self.make_cluster(network="net", subnetwork="sub",
                          ipAllocationPolicy={"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"})
        c = self.gke("GET", "/clusters/c1", query={"$alt": "json"})[1]
        self.assertEqual((c["network"], c["subnetwork"], c["clusterIpv4Cidr"]), ("net", "sub", "10.4.0.0/14"))
        s, err = self.compute("DELETE", "/global/networks/net")
        self.assertEqual(s, 400)
        self.assertEqual(err["error"]["errors"][0]["reason"], "resourceInUseByAnotherResource")
        self.assertNotIn("status", err["error"])
        s, op = self.gke("DELETE", "/clusters/c1")
        self.wait_gke(op)
        s, err = self.compute("DELETE", "/regions/us-central1/subnetworks/sub")
        self.assertEqual(s, 400)       # the router's NAT uses it
        self.assertIn("routers/rt", err["error"]["message"])
        s, op = self.compute("DELETE", "/regions/us-central1/routers/rt")
        self.wait_compute(op)
        s, op = self.compute("DELETE", "/regions/us-central1/subnetworks/sub")
        self.assertEqual(op["operationType"], "delete")
        s, err = self.compute("DELETE", "/global/networks/net")
        self.assertEqual(s, 400)        # the subnetwork delete has not finished
        self.wait_compute(op)
        s, op = self.compute("DELETE", "/global/networks/net")
        self.wait_compute(op)
        self.assertEqual(self.compute("GET", "/global/networks/net")[0], 404)

    def test_unknown_and_unimplemented_calls(self):
        self.expect_problems = True
        s, err = self.compute("GET", "/global/firewalls")
        self.assertEqual(s, 501)
        s, err = self.f.call("GET", "/v2/nothing/here")
        self.assertEqual(s, 404)
        probs = self.problems()
        self.assertEqual(probs[0]["call"], "compute.firewalls.list")
        self.assertIn("does not implement", probs[0]["problem"])
        self.assertIn("no discovery method", probs[1]["problem"])

    def test_required_body_fields(self):
        self.expect_problems = True
        s, err = self.compute("POST", "/global/networks", {"autoCreateSubnetworks": False})
        self.assertEqual(s, 400)
        self.assertIn("name", err["error"]["message"])


class StorageTests(FakeTest):
    def test_bucket_lifecycle(self):
        name = "hoist-" + self.project
        s, b = self.f.call("POST", "/storage/v1/b", {
            "name": name, "location": "us-central1", "labels": {"hoist-env": "dev", "team": "ml"},
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}, "publicAccessPrevention": "enforced"},
            "versioning": {"enabled": True}, "softDeletePolicy": {"retentionDurationSeconds": "0"}},
            {"project": self.project})
        self.assertEqual(s, 200, b)
        self.assertEqual((b["location"], b["locationType"], b["metageneration"], b["id"]),
                         ("US-CENTRAL1", "region", "1", name))
        self.assertTrue(b["projectNumber"].isdigit())
        self.assertEqual(b["softDeletePolicy"], {"retentionDurationSeconds": "0"})
        s, other = self.f.call("POST", "/storage/v1/b", {"name": name}, {"project": "someone-else"})
        self.assertEqual(s, 409)
        s, err = self.f.call("POST", "/storage/v1/b", {"name": "x"}, {"project": self.project})
        self.assertEqual(s, 400)
        s, lst = self.f.call("GET", "/storage/v1/b", query={"project": self.project, "prefix": "hoist-"})
        self.assertEqual([x["name"] for x in lst["items"]], [name])
        s, b = self.f.call("PATCH", "/storage/v1/b/" + name, {"labels": {"team": None, "owner": "me"}})
        self.assertEqual((b["labels"], b["metageneration"]), ({"hoist-env": "dev", "owner": "me"}, "2"))
        s, pol = self.f.call("GET", "/storage/v1/b/%s/iam" % name)
        self.assertEqual(pol["kind"], "storage#policy")
        bindings = pol["bindings"] + [{"role": "roles/storage.objectAdmin",
                                       "members": ["serviceAccount:hoist@%s.iam.gserviceaccount.com" % self.project]}]
        s, pol2 = self.f.call("PUT", "/storage/v1/b/%s/iam" % name, {"bindings": bindings, "etag": pol["etag"]})
        self.assertEqual(s, 200, pol2)
        self.assertNotEqual(pol2["etag"], pol["etag"])
        s, stale = self.f.call("PUT", "/storage/v1/b/%s/iam" % name, {"bindings": bindings, "etag": pol["etag"]})
        self.assertEqual(s, 412)
        s, public = self.f.call("PUT", "/storage/v1/b/%s/iam" % name,
                                {"bindings": [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}]})
        self.assertEqual(s, 412)
        s, obj = self.f.call("POST", "/upload/storage/v1/b/%s/o" % name, raw=b"hello",
                             query={"uploadType": "media", "name": "state/a b.json"},
                             headers={"Content-Type": "text/plain"})
        self.assertEqual((s, obj["size"], obj["crc32c"]), (200, "5", "mnG7TA=="))
        s, err = self.f.call("DELETE", "/storage/v1/b/" + name)
        self.assertEqual((s, err["error"]["message"]), (409, "The bucket you tried to delete is not empty."))
        self.assertNotIn("status", err["error"])
        s, lst = self.f.call("GET", "/storage/v1/b/%s/o" % name, query={"prefix": "state/", "delimiter": "/"})
        self.assertEqual([o["name"] for o in lst["items"]], ["state/a b.json"])
        s, data = self.f.call("GET", "/storage/v1/b/%s/o/%s" % (name, urllib.parse.quote("state/a b.json", safe="")),
                              query={"alt": "media"})
        self.assertEqual(data, b"hello")
        s, _ = self.f.call("DELETE", "/storage/v1/b/%s/o/%s" % (name, urllib.parse.quote("state/a b.json", safe="")))
        self.assertEqual(s, 204)
        s, _ = self.f.call("DELETE", "/storage/v1/b/" + name)
        self.assertEqual(s, 204)
        s, err = self.f.call("GET", "/storage/v1/b/" + name)
        self.assertEqual((s, err["error"]["message"]), (404, "The specified bucket does not exist."))

    def test_required_query_parameter(self):
        self.expect_problems = True
        s, err = self.f.call("POST", "/storage/v1/b", {"name": "some-bucket-name"})
        self.assertEqual(s, 400)
        self.assertIn("project", self.problems()[0]["problem"])


class ValidationUnitTests(unittest.TestCase):
    """The checker itself, in process: what a bad response looks like to it."""

    @classmethod
    def setUpClass(cls):
        cls.reg = discovery.Registry()

    def test_response_checks(self):
        svc = self.reg.services["container"]
        good = {"name": "operation-1-ab", "operationType": "CREATE_CLUSTER", "status": "DONE",
                "error": {"code": 8, "message": "m"}, "startTime": "2024-04-01T12:34:56.123456Z"}
        chk = discovery.Checker(svc, "response")
        chk.check(good, {"$ref": "Operation"})
        self.assertEqual(chk.problems, [])
        bad = {"name": "x", "operationType": 1, "status": "FINISHED", "error": {"code": "8"}, "extra": True}
        chk = discovery.Checker(svc, "response")
        chk.check(bad, {"$ref": "Operation"})
        self.assertEqual(sorted(w for w, _ in chk.problems), ["error.code", "extra", "operationType", "status"])
        chk = discovery.Checker(self.reg.services["storage"], "response")
        chk.check({"name": "b", "timeCreated": "yesterday", "metageneration": 1}, {"$ref": "Bucket"})
        self.assertEqual(sorted(w for w, _ in chk.problems), ["metageneration", "timeCreated"])
        chk = discovery.Checker(svc, "response")
        chk.check({"maxPodsPerNode": 110}, {"$ref": "MaxPodsConstraint"})   # int64 must be a string
        self.assertEqual(len(chk.problems), 1)

    def test_request_normalisation(self):
        svc = self.reg.services["container"]
        chk = discovery.Checker(svc, "request")
        out = chk.check({"strategy": 2, "maxSurge": "3"}, {"$ref": "UpgradeSettings"})
        self.assertEqual((chk.problems, out), ([], {"strategy": "BLUE_GREEN", "maxSurge": 3}))

    def test_quota_metric_additions(self):
        enum = self.reg.services["compute"].schemas["Quota"]["properties"]["metric"]["enum"]
        for m in ("NVIDIA_H100_GPUS", "TPU_V6E", "PREEMPTIBLE_TPU_LITE_DEVICE_V5", "NVIDIA_L4_GPUS"):
            self.assertIn(m, enum)



if __name__ == "__main__":
    start = time.time()
    prog = unittest.main(exit=False, verbosity=2)
    stop_shared_fake()
    sys.stderr.write("test_fake.py: %.1f s\n" % (time.time() - start))
    sys.exit(0 if prog.result.wasSuccessful() else 1)
