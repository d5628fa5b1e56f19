"""AKS agent pools (Microsoft.ContainerService 2026-10-01), a mixin of model.Arm.

The rules AKS applies to a pool, whether it comes as ``AgentPools_CreateOrUpdate``
or as an entry of a cluster's ``agentPoolProfiles`` (``normalize_pool``):

* mode ``System`` needs count (minCount when autoscaled) >= 1; ``User`` pools may
  be 0; count 0..1000.  A cluster must keep at least one System pool
  (``MustDefineAtLeastOneSystemPool``).
* ``enableAutoScaling`` needs minCount <= maxCount and count within them (a pool
  created without count starts at minCount).
* ``scaleSetPriority: Spot`` needs ``scaleSetEvictionPolicy`` (the fake is
  stricter than AKS, which defaults it to Delete: see README), cannot be a System
  pool; ``spotMaxPrice`` defaults to -1; answers add the label
  ``kubernetes.azure.com/scalesetpriority=spot`` and the taint
  ``kubernetes.azure.com/scalesetpriority=spot:NoSchedule`` (and a client that
  sends them back is not changing anything).
* the VM size must exist in the location and not be restricted there
  (``BadRequest`` "The VM size of ... is not allowed"); availability zones must be
  zones the size offers there and not restricted (``AvailabilityZoneNotSupported``);
  the nodes must fit the family's and the region's free vCPU quota
  (``QuotaExceeded``).  All three are checked synchronously, as AKS's preflight does.
* vmSize, availabilityZones, scaleSetPriority, osDiskSizeGB, vnetSubnetID (and
  the others in IMMUTABLE) cannot change on an existing pool:
  ``PropertyChangeNotAllowed``.  Fields a PUT omits keep their value.
* capacity faults (config allocation_failures) are not preflight errors: the PUT
  is accepted and the operation fails with ``ZonalAllocationFailed``; the pool
  stays ``Failed`` until deleted or successfully PUT again.
"""

import copy
import re

from errors import ArmError, conflict, invalid_parameter, resource_not_found
from state import Answer

