"""Tests of fake_azure's AKS: clusters, agent pools, capacity and quota (run by test_fake.py)."""

import base64
import unittest

from test_harness import SUB, FakeTest

GPU = "Standard_NC24ads_A100_v4"


class ClusterTests(FakeTest):
    def test_create_long_running_and_read_only_fields(self):
        self.f.control("POST", "config", {"polls": 2})
        self.make_group()
        s, h, b = self.make_cluster(wait=False, kubernetesVersion="1.32")
        self.assertEqual(h["Retry-After"], "1")
        self.assertIn("/providers/Microsoft.ContainerService/locations/eastus/operations/", h["Azure-AsyncOperation"])
        p = b["properties"]
        self.assertEqual(p["provisioningState"], "Creating")
        self.assertRegex(p["fqdn"], r"^c1-[0-9a-f]{8}\.hcp\.eastus\.azmk8s\.io$")
        self.assertRegex(p["azurePortalFQDN"], r"^c1-[0-9a-f]{8}\.portal\.hcp\.eastus\.azmk8s\.io$")
        self.assertEqual((p["kubernetesVersion"], p["currentKubernetesVersion"]), ("1.32", "1.32.7"))
        self.assertEqual(p["nodeResourceGroup"], "MC_%s_c1_eastus" % self.rg)
        self.assertEqual((p["powerState"], p["maxAgentPools"]), ({"code": "Running"}, 100))
        self.assertIn("kubeletidentity", p["identityProfile"])
        self.assertEqual(b["identity"]["type"], "SystemAssigned")
        pool = p["agentPoolProfiles"][0]
        self.assertEqual((pool["name"], pool["provisioningState"], pool["currentOrchestratorVersion"]),
                         ("system", "Creating", "1.32.7"))
        self.assertTrue(pool["nodeImageVersion"])
        polls = [self.f.call("GET", h["Azure-AsyncOperation"])[2] for _ in range(3)]
        self.assertEqual([x["status"] for x in polls], ["InProgress", "InProgress", "Succeeded"])
        self.assertTrue(polls[0]["id"].endswith("/operations/" + polls[0]["name"]) and polls[0]["startTime"])
        s, _, b = self.arm("GET", self.cluster_path(), api="aks")
        self.assertEqual(b["properties"]["provisioningState"], "Succeeded")
        s, _, b = self.arm("GET", self.cluster_path() + "/agentPools", api="aks")
        self.assertEqual([(x["name"], x["properties"]["provisioningState"]) for x in b["value"]],
                         [("system", "Succeeded")])
        groups = [r["name"] for r in self.f.control("GET", "resources") if r["type"].endswith("resourceGroups")]
        self.assertIn("MC_%s_c1_eastus" % self.rg, groups)
        s, _, b = self.arm("GET", self.rg_path() + "/providers/Microsoft.ContainerService/managedClusters", api="aks")
        self.assertEqual([c["name"] for c in b["value"]], ["c1"])

    def test_without_system_pool_refused(self):
        self.make_group()
        body = {"location": "eastus", "properties": {"dnsPrefix": "c1", "agentPoolProfiles": [
            {"name": "gpu", "mode": "User", "count": 1, "vmSize": GPU}]}}
        s, _, b = self.arm("PUT", self.cluster_path(), body, api="aks")
        self.assertEqual((s, b["error"]["code"]), (400, "MustDefineAtLeastOneSystemPool"))

    def test_immutable_fields_refused(self):
        self.make_group()
        _, _, b = self.make_cluster()
        body = {"location": "eastus", "properties": {"dnsPrefix": "other"}}
        s, _, e = self.arm("PUT", self.cluster_path(), body, api="aks")
        self.assertEqual((s, e["error"]["code"]), (400, "PropertyChangeNotAllowed"))
        self.assertIn("dnsPrefix", e["error"]["message"])
        body = {"location": "eastus", "properties": {"networkProfile": {"podCidr": "10.99.0.0/16"}}}
        self.assertEqual(self.arm("PUT", self.cluster_path(), body, api="aks")[2]["error"]["code"],
                         "PropertyChangeNotAllowed")
        body = {"location": "westus2", "properties": {}}
        self.assertEqual(self.arm("PUT", self.cluster_path(), body, api="aks")[0], 400)
        body = {"location": "eastus", "properties": {"agentPoolProfiles": [
            {"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D8ds_v5"}]}}
        s, _, e = self.arm("PUT", self.cluster_path(), body, api="aks")
        self.assertEqual((s, e["error"]["code"]), (400, "PropertyChangeNotAllowed"))
        self.assertIn("vmSize", e["error"]["message"])
        # An update that changes what may change: 200 + Azure-AsyncOperation, Updating.
        body["properties"]["agentPoolProfiles"][0].update(vmSize="Standard_D4ds_v5", count=2)
        s, h, b = self.arm("PUT", self.cluster_path(), body, api="aks")
        self.assertEqual((s, b["properties"]["provisioningState"]), (200, "Updating"))
        self.assertEqual(b["properties"]["agentPoolProfiles"][0]["count"], 2)
        self.assertEqual(b["properties"]["dnsPrefix"], "c1")
        self.wait_async(h)

    def test_operation_in_progress_and_delete(self):
        self.make_group()
        _, h, _ = self.make_cluster(wait=False)
        s, _, b = self.put_pool("user", {"vmSize": "Standard_D4ds_v5", "count": 1, "mode": "User"})
        self.assertEqual((s, b["error"]["code"]), (409, "OperationNotAllowed"))
        self.wait_async(h)
        s, h, b = self.arm("DELETE", self.cluster_path(), api="aks")
        self.assertEqual((s, b), (202, None))
        self.assertIn("/providers/Microsoft.ContainerService/locations/eastus/operationresults/", h["Location"])
        self.assertIn("Azure-AsyncOperation", h)
        self.assertEqual(self.arm("GET", self.cluster_path(), api="aks")[2]["properties"]["provisioningState"],
                         "Deleting")
        self.wait_location(h)
        s, _, b = self.arm("GET", self.cluster_path(), api="aks")
        self.assertEqual((s, b["error"]["code"]), (404, "ResourceNotFound"))
        self.assertEqual(self.arm("DELETE", self.cluster_path(), api="aks")[0], 204)
        self.assertEqual([r for r in self.f.control("GET", "resources") if r["name"].startswith("MC_")], [])

    def test_credentials(self):
        self.make_group()
        self.make_cluster()
        s, _, b = self.arm("POST", self.cluster_path() + "/listClusterUserCredential", api="aks")
        self.assertEqual((s, b["kubeconfigs"][0]["name"]), (200, "clusterUser"))
        text = base64.b64decode(b["kubeconfigs"][0]["value"]).decode()
        fqdn = self.arm("GET", self.cluster_path(), api="aks")[2]["properties"]["fqdn"]
        self.assertIn("server: https://%s:443" % fqdn, text)
        token = [r for r in self.f.control("GET", "resources") if r["name"] == "c1"][0]["userToken"]
        self.assertIn("    token: %s\n" % token, text)
        self.f.control("POST", "config", {"kube": {"server": "https://127.0.0.1:6443",
                                                   "ca_pem": "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"}})
        self.make_cluster("c2", aadProfile={"managed": True, "enableAzureRBAC": True})
        _, _, b = self.arm("POST", self.cluster_path("c2") + "/listClusterUserCredential", api="aks")
        text = base64.b64decode(b["kubeconfigs"][0]["value"]).decode()
        self.assertIn("server: https://127.0.0.1:6443\n", text)
        ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n").decode()
        self.assertIn("certificate-authority-data: %s\n" % ca, text)
        for piece in ("apiVersion: client.authentication.k8s.io/v1beta1", "command: kubelogin", "- get-token",
                      "- --login\n      - devicecode", "- --server-id\n      - 6dae42f8-4368-4678-94ff-3960e28e3630"):
            self.assertIn(piece, text)
        self.assertNotIn("token:", text)


