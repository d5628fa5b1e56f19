#!/usr/bin/env python3
"""Tests of fake_azure (stdlib unittest; run: python3 providers/azure/fake/test_fake.py).

Why these tests: hoist's end-to-end tests trust the fake to accept what ARM
accepts, refuse what ARM refuses and answer in ARM's shapes.  So besides the
modelled behaviour (long-running operations, cascades, quotas, capacity
failures, SKU restrictions, faults) they replay the stored examples of Azure's
specs (test_fake_replay.py) and drive the az CLI when it is installed
(test_fake_az.py).

This file runs every test: the AKS tests are in test_fake_aks.py, the replay in
test_fake_replay.py, the az CLI test in test_fake_az.py, the fake as a
subprocess with the base test class in test_harness.py; their classes are
imported here so that ``python3 providers/azure/fake/test_fake.py`` stays the
one command.  One fake server serves the whole run and is reset before each test.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_harness import SUB, FakeTest, stop_shared_fake  # noqa: E402
# Imported so that unittest.main() below finds and runs them too.
from test_fake_aks import AgentPoolTests, ClusterTests, CapacityTests  # noqa: E402,F401
from test_fake_az import AzCliTests  # noqa: E402,F401
from test_fake_replay import ReplayTests  # noqa: E402,F401


class ValidationTests(FakeTest):
    expect_problems = True

    def test_unknown_property_is_refused_and_recorded(self):
        s, _, b = self.arm("PUT", self.rg_path(), {"location": "eastus", "colour": "blue"})
        self.assertEqual(s, 400)
        self.assertEqual(b["error"]["code"], "InvalidRequestContent")
        self.assertIn("colour", b["error"]["message"])
        probs = self.problems()
        self.assertEqual(len(probs), 1, probs)
        self.assertEqual(probs[0]["operation"], "ResourceGroups_CreateOrUpdate")
        self.assertIn("unknown property 'colour'", probs[0]["problem"])
        rec = self.f.control("GET", "requests")[-1]
        self.assertEqual((rec["status"], rec["operation"], rec["body"]["colour"]), (400, "ResourceGroups_CreateOrUpdate", "blue"))

    def test_read_only_property_is_refused(self):
        s, _, b = self.arm("PUT", self.rg_path(), {"location": "eastus", "properties": {"provisioningState": "x"}})
        self.assertEqual((s, b["error"]["code"]), (400, "InvalidRequestContent"))
        self.assertIn("read-only", self.problems()[0]["problem"])

    def test_types_enums_and_required(self):
        s, _, _ = self.arm("PUT", self.rg_path(), {"tags": {"a": "b"}})            # location is required
        self.assertEqual(s, 400)
        s, _, _ = self.arm("PUT", self.rg_path(), {"location": 3})
        self.assertEqual(s, 400)
        s, _, b = self.arm("POST", "/providers/Microsoft.Storage/checkNameAvailability",
                           {"name": "abc", "type": "Microsoft.Storage/other"}, api="storage")
        self.assertEqual(s, 400, b)                                               # modelAsString: false
        self.assertIn("is not one of", self.problems()[-1]["problem"])
        self.assertEqual(len(self.problems()), 3)

    def test_api_version(self):
        s, _, b = self.arm("GET", self.rg_path(), api=None, query={"api-version": "2021-04-01"})
        self.assertEqual((s, b["error"]["code"]), (400, "InvalidApiVersionParameter"))
        self.assertIn("2025-04-01", b["error"]["message"])
        s, _, b = self.arm("GET", self.rg_path(), api=None)
        self.assertEqual((s, b["error"]["code"]), (400, "MissingApiVersionParameter"))
        s, _, b = self.arm("GET", self.rg_path(), query={"colour": "blue"})
        self.assertEqual((s, b["error"]["code"]), (400, "InvalidQueryParameter"))
        self.assertEqual(len(self.problems()), 3)

    def test_authorization(self):
        s, h, b = self.arm("GET", self.rg_path(), auth=False)
        self.assertEqual((s, b["error"]["code"]), (401, "AuthenticationFailed"))
        self.assertIn("WWW-Authenticate", h)
        s, _, b = self.arm("GET", self.rg_path(), auth=False, headers={"Authorization": "Bearer other"})
        self.assertEqual((s, b["error"]["code"]), (401, "AuthenticationFailed"))
        self.assertEqual(len(self.problems()), 2)
        self.assertEqual(self.f.control("GET", "requests")[0]["authorization"], None)

    def test_routes(self):
        s, _, b = self.arm("GET", "/providers/Microsoft.Nothing/things")
        self.assertEqual(s, 404)
        s, _, b = self.arm("POST", self.rg_path())
        self.assertEqual((s, b["error"]["code"]), (405, "MethodNotAllowed"))
        s, _, b = self.arm("GET", self.rg_path() + "/providers/Microsoft.Storage/storageAccounts/Bad_Name",
                           api="storage")
        self.assertEqual((s, b["error"]["code"]), (400, "AccountNameInvalid"))
        s, _, b = self.f.call("GET", "/subscriptions/not-a-uuid/resourcegroups/x", query={"api-version": "2025-04-01"})
        self.assertEqual(s, 404)          # resources' SubscriptionIdParameter declares no uuid format
        self.assertEqual(len(self.problems()), 3)


class RoutingTests(FakeTest):
    def test_case_insensitive_segments_and_other_subscription(self):
        self.make_group()
        s, _, b = self.f.call("GET", "/SUBSCRIPTIONS/%s/resourcegroups/%s" % (SUB, self.rg.upper()),
                              query={"api-version": "2025-04-01"})
        self.assertEqual((s, b["name"]), (200, self.rg))       # name preserved as created
        s, _, b = self.f.call("GET", "/subscriptions/%s/resourceGroups/%s/providers/microsoft.network/"
                              "VIRTUALNETWORKS" % (SUB, self.rg), query={"api-version": "2025-01-01"})
        self.assertEqual((s, b), (200, {"value": []}))
        s, _, b = self.f.call("GET", "/subscriptions/00000000-0000-0000-0000-000000000009/resourcegroups/x",
                              query={"api-version": "2025-04-01"})
        self.assertEqual((s, b["error"]["code"]), (404, "SubscriptionNotFound"))


class ResourceGroupTests(FakeTest):
    def test_create_update_get_list_patch(self):
        s, _, b = self.arm("PUT", self.rg_path(), {"location": "eastus", "tags": {"hoist": "dev"}})
        self.assertEqual((s, b["properties"]["provisioningState"], b["id"]),
                         (201, "Succeeded", "/subscriptions/%s/resourceGroups/%s" % (SUB, self.rg)))
        s, _, b = self.arm("PUT", self.rg_path(), {"location": "eastus", "tags": {"hoist": "dev"}})
        self.assertEqual(s, 200)
        s, _, b = self.arm("PUT", self.rg_path(), {"location": "westus2"})
        self.assertEqual((s, b["error"]["code"]), (409, "InvalidResourceGroupLocation"))
        s, _, b = self.arm("GET", "/resourceGroups/nope")
        self.assertEqual((s, b["error"]["code"]), (404, "ResourceGroupNotFound"))
        self.make_group("other", tags={"hoist": "prod"})
        s, _, b = self.arm("GET", "/resourcegroups", query={"$filter": "tagName eq 'hoist' and tagValue eq 'dev'"})
        self.assertEqual([g["name"] for g in b["value"]], [self.rg])
        s, _, b = self.arm("GET", "/resourcegroups")
        self.assertEqual(len(b["value"]), 2)
        s, _, b = self.arm("PATCH", self.rg_path(), {"tags": {"hoist": "prod"}})
        self.assertEqual((s, b["tags"]), (200, {"hoist": "prod"}))

    def test_tag_rules(self):
        s, _, b = self.arm("PUT", self.rg_path(), {"location": "eastus", "tags": {"a/b": "x"}})
        self.assertEqual((s, b["error"]["code"]), (400, "InvalidTagNameCharacters"))
        s, _, b = self.arm("PUT", self.rg_path(), {"location": "eastus", "tags": {"k%d" % i: "v" for i in range(51)}})
        self.assertEqual((s, b["error"]["code"]), (400, "InvalidTagCount"))
        s, _, b = self.arm("PUT", self.rg_path(), {"location": "eastus", "tags": {"k": "v" * 257}})
        self.assertEqual((s, b["error"]["code"]), (400, "InvalidTagValueLength"))

    def test_delete_cascades(self):
        self.f.control("POST", "config", {"polls": 2})
        self.make_group()
        self.make_vnet()
        self.make_cluster()
        s, h, _ = self.arm("PUT", self.rg_path() + "/providers/Microsoft.Storage/storageAccounts/st" + self.rg[3:],
                           {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}, api="storage")
        self.wait_location(h)
        types = {r["type"] for r in self.f.control("GET", "resources")}
        self.assertIn("Microsoft.ContainerService/managedClusters/agentPools", types)
        s, h, b = self.arm("DELETE", self.rg_path())
        self.assertEqual((s, b, h["Retry-After"]), (202, None, "1"))
        self.assertIn("/subscriptions/%s/operationresults/" % SUB, h["Location"])
        self.assertEqual(self.arm("GET", self.rg_path())[2]["properties"]["provisioningState"], "Deleting")
        statuses = [self.f.call("GET", h["Location"])[0] for _ in range(3)]
        self.assertEqual(statuses, [202, 202, 200])
        self.assertEqual(self.f.control("GET", "resources"), [])      # node resource group gone too
        s, _, b = self.arm("DELETE", self.rg_path())
        self.assertEqual((s, b["error"]["code"]), (404, "ResourceGroupNotFound"))


class NetworkTests(FakeTest):
    def test_vnet_long_running_put(self):
        self.f.control("POST", "config", {"polls": 2})
        self.make_group()
        body = {"location": "eastus", "tags": {"hoist": "dev"},
                "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/8"]},
                               "subnets": [{"name": "nodes", "properties": {"addressPrefix": "10.1.0.0/16"}}]}}
        s, h, b = self.arm("PUT", self.vnet_path(), body, api="network")
        self.assertEqual((s, b["properties"]["provisioningState"], h["Retry-After"]), (201, "Updating", "1"))
        self.assertIn("/providers/Microsoft.Network/locations/eastus/operations/", h["Azure-AsyncOperation"])
        self.assertEqual(b["properties"]["subnets"][0]["id"], b["id"] + "/subnets/nodes")
        polls = [self.f.call("GET", h["Azure-AsyncOperation"])[2] for _ in range(3)]
        self.assertEqual([p["status"] for p in polls], ["InProgress", "InProgress", "Succeeded"])
        s, _, b = self.arm("GET", self.vnet_path(), api="network")
        self.assertEqual(b["properties"]["provisioningState"], "Succeeded")
        self.assertEqual(b["properties"]["subnets"][0]["properties"]["provisioningState"], "Succeeded")
        s, h, b = self.arm("PUT", self.vnet_path(), body, api="network")
        self.assertEqual(s, 200)
        s, _, b = self.arm("PUT", self.vnet_path() + "/subnets/more", {"properties": {"addressPrefix": "10.2.0.0/16"}},
                           api="network")
        self.assertEqual((s, b["error"]["code"]), (409, "AnotherOperationInProgress"))
        self.wait_async(h)
        s, _, b = self.arm("PATCH", self.vnet_path(), {"tags": {"hoist": "prod"}}, api="network")
        self.assertEqual((s, b["tags"]), (200, {"hoist": "prod"}))

    def test_subnet_rules_and_delete(self):
        self.make_group()
        self.make_vnet()
        sub = self.vnet_path() + "/subnets/"
        s, _, b = self.arm("PUT", sub + "out", {"properties": {"addressPrefix": "192.168.0.0/24"}}, api="network")
        self.assertEqual((s, b["error"]["code"]), (400, "NetcfgSubnetRangeOutsideVnet"))
        s, _, b = self.arm("PUT", sub + "over", {"properties": {"addressPrefix": "10.1.2.0/24"}}, api="network")
        self.assertEqual((s, b["error"]["code"]), (400, "NetcfgSubnetRangesOverlap"))
        s, _, b = self.arm("PUT", sub + "none", {"properties": {}}, api="network")
        self.assertEqual((s, b["error"]["code"]), (400, "NoAddressPrefixOrPoolProvided"))
        s, h, b = self.arm("PUT", sub + "pods", {"properties": {"addressPrefix": "10.2.0.0/16"}}, api="network")
        self.assertEqual((s, b["properties"]["provisioningState"]), (201, "Updating"))
        self.wait_async(h)
        s, h, b = self.arm("DELETE", sub + "pods", api="network")
        self.assertEqual(s, 202)
        self.assertIn("/providers/Microsoft.Network/locations/eastus/operationResults/", h["Location"])
        self.wait_location(h)
        self.assertEqual(self.arm("GET", sub + "pods", api="network")[0], 404)
        self.assertEqual(self.arm("DELETE", sub + "pods", api="network")[0], 204)
        # A vnet PUT replaces the subnet list.
        s, h, b = self.arm("PUT", self.vnet_path(), {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/8"]}}}, api="network")
        self.assertEqual((s, b["properties"]["subnets"]), (200, []))
        self.wait_async(h)
        s, h, _ = self.arm("DELETE", self.vnet_path(), api="network")
        self.wait_location(h)
        self.assertEqual(self.arm("DELETE", self.vnet_path(), api="network")[0], 204)


class StorageTests(FakeTest):
    def account(self, name, rg=None):
        return self.rg_path(rg) + "/providers/Microsoft.Storage/storageAccounts/" + name

    def test_account_lifecycle_and_names(self):
        self.make_group()
        self.make_group("other")
        name = "st" + self.rg[3:]
        body = {"location": "eastus", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2", "tags": {"hoist": "dev"}}
        s, h, b = self.arm("PUT", self.account(name), body, api="storage")
        self.assertEqual((s, b, h["Retry-After"]), (202, None, "1"))
        self.assertIn("/providers/Microsoft.Storage/locations/eastus/asyncoperations/", h["Location"])
        s, acct = self.wait_location(h)
        self.assertEqual((acct["properties"]["provisioningState"], acct["sku"]["tier"]), ("Succeeded", "Standard"))
        self.assertEqual(acct["properties"]["primaryEndpoints"]["blob"], "https://%s.blob.core.windows.net/" % name)
        self.assertEqual(acct["properties"]["secondaryLocation"], "westus")
        s, _, b = self.arm("PUT", self.account(name, "other"), body, api="storage")
        self.assertEqual((s, b["error"]["code"]), (409, "StorageAccountAlreadyTaken"))
        chk = "/providers/Microsoft.Storage/checkNameAvailability"
        t = "Microsoft.Storage/storageAccounts"
        self.assertEqual(self.arm("POST", chk, {"name": name, "type": t}, api="storage")[2]["reason"], "AlreadyExists")
        self.assertEqual(self.arm("POST", chk, {"name": "Bad", "type": t}, api="storage")[2]["reason"],
                         "AccountNameInvalid")
        self.assertEqual(self.arm("POST", chk, {"name": "freename1", "type": t}, api="storage")[2],
                         {"nameAvailable": True})
        self.f.control("POST", "config", {"taken_storage_account_names": ["freename1"]})
        self.assertFalse(self.arm("POST", chk, {"name": "freename1", "type": t}, api="storage")[2]["nameAvailable"])
        s, _, b = self.arm("PATCH", self.account(name), {"tags": {"hoist": "prod"}}, api="storage")
        self.assertEqual((s, b["tags"]), (200, {"hoist": "prod"}))
        s, _, b = self.arm("PUT", self.account(name), body, api="storage")      # existing: synchronous update
        self.assertEqual((s, b["tags"]), (200, {"hoist": "dev"}))
        s, _, lst = self.arm("GET", self.rg_path() + "/providers/Microsoft.Storage/storageAccounts", api="storage")
        self.assertEqual([a["name"] for a in lst["value"]], [name])
        self.assertEqual(self.arm("DELETE", self.account(name), api="storage")[0], 200)
        self.assertEqual(self.arm("DELETE", self.account(name), api="storage")[0], 204)
        self.assertEqual(self.arm("GET", self.account(name), api="storage")[0], 404)

    def test_containers(self):
        self.make_group()
        name = "st" + self.rg[3:]
        s, h, _ = self.arm("PUT", self.account(name), {"location": "eastus", "sku": {"name": "Standard_LRS"},
                                                       "kind": "StorageV2"}, api="storage")
        self.wait_location(h)
        c = self.account(name) + "/blobServices/default/containers/tfstate"
        s, _, b = self.arm("PUT", c, {"properties": {"publicAccess": "None", "metadata": {"a": "b"}}}, api="storage")
        self.assertEqual((s, b["properties"]["leaseState"]), (201, "Available"))
        self.assertEqual(self.arm("PUT", c, {}, api="storage")[0], 200)
        self.assertEqual(self.arm("GET", c, api="storage")[2]["properties"]["metadata"], {"a": "b"})
        s, _, b = self.arm("PUT", c, {"properties": {"publicAccess": "Blob"}}, api="storage")
        self.assertEqual((s, b["error"]["code"]), (409, "PublicAccessNotPermitted"))
        self.assertEqual(self.arm("DELETE", c, api="storage")[0], 200)
        self.assertEqual(self.arm("DELETE", c, api="storage")[0], 204)
        s, _, b = self.arm("GET", c, api="storage")
        self.assertEqual((s, b["error"]["code"]), (404, "ContainerNotFound"))


class ComputeTests(FakeTest):
    def test_skus_and_restrictions(self):
        self.f.control("POST", "config", {"sku_restrictions": {"Standard_NC24ads_A100_v4": {"eastus": ["3"]}}})
        s, _, b = self.arm("GET", "/providers/Microsoft.Compute/skus", api="skus",
                           query={"$filter": "location eq 'eastus'"})
        self.assertEqual(s, 200)
        self.assertEqual({x["locations"][0] for x in b["value"]}, {"eastus"})
        a100 = [x for x in b["value"] if x["name"] == "Standard_NC24ads_A100_v4"][0]
        self.assertEqual(a100["family"], "standardNCADSA100v4Family")
        self.assertEqual(a100["locationInfo"], [{"location": "eastus", "zones": ["1", "2", "3"], "zoneDetails": []}])
        caps = {c["name"]: c["value"] for c in a100["capabilities"]}
        self.assertEqual((caps["vCPUs"], caps["GPUs"]), ("24", "1"))
        self.assertEqual(a100["restrictions"], [{"type": "Zone", "values": ["eastus"], "restrictionInfo": {
            "locations": ["eastus"], "zones": ["3"]}, "reasonCode": "NotAvailableForSubscription"}])
        s, _, b = self.arm("GET", "/providers/Microsoft.Compute/skus", api="skus")
        self.assertEqual({x["locations"][0] for x in b["value"]}, {"eastus", "westus2"})

    def test_usages_follow_quota_config_and_pools(self):
        self.f.control("POST", "config", {"quotas": {"eastus": {"standardDDSv5Family": {"limit": 40, "current": 8}}}})
        self.make_group()
        self.make_cluster()                         # one Standard_D4ds_v5 node
        s, _, b = self.arm("GET", "/providers/Microsoft.Compute/locations/eastus/usages", api="usage")
        use = {u["name"]["value"]: (u["currentValue"], u["limit"]) for u in b["value"]}
        self.assertEqual(use["standardDDSv5Family"], (12, 40))
        self.assertEqual(use["cores"], (4, 10000))
        self.assertEqual(use["standardNCADSA100v4Family"], (0, 1000))


class FaultAndControlTests(FakeTest):
    def test_throttling_fault(self):
        self.f.control("POST", "config", {"faults": [{"operation": "ResourceGroups_Get", "status": 429, "count": 2,
                                                      "retry_after": 3}]})
        self.make_group()
        for _ in range(2):
            s, h, b = self.arm("GET", self.rg_path())
            self.assertEqual((s, b["error"]["code"], h["Retry-After"]), (429, "TooManyRequests", "3"))
        self.assertEqual(self.arm("GET", self.rg_path())[0], 200)
        self.f.control("POST", "config", {"faults": [{"operation": "*", "status": 503, "count": 1}]})
        s, _, b = self.arm("GET", self.rg_path())
        self.assertEqual((s, b["error"]["code"]), (503, "ServiceUnavailable"))
        self.f.control("POST", "config", {"faults": [{"operation": "*", "status": 500, "count": 1}]})
        self.assertEqual(self.arm("GET", self.rg_path())[2]["error"]["code"], "InternalServerError")
        self.assertEqual([r["status"] for r in self.f.control("GET", "requests")], [201, 429, 429, 200, 503, 500])

    def test_config_and_reset_and_resources(self):
        s, _, b = self.f.call("POST", "/_fake/config", {"bogus": 1}, auth=False)
        self.assertEqual(s, 400)
        self.assertIn("unknown config keys", b["error"])
        s, _, b = self.f.call("POST", "/_fake/config", {"faults": [{"operation": "Nope_Get"}]}, auth=False)
        self.assertEqual(s, 400)
        self.assertEqual(self.f.control("POST", "config", {"polls": 0})["polls"], 0)
        self.make_group(tags={"hoist-env": "dev"})
        self.make_vnet()
        rows = self.f.control("GET", "resources?tag=hoist-env=dev")
        self.assertEqual([(r["type"], r["name"]) for r in rows], [("Microsoft.Resources/resourceGroups", self.rg)])
        rows = self.f.control("GET", "resources")
        sub = [r for r in rows if r["type"] == "Microsoft.Network/virtualNetworks/subnets"]
        self.assertEqual((sub[0]["name"], sub[0]["tags"]), ("nodes", None))
        self.f.control("POST", "reset", {"records_only": True})
        self.assertEqual(self.f.control("GET", "requests"), [])
        self.assertEqual(len(self.f.control("GET", "resources")), 3)
        self.f.control("POST", "reset")
        self.assertEqual(self.f.control("GET", "resources"), [])
        self.assertEqual(self.f.control("GET", "config")["polls"], 2)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=1)
    finally:
        stop_shared_fake()