SPOT_LABEL = ("kubernetes.azure.com/scalesetpriority", "spot")
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
TAINT = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?(=[A-Za-z0-9_.-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$")
IMMUTABLE = ["vmSize", "availabilityZones", "scaleSetPriority", "osDiskSizeGB", "vnetSubnetID", "podSubnetID",
             "osType", "osDiskType", "kubeletDiskType", "maxPods", "gpuInstanceProfile", "type",
             "scaleSetEvictionPolicy"]
POOL_TYPE = "Microsoft.ContainerService/managedClusters/agentPools"
NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202511.07.0"


def same(field, a, b):
    if field == "availabilityZones":
        return sorted(a or []) == sorted(b or [])
    if isinstance(a, str) and isinstance(b, str) and field in ("vmSize", "vnetSubnetID", "podSubnetID"):
        return a.lower() == b.lower()
    return a == b


class PoolMixin:
    def pool_id(self, c, p):
        return self.cluster_id(c) + "/agentPools/" + p["name"]

    def all_pools(self):
        for c in self.clusters.values():
            for p in c["pools"].values():
                yield c, p

    def subnet_users(self, subnet_id_lower):
        """What uses a subnet: the VMSS NIC ip configurations of the agent pools in it."""
        out = []
        for c, p in self.all_pools():
            ids = [(p["props"].get(k) or "").lower() for k in ("vnetSubnetID", "podSubnetID")]
            if subnet_id_lower in ids:
                vmss = "aks-%s-%s-vmss" % (p["name"], c["vmss_tag"])
                out.append("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/"
                           "%s/virtualMachines/0/networkInterfaces/%s/ipConfigurations/ipconfig1"
                           % (self.sub, c["node_rg"], vmss, vmss))
        return out

    # ------------------------------------------------------------------ rules
    def normalize_pool(self, c, name, props_in, old, where):
        """The pool's properties after this PUT (defaults filled), or ArmError."""
        p = {k: copy.deepcopy(v) for k, v in (props_in or {}).items() if v is not None}
        labels = p.get("nodeLabels")
        if isinstance(labels, dict) and labels.get(SPOT_LABEL[0]) == SPOT_LABEL[1]:
            labels.pop(SPOT_LABEL[0])
        if isinstance(p.get("nodeTaints"), list):
            p["nodeTaints"] = [t for t in p["nodeTaints"] if t != SPOT_TAINT]
        if p.get("orchestratorVersion") == "":
            p.pop("orchestratorVersion")
        if old is not None:
            for f in IMMUTABLE:
                if f in p and not same(f, p[f], old.get(f)):
                    raise ArmError(400, "PropertyChangeNotAllowed",
                                   "Changing property '%s' is not allowed." % f, target="%s.%s" % (where, f))
            merged = copy.deepcopy(old)
            merged.update(p)
            p = merged
        else:
            spot = p.get("scaleSetPriority") == "Spot"
            defaults = {"vmSize": "Standard_D4ds_v5", "mode": "User", "type": "VirtualMachineScaleSets",
                        "osType": "Linux", "osSKU": "Ubuntu", "osDiskSizeGB": 128, "osDiskType": "Managed",
                        "kubeletDiskType": "OS", "maxPods": self.default_max_pods(c), "enableNodePublicIP": False,
                        "scaleSetPriority": "Regular", "enableFIPS": False, "enableEncryptionAtHost": False,
                        "enableAutoScaling": False, "upgradeSettings": {"maxSurge": "10%"}}
            if spot:
                defaults["spotMaxPrice"] = -1
            for k, v in defaults.items():
                p.setdefault(k, v)
            if "count" not in p:
                p["count"] = p["minCount"] if p.get("enableAutoScaling") and "minCount" in p else 1
        p.setdefault("orchestratorVersion", c["k8s"] or self.resolve_version(None))
        self.check_pool(c, name, p, old, where)
        if old is None:
            p["vmSize"] = self.check_vm_size(name, p["vmSize"], c["location"], p.get("availabilityZones"))
        return p

    def check_pool(self, c, name, p, old, where):
        system = p.get("mode") == "System"
        spot = p.get("scaleSetPriority") == "Spot"
        count = p.get("count")
        if spot and system:
            raise invalid_parameter("System node pools cannot use Spot virtual machines: agent pool '%s'." % name,
                                    "%s.scaleSetPriority" % where)
        if spot and not p.get("scaleSetEvictionPolicy"):
            raise invalid_parameter("Spot agent pool '%s' must set scaleSetEvictionPolicy (Delete or Deallocate)."
                                    % name, "%s.scaleSetEvictionPolicy" % where)
        low = 1 if system else 0
        if not low <= count <= 1000:
            raise invalid_parameter("The value of parameter agentPoolProfile.count is invalid: %d. It must be "
                                    "between %d and 1000 for a %s pool." % (count, low, p.get("mode")),
                                    "%s.count" % where)
        if p.get("enableAutoScaling"):
            mn, mx = p.get("minCount"), p.get("maxCount")
            if mn is None or mx is None:
                raise invalid_parameter("Agent pool '%s' enables autoscaling: minCount and maxCount are required."
                                        % name, "%s.minCount" % where)
            if not low <= mn <= mx <= 1000:
                raise invalid_parameter("Agent pool '%s': minCount %d and maxCount %d must satisfy %d <= minCount "
                                        "<= maxCount <= 1000." % (name, mn, mx, low), "%s.minCount" % where)
            if not mn <= count <= mx:
                raise invalid_parameter("Agent pool '%s': count %d must be between minCount %d and maxCount %d."
                                        % (name, count, mn, mx), "%s.count" % where)
        for t in p.get("nodeTaints") or []:
            if not TAINT.match(t):
                raise invalid_parameter("Taint '%s' of agent pool '%s' is invalid: the format is "
                                        "key=value:NoSchedule|PreferNoSchedule|NoExecute." % (t, name),
                                        "%s.nodeTaints" % where)
        for k in (p.get("nodeLabels") or {}):
            if k.startswith("kubernetes.azure.com/"):
                raise invalid_parameter("Label '%s' of agent pool '%s' uses the reserved prefix "
                                        "kubernetes.azure.com/." % (k, name), "%s.nodeLabels" % where)
        self.resolve_version(p["orchestratorVersion"])
        for k in ("vnetSubnetID", "podSubnetID"):
            sid = p.get(k)
            if sid and (old is None or not same(k, sid, old.get(k))) and not self.find_subnet(sid):
                raise invalid_parameter("The subnet '%s' of agent pool '%s' (%s) was not found." % (sid, name, k),
                                        "%s.%s" % (where, k))

    def keeps_system_pool(self, c, changes):
        """After replacing pools by `changes` {lower(name): props or None}, is a System pool left?"""
        final = {k: p["props"] for k, p in c["pools"].items() if p["state"] != "Deleting"}
        final.update(changes)
        return any(v is not None and v.get("mode") == "System" for v in final.values())

    # ------------------------------------------------------------------ rendering
    def render_pool_props(self, c, p):
        props = copy.deepcopy(p["props"])
        props.update({"provisioningState": p["state"], "powerState": {"code": "Running"},
                      "currentOrchestratorVersion": self.resolve_version(props["orchestratorVersion"]),
                      "nodeImageVersion": props.get("nodeImageVersion") or NODE_IMAGE, "eTag": p["etag"]})
        if props.get("scaleSetPriority") == "Spot":
            labels = props.setdefault("nodeLabels", {})
            labels[SPOT_LABEL[0]] = SPOT_LABEL[1]
            taints = props.setdefault("nodeTaints", [])
            if SPOT_TAINT not in taints:
                taints.append(SPOT_TAINT)
        return props

    def render_pool(self, c, p):
        return {"id": self.pool_id(c, p), "name": p["name"], "type": POOL_TYPE,
                "properties": self.render_pool_props(c, p)}

    def render_profile(self, c, p):
        out = {"name": p["name"]}
        out.update(self.render_pool_props(c, p))
        return out

    # ------------------------------------------------------------------ applying
    def pool_finish(self, c, pools):
        """Finish an operation that creates/updates `pools` [(pool, adds nodes)]: None or the first error."""
        err = None
        for p, adds in pools:
            if p["state"] == "Deleting" or c["pools"].get(p["name"].lower()) is not p:
                continue
            zone = adds and self.allocation_failure(p["props"]["vmSize"], p["props"].get("availabilityZones"))
            if not zone:
                p["state"] = "Succeeded"
                continue
            p["state"] = "Failed"
            err = err or {"code": "ZonalAllocationFailed",
                          "message": "Allocation failed. We do not have sufficient capacity for the requested VM "
                                     "size in this zone. Read more about improving likelihood of allocation success "
                                     "at http://aka.ms/allocation-guidance (VM size '%s', zone '%s', location '%s', "
                                     "agent pool '%s')." % (p["props"]["vmSize"], zone, c["location"], p["name"])}
        return err

    @staticmethod
    def adds_nodes(old, props, old_state):
        return props.get("count", 0) > 0 and (old is None or old_state == "Failed"
                                              or props.get("count", 0) > old.get("count", 0))

    def h_AgentPools_CreateOrUpdate(self, req):
        c = self.cluster(req)
        self.group(req.params["resourceGroupName"], writing=True)
        self.cluster_busy(c)
        name = req.params["agentPoolName"]
        key = name.lower()
        pool = c["pools"].get(key)
        if pool is not None and pool.get("op") is not None and pool["op"].poll() == "InProgress":
            raise conflict("OperationNotAllowed", "Operation is not allowed because there's an in progress "
                           "operation on agent pool '%s'. Please wait for it to finish." % pool["name"])
        old = pool["props"] if pool else None
        props = self.normalize_pool(c, name, (req.body or {}).get("properties"), old, "properties")
        if not self.keeps_system_pool(c, {key: props}):
            raise ArmError(400, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool.")
        self.check_tags(props.get("tags"))
        old_count = old["count"] if old and pool["state"] != "Failed" else 0
        self.check_quota(c["location"], [(props["vmSize"], props["count"], props.get("scaleSetPriority") == "Spot",
                                          old_count)])
        adds = self.adds_nodes(old, props, pool and pool["state"])
        status = 200 if pool else 201
        if pool is None:
            pool = c["pools"][key] = {"name": name}
        pool.update({"props": props, "state": "Updating" if status == 200 else "Creating", "etag": self.st.uuid()})

        def finish():
            return self.pool_finish(c, [(pool, adds)]) if pool.get("op") is op else None
        op = pool["op"] = self.start_op("aks", c["location"], self.pool_id(c, pool), finish)
        return Answer(status, self.render_pool(c, pool), self.async_headers(req, op))

    def pool(self, req, must=True):
        c = self.cluster(req)
        p = c["pools"].get(req.params["agentPoolName"].lower())
        if p is None and must:
            raise resource_not_found("Microsoft.ContainerService/managedClusters/%s/agentPools" % c["name"],
                                     req.params["agentPoolName"], c["rg"])
        return c, p

    def h_AgentPools_Get(self, req):
        c, p = self.pool(req)
        return Answer(200, self.render_pool(c, p))

    def h_AgentPools_List(self, req):
        c = self.cluster(req)
        return Answer(200, {"value": [self.render_pool(c, p) for p in c["pools"].values()]})

    def h_AgentPools_Delete(self, req):
        rg = req.params["resourceGroupName"]
        c = self.clusters.get((rg.lower(), req.params["resourceName"].lower()))
        p = c and c["pools"].get(req.params["agentPoolName"].lower())
        if not p:
            return Answer(204)
        self.cluster_busy(c)
        if p["state"] != "Deleting":
            if not self.keeps_system_pool(c, {p["name"].lower(): None}):
                raise ArmError(400, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool.")
            p["state"] = "Deleting"
            key = p["name"].lower()

            def finish():
                if c["pools"].get(key) is p:
                    del c["pools"][key]
            p["op"] = self.start_op("aks", c["location"], self.pool_id(c, p), finish)
        return Answer(202, None, self.delete_headers(req, p["op"]))

    def resize(self, rg, cluster, pool, count):
        """/_fake/resize: a pool's node count changed outside the API (portal, autoscaler)."""
        c = self.clusters.get((rg.lower(), cluster.lower()))
        p = c and c["pools"].get(pool.lower())
        if not p:
            raise KeyError("no agent pool %s/%s/%s" % (rg, cluster, pool))
        p["props"]["count"] = int(count)
        p["etag"] = self.st.uuid()
        return self.render_pool(c, p)
