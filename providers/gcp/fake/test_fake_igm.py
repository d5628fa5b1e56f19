"""Tests of fake_gcp: a node pool's live size is its instance groups' targetSize
(part of test_fake.py's run).

Why: GKE keeps ``NodePool.initialNodeCount`` at its create-time value, and a
client that wants the live size (Terraform, and hoist when it compares desired
and actual node counts) follows ``instanceGroupUrls`` to
``compute.instanceGroupManagers.get`` and reads ``targetSize``, one manager per
zone.  These tests pin that both setSize and the control API's resize move
targetSize and leave initialNodeCount alone, that an unknown or deleted
manager is compute's 404, and that the old view is still there behind
``initial_node_count_tracks_size``.
"""

from test_harness import FakeTest

ZONES = ["us-central1-a", "us-central1-b"]


class InstanceGroupTests(FakeTest):
    def igm(self, url):
        prefix = "https://www.googleapis.com/compute/v1/projects/%s" % self.project
        self.assertTrue(url.startswith(prefix + "/zones/"), url)
        return self.compute("GET", url[len(prefix):])

    def sizes(self, pool):
        out = []
        for url in pool["instanceGroupUrls"]:
            s, m = self.igm(url)
            self.assertEqual(s, 200, m)
            out.append(m["targetSize"])
        return out

    def test_target_size_follows_set_size_and_resize(self):
        self.make_cluster("c1", pools=[{"name": "p", "initialNodeCount": 2, "locations": ZONES}])
        s, op = self.gke("POST", "/clusters/c1/nodePools/p:setSize", {"nodeCount": 3})
        self.assertEqual(s, 200, op)
        self.wait_gke(op)
        s, pool = self.gke("GET", "/clusters/c1/nodePools/p", query={"$alt": "json"})
        self.assertEqual(pool["initialNodeCount"], 2)
        self.assertEqual(len(pool["instanceGroupUrls"]), 2)
        self.assertEqual(self.sizes(pool), [3, 3])
        self.assertEqual(self.gke("GET", "/clusters/c1", query={"$alt": "json"})[1]["currentNodeCount"], 6)
        s, m = self.igm(pool["instanceGroupUrls"][1])
        name = pool["instanceGroupUrls"][1].rsplit("/", 1)[1]
        base = "https://www.googleapis.com/compute/v1/projects/%s/" % self.project
        self.assertEqual((m["kind"], m["name"], m["zone"], m["status"]),
                         ("compute#instanceGroupManager", name, base + "zones/us-central1-b", {"isStable": True}))
        self.assertEqual(m["selfLink"], pool["instanceGroupUrls"][1])
        self.assertEqual(m["instanceGroup"], base + "zones/us-central1-b/instanceGroups/" + name)
        self.assertTrue(m["id"].isdigit() and name.startswith(m["baseInstanceName"]))
        self.assertEqual(self.igm(pool["instanceGroupUrls"][1])[1]["id"], m["id"])   # stable
        # The control API's resize is a change of the live size too.
        after = self.f.control("POST", "resize", {"project": self.project, "location": "us-central1",
                                                  "cluster": "c1", "pool": "p", "nodeCount": 5})
        self.assertEqual(after["initialNodeCount"], 2)
        self.assertEqual(self.sizes(pool), [5, 5])
        self.assertNotEqual(self.igm(pool["instanceGroupUrls"][1])[1]["fingerprint"], m["fingerprint"])
        # The older view, for a test that asks for it.
        self.f.control("POST", "config", {"initial_node_count_tracks_size": True})
        self.assertEqual(self.gke("GET", "/clusters/c1/nodePools/p")[1]["initialNodeCount"], 5)
        self.f.control("POST", "config", {"initial_node_count_tracks_size": None})
        self.assertEqual(self.gke("GET", "/clusters/c1/nodePools/p")[1]["initialNodeCount"], 2)

    def test_unknown_or_deleted_manager_is_404(self):
        self.make_cluster("c1", pools=[{"name": "p", "initialNodeCount": 1, "locations": ZONES}])
        s, err = self.compute("GET", "/zones/us-central1-a/instanceGroupManagers/gke-c1-p-00000000-grp")
        self.assertEqual((s, err["error"]["errors"][0]["reason"]), (404, "notFound"))
        self.assertIn("instanceGroupManagers/gke-c1-p-00000000-grp' was not found", err["error"]["message"])
        self.assertNotIn("status", err["error"])            # compute's own error shape
        url = self.gke("GET", "/clusters/c1/nodePools/p")[1]["instanceGroupUrls"][0]
        self.assertEqual(self.igm(url)[0], 200)
        other_zone = url.replace("/zones/us-central1-a/", "/zones/us-central1-c/")
        self.assertEqual(self.igm(other_zone)[0], 404)      # the pool is not in that zone
        s, op = self.gke("DELETE", "/clusters/c1/nodePools/p")
        self.wait_gke(op)
        self.assertEqual(self.igm(url)[0], 404)
        calls = {x["call"] for x in self.f.control("GET", "requests")}
        self.assertIn("compute.instanceGroupManagers.get", calls)