class AgentPoolTests(FakeTest):
    def setUp(self):
        super().setUp()
        self.make_group()
        self.make_cluster()

    def test_pool_rules(self):
        bad = [({"vmSize": GPU, "count": 0, "mode": "System"}, "InvalidParameter"),
               ({"vmSize": GPU, "enableAutoScaling": True, "minCount": 2, "maxCount": 1}, "InvalidParameter"),
               ({"vmSize": GPU, "enableAutoScaling": True, "minCount": 1}, "InvalidParameter"),
               ({"vmSize": GPU, "enableAutoScaling": True, "minCount": 1, "maxCount": 3, "count": 5},
                "InvalidParameter"),
               ({"vmSize": GPU, "scaleSetPriority": "Spot"}, "InvalidParameter"),
               ({"vmSize": GPU, "nodeTaints": ["no-effect"]}, "InvalidParameter"),
               ({"vmSize": "Standard_Nope"}, "BadRequest"),
               ({"vmSize": GPU, "availabilityZones": ["4"]}, "AvailabilityZoneNotSupported")]
        for props, code in bad:
            s, _, b = self.put_pool("gpu", props)
            self.assertEqual((s, b["error"]["code"]), (400, code), props)
        s, h, b = self.put_pool("gpu", {"vmSize": GPU, "count": 0, "mode": "User", "enableAutoScaling": True,
                                        "minCount": 0, "maxCount": 4})
        self.assertEqual((s, b["properties"]["provisioningState"], b["properties"]["count"]), (201, "Creating", 0))
        self.assertIn("Azure-AsyncOperation", h)
        self.wait_async(h)

    def test_bad_pool_name_is_a_problem(self):
        self.expect_problems = True
        s, _, b = self.put_pool("Bad_Name", {"vmSize": GPU})
        self.assertEqual(s, 400)
        self.assertIn("agentPoolName", self.problems()[0]["problem"])

    def test_spot_label_and_taint(self):
        props = {"vmSize": GPU, "count": 1, "mode": "User", "scaleSetPriority": "Spot",
                 "scaleSetEvictionPolicy": "Delete", "nodeLabels": {"gpu": "a100"}, "nodeTaints": ["gpu=true:NoSchedule"]}
        s, h, b = self.put_pool("spot", props)
        self.assertEqual(s, 201)
        p = b["properties"]
        self.assertEqual(p["nodeLabels"], {"gpu": "a100", "kubernetes.azure.com/scalesetpriority": "spot"})
        self.assertEqual(p["nodeTaints"], ["gpu=true:NoSchedule", "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"])
        self.assertEqual(p["spotMaxPrice"], -1)
        self.wait_async(h)
        # Sending back what AKS answered is not a change.
        s, h, b = self.put_pool("spot", p | {"provisioningState": None, "currentOrchestratorVersion": None,
                                             "eTag": None, "powerState": None})
        self.assertEqual((s, b["properties"]["nodeTaints"]), (200, p["nodeTaints"]))
        self.wait_async(h)
        s, _, usage = self.arm("GET", "/providers/Microsoft.Compute/locations/eastus/usages", api="usage")
        use = {u["name"]["value"]: u["currentValue"] for u in usage["value"]}
        self.assertEqual((use["lowPriorityCores"], use["standardNCADSA100v4Family"]), (24, 0))

    def test_immutable_and_mutable_changes(self):
        s, h, _ = self.put_pool("gpu", {"vmSize": GPU, "count": 1, "availabilityZones": ["1"]})
        self.wait_async(h)
        for change in ({"vmSize": "Standard_NC48ads_A100_v4"}, {"availabilityZones": ["2"]},
                       {"osDiskSizeGB": 256}, {"scaleSetPriority": "Spot", "scaleSetEvictionPolicy": "Delete"}):
            s, _, b = self.put_pool("gpu", dict({"vmSize": GPU, "count": 1}, **change))
            self.assertEqual((s, b["error"]["code"]), (400, "PropertyChangeNotAllowed"), change)
        s, h, b = self.put_pool("gpu", {"vmSize": GPU, "count": 3, "nodeLabels": {"a": "b"}, "tags": {"t": "1"}})
        self.assertEqual((s, b["properties"]["provisioningState"], b["properties"]["count"]), (200, "Updating", 3))
        self.assertEqual(b["properties"]["availabilityZones"], ["1"])      # omitted: kept
        self.wait_async(h)
        self.f.control("POST", "resize", {"resourceGroup": self.rg, "cluster": "c1", "pool": "gpu", "count": 5})
        self.assertEqual(self.arm("GET", self.pool_path("gpu"), api="aks")[2]["properties"]["count"], 5)

    def test_delete_and_last_system_pool(self):
        s, _, b = self.arm("DELETE", self.pool_path("system"), api="aks")
        self.assertEqual((s, b["error"]["code"]), (400, "MustDefineAtLeastOneSystemPool"))
        s, h, _ = self.put_pool("gpu", {"vmSize": GPU, "count": 1})
        self.wait_async(h)
        s, h, b = self.arm("DELETE", self.pool_path("gpu"), api="aks")
        self.assertEqual(s, 202)
        self.wait_location(h)
        self.assertEqual(self.arm("GET", self.pool_path("gpu"), api="aks")[0], 404)
        self.assertEqual(self.arm("DELETE", self.pool_path("gpu"), api="aks")[0], 204)

    def test_subnet_in_use(self):
        self.make_vnet()
        sid = "/subscriptions/%s%s/subnets/nodes" % (SUB, self.vnet_path())
        s, _, b = self.put_pool("vnet", {"vmSize": GPU, "count": 1, "vnetSubnetID": sid.replace("nodes", "none")})
        self.assertEqual((s, b["error"]["code"]), (400, "InvalidParameter"))
        s, h, _ = self.put_pool("vnet", {"vmSize": GPU, "count": 1, "vnetSubnetID": sid})
        self.assertEqual(s, 201)
        self.wait_async(h)
        s, _, b = self.arm("DELETE", self.vnet_path() + "/subnets/nodes", api="network")
        self.assertEqual((s, b["error"]["code"]), (400, "InUseSubnetCannotBeDeleted"))
        s, _, b = self.put_pool("vnet", {"vmSize": GPU, "vnetSubnetID": sid.replace("nodes", "other")})
        self.assertEqual((s, b["error"]["code"]), (400, "PropertyChangeNotAllowed"))


