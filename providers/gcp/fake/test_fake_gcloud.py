"""Tests of fake_gcp: the real gcloud CLI against the fake (part of test_fake.py's run).

Why: gcloud is a client of the same APIs independent of hoist's, and the
README tells how to point it at the fake; this drives its list, describe and
resize commands against what the test set up, then reads the resized pool's
size where GKE keeps it, in its managed instance groups.  Skipped when gcloud
is not on PATH.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from test_harness import FakeTest


GCLOUD = shutil.which("gcloud")


@unittest.skipUnless(GCLOUD, "gcloud CLI not found on PATH: skipping the gcloud end-to-end test")
class GcloudTests(FakeTest):
    def gcloud(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")}
        env.update({
            "CLOUDSDK_CONFIG": self.cfg,
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER": self.f.base + "/",
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": self.f.base + "/compute/v1/",
            "CLOUDSDK_AUTH_ACCESS_TOKEN": "fake",
            "CLOUDSDK_CORE_PROJECT": self.project,
            "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
            "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
            "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "true",
            "CLOUDSDK_SURVEY_DISABLE_PROMPTS": "true",
            # Anything not for the fake goes to a closed local port.
            "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        })
        p = subprocess.run([GCLOUD] + list(args) + ["--format=json"], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, "gcloud %s failed:\n%s" % (" ".join(args), p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else None

    def test_gcloud_commands(self):
        self.cfg = tempfile.mkdtemp(prefix="gcloud-cfg-")
        try:
            # gcloud caches "am I on GCE?" here; seeding it stops its metadata-server DNS lookup.
            with open(os.path.join(self.cfg, "gce"), "w") as f:
                f.write("False")
            self.f.control("POST", "config", {"polls": 0})
            s, op = self.compute("POST", "/global/networks", {"name": "vpc", "autoCreateSubnetworks": False})
            self.wait_compute(op)
            s, op = self.compute("POST", "/regions/us-central1/subnetworks",
                                 {"name": "nodes", "network": "global/networks/vpc", "ipCidrRange": "10.1.0.0/20"})
            self.wait_compute(op)
            s, op = self.compute("POST", "/regions/us-central1/routers",
                                 {"name": "rt", "network": "global/networks/vpc",
                                  "nats": [{"name": "nat", "natIpAllocateOption": "AUTO_ONLY",
                                            "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]})
            self.wait_compute(op)
            self.make_cluster("c1", network="vpc", subnetwork="nodes",
                              pools=[{"name": "pool-a", "initialNodeCount": 1,
                                      "locations": ["us-central1-a", "us-central1-b"]}])
            r = ["--region", "us-central1"]
            self.assertEqual([c["name"] for c in self.gcloud("container", "clusters", "list", *r)], ["c1"])
            self.assertEqual(self.gcloud("container", "clusters", "describe", "c1", *r)["status"], "RUNNING")
            pools = self.gcloud("container", "node-pools", "list", "--cluster", "c1", *r)
            self.assertEqual([p["name"] for p in pools], ["pool-a"])
            self.gcloud("container", "clusters", "resize", "c1", "--node-pool", "pool-a", "--num-nodes", "3",
                        *r, "--quiet")
            pool = self.gcloud("container", "node-pools", "describe", "pool-a", "--cluster", "c1", *r)
            # As GKE reports it: initialNodeCount stays at the create-time 1, the cluster's
            # currentNodeCount is the live total and each zone's instance group has 3.
            self.assertEqual((pool["initialNodeCount"], pool["status"]), (1, "RUNNING"))
            self.assertEqual(self.gcloud("container", "clusters", "describe", "c1", *r)["currentNodeCount"], 6)
            # (gcloud's own "instance-groups managed describe" also lists autoscalers, which
            # the fake does not model, so the instance group is read directly.)
            igm = pool["instanceGroupUrls"][1].rsplit("/", 1)[1]
            self.assertEqual(self.compute("GET", "/zones/us-central1-b/instanceGroupManagers/" + igm)[1]
                             ["targetSize"], 3)
            self.assertEqual([n["name"] for n in self.gcloud("compute", "networks", "list")], ["vpc"])
            self.assertEqual([s["name"] for s in self.gcloud("compute", "networks", "subnets", "list")], ["nodes"])
            self.assertEqual([x["name"] for x in self.gcloud("compute", "routers", "list")], ["rt"])
            calls = [x["call"] for x in self.f.control("GET", "requests")]
            self.assertIn("container.projects.locations.clusters.nodePools.setSize", calls)
            self.assertIn("compute.subnetworks.aggregatedList", calls)
        finally:
            shutil.rmtree(self.cfg, ignore_errors=True)
