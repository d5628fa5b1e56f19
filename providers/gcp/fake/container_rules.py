"""GKE's rules for node pools and cluster networks: defaults GKE fills in, autoscaling
limits, TPU slices, stockouts, and which network/subnetwork/secondary ranges a cluster uses.

Why a module of its own: these are the checks GKE makes before it accepts a
node pool (in clusters.create and nodePools.create alike) and the way it fails
one afterwards (a stockout), and they are what hoist's GPU/TPU planning has to
get right; keeping them apart from the request plumbing of container_model
keeps both readable.  Used as a mixin of ContainerModel (needs self.state,
self.compute and self.region_zones).
"""

import copy
import re

from errors import bad_request
from state import label_problems, region_of

NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
NAME_RULE = ("Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)' (only alphanumerics "
             "and '-' allowed, must start with a letter and end with an alphanumeric, and must be "
             "no longer than 40 characters).")

DEFAULT_SCOPES = [
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/logging.write",
    "https://www.googleapis.com/auth/monitoring",
    "https://www.googleapis.com/auth/service.management.readonly",
    "https://www.googleapis.com/auth/servicecontrol",
    "https://www.googleapis.com/auth/trace.append",
]

# TPU machine families GKE runs as TPU slices: chips per VM come from the
# "-<n>t" suffix; v4 and v5p topologies are 3-D, v5e and v6e 2-D.
TPU_PREFIXES = ("ct4p-", "ct5lp-", "ct5p-", "ct6e-")
TPU_3D = ("ct4p-", "ct5p-")

# GPU machine families with built-in accelerators, which GKE fills in itself.
GPU_BUILTIN = [
    (re.compile(r"^a3-megagpu-(\d+)g$"), "nvidia-h100-mega-80gb"),
    (re.compile(r"^a3-highgpu-(\d+)g$"), "nvidia-h100-80gb"),
    (re.compile(r"^a3-ultragpu-(\d+)g$"), "nvidia-h200-141gb"),
    (re.compile(r"^a2-ultragpu-(\d+)g$"), "nvidia-a100-80gb"),
    (re.compile(r"^a2-highgpu-(\d+)g$"), "nvidia-tesla-a100"),
    (re.compile(r"^a2-megagpu-(\d+)g$"), "nvidia-tesla-a100"),
]
G2_GPUS = {"g2-standard-4": 1, "g2-standard-8": 1, "g2-standard-12": 1, "g2-standard-16": 1,
           "g2-standard-24": 2, "g2-standard-32": 1, "g2-standard-48": 4, "g2-standard-96": 8}


def last_segment(ref):
    return ref.rstrip("/").split("/")[-1] if ref else ref


