"""AKS managed clusters (Microsoft.ContainerService 2026-10-01), a mixin of model.Arm.

What is modelled, as AKS does it:

* PUT is long-running: 201 (create) / 200 (update), provisioningState
  ``Creating`` / ``Updating``, ``Azure-AsyncOperation`` + ``Retry-After``.  The
  ``agentPoolProfiles`` become agent pools (listed by AgentPools_List too); at
  least one must be ``mode: System`` (``MustDefineAtLeastOneSystemPool``).
* Answers fill the read-only fields AKS fills: fqdn
  (``{dnsPrefix}-xxxxxxxx.hcp.{location}.azmk8s.io``), azurePortalFQDN,
  currentKubernetesVersion, nodeResourceGroup (``MC_{rg}_{name}_{location}``, which
  also appears as a resource group managed by the cluster), powerState,
  maxAgentPools, identityProfile.kubeletidentity, resourceUID, network defaults.
* An update may not change dnsPrefix, fqdnSubdomain, nodeResourceGroup, location
  or the network plugin / CIDRs (``PropertyChangeNotAllowed``), nor a pool's
  immutable fields (see aks_pools).  Top-level properties a PUT omits keep
  their value.  One cluster operation at a time: ``OperationNotAllowed`` (409).
* DELETE is long-running (202 + Location + Azure-AsyncOperation); it takes the
  agent pools and the node resource group with it; a missing cluster is 204.
* listClusterUserCredential: a kubeconfig whose server/CA come from config
  ``kube``; an exec (kubelogin) user for ``aadProfile.managed`` clusters, else a
  static token (kept per cluster, shown by /_fake/resources as userToken).
"""

import base64
import copy

from errors import ArmError, conflict, invalid_parameter, resource_not_found
from state import TENANT_ID, Answer

CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"
VERSIONS = {"1.31": "1.31.11", "1.32": "1.32.7", "1.33": "1.33.3"}
DEFAULT_VERSION = "1.32"
AAD_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"     # the AKS AAD server application
AZ_CLI_CLIENT_ID = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"  # the Azure CLI client application
SECRETS = [("servicePrincipalProfile", "secret"), ("windowsProfile", "adminPassword"),
           ("aadProfile", "serverAppSecret")]
NET_IMMUTABLE = ["networkPlugin", "networkPluginMode", "podCidr", "serviceCidr", "dnsServiceIP",
                 "podCidrs", "serviceCidrs", "ipFamilies"]
DUMMY_CA = ("-----BEGIN CERTIFICATE-----\nMIIBfakeazurefakeazurefakeazurefakeazurefakeazurefakeazure\n"
            "-----END CERTIFICATE-----\n")


