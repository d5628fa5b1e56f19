"""GKE (container v1) model: clusters, node pools and their long-running operations.

Why it is shaped like this: hoist drives GKE through operations (create a
cluster, poll ``operations/{op}`` until DONE, create pools, resize, delete),
and the interesting failures are in that dance -- an operation still RUNNING
when the next call arrives ("Cluster is running incompatible operation"), a
pool that ends in ERROR after a stockout, a multi-host TPU slice sized wrong.
So every mutation returns an Operation that stays RUNNING for the configured
number of polls and is applied when it finishes, and GKE's documented rules
are checked up front (400) exactly where GKE checks them.

Output follows proto3 JSON as GKE sends it: camelCase, enums by name, int64 as
strings, fields at their default value (0, false, "") omitted.  Message texts
are GKE's where they are known (see SOURCES.md for the approximate ones).

Node pools (container_pools.py), operations (container_operations.py) and GKE's
pool and network rules (container_rules.py) are mixins of ContainerModel.
"""

import base64
import copy
import hashlib
import json

from container_operations import ContainerOperations
from container_pools import NodePools, etag_of
from container_rules import NAME_RE, NAME_RULE, PoolRules, last_segment
from errors import ApiError, already_exists, bad_request, failed_precondition, not_found
from state import is_zone, label_problems, region_of


# Versions reported per release channel (a plausible recent set; nothing checks them).
VERSIONS = {
    "RAPID": "1.34.1-gke.1431000",
    "REGULAR": "1.33.5-gke.1308000",
    "STABLE": "1.32.9-gke.1108000",
    "EXTENDED": "1.31.13-gke.1023000",
}


def full_version(v):
    """A version as GKE reports it: `1.32` (a minor, as clients may ask) becomes the newest
    patch of that minor GKE offers (`1.32.9-gke.1108000`); full versions stay as they are."""
    if not v or v.count(".") != 1:
        return v
    for full in VERSIONS.values():
        if full.startswith(v + "."):
            return full
    return v + ".0-gke.1000"
DEFAULT_CHANNEL = "REGULAR"

# Top-level Cluster / NodePool keys this model produces (the replay test compares these).
CLUSTER_KEYS = {
    "addonsConfig", "autopilot", "clusterIpv4Cidr", "controlPlaneEndpointsConfig", "createTime",
    "currentMasterVersion", "currentNodeCount", "currentNodeVersion", "databaseEncryption",
    "defaultMaxPodsConstraint", "endpoint", "etag", "id", "initialClusterVersion",
    "instanceGroupUrls", "ipAllocationPolicy", "labelFingerprint", "legacyAbac", "location",
    "locations", "loggingConfig", "loggingService", "maintenancePolicy", "masterAuth",
    "monitoringConfig", "monitoringService", "name", "network", "networkConfig", "nodeConfig",
    "nodePools", "notificationConfig", "privateClusterConfig", "releaseChannel", "selfLink",
    "servicesIpv4Cidr", "shieldedNodes", "status", "subnetwork", "zone",
}
POOL_KEYS = {
    "autoscaling", "config", "etag", "initialNodeCount", "instanceGroupUrls", "locations",
    "management", "maxPodsConstraint", "name", "networkConfig", "podIpv4CidrSize", "selfLink",
    "status", "upgradeSettings", "version",
}
OPERATION_KEYS = {"name", "operationType", "selfLink", "startTime", "endTime", "status",
                  "targetLink", "zone"}

# ClusterUpdate fields the model applies; any other desired* field is answered
# 400 and recorded as a problem (GKE would accept it, the fake cannot model it).
UPDATE_FIELDS = {
    "desiredNodePoolAutoscaling", "desiredMasterVersion", "desiredNodeVersion", "desiredLocations",
    "desiredReleaseChannel", "desiredWorkloadIdentityConfig", "desiredControlPlaneEndpointsConfig",
    "desiredMasterAuthorizedNetworksConfig",
}


def fingerprint(obj):
    return hashlib.md5(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:8]