class PoolRules:
    """Validation and defaults of NodePool specs and cluster networks (mixin of ContainerModel)."""

    def build_pool(self, spec, c, cluster_zones):
        """Validate a NodePool from a request and return the stored pool."""
        name = spec.get("name", "")
        if not NAME_RE.match(name or ""):
            raise bad_request('Invalid value for field "node_pool.name": "%s". %s' % (name, NAME_RULE))
        cfg = self.fill_config(spec.get("config") or {}, c)
        locations = spec.get("locations") or list(cluster_zones)
        region_zones = self.region_zones(c)
        for z in locations:
            if z not in region_zones:
                raise bad_request('Node pool location "%s" is not a zone of region %s (zones: %s).'
                                  % (z, region_of(c["location"]), ", ".join(region_zones)))
        if len(set(locations)) != len(locations):
            raise bad_request("Node pool locations must not repeat: %s." % ", ".join(locations))
        count = int(spec.get("initialNodeCount", 0))
        if count < 0:
            raise bad_request("Node pool initial_node_count must be non-negative.")
        if count > 1000:
            raise bad_request("Node pool initial_node_count %d exceeds the limit of 1000 nodes per zone." % count)
        autoscaling = spec.get("autoscaling") or {}
        self.check_autoscaling(autoscaling)
        if autoscaling.get("enabled"):
            autoscaling.setdefault("locationPolicy", "BALANCED")
        placement = spec.get("placementPolicy") or {}
        self.check_tpu(cfg["machineType"], placement, locations, count, autoscaling)
        mode = (cfg.get("workloadMetadataConfig") or {}).get("mode")
        if mode == "GKE_METADATA" and not (c["api"].get("workloadIdentityConfig") or {}).get("workloadPool"):
            raise bad_request("Workload Identity must be enabled on the cluster (workloadIdentityConfig."
                              "workloadPool) to use workload_metadata_config.mode GKE_METADATA.")
        if cfg.get("spot") and cfg.get("preemptible"):
            raise bad_request("Node pool config cannot set both spot and preemptible.")
        for acc in cfg.get("accelerators", []):
            if int(acc.get("acceleratorCount", "0")) <= 0:
                raise bad_request("accelerator_count must be greater than zero for accelerator %r."
                                  % acc.get("acceleratorType"))
        probs = label_problems(cfg.get("resourceLabels", {}), "resource label")
        if probs:
            raise bad_request("Invalid node pool config.resource_labels: " + "; ".join(probs))
        api = {"name": name, "config": cfg, "locations": locations}
        for k in ("management", "upgradeSettings", "maxPodsConstraint", "placementPolicy",
                  "networkConfig", "queuedProvisioning", "nodeDrainConfig", "bestEffortProvisioning"):
            if k in spec:
                api[k] = copy.deepcopy(spec[k])
        api.setdefault("management", {"autoRepair": True, "autoUpgrade": True})
        us = api.setdefault("upgradeSettings", {"maxSurge": 1})
        us.setdefault("strategy", "SURGE")
        api.setdefault("maxPodsConstraint",
                       copy.deepcopy(c["api"].get("defaultMaxPodsConstraint") or {"maxPodsPerNode": "110"}))
        pool_net = api.setdefault("networkConfig", {})
        if pool_net.get("podRange"):
            self.secondary_range(c["subnet"], pool_net["podRange"], c["api"]["networkConfig"]["subnetwork"])
        pool_net.setdefault("podRange", c["pod_range"])
        pool_net.setdefault("podIpv4CidrBlock", c["api"]["clusterIpv4Cidr"])
        pool_net["subnetwork"] = c["api"]["networkConfig"]["subnetwork"]
        return {"api": api, "count": count, "autoscaling": autoscaling, "status": "PROVISIONING",
                "status_message": None, "conditions": None, "version": c["api"]["currentMasterVersion"],
                "initial": count, "hash": self.state.hex(8),
                "created": self.state.compute_time()}   # the instance groups' creationTimestamp

    def fill_config(self, cfg, c):
        """NodeConfig as GKE stores it: the request plus GKE's defaults and system labels."""
        cfg = copy.deepcopy(cfg)
        cfg.setdefault("machineType", "e2-medium")
        cfg.setdefault("diskSizeGb", 100)
        cfg.setdefault("diskType", "pd-balanced")
        cfg.setdefault("imageType", "COS_CONTAINERD")
        cfg.setdefault("oauthScopes", list(DEFAULT_SCOPES))
        cfg.setdefault("serviceAccount", "default")
        md = {"disable-legacy-endpoints": "true"}
        md.update(cfg.get("metadata") or {})
        cfg["metadata"] = md
        model = "spot" if cfg.get("spot") else "preemptible" if cfg.get("preemptible") else "on-demand"
        rl = dict(cfg.get("resourceLabels") or {})
        rl["goog-gke-node-pool-provisioning-model"] = model
        cfg["resourceLabels"] = rl
        cfg.setdefault("bootDisk", {"diskType": cfg["diskType"], "sizeGb": str(cfg["diskSizeGb"])})
        cfg.setdefault("shieldedInstanceConfig", {"enableIntegrityMonitoring": True})
        mt = cfg["machineType"]
        if not cfg.get("accelerators"):
            for rx, gpu in GPU_BUILTIN:
                m = rx.match(mt)
                if m:
                    cfg["accelerators"] = [{"acceleratorCount": m.group(1), "acceleratorType": gpu}]
            if mt in G2_GPUS:
                cfg["accelerators"] = [{"acceleratorCount": str(G2_GPUS[mt]), "acceleratorType": "nvidia-l4"}]
        return cfg

    def check_autoscaling(self, a):
        if not a.get("enabled"):
            return
        per_zone = "minNodeCount" in a or "maxNodeCount" in a
        total = "totalMinNodeCount" in a or "totalMaxNodeCount" in a
        if per_zone and total:
            raise bad_request("Autoscaling limits must be either per zone (min/max_node_count) or total "
                              "(total_min/total_max_node_count), not both.")
        lo = a.get("totalMinNodeCount" if total else "minNodeCount", 0)
        hi = a.get("totalMaxNodeCount" if total else "maxNodeCount", 0)
        if lo < 0 or hi < 1 or lo > hi:
            raise bad_request("Invalid autoscaling limits: min %d, max %d (need 0 <= min <= max and max >= 1)."
                              % (lo, hi))

    def check_tpu(self, machine_type, placement, locations, count, autoscaling):
        """GKE's rules for TPU slices (multi-host: one zone, exactly chips/chips-per-VM nodes)."""
        if not machine_type.startswith(TPU_PREFIXES):
            if placement.get("tpuTopology"):
                raise bad_request("placement_policy.tpu_topology is only valid for TPU machine types, not %s."
                                  % machine_type)
            return
        m = re.search(r"-(\d+)t$", machine_type)
        per_vm = int(m.group(1)) if m else 4
        topo = placement.get("tpuTopology")
        if not topo:
            return
        dims = 3 if machine_type.startswith(TPU_3D) else 2
        if not re.match(r"^\d+(x\d+)*$", topo) or len(topo.split("x")) != dims:
            raise bad_request("Invalid TPU topology %r for machine type %s: expected %d dimensions like %s."
                              % (topo, machine_type, dims, "2x2x1" if dims == 3 else "2x4"))
        chips = 1
        for d in topo.split("x"):
            chips *= int(d)
        if chips <= per_vm:
            return
        if chips % per_vm:
            raise bad_request("TPU topology %s (%d chips) is not a multiple of %d chips per %s VM."
                              % (topo, chips, per_vm, machine_type))
        nodes = chips // per_vm
        if len(locations) != 1:
            raise bad_request("A multi-host TPU slice node pool (%s, topology %s) must be in exactly one "
                              "zone; got %d: %s." % (machine_type, topo, len(locations), ", ".join(locations)))
        if autoscaling.get("enabled"):
            lo = autoscaling.get("minNodeCount", autoscaling.get("totalMinNodeCount", 0))
            hi = autoscaling.get("maxNodeCount", autoscaling.get("totalMaxNodeCount", 0))
            if lo not in (0, nodes) or hi != nodes:
                raise bad_request("Autoscaling a multi-host TPU slice (%s, topology %s) scales whole slices of "
                                  "%d nodes: min_node_count must be 0 or %d and max_node_count %d; got min %d, "
                                  "max %d." % (machine_type, topo, nodes, nodes, nodes, lo, hi))
            if count not in (0, nodes):
                raise bad_request("Invalid node count %d for TPU topology %s on %s: a multi-host TPU slice "
                                  "needs 0 or %d nodes (%d chips / %d chips per VM)."
                                  % (count, topo, machine_type, nodes, chips, per_vm))
        elif count != nodes:
            raise bad_request("Invalid node count %d for TPU topology %s on %s: a multi-host TPU slice needs "
                              "exactly %d nodes (%d chips / %d chips per VM)."
                              % (count, topo, machine_type, nodes, chips, per_vm))

    def multi_host_nodes(self, pool):
        cfg, pl = pool["api"]["config"], pool["api"].get("placementPolicy") or {}
        mt, topo = cfg["machineType"], pl.get("tpuTopology")
        if not (mt.startswith(TPU_PREFIXES) and topo):
            return None
        m = re.search(r"-(\d+)t$", mt)
        per_vm = int(m.group(1)) if m else 4
        chips = 1
        for d in topo.split("x"):
            chips *= int(d)
        return chips // per_vm if chips > per_vm else None

    def stockout(self, c, pool):
        """The stocked-out zone this pool would land in, or None."""
        so = self.state.config.get("stockouts", {})
        zones = set(so.get(pool["api"]["config"]["machineType"], [])) | set(so.get("*", []))
        for z in pool["api"]["locations"]:
            if z in zones:
                return z
        return None

    def stockout_error(self, c, pool, zone):
        reason = self.state.config.get("stockout_reason", "GCE_STOCKOUT")
        total = pool["count"] * len(pool["api"]["locations"])
        inst = "gke-%s-%s-%s-%s" % (c["name"][:20], pool["api"]["name"][:15], pool["hash"], self.state.hex(4))
        what = ("The zone 'projects/%s/zones/%s' does not have enough resources available to fulfill the "
                "request." % (c["project"], zone))
        if reason == "ZONE_RESOURCE_POOL_EXHAUSTED":
            detail = "ZONE_RESOURCE_POOL_EXHAUSTED in zone %s: %s '(resource type:compute)'." % (zone, what)
        else:
            detail = "GCE_STOCKOUT in zone %s: %s  Try a different zone, or try again later." % (zone, what)
        msg = ("Google Compute Engine: Not all instances running in IGM after 35m0.123456789s. Expected %d, "
               "running 0, transitioning %d. Current errors: [%s]: Instance '%s' creation failed: %s"
               % (total, total, reason, inst, detail))
        cond = {"message": msg, "canonicalCode": "RESOURCE_EXHAUSTED"}
        if reason == "GCE_STOCKOUT":
            cond["code"] = "GCE_STOCKOUT"
        return msg, cond

    # ------------------------------------------------------------------ networks
    def resolve_network(self, project, region, cl):
        """Network/subnetwork of a cluster request -> (network name, subnetwork path, subnet or None)."""
        net_ref = cl.get("network") or (cl.get("networkConfig") or {}).get("network") or ""
        sub_ref = cl.get("subnetwork") or (cl.get("networkConfig") or {}).get("subnetwork") or ""
        net = last_segment(net_ref) or ""
        subnet = None
        if sub_ref:
            sub_name = last_segment(sub_ref)
            m = re.search(r"regions/([^/]+)/subnetworks/", sub_ref)
            sub_region = m.group(1) if m else region
            subnet = self.compute.find_subnetwork(project, sub_region, sub_name) if self.compute else None
            if subnet is None and not (sub_name == "default" and net in ("", "default")):
                raise bad_request('Subnetwork "projects/%s/regions/%s/subnetworks/%s" does not exist.'
                                  % (project, sub_region, sub_name))
            if sub_region != region:
                raise bad_request('Subnetwork "%s" is in region %s, not in the cluster\'s region %s.'
                                  % (sub_name, sub_region, region))
            if subnet is not None:
                sub_net = last_segment(subnet["network"])
                if net and net != sub_net:
                    raise bad_request('Subnetwork "%s" does not belong to network "%s".' % (sub_name, net))
                net = sub_net
        if not net:
            net = "default"
        if net != "default" and (self.compute is None or self.compute.find_network(project, net) is None):
            raise bad_request('Network "%s" does not exist.' % net)
        if not sub_ref:
            sub_name = net if net == "default" else None
            if sub_name is None:
                subs = self.compute.subnetworks_of(project, net, region) if self.compute else []
                if not subs:
                    raise bad_request('Network "%s" has no subnetwork in region %s; '
                                      'specify cluster.subnetwork.' % (net, region))
                subnet = subs[0]
                sub_name = subnet["name"]
        else:
            sub_name = last_segment(sub_ref)
        return net, "projects/%s/regions/%s/subnetworks/%s" % (project, region, sub_name), subnet

    def secondary_range(self, subnet, name, sub_path):
        if subnet is None:
            raise bad_request('Secondary range "%s" not found in subnetwork "%s".' % (name, sub_path))
        for r in subnet.get("secondaryIpRanges", []):
            if r.get("rangeName") == name:
                return r.get("ipCidrRange")
        raise bad_request('Retrieving secondary range "%s" in subnetwork "%s" failed: not found.'
                          % (name, sub_path))