class ClusterMixin:
    def cluster_id(self, c):
        return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s" % (self.sub, c["rg"], CLUSTER_TYPE, c["name"])

    def cluster(self, req):
        rg, name = req.params["resourceGroupName"], req.params["resourceName"]
        c = self.clusters.get((rg.lower(), name.lower()))
        if c is None:
            self.group(rg)
            raise resource_not_found(CLUSTER_TYPE, name, rg)
        return c

    def cluster_busy(self, c, pools_too=False):
        busy = [c.get("op")] + ([p.get("op") for p in c["pools"].values()] if pools_too else [])
        # AKS finishes an operation whether or not anyone polls it (its caller may have been
        # killed): each request refused meanwhile stands for the time passing.
        for op in busy:
            if op is not None:
                op.poll()
        if c["state"] == "Deleting" or any(op is not None and op.status == "InProgress" for op in busy):
            raise conflict("OperationNotAllowed", "Operation is not allowed because there's an in progress "
                           "operation on managed cluster '%s' (provisioningState %s). Please wait for it to "
                           "finish before starting a new operation." % (c["name"], c["state"]))

    @staticmethod
    def resolve_version(v):
        if not v:
            return VERSIONS[DEFAULT_VERSION]
        if v in VERSIONS:
            return VERSIONS[v]
        if v in VERSIONS.values():
            return v
        raise ArmError(400, "K8sVersionNotSupported", "Version %s is not supported in this region. Please use "
                       "[az aks get-versions] command to get the supported version list in this region. For more "
                       "information, please check https://aka.ms/supported-version-list" % v)

    @staticmethod
    def effective_network(given):
        n = copy.deepcopy(given or {})
        plugin = n.setdefault("networkPlugin", "azure")
        if not given or "networkPlugin" not in given:
            n.setdefault("networkPluginMode", "overlay")
        if plugin == "kubenet" or n.get("networkPluginMode") == "overlay" or plugin == "none":
            n.setdefault("podCidr", "10.244.0.0/16")
            n.setdefault("podCidrs", [n["podCidr"]])
        n.setdefault("serviceCidr", "10.0.0.0/16")
        n.setdefault("serviceCidrs", [n["serviceCidr"]])
        n.setdefault("dnsServiceIP", "10.0.0.10")
        n.setdefault("outboundType", "loadBalancer")
        n.setdefault("loadBalancerSku", "standard")
        n.setdefault("ipFamilies", ["IPv4"])
        if n["outboundType"] == "loadBalancer":
            lb = n.setdefault("loadBalancerProfile", {})
            lb.setdefault("managedOutboundIPs", {"count": 1})
            lb.setdefault("backendPoolType", "nodeIPConfiguration")
        return n

    @staticmethod
    def default_max_pods(c):
        n = c["network"]
        if n.get("networkPlugin") == "kubenet":
            return 110
        if n.get("networkPluginMode") == "overlay" or n.get("networkPlugin") == "none":
            return 250
        return 30

    # ------------------------------------------------------------------ rendering
    def render_cluster(self, c):
        props = copy.deepcopy(c["props"])
        full = self.resolve_version(c["k8s"])
        props.update({
            "provisioningState": c["state"], "powerState": {"code": "Running"}, "maxAgentPools": 100,
            "kubernetesVersion": c["k8s"] or full, "currentKubernetesVersion": full,
            "dnsPrefix": c["dnsPrefix"], "azurePortalFQDN": c["portal_fqdn"],
            "agentPoolProfiles": [self.render_profile(c, p) for p in c["pools"].values()],
            "nodeResourceGroup": c["node_rg"], "networkProfile": copy.deepcopy(c["network"]),
            "resourceUID": c["uid"]})
        if c["fqdn"]:
            props["fqdn"] = c["fqdn"]
        if c.get("private_fqdn"):
            props["privateFQDN"] = c["private_fqdn"]
        props.setdefault("enableRBAC", True)
        props.setdefault("supportPlan", "KubernetesOfficial")
        props.setdefault("servicePrincipalProfile", {"clientId": "msi"})
        if c["identity"] and c["identity"].get("type") != "None":
            props.setdefault("identityProfile", {"kubeletidentity": {
                "resourceId": "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/"
                              "userAssignedIdentities/%s-agentpool" % (self.sub, c["node_rg"], c["name"]),
                "clientId": c["kubelet"][0], "objectId": c["kubelet"][1]}})
        if (props.get("oidcIssuerProfile") or {}).get("enabled"):
            props["oidcIssuerProfile"]["issuerURL"] = "https://%s.oic.prod-aks.azure.com/%s/%s/" % (
                c["location"], TENANT_ID, c["uid"])
        if "aadProfile" in props:
            props["aadProfile"].setdefault("tenantID", TENANT_ID)
        out = {"id": self.cluster_id(c), "name": c["name"], "type": CLUSTER_TYPE, "location": c["location"],
               "sku": copy.deepcopy(c["sku"]), "eTag": c["etag"], "properties": props}
        if c.get("tags") is not None:
            out["tags"] = dict(c["tags"])
        ident = c["identity"]
        if ident:
            rid = {"type": ident.get("type")}
            if ident.get("type") == "SystemAssigned":
                rid.update({"principalId": c["principal"], "tenantId": TENANT_ID})
            if ident.get("userAssignedIdentities"):
                rid["userAssignedIdentities"] = {k: {"principalId": c["principal"], "clientId": c["kubelet"][0]}
                                                 for k in ident["userAssignedIdentities"]}
            out["identity"] = rid
        return out

    # ------------------------------------------------------------------ create / update
    def h_ManagedClusters_CreateOrUpdate(self, req):
        rg, name, body = req.params["resourceGroupName"], req.params["resourceName"], req.body
        g = self.group(rg, writing=True)
        self.check_tags(body.get("tags"))
        props = {k: copy.deepcopy(v) for k, v in (body.get("properties") or {}).items() if v is not None}
        profiles = props.pop("agentPoolProfiles", None)
        for section, field in SECRETS:
            if isinstance(props.get(section), dict):
                props[section].pop(field, None)
        key = (rg.lower(), name.lower())
        c = self.clusters.get(key)
        version = props.pop("kubernetesVersion", None) or None
        self.resolve_version(version)
        if c is not None:
            self.cluster_busy(c, pools_too=True)
            network = self.check_cluster_immutables(c, body, props)
            work = dict(c, network=network, k8s=version or c["k8s"])
        else:
            prefix = props.get("dnsPrefix") or props.get("fqdnSubdomain") or \
                ("%s-%s-%s" % (name[:10], g["name"][:16], self.sub[:6])).replace("_", "-")
            work = {"name": name, "rg": g["name"], "location": body["location"], "pools": {}, "k8s": version,
                    "network": self.effective_network(props.get("networkProfile")), "dnsPrefix": prefix,
                    "node_rg": props.get("nodeResourceGroup") or "MC_%s_%s_%s" % (g["name"], name, body["location"]),
                    "uid": self.st.hex(24), "user_token": self.st.hex(64), "vmss_tag": "%08d" % self.st.rng.randrange(10 ** 8),
                    "kubelet": (self.st.uuid(), self.st.uuid()), "principal": self.st.uuid()}
            h = self.st.hex(8)
            pub = (props.get("apiServerAccessProfile") or {})
            work["fqdn"] = None if pub.get("enablePrivateCluster") and pub.get("enablePrivateClusterPublicFQDN") is False \
                else "%s-%s.hcp.%s.azmk8s.io" % (prefix, h, body["location"])
            work["portal_fqdn"] = "%s-%s.portal.hcp.%s.azmk8s.io" % (prefix, h, body["location"])
            if pub.get("enablePrivateCluster"):
                work["private_fqdn"] = "%s-%s.%s.privatelink.%s.azmk8s.io" % (prefix, h, self.st.uuid(),
                                                                                body["location"])
        changes, order = {}, []
        for i, prof in enumerate(profiles or []):
            pname = prof["name"]
            if pname.lower() in changes:
                raise invalid_parameter("Agent pool name '%s' is used more than once." % pname,
                                        "properties.agentPoolProfiles[%d].name" % i)
            old = c["pools"].get(pname.lower()) if c else None
            pprops = {k: v for k, v in prof.items() if k != "name"}
            changes[pname.lower()] = self.normalize_pool(work, pname, pprops, old and old["props"],
                                                         "properties.agentPoolProfiles[%d]" % i)
            self.check_tags(changes[pname.lower()].get("tags"))
            order.append((pname, old))
        if not self.keeps_system_pool(work, changes):
            raise ArmError(400, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool.")
        items = []
        for pname, old in order:
            p = changes[pname.lower()]
            oc = old["props"]["count"] if old and old["state"] != "Failed" else 0
            items.append((p["vmSize"], p["count"], p.get("scaleSetPriority") == "Spot", oc))
        self.check_quota(work["location"], items)
        status = 200 if c is not None else 201
        if c is None:
            c = work
            self.clusters[key] = c
            if c["node_rg"].lower() not in self.groups:
                self.groups[c["node_rg"].lower()] = {"name": c["node_rg"], "location": c["location"], "tags": None,
                                                     "managedBy": self.cluster_id(c), "state": "Succeeded"}
            c["props"] = props
        else:
            c["k8s"], c["network"] = work["k8s"], work["network"]
            c["props"].update(props)
        c.update({"tags": body.get("tags") if "tags" in body or status == 201 else c.get("tags"),
                  "sku": body.get("sku") or c.get("sku") or {"name": "Base", "tier": "Free"},
                  "identity": body.get("identity") or c.get("identity"),
                  "state": "Updating" if status == 200 else "Creating", "etag": self.st.uuid()})
        c["props"].pop("networkProfile", None)
        work_pools = []
        for pname, old in order:
            pool = c["pools"].get(pname.lower())
            adds = self.adds_nodes(old and old["props"], changes[pname.lower()], old and old["state"])
            if pool is None:
                pool = c["pools"][pname.lower()] = {"name": pname}
            pool.update({"props": changes[pname.lower()], "state": "Updating" if old else "Creating",
                         "etag": self.st.uuid()})
            work_pools.append((pool, adds))

        def finish():
            if self.clusters.get(key) is not c or c.get("op") is not op:
                return None
            err = self.pool_finish(c, work_pools)
            c["state"] = "Failed" if err else "Succeeded"
            return err
        op = c["op"] = self.start_op("aks", c["location"], self.cluster_id(c), finish)
        for pool, _ in work_pools:
            pool["op"] = op
        return Answer(status, self.render_cluster(c), self.async_headers(req, op))

    def check_cluster_immutables(self, c, body, props):
        def refuse(field):
            raise ArmError(400, "PropertyChangeNotAllowed", "Changing property '%s' is not allowed." % field,
                           target=field)
        if body["location"].lower() != c["location"].lower():
            refuse("location")
        if props.get("dnsPrefix") and props["dnsPrefix"] != c["dnsPrefix"]:
            refuse("properties.dnsPrefix")
        if props.get("fqdnSubdomain") and props["fqdnSubdomain"] != c["props"].get("fqdnSubdomain"):
            refuse("properties.fqdnSubdomain")
        if props.get("nodeResourceGroup") and props["nodeResourceGroup"].lower() != c["node_rg"].lower():
            refuse("properties.nodeResourceGroup")
        for f, v in (props.get("networkProfile") or {}).items():
            if f in NET_IMMUTABLE and v != c["network"].get(f):
                refuse("properties.networkProfile.%s" % f)
        merged = copy.deepcopy(c["network"])
        merged.update(props.get("networkProfile") or {})
        return merged

    # ------------------------------------------------------------------ the rest
    def h_ManagedClusters_Get(self, req):
        return Answer(200, self.render_cluster(self.cluster(req)))

    def h_ManagedClusters_ListByResourceGroup(self, req):
        rg = req.params["resourceGroupName"]
        self.group(rg)
        return Answer(200, {"value": [self.render_cluster(c) for k, c in self.clusters.items() if k[0] == rg.lower()]})

    def h_ManagedClusters_Delete(self, req):
        key = (req.params["resourceGroupName"].lower(), req.params["resourceName"].lower())
        c = self.clusters.get(key)
        if c is None:
            return Answer(204)
        if c["state"] != "Deleting":
            c["state"] = "Deleting"
            for p in c["pools"].values():
                p["state"] = "Deleting"

            def finish():
                if self.clusters.get(key) is c:
                    self.drop_cluster(key)
            c["op"] = self.start_op("aks", c["location"], self.cluster_id(c), finish)
        return Answer(202, None, self.delete_headers(req, c["op"]))

    def drop_cluster(self, key):
        c = self.clusters.pop(key)
        g = self.groups.get(c["node_rg"].lower())
        if g is not None and (g.get("managedBy") or "").lower() == self.cluster_id(c).lower():
            del self.groups[c["node_rg"].lower()]

    def h_ManagedClusters_ListClusterUserCredentials(self, req):
        c = self.cluster(req)
        fmt = req.query.get("format")
        text = self.kubeconfig(c, fmt)
        return Answer(200, {"kubeconfigs": [{"name": "clusterUser",
                                             "value": base64.b64encode(text.encode()).decode()}]})

    def kubeconfig(self, c, fmt):
        kube = self.st.config.get("kube") or {}
        server = kube.get("server") or "https://%s:443" % (c["fqdn"] or c.get("private_fqdn"))
        ca = base64.b64encode((kube.get("ca_pem") or DUMMY_CA).encode()).decode()
        user = "clusterUser_%s_%s" % (c["rg"], c["name"])
        aad = (c["props"].get("aadProfile") or {}).get("managed")
        head = ("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n    server: %s\n"
                "  name: %s\ncontexts:\n- context:\n    cluster: %s\n    user: %s\n  name: %s\n"
                "current-context: %s\nkind: Config\npreferences: {}\nusers:\n- name: %s\n  user:\n"
                % (ca, server, c["name"], c["name"], user, c["name"], c["name"], user))
        if not aad:
            return head + "    token: %s\n" % c["user_token"]
        tenant = c["props"]["aadProfile"].get("tenantID") or TENANT_ID
        if fmt == "azure":
            return head + ("    auth-provider:\n      config:\n        apiserver-id: %s\n        client-id: %s\n"
                           "        config-mode: '1'\n        environment: AzurePublicCloud\n        tenant-id: %s\n"
                           "      name: azure\n" % (AAD_SERVER_ID, AZ_CLI_CLIENT_ID, tenant))
        return head + ("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n"
                       "      - get-token\n      - --login\n      - devicecode\n      - --server-id\n      - %s\n"
                       "      - --client-id\n      - %s\n      - --tenant-id\n      - %s\n      - --environment\n"
                       "      - AzurePublicCloud\n      command: kubelogin\n      env: null\n"
                       "      installHint: |2\n\n        kubelogin is not installed which is required to connect to "
                       "AAD enabled cluster.\n\n        To learn more, please go to https://aka.ms/aks/kubelogin\n"
                       "      interactiveMode: IfAvailable\n      provideClusterInfo: false\n"
                       % (AAD_SERVER_ID, AZ_CLI_CLIENT_ID, tenant))
