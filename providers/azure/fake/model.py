"""The resources fake_azure holds, and the operations on them: resource groups and
long-running operations here, the rest in the mixins (network_model,
aks_model, aks_pools, storage_model, compute_model).

Why one object: ARM resources depend on each other across providers (deleting
a resource group deletes the vnets, clusters and storage accounts in it; a
subnet used by an agent pool cannot be deleted; quota usage is the sum of the
agent pools' nodes), so they live in one place, under the server's one lock.

A handler is ``h_<operationId>(req)`` and returns ``Answer(status, body,
headers)`` or raises ``errors.ArmError``.  The request has already been
checked against the specs (path, query, body), and its answer is checked
against them afterwards.
"""

import re

from aks_model import ClusterMixin
from aks_pools import PoolMixin
from compute_model import ComputeMixin
from errors import ArmError, bad_request, conflict, group_not_found
from network_model import NetworkMixin
from state import Answer, Operation, tag_error
from storage_model import StorageMixin

RG_FILTER = re.compile(r"^\s*tagName\s+eq\s+'((?:[^']|'')*)'\s+and\s+tagValue\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)

API = {"resources": "2025-04-01", "network": "2025-01-01", "aks": "2026-10-01", "storage": "2025-01-01"}


class Arm(NetworkMixin, ClusterMixin, PoolMixin, StorageMixin, ComputeMixin):
    def __init__(self, state):
        self.st = state
        self.groups = {}        # lower(name) -> group
        self.vnets = {}         # (lower(rg), lower(name)) -> vnet
        self.clusters = {}      # (lower(rg), lower(name)) -> cluster
        self.accounts = {}      # lower(name) -> storage account (names are global)
        self.ops = {}           # operation id -> state.Operation

    @property
    def sub(self):
        return self.st.subscription

    def handle(self, op_id, req):
        self.current_req = req
        fn = getattr(self, "h_" + op_id, None)
        if fn is None:
            raise ArmError(501, "NotImplemented", "fake_azure has no handler for %s." % op_id,
                           problem="no handler for %s (a bug in fake_azure)" % op_id)
        return fn(req)

    # ------------------------------------------------------------------ helpers
    def group_id(self, name):
        return "/subscriptions/%s/resourceGroups/%s" % (self.sub, name)

    def group(self, name, writing=False):
        g = self.groups.get(name.lower())
        if g is None:
            raise group_not_found(name)
        if writing and g["state"] == "Deleting":
            raise conflict("ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning "
                           "state and cannot perform this operation." % g["name"])
        return g

    @staticmethod
    def check_tags(tags):
        err = tag_error(tags)
        if err:
            raise bad_request(*err)

    def start_op(self, rp, location, resource_id, finish, result=None):
        op = Operation(self.st, rp, location, resource_id, finish, result)
        self.ops[op.id] = op
        return op

    def op_urls(self, req, op):
        """(Azure-AsyncOperation URL, Location URL) of an operation."""
        s = "%s/subscriptions/%s" % (req.base, self.sub)
        if op.rp == "resources":
            return None, "%s/operationresults/%s?api-version=%s" % (s, op.id, API["resources"])
        if op.rp == "storage":
            return None, "%s/providers/Microsoft.Storage/locations/%s/asyncoperations/%s?monitor=true&" \
                         "api-version=%s" % (s, op.location, op.id, API["storage"])
        if op.rp == "network":
            p = "%s/providers/Microsoft.Network/locations/%s" % (s, op.location)
            return ("%s/operations/%s?api-version=%s" % (p, op.id, API["network"]),
                    "%s/operationResults/%s?api-version=%s" % (p, op.id, API["network"]))
        p = "%s/providers/Microsoft.ContainerService/locations/%s" % (s, op.location)
        return ("%s/operations/%s?api-version=%s" % (p, op.id, API["aks"]),
                "%s/operationresults/%s?api-version=%s" % (p, op.id, API["aks"]))

    def async_headers(self, req, op):
        """Headers of a long-running PUT: Azure-AsyncOperation + Retry-After."""
        a, _ = self.op_urls(req, op)
        return {"Azure-AsyncOperation": a, "Retry-After": "1"}

    def delete_headers(self, req, op):
        """Headers of a long-running DELETE: Location (+ Azure-AsyncOperation) + Retry-After."""
        a, loc = self.op_urls(req, op)
        h = {"Location": loc, "Retry-After": "1"}
        if a:
            h["Azure-AsyncOperation"] = a
        return h

    def find_op(self, req, rp):
        op = self.ops.get(req.params["operationId"])
        if op is None or op.rp != rp or (op.location and req.params.get("location", op.location).lower()
                                         != op.location.lower()):
            raise ArmError(404, "OperationNotFound", "The operation '%s' could not be found."
                           % req.params["operationId"],
                           problem="poll of an operation the fake never handed out: %s"
                           % req.params["operationId"])
        return op

    # ------------------------------------------------------------------ resource groups
    def render_group(self, g):
        out = {"id": self.group_id(g["name"]), "name": g["name"], "type": "Microsoft.Resources/resourceGroups",
               "location": g["location"], "properties": {"provisioningState": g["state"]}}
        if g.get("tags") is not None:
            out["tags"] = dict(g["tags"])
        if g.get("managedBy"):
            out["managedBy"] = g["managedBy"]
        return out

    def h_ResourceGroups_CreateOrUpdate(self, req):
        name, body = req.params["resourceGroupName"], req.body
        if name.endswith("."):
            raise bad_request("InvalidResourceGroupName", "Resource group names cannot end with a period.")
        self.check_tags(body.get("tags"))
        g = self.groups.get(name.lower())
        if g is not None:
            if g["location"].lower() != body["location"].lower():
                raise conflict("InvalidResourceGroupLocation",
                               "Invalid resource group location '%s'. The Resource group already exists in "
                               "location '%s'." % (body["location"], g["location"]))
            if g["state"] == "Deleting":
                raise conflict("ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning "
                               "state and cannot perform this operation." % g["name"])
            g["tags"] = body.get("tags")
            if "managedBy" in body:
                g["managedBy"] = body["managedBy"]
            return Answer(200, self.render_group(g))
        g = {"name": name, "location": body["location"], "tags": body.get("tags"),
             "managedBy": body.get("managedBy"), "state": "Succeeded"}
        self.groups[name.lower()] = g
        return Answer(201, self.render_group(g))

    def h_ResourceGroups_Get(self, req):
        return Answer(200, self.render_group(self.group(req.params["resourceGroupName"])))

    def h_ResourceGroups_Update(self, req):
        g = self.group(req.params["resourceGroupName"], writing=True)
        body = req.body
        if "tags" in body:
            self.check_tags(body["tags"])
            g["tags"] = body["tags"]
        if "managedBy" in body:
            g["managedBy"] = body["managedBy"]
        return Answer(200, self.render_group(g))

    def h_ResourceGroups_List(self, req):
        flt = req.query.get("$filter")
        want = None
        if flt is not None:
            m = RG_FILTER.match(flt)
            if not m:
                raise ArmError(400, "InvalidFilterInQueryString",
                               "Invalid $filter '%s': fake_azure supports only "
                               "\"tagName eq 'K' and tagValue eq 'V'\"." % flt,
                               problem="ResourceGroups_List $filter the fake does not model: %r" % flt)
            want = (m.group(1).replace("''", "'"), m.group(2).replace("''", "'"))
        out = []
        for g in self.groups.values():
            if want:
                tags = {k.lower(): v for k, v in (g.get("tags") or {}).items()}
                if tags.get(want[0].lower()) != want[1]:
                    continue
            out.append(self.render_group(g))
        if "$top" in req.query:
            out = out[:int(req.query["$top"])]
        return Answer(200, {"value": out})

    def h_ResourceGroups_Delete(self, req):
        name = req.params["resourceGroupName"]
        g = self.group(name)
        if g["state"] != "Deleting":
            g["state"] = "Deleting"

            def finish():
                if self.groups.get(g["name"].lower()) is g:
                    self.delete_group_contents(g["name"])
                    del self.groups[g["name"].lower()]
            g["op"] = self.start_op("resources", None, self.group_id(g["name"]), finish)
        _, loc = self.op_urls(req, g["op"])
        return Answer(202, None, {"Location": loc, "Retry-After": "1"})

    def delete_group_contents(self, rg):
        """Everything in a resource group goes with it (and node resource groups of its clusters)."""
        rgl = rg.lower()
        for key in [k for k in self.clusters if k[0] == rgl]:
            self.drop_cluster(key)
        for key in [k for k in self.vnets if k[0] == rgl]:
            del self.vnets[key]
        for key in [k for k, a in self.accounts.items() if a["rg"].lower() == rgl]:
            del self.accounts[key]

    # ------------------------------------------------------------------ operation URLs
    def h_Fake_ResourcesOperationResults(self, req):
        op = self.find_op(req, "resources")
        if op.poll() == "InProgress":
            return Answer(202, None, {"Location": self.op_urls(req, op)[1], "Retry-After": "1"})
        return Answer(200)

    def location_poll(self, req, rp):
        op = self.find_op(req, rp)
        status = op.poll()
        if status == "InProgress":
            return Answer(202, None, {"Location": self.op_urls(req, op)[1], "Retry-After": "1"})
        if status == "Failed":
            raise ArmError(400, op.error["code"], op.error["message"])
        return Answer(200)

    def h_Fake_NetworkOperationResults(self, req):
        return self.location_poll(req, "network")

    def h_Fake_ContainerServiceOperationResults(self, req):
        return self.location_poll(req, "aks")

    def h_Fake_NetworkAsyncOperation(self, req):
        op = self.find_op(req, "network")
        out = {"status": op.poll()}
        if op.error:
            out["error"] = dict(op.error)
        headers = {"Retry-After": "1"} if out["status"] == "InProgress" else {}
        return Answer(200, out, headers)

    def h_Fake_ContainerServiceAsyncOperation(self, req):
        op = self.find_op(req, "aks")
        status = op.poll()
        out = {"id": "/subscriptions/%s/providers/Microsoft.ContainerService/locations/%s/operations/%s"
               % (self.sub, op.location, op.id), "name": op.id, "status": status, "startTime": op.start}
        if op.end:
            out["endTime"] = op.end
        if op.error:
            out["error"] = dict(op.error)
        headers = {"Retry-After": "1"} if status == "InProgress" else {}
        return Answer(200, out, headers)

    def h_Fake_StorageAsyncOperation(self, req):
        op = self.find_op(req, "storage")
        if op.poll() == "InProgress":
            return Answer(202, None, {"Location": self.op_urls(req, op)[1], "Retry-After": "1"})
        body = op.result() if op.result else None
        if body is None:
            raise ArmError(404, "ResourceNotFound", "The storage account of operation %s no longer exists."
                           % op.id)
        return Answer(200, body)

    # ------------------------------------------------------------------ control API
    def resources(self, tag):
        """[{type, id, name, tags, provisioningState, ...}] of everything, or of what has tag K=V."""
        want = None
        if tag is not None:
            k, _, v = tag.partition("=")
            want = (k.lower(), v)
        rows = []

        def add(typ, rid, name, tags, state, **extra):
            if want is not None:
                if tags is None or {a.lower(): b for a, b in tags.items()}.get(want[0]) != want[1]:
                    return
            row = {"type": typ, "id": rid, "name": name, "tags": tags, "provisioningState": state}
            row.update(extra)
            rows.append(row)
        for g in self.groups.values():
            add("Microsoft.Resources/resourceGroups", self.group_id(g["name"]), g["name"], g.get("tags") or {},
                g["state"], location=g["location"], managedBy=g.get("managedBy"))
        for v in self.vnets.values():
            vid = self.vnet_id(v)
            add("Microsoft.Network/virtualNetworks", vid, v["name"], v.get("tags") or {}, v["state"])
            for s in v["subnets"].values():
                add("Microsoft.Network/virtualNetworks/subnets", vid + "/subnets/" + s["name"], s["name"],
                    None, s["state"], addressPrefix=s["props"].get("addressPrefix"))
        for c in self.clusters.values():
            add("Microsoft.ContainerService/managedClusters", self.cluster_id(c), c["name"], c.get("tags") or {},
                c["state"], userToken=c["user_token"], fqdn=c["fqdn"])
            for p in c["pools"].values():
                add("Microsoft.ContainerService/managedClusters/agentPools", self.pool_id(c, p), p["name"],
                    p["props"].get("tags") or {}, p["state"], count=p["props"].get("count"),
                    vmSize=p["props"].get("vmSize"))
        for a in self.accounts.values():
            aid = self.account_id(a)
            add("Microsoft.Storage/storageAccounts", aid, a["name"], a.get("tags") or {}, a["state"])
            for ct in a["containers"].values():
                add("Microsoft.Storage/storageAccounts/blobServices/containers",
                    aid + "/blobServices/default/containers/" + ct["name"], ct["name"], None, "Succeeded")
        return rows