class CapacityTests(FakeTest):
    def setUp(self):
        super().setUp()
        self.make_group()
        self.make_cluster()

    def test_allocation_failure_per_zone(self):
        self.f.control("POST", "config", {"allocation_failures": {GPU: ["1"]}})
        s, h, b = self.put_pool("gpua", {"vmSize": GPU, "count": 1, "availabilityZones": ["1", "2"]})
        self.assertEqual((s, b["properties"]["provisioningState"]), (201, "Creating"))
        done = self.wait_async(h, want="Failed")
        self.assertEqual(done["error"]["code"], "ZonalAllocationFailed")
        self.assertIn("zone '1'", done["error"]["message"])
        self.assertTrue(done["error"]["message"].startswith("Allocation failed. We do not have sufficient capacity "
                                                            "for the requested VM size in this zone."))
        self.assertEqual(self.arm("GET", self.pool_path("gpua"), api="aks")[2]["properties"]["provisioningState"],
                         "Failed")
        s, h, _ = self.put_pool("gpub", {"vmSize": GPU, "count": 1, "availabilityZones": ["2", "3"]})
        self.wait_async(h)
        s, h, _ = self.arm("DELETE", self.pool_path("gpua"), api="aks")
        self.wait_location(h)

    def test_cluster_create_fails_with_its_pool(self):
        self.f.control("POST", "config", {"allocation_failures": {"*": ["2"]}})
        _, h, _ = self.make_cluster("c2", wait=False, pools=[
            {"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D4ds_v5", "availabilityZones": ["1"]},
            {"name": "gpu", "mode": "User", "count": 1, "vmSize": GPU, "availabilityZones": ["2"]}])
        self.assertEqual(self.wait_async(h, want="Failed")["error"]["code"], "ZonalAllocationFailed")
        _, _, b = self.arm("GET", self.cluster_path("c2"), api="aks")
        self.assertEqual(b["properties"]["provisioningState"], "Failed")
        self.assertEqual({p["name"]: p["provisioningState"] for p in b["properties"]["agentPoolProfiles"]},
                         {"system": "Succeeded", "gpu": "Failed"})
        _, _, u = self.arm("GET", "/providers/Microsoft.Compute/locations/eastus/usages", api="usage")
        self.assertEqual({x["name"]["value"]: x["currentValue"] for x in u["value"]}["standardNCADSA100v4Family"], 0)

    def test_quota_exceeded(self):
        self.f.control("POST", "config", {"quotas": {"eastus": {"standardNCADSA100v4Family": {"limit": 48,
                                                                                              "current": 24}}}})
        s, _, b = self.put_pool("gpu", {"vmSize": GPU, "count": 2})
        self.assertEqual((s, b["error"]["code"]), (400, "QuotaExceeded"))
        msg = b["error"]["message"]
        self.assertTrue(msg.startswith("Operation could not be completed as it results in exceeding approved "
                                       "standardNCADSA100v4Family Cores quota."), msg)
        self.assertIn("Current Limit: 48, Current Usage: 24, Additional Required: 48", msg)
        s, h, _ = self.put_pool("gpu", {"vmSize": GPU, "count": 1})
        self.assertEqual(s, 201)
        self.wait_async(h)
        s, _, b = self.put_pool("gpu", {"vmSize": GPU, "count": 2})
        self.assertIn("Current Usage: 48, Additional Required: 24", b["error"]["message"])

    def test_sku_restrictions(self):
        self.f.control("POST", "config", {"sku_restrictions": {GPU: {"eastus": ["3"]},
                                                               "Standard_ND96asr_v4": {"eastus": ["*"]}}})
        s, _, b = self.put_pool("gpu", {"vmSize": GPU, "count": 1, "availabilityZones": ["2", "3"]})
        self.assertEqual((s, b["error"]["code"]), (400, "AvailabilityZoneNotSupported"))
        self.assertIn("'3'", b["error"]["message"])
        s, _, b = self.put_pool("nd", {"vmSize": "Standard_ND96asr_v4", "count": 1})
        self.assertEqual((s, b["error"]["code"]), (400, "BadRequest"))
        s, h, _ = self.put_pool("gpu", {"vmSize": GPU, "count": 1, "availabilityZones": ["1", "2"]})
        self.assertEqual(s, 201)
        self.wait_async(h)


if __name__ == "__main__":
    unittest.main()
