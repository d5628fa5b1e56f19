"""GKE node pools: nodePools.create/get/list/delete/setSize/setAutoscaling/update and
how a pool is rendered.

Why a module of its own: after creating a cluster hoist creates, resizes,
updates and deletes its pools, and each of those calls is an operation on the
cluster, so they share ContainerModel's cluster lookup and operation plumbing
but little else.  Used as a mixin of ContainerModel (needs self.state,
get_cluster, legacy_path, region_zones, ensure_idle, start_op, render_op and
PoolRules' checks of a pool spec from container_rules.py).
"""

import base64
import copy
import hashlib
import json

from errors import ApiError, already_exists, bad_request, failed_precondition, not_found
from state import is_zone, label_problems, region_of


# UpdateNodePoolRequest fields copied into the pool's config as they are.
POOL_UPDATE_CONFIG_FIELDS = {
    "machineType", "diskSizeGb", "diskType", "imageType", "workloadMetadataConfig",
    "kubeletConfig", "linuxNodeConfig", "gvnic", "gcfsConfig", "accelerators", "confidentialNodes",
    "fastSocket", "loggingConfig", "windowsNodeConfig", "resourceManagerTags", "containerdConfig",
    "bootDisk", "storagePools", "maxRunDuration", "flexStart", "consolidationDelay",
}
POOL_UPDATE_IGNORED = {"name", "projectId", "zone", "clusterId", "nodePoolId", "etag"}


def etag_of(obj):
    return base64.b64encode(hashlib.md5(json.dumps(obj, sort_keys=True).encode()).digest()[:8]).decode()