class ContainerModel(ContainerOperations, NodePools, PoolRules):
    def __init__(self, state):
        self.state = state
        self.compute = None               # set by the server: networks and subnets live there
        self.clusters = {}                # (project, location, name) -> cluster
        self.ops = {}                     # (project, location, name) -> Operation

    # ------------------------------------------------------------------ dispatch
    def handle(self, mid, pp, query, body):
        name = mid.rsplit(".", 1)[1]
        if ".nodePools." in mid:
            fn = getattr(self, "pool_" + name)
        elif ".operations." in mid:
            fn = getattr(self, "op_" + name)
        else:
            fn = getattr(self, "cluster_" + name)
        return fn(pp, query, body or {})

    # ------------------------------------------------------------------ helpers
    def check_location(self, project, location, allow_wildcard=False):
        if allow_wildcard and location == "-":
            return
        region = region_of(location)
        if region is None or (is_zone(location) and location not in self.state.zones_for(region)):
            raise bad_request('Location "%s" does not exist.' % location)

    def path(self, project, location, *rest):
        return "/".join(("projects", project, "locations", location) + rest)

    def legacy_path(self, project, location, *rest):
        """The projects/P/zones/Z/... form GKE uses in messages about zonal clusters."""
        kind = "zones" if is_zone(location) else "locations"
        return "/".join(("projects", project, kind, location) + rest)

    def get_cluster(self, pp):
        key = (pp["projectsId"], pp["locationsId"], pp["clustersId"])
        c = self.clusters.get(key)
        if c is None:
            raise not_found("Not found: %s." % self.legacy_path(key[0], key[1], "clusters", key[2]))
        return c

    def region_zones(self, c):
        return self.state.zones_for(region_of(c["location"]))

    # ------------------------------------------------------------------ rendering
    def total_nodes(self, c):
        return sum(p["count"] * len(p["api"]["locations"]) for p in c["pools"].values()
                   if p["status"] in ("RUNNING", "RECONCILING", "RUNNING_WITH_ERROR"))

    def render_cluster(self, c):
        st = self.state
        out = copy.deepcopy(c["api"])
        p, loc = c["project"], c["location"]
        kind = "zones" if is_zone(loc) else "locations"
        out["selfLink"] = "https://container.googleapis.com/v1/projects/%s/%s/%s/clusters/%s" % (
            p, kind, loc, c["name"])
        out["zone"] = loc
        out["location"] = loc
        out["status"] = c["status"]
        if c.get("status_message"):
            out["statusMessage"] = c["status_message"]
        kube = st.config.get("kube") or {}
        endpoint = kube.get("endpoint") or c["endpoint"]
        out["endpoint"] = endpoint
        out["masterAuth"] = {"clientCertificateConfig": {},
                             "clusterCaCertificate": kube.get("ca") or c["ca"]}
        cpe = out.setdefault("controlPlaneEndpointsConfig", {})
        ip = cpe.setdefault("ipEndpointsConfig", {})
        ip["publicEndpoint"] = endpoint
        ip["privateEndpoint"] = out["privateClusterConfig"]["privateEndpoint"]
        out["privateClusterConfig"]["publicEndpoint"] = endpoint
        pools = [self.render_pool(c, pl) for pl in c["pools"].values()]
        if pools:
            out["nodePools"] = pools
            out["nodeConfig"] = copy.deepcopy(pools[0]["config"])
            out["instanceGroupUrls"] = [u for pl in pools for u in pl["instanceGroupUrls"]]
        n = self.total_nodes(c)
        if n:
            out["currentNodeCount"] = n
        out["currentNodeVersion"] = min((pl["version"] for pl in c["pools"].values()),
                                        default=out["currentMasterVersion"])
        out["labelFingerprint"] = fingerprint(out.get("resourceLabels", {}))
        out["etag"] = etag_of([out, c["status"]])
        return out

    # ------------------------------------------------------------------ clusters
    def cluster_create(self, pp, query, body):
        st = self.state
        project, location = pp["projectsId"], pp["locationsId"]
        self.check_location(project, location)
        cl = body.get("cluster")
        if not cl:
            raise bad_request("Cluster must be specified.")
        name = cl.get("name", "")
        if not NAME_RE.match(name):
            raise bad_request('Invalid value for field "cluster.name": "%s". %s' % (name, NAME_RULE))
        key = (project, location, name)
        if key in self.clusters:
            raise already_exists("Already exists: %s." % self.legacy_path(project, location, "clusters", name))
        if (cl.get("autopilot") or {}).get("enabled"):
            raise ApiError(400, "Autopilot clusters are not modelled by fake_gcp.",
                           problem="autopilot cluster requested (not modelled by the fake)")
        pools_req = cl.get("nodePools") or []
        init = cl.get("initialNodeCount", 0)
        if not pools_req and not init:
            raise bad_request("Cluster.initial_node_count must be greater than zero.")
        if pools_req and (init or cl.get("nodeConfig")):
            raise bad_request("Cluster.initial_node_count and Cluster.node_config cannot be used together "
                              "with Cluster.node_pools; put them in the node pools.")
        region = region_of(location)
        zones = cl.get("locations") or ([location] if is_zone(location) else self.state.zones_for(region))
        for z in zones:
            if z not in self.state.zones_for(region):
                raise bad_request('Location "%s" is not a zone of region %s.' % (z, region))
        if is_zone(location) and location not in zones:
            raise bad_request("A zonal cluster's locations must include its own zone %s." % location)
        probs = label_problems(cl.get("resourceLabels", {}), "resource label")
        if probs:
            raise bad_request("Invalid cluster.resource_labels: " + "; ".join(probs))
        wi = (cl.get("workloadIdentityConfig") or {}).get("workloadPool")
        if wi and wi != "%s.svc.id.goog" % project:
            raise bad_request('Workload Identity Pool "%s" is invalid: it must be "%s.svc.id.goog".' % (wi, project))
        net, sub_path, subnet = self.resolve_network(project, region, cl)
        iap = copy.deepcopy(cl.get("ipAllocationPolicy") or {})
        pod_cidr = "10.%d.0.0/14" % (4 * (st.next_counter() % 60) + 4)
        svc_cidr = "34.118.224.0/20"
        if iap.get("clusterSecondaryRangeName"):
            pod_cidr = self.secondary_range(subnet, iap["clusterSecondaryRangeName"], sub_path)
        elif iap.get("clusterIpv4CidrBlock"):
            pod_cidr = iap["clusterIpv4CidrBlock"]
        if iap.get("servicesSecondaryRangeName"):
            svc_cidr = self.secondary_range(subnet, iap["servicesSecondaryRangeName"], sub_path)
        elif iap.get("servicesIpv4CidrBlock"):
            svc_cidr = iap["servicesIpv4CidrBlock"]
        if not iap.get("useRoutes"):
            iap["useIpAliases"] = True
        iap.update({"clusterIpv4Cidr": pod_cidr, "clusterIpv4CidrBlock": pod_cidr,
                    "servicesIpv4Cidr": svc_cidr, "servicesIpv4CidrBlock": svc_cidr})
        iap.setdefault("stackType", "IPV4")
        iap.setdefault("podCidrOverprovisionConfig", {})
        channel = (cl.get("releaseChannel") or {}).get("channel") or DEFAULT_CHANNEL
        version = full_version(cl.get("initialClusterVersion"))
        if not version or version in ("latest", "-"):
            version = VERSIONS.get(channel, VERSIONS[DEFAULT_CHANNEL])
        pcc = copy.deepcopy(cl.get("privateClusterConfig") or {})
        master_cidr = pcc.get("masterIpv4CidrBlock")
        pcc["privateEndpoint"] = (master_cidr.split("/")[0].rsplit(".", 1)[0] + ".2") if master_cidr else \
            "10.%d.0.2" % (128 + st.next_counter() % 100)
        n = st.next_counter()
        api = {
            "name": name,
            "network": net,
            "subnetwork": last_segment(sub_path),
            "networkConfig": {"network": "projects/%s/global/networks/%s" % (project, net),
                              "subnetwork": sub_path, "serviceExternalIpsConfig": {}},
            "locations": zones,
            "ipAllocationPolicy": iap,
            "clusterIpv4Cidr": pod_cidr,
            "servicesIpv4Cidr": svc_cidr,
            "privateClusterConfig": pcc,
            "releaseChannel": {"channel": channel},
            "initialClusterVersion": version,
            "currentMasterVersion": version,
            "createTime": st.rfc3339(),
            "id": "%032x" % st.rng.getrandbits(128),
            "addonsConfig": {"gcePersistentDiskCsiDriverConfig": {"enabled": True},
                             "kubernetesDashboard": {"disabled": True},
                             "networkPolicyConfig": {"disabled": True}},
            "autopilot": {},
            "databaseEncryption": {"currentState": "CURRENT_STATE_DECRYPTED", "state": "DECRYPTED"},
            "defaultMaxPodsConstraint": {"maxPodsPerNode": "110"},
            "legacyAbac": {},
            "loggingConfig": {"componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]}},
            "loggingService": "logging.googleapis.com/kubernetes",
            "maintenancePolicy": {"resourceVersion": st.hex(8)},
            "monitoringConfig": {"componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS"]},
                                 "managedPrometheusConfig": {"enabled": True}},
            "monitoringService": "monitoring.googleapis.com/kubernetes",
            "notificationConfig": {"pubsub": {}},
            "shieldedNodes": {"enabled": True},
            "controlPlaneEndpointsConfig": {
                "dnsEndpointConfig": {"endpoint": "gke-%s-%s.%s.gke.goog" % (
                    st.hex(16), st.project_number(project), location), "allowExternalTraffic": False},
                "ipEndpointsConfig": {"enabled": True, "enablePublicEndpoint":
                                      not pcc.get("enablePrivateEndpoint", False),
                                      "authorizedNetworksConfig": {"gcpPublicCidrsAccessEnabled": True}}},
        }
        for k in ("description", "resourceLabels", "workloadIdentityConfig", "masterAuthorizedNetworksConfig",
                  "addonsConfig", "loggingConfig", "monitoringConfig", "defaultMaxPodsConstraint",
                  "databaseEncryption", "shieldedNodes", "maintenancePolicy", "networkPolicy",
                  "binaryAuthorization", "verticalPodAutoscaling", "autoscaling", "costManagementConfig",
                  "gatewayApiConfig", "securityPostureConfig", "enableK8sBetaApis", "notificationConfig",
                  "nodePoolDefaults", "nodePoolAutoConfig", "enterpriseConfig", "secretManagerConfig"):
            if k in cl:
                api[k] = copy.deepcopy(cl[k])
        if "loggingService" in cl:
            api["loggingService"] = cl["loggingService"]
        if "monitoringService" in cl:
            api["monitoringService"] = cl["monitoringService"]
        c = {"project": project, "location": location, "name": name, "api": api, "pools": {},
             "op": None, "status": "PROVISIONING", "status_message": None,
             "endpoint": "34.%d.%d.%d" % (n % 200 + 20, (n * 7) % 250 + 1, (n * 13) % 250 + 1),
             "ca": base64.b64encode(("-----BEGIN CERTIFICATE-----\nZmFrZV9nY3AgY2x1c3RlciBDQSBmb3IgJXM=%s\n"
                                     "-----END CERTIFICATE-----\n" % name).encode()).decode(),
             "subnet": subnet, "pod_range": "gke-%s-pods-%s" % (name, st.hex(8))}
        if not pools_req:
            pools_req = [{"name": "default-pool", "initialNodeCount": init,
                          "config": cl.get("nodeConfig") or {}}]
        seen = set()
        for spec in pools_req:
            if spec.get("name") in seen:
                raise bad_request('Node pool "%s" is specified more than once.' % spec.get("name"))
            seen.add(spec.get("name"))
            pool = self.build_pool(spec, c, zones)
            c["pools"][spec["name"]] = pool
        self.clusters[key] = c
        failures = [(pl, self.stockout(c, pl)) for pl in c["pools"].values()]
        failures = [(pl, z) for pl, z in failures if z]

        def done(op):
            if failures:
                pl, z = failures[0]
                msg, cond = self.stockout_error(c, pl, z)
                op.error = {"code": 8, "message": msg}
                op.status_message = msg
                op.conditions = [cond]
                c["status"] = "ERROR"
                c["status_message"] = msg
                for p2, _ in failures:
                    p2["status"] = "ERROR"
                    p2["status_message"] = msg
                    p2["conditions"] = [cond]
            else:
                c["status"] = "RUNNING"
            for p2 in c["pools"].values():
                if p2["status"] == "PROVISIONING":
                    p2["status"] = "RUNNING"

        op = self.start_op(c, "CREATE_CLUSTER", "clusters/" + name, done)
        return 200, self.render_op(op)

    def cluster_get(self, pp, query, body):
        return 200, self.render_cluster(self.get_cluster(pp))

    def cluster_list(self, pp, query, body):
        project, location = pp["projectsId"], pp["locationsId"]
        self.check_location(project, location, allow_wildcard=True)
        out = []
        for (p, loc, _), c in sorted(self.clusters.items()):
            if p != project:
                continue
            # A region lists its regional clusters and the zonal clusters in its zones.
            if location == "-" or loc == location or (not is_zone(location) and region_of(loc) == location):
                out.append(self.render_cluster(c))
        return 200, ({"clusters": out} if out else {})

    def cluster_delete(self, pp, query, body):
        c = self.get_cluster(pp)
        self.ensure_idle(c)
        c["status"] = "STOPPING"
        for pl in c["pools"].values():
            pl["status"] = "STOPPING"

        def done(op):
            self.clusters.pop((c["project"], c["location"], c["name"]), None)

        op = self.start_op(c, "DELETE_CLUSTER", "clusters/" + c["name"], done)
        return 200, self.render_op(op)

    def cluster_setResourceLabels(self, pp, query, body):
        c = self.get_cluster(pp)
        self.ensure_idle(c)
        labels = body.get("resourceLabels") or {}
        probs = label_problems(labels, "resource label")
        if probs:
            raise bad_request("Invalid resource_labels: " + "; ".join(probs))
        current = fingerprint(c["api"].get("resourceLabels", {}))
        given = body.get("labelFingerprint", "")
        if not given:
            raise bad_request("label_fingerprint is required: get the cluster and send its labelFingerprint.")
        if given != current:
            raise failed_precondition("Labels could not be set due to fingerprint mismatch (got %s, current %s)."
                                      % (given, current))

        def done(op):
            if labels:
                c["api"]["resourceLabels"] = dict(labels)
            else:
                c["api"].pop("resourceLabels", None)

        op = self.start_op(c, "SET_LABELS", "clusters/" + c["name"], done)
        return 200, self.render_op(op)

    def cluster_update(self, pp, query, body):
        c = self.get_cluster(pp)
        upd = body.get("update") or {}
        desired = [k for k in upd if k not in ("desiredNodePoolId", "etag")]
        if len(desired) != 1:
            raise bad_request("Exactly one update can be applied to a cluster with each request, so at most "
                              "one field can be provided; got %d: %s." % (len(desired), ", ".join(desired) or "none"))
        field = desired[0]
        if field not in UPDATE_FIELDS:
            raise ApiError(400, "fake_gcp does not model ClusterUpdate.%s." % field,
                           problem="clusters.update with update.%s (not modelled by the fake)" % field)
        self.ensure_idle(c)
        value = upd[field]
        op_type = "UPDATE_CLUSTER"
        pool = None
        if field in ("desiredNodePoolAutoscaling", "desiredNodeVersion"):
            pid = upd.get("desiredNodePoolId")
            if not pid:
                if len(c["pools"]) == 1:
                    pid = next(iter(c["pools"]))
                else:
                    raise bad_request("update.desired_node_pool_id must be set to update a node pool.")
            pool = self.get_pool(c, pid)
        if field == "desiredNodePoolAutoscaling":
            self.check_autoscaling(value)
            self.check_tpu(pool["api"]["config"]["machineType"], pool["api"].get("placementPolicy") or {},
                           pool["api"]["locations"], pool["count"], value)
        if field == "desiredLocations":
            for z in value:
                if z not in self.region_zones(c):
                    raise bad_request('Location "%s" is not a zone of region %s.' % (z, region_of(c["location"])))
            if is_zone(c["location"]) and c["location"] not in value:
                raise bad_request("A zonal cluster's locations must include its own zone %s." % c["location"])
        if field == "desiredMasterVersion":
            op_type = "UPGRADE_MASTER"
        if field == "desiredNodeVersion":
            op_type = "UPGRADE_NODES"
        if field == "desiredWorkloadIdentityConfig":
            wi = value.get("workloadPool")
            if wi and wi != "%s.svc.id.goog" % c["project"]:
                raise bad_request('Workload Identity Pool "%s" is invalid: it must be "%s.svc.id.goog".'
                                  % (wi, c["project"]))
        if pool is None and c["status"] == "RUNNING":
            c["status"] = "RECONCILING"

        def done(op):
            a = c["api"]
            if field == "desiredNodePoolAutoscaling":
                pool["autoscaling"] = dict(value)
                if value.get("enabled"):
                    pool["autoscaling"].setdefault("locationPolicy", "BALANCED")
            elif field == "desiredNodeVersion":
                pool["version"] = a["currentMasterVersion"] if value in ("-", "latest") else value
            elif field == "desiredMasterVersion":
                a["currentMasterVersion"] = VERSIONS.get(a["releaseChannel"]["channel"], value) \
                    if value in ("-", "latest") else full_version(value)
            elif field == "desiredLocations":
                a["locations"] = list(value)
                for pl in c["pools"].values():
                    pl["api"]["locations"] = list(value)
            elif field == "desiredReleaseChannel":
                a["releaseChannel"] = dict(value)
            elif field == "desiredWorkloadIdentityConfig":
                if value.get("workloadPool"):
                    a["workloadIdentityConfig"] = dict(value)
                else:
                    a.pop("workloadIdentityConfig", None)
            elif field == "desiredControlPlaneEndpointsConfig":
                cpe = a.setdefault("controlPlaneEndpointsConfig", {})
                for k, v in value.items():
                    cpe.setdefault(k, {}).update(v)
            elif field == "desiredMasterAuthorizedNetworksConfig":
                a["masterAuthorizedNetworksConfig"] = dict(value)
            if c["status"] == "RECONCILING":
                c["status"] = "RUNNING"

        target = "clusters/" + c["name"] + ("/nodePools/" + pool["api"]["name"] if pool else "")
        op = self.start_op(c, op_type, target, done)
        return 200, self.render_op(op)

    # ------------------------------------------------------------------ control API
    def resize(self, project, location, cluster, pool, count):
        c = self.clusters.get((project, location, cluster))
        if c is None or pool not in c["pools"]:
            raise not_found("no pool %s in cluster %s/%s/%s" % (pool, project, location, cluster))
        c["pools"][pool]["count"] = int(count)
        return self.render_pool(c, c["pools"][pool])

    def resources(self):
        for c in self.clusters.values():
            yield ("cluster", c["name"], self.path(c["project"], c["location"], "clusters", c["name"]),
                   c["api"].get("resourceLabels", {}))
            for name, p in c["pools"].items():
                yield ("nodePool", name, self.path(c["project"], c["location"], "clusters", c["name"],
                                                   "nodePools", name),
                       p["api"]["config"].get("resourceLabels", {}))

    def subnet_users(self, project, region, subnet):
        """Clusters whose nodes use a subnetwork (compute refuses to delete it)."""
        for c in self.clusters.values():
            if c["project"] == project and region_of(c["location"]) == region and \
                    c["api"]["subnetwork"] == subnet:
                yield self.path(c["project"], c["location"], "clusters", c["name"])

    def network_users(self, project, network):
        for c in self.clusters.values():
            if c["project"] == project and c["api"]["network"] == network:
                yield "projects/%s/global/firewalls/gke-%s-%s-all" % (project, c["name"][:20], c["pod_range"][-8:])