class NodePools:
    """nodePools.* calls and the rendering of a NodePool (mixin of ContainerModel)."""

    def get_pool(self, c, name):
        p = c["pools"].get(name)
        if p is None:
            raise not_found("Not found: %s." % self.legacy_path(
                c["project"], c["location"], "clusters", c["name"], "nodePools", name))
        return p

    # ------------------------------------------------------------------ instance groups
    def igm_name(self, c, pool):
        """The name of the pool's managed instance group, the same in each of its zones.

        GKE names it gke-<cluster[:20]>-<pool[:15]>-<8 hex>-grp; compute's
        instanceGroupManagers.get (compute_igm.py) finds a pool by it."""
        return "gke-%s-%s-%s-grp" % (c["name"][:20], pool["api"]["name"][:15], pool["hash"])

    def find_igm(self, project, zone, name):
        """(cluster, pool) of the project whose instance group manager in zone is
        called name, or None: a pool has one per zone it is in, until it is deleted."""
        for (p, _, _), c in sorted(self.clusters.items()):
            if p != project:
                continue
            for pool in c["pools"].values():
                if zone in pool["api"]["locations"] and self.igm_name(c, pool) == name:
                    return c, pool
        return None

    # ------------------------------------------------------------------ rendering
    def render_pool(self, c, pool):
        api = copy.deepcopy(pool["api"])
        p, loc = c["project"], c["location"]
        kind = "zones" if is_zone(loc) else "locations"
        out = api
        # GKE keeps initialNodeCount at the create-time value; the live per-zone
        # size is each zone's instance group manager's targetSize.
        track = self.state.config.get("initial_node_count_tracks_size", False)
        n = pool["count"] if track else pool["initial"]
        if n:
            out["initialNodeCount"] = n
        out["autoscaling"] = copy.deepcopy(pool["autoscaling"]) if pool["autoscaling"].get("enabled") else {}
        out["selfLink"] = "https://container.googleapis.com/v1/projects/%s/%s/%s/clusters/%s/nodePools/%s" % (
            p, kind, loc, c["name"], api["name"])
        out["version"] = pool["version"]
        out["status"] = pool["status"]
        if pool["status_message"]:
            out["statusMessage"] = pool["status_message"]
        if pool["conditions"]:
            out["conditions"] = pool["conditions"]
        out["instanceGroupUrls"] = [
            "https://www.googleapis.com/compute/v1/projects/%s/zones/%s/instanceGroupManagers/%s"
            % (p, z, self.igm_name(c, pool)) for z in api["locations"]]
        out["podIpv4CidrSize"] = 24
        out["etag"] = etag_of([out, pool["count"]])
        return out

    # ------------------------------------------------------------------ node pools
    def pool_create(self, pp, query, body):
        c = self.get_cluster(pp)
        spec = body.get("nodePool")
        if not spec:
            raise bad_request("Node pool must be specified.")
        if spec.get("name") in c["pools"]:
            raise already_exists("Already exists: %s." % self.legacy_path(
                c["project"], c["location"], "clusters", c["name"], "nodePools", spec.get("name")))
        self.ensure_idle(c)
        if c["status"] not in ("RUNNING", "RECONCILING", "ERROR", "DEGRADED"):
            raise failed_precondition("Cluster %s is %s; node pools can only be created in a running cluster."
                                      % (c["name"], c["status"]))
        pool = self.build_pool(spec, c, c["api"]["locations"])
        c["pools"][spec["name"]] = pool
        zone = self.stockout(c, pool)

        def done(op):
            if zone:
                msg, cond = self.stockout_error(c, pool, zone)
                op.error = {"code": 8, "message": msg}
                op.status_message = msg
                op.conditions = [cond]
                pool["status"] = "ERROR"
                pool["status_message"] = msg
                pool["conditions"] = [cond]
            else:
                pool["status"] = "RUNNING"

        op = self.start_op(c, "CREATE_NODE_POOL", "clusters/%s/nodePools/%s" % (c["name"], spec["name"]), done)
        return 200, self.render_op(op)

    def pool_get(self, pp, query, body):
        c = self.get_cluster(pp)
        return 200, self.render_pool(c, self.get_pool(c, pp["nodePoolsId"]))

    def pool_list(self, pp, query, body):
        c = self.get_cluster(pp)
        pools = [self.render_pool(c, p) for p in c["pools"].values()]
        return 200, ({"nodePools": pools} if pools else {})

    def pool_delete(self, pp, query, body):
        c = self.get_cluster(pp)
        pool = self.get_pool(c, pp["nodePoolsId"])
        self.ensure_idle(c)
        pool["status"] = "STOPPING"
        name = pool["api"]["name"]

        def done(op):
            c["pools"].pop(name, None)

        op = self.start_op(c, "DELETE_NODE_POOL", "clusters/%s/nodePools/%s" % (c["name"], name), done)
        return 200, self.render_op(op)

    def pool_setSize(self, pp, query, body):
        c = self.get_cluster(pp)
        pool = self.get_pool(c, pp["nodePoolsId"])
        n = body.get("nodeCount", 0)   # proto3: an absent nodeCount is 0
        if n < 0:
            raise bad_request("node_count must be non-negative.")
        if n > 1000:
            raise bad_request("node_count %d exceeds the limit of 1000 nodes per zone." % n)
        full = self.multi_host_nodes(pool)
        if full is not None and n not in (0, full):
            raise bad_request("A multi-host TPU slice node pool can only be resized to 0 or %d nodes; got %d."
                              % (full, n))
        self.ensure_idle(c)
        before = pool["status"]
        if before == "RUNNING":
            pool["status"] = "RECONCILING"

        def done(op):
            pool["count"] = n
            if pool["status"] == "RECONCILING":
                pool["status"] = "RUNNING"

        op = self.start_op(c, "SET_NODE_POOL_SIZE", "clusters/%s/nodePools/%s" % (c["name"], pool["api"]["name"]),
                           done)
        return 200, self.render_op(op)

    def pool_setAutoscaling(self, pp, query, body):
        c = self.get_cluster(pp)
        pool = self.get_pool(c, pp["nodePoolsId"])
        a = body.get("autoscaling") or {}
        self.check_autoscaling(a)
        self.check_tpu(pool["api"]["config"]["machineType"], pool["api"].get("placementPolicy") or {},
                       pool["api"]["locations"], pool["count"], a)
        self.ensure_idle(c)

        def done(op):
            pool["autoscaling"] = dict(a)
            if a.get("enabled"):
                pool["autoscaling"].setdefault("locationPolicy", "BALANCED")

        op = self.start_op(c, "UPDATE_CLUSTER", "clusters/%s/nodePools/%s" % (c["name"], pool["api"]["name"]),
                           done)
        return 200, self.render_op(op)

    def pool_update(self, pp, query, body):
        c = self.get_cluster(pp)
        pool = self.get_pool(c, pp["nodePoolsId"])
        unknown = [k for k in body if k not in POOL_UPDATE_CONFIG_FIELDS | POOL_UPDATE_IGNORED |
                   {"labels", "taints", "resourceLabels", "locations", "nodeVersion", "upgradeSettings",
                    "tags", "nodeNetworkConfig", "queuedProvisioning"}]
        if unknown:
            raise ApiError(400, "fake_gcp does not model UpdateNodePoolRequest.%s." % unknown[0],
                           problem="nodePools.update with %s (not modelled by the fake)" % ", ".join(unknown))
        if "locations" in body:
            for z in body["locations"]:
                if z not in self.region_zones(c):
                    raise bad_request('Node pool location "%s" is not a zone of region %s.'
                                      % (z, region_of(c["location"])))
            if self.multi_host_nodes(pool) and len(body["locations"]) != 1:
                raise bad_request("A multi-host TPU slice node pool must be in exactly one zone.")
        if "resourceLabels" in body:
            probs = label_problems((body["resourceLabels"] or {}).get("labels", {}), "resource label")
            if probs:
                raise bad_request("Invalid resource_labels: " + "; ".join(probs))
        mode = (body.get("workloadMetadataConfig") or {}).get("mode")
        if mode == "GKE_METADATA" and not (c["api"].get("workloadIdentityConfig") or {}).get("workloadPool"):
            raise bad_request("Workload Identity must be enabled on the cluster to use GKE_METADATA.")
        self.ensure_idle(c)
        upgrade = "nodeVersion" in body or "imageType" in body
        if pool["status"] == "RUNNING":
            pool["status"] = "RECONCILING"

        def done(op):
            api, cfg = pool["api"], pool["api"]["config"]
            if "labels" in body:
                cfg["labels"] = dict((body["labels"] or {}).get("labels", {}))
                if not cfg["labels"]:
                    del cfg["labels"]
            if "taints" in body:
                cfg["taints"] = list((body["taints"] or {}).get("taints", []))
                if not cfg["taints"]:
                    del cfg["taints"]
            if "resourceLabels" in body:
                rl = dict((body["resourceLabels"] or {}).get("labels", {}))
                for k, v in cfg.get("resourceLabels", {}).items():
                    if k.startswith("goog-gke-"):
                        rl[k] = v
                cfg["resourceLabels"] = rl
            if "tags" in body:
                cfg["tags"] = list((body["tags"] or {}).get("tags", []))
            for k in POOL_UPDATE_CONFIG_FIELDS:
                if k in body:
                    cfg[k] = copy.deepcopy(body[k])
            if "locations" in body:
                api["locations"] = list(body["locations"])
            if "upgradeSettings" in body:
                api["upgradeSettings"] = copy.deepcopy(body["upgradeSettings"])
            if "nodeVersion" in body:
                v = body["nodeVersion"]
                pool["version"] = c["api"]["currentMasterVersion"] if v in ("-", "latest", "") else v
            if pool["status"] == "RECONCILING":
                pool["status"] = "RUNNING"

        op = self.start_op(c, "UPGRADE_NODES" if upgrade else "UPDATE_CLUSTER",
                           "clusters/%s/nodePools/%s" % (c["name"], pool["api"]["name"]), done)
        return 200, self.render_op(op)
