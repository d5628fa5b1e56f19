"""EKS add-ons and access entries, which moto 5.2.1 lacks (part of tests/aws/layer_eks.py).

  add-ons        Create/Describe/Update/Delete/ListAddons, with configurationValues,
                 serviceAccountRoleArn, addonVersion (a default per add-on) and tags; CREATING for
                 a few polls, UPDATING after UpdateAddon; coredns is DEGRADED while its cluster has
                 no node group that is ACTIVE with nodes (config "coredns_needs_nodes")
  access         Create/Describe/Update/Delete/ListAccessEntries and Associate/Disassociate/
                 ListAssociatedAccessPolicies, on clusters whose authenticationMode is API or
                 API_AND_CONFIG_MAP; EKS's four access policies at cluster or namespace scope
"""
import json
import re
import time
import uuid

from layer_http import in_use, invalid, invalid_request, json_answer, not_found

POLICY_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
ACCESS_POLICIES = ("AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy")
ENTRY_TYPES = ("STANDARD", "EC2", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "HYPERPOD_LINUX")
PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::(\d{12}):(role|user|assumed-role)/(.+)$")
COREDNS_ISSUE = {"code": "InsufficientNumberOfReplicas", "message": "The add-on is unhealthy because it doesn't have the desired number of replicas."}
# The add-ons EKS offers, with the version CreateAddon installs when none is asked for.
ADDON_VERSIONS = {
    "vpc-cni": "v1.19.2-eksbuild.1",
    "coredns": "v1.11.4-eksbuild.2",
    "kube-proxy": "v1.32.0-eksbuild.2",
    "aws-ebs-csi-driver": "v1.38.1-eksbuild.2",
    "aws-efs-csi-driver": "v2.1.4-eksbuild.1",
    "aws-mountpoint-s3-csi-driver": "v1.11.0-eksbuild.1",
    "snapshot-controller": "v8.1.0-eksbuild.2",
    "eks-pod-identity-agent": "v1.3.4-eksbuild.1",
    "eks-node-monitoring-agent": "v1.0.1-eksbuild.2",
    "amazon-cloudwatch-observability": "v3.0.0-eksbuild.1",
    "aws-guardduty-agent": "v1.8.1-eksbuild.2",
    "aws-network-flow-monitoring-agent": "v1.0.1-eksbuild.2",
    "adot": "v0.109.0-eksbuild.2",
    "metrics-server": "v0.7.2-eksbuild.1",
    "cert-manager": "v1.16.2-eksbuild.1",
    "external-dns": "v0.15.1-eksbuild.1",
    "kube-state-metrics": "v2.14.0-eksbuild.1",
    "prometheus-node-exporter": "v1.8.2-eksbuild.2",
    "fluent-bit": "v3.2.2-eksbuild.1",
}


class AddonsAndAccess:
    """Operations of the Eks class (layer_eks.py), which provides self.layer, self.addons,
    self.entries and the helpers cluster(), page(), polls_left(), updating(), start_update(),
    update_record(), forget_polls() and has_nodes()."""

    def bootstrap_creator(self, region, cluster, principal):
        """The admin access entry EKS gives the principal that created `cluster`."""
        entry = self.new_entry(region, cluster, principal, {})
        now = time.time()
        entry["policies"][POLICY_PREFIX + "AmazonEKSClusterAdminPolicy"] = {"accessScope": {"type": "cluster", "namespaces": []}, "associatedAt": now, "modifiedAt": now}

    # -- add-ons ----------------------------------------------------------------------------
    def addon(self, call):
        p = call.params
        self.cluster(call.region, p["clusterName"])
        found = self.addons.get((call.region, p["clusterName"], p["addonName"]))
        if found is None:
            raise not_found(f"No addon: {p['addonName']} found in cluster: {p['clusterName']}")
        return found

    @staticmethod
    def check_configuration(values):
        """configurationValues must be a JSON or YAML object (EKS then checks the add-on's schema)."""
        try:
            doc = json.loads(values)
        except ValueError:
            try:
                import yaml
                doc = yaml.safe_load(values)
            except Exception:
                doc = None
        if not isinstance(doc, dict):
            raise invalid("ConfigurationValue provided in request is not supported: Json schema validation failed with error: [$: string found, object expected]")

    def addon_view(self, region, record, status=None):
        cluster, name = record["clusterName"], record["addonName"]
        health = {"issues": []}
        if status is None:
            if self.layer.creating(("addon", cluster, name)):
                status = "CREATING"
            elif self.updating(("addon-update", cluster, name)):
                status = "UPDATING"
            elif name == "coredns" and self.layer.config["coredns_needs_nodes"] and not self.has_nodes(region, cluster):
                status, health = "DEGRADED", {"issues": [dict(COREDNS_ISSUE, resourceIds=[])]}
            else:
                status = "ACTIVE"
        view = {k: v for k, v in record.items() if not k.startswith("_")}
        view.update(status=status, health=health)
        return view

    def op_CreateAddon(self, call, forward):
        p, region = call.params, call.region
        cluster, name = p["clusterName"], p["addonName"]
        self.cluster(region, cluster)
        if name not in ADDON_VERSIONS:
            raise invalid(f"Addon {name} specified is not supported")
        if p.get("configurationValues"):
            self.check_configuration(p["configurationValues"])
        existing = self.addons.get((region, cluster, name))
        if existing is not None:
            if p.get("clientRequestToken") and existing["_token"] == p.get("clientRequestToken"):
                return json_answer(200, {"addon": self.addon_view(region, existing, "CREATING")})
            raise in_use("Addon already exists.")
        now = time.time()
        record = {
            "addonName": name, "clusterName": cluster, "addonVersion": p.get("addonVersion") or ADDON_VERSIONS[name],
            "addonArn": self.cluster(region, cluster).arn.replace(":cluster/", ":addon/") + f"/{name}/{uuid.uuid4()}",
            "createdAt": now, "modifiedAt": now, "tags": dict(p.get("tags", {})), "_token": p.get("clientRequestToken"),
        }
        for key in ("configurationValues", "serviceAccountRoleArn"):
            if key in p:
                record[key] = p[key]
        self.addons[(region, cluster, name)] = record
        self.forget_polls("addon", cluster, name)
        self.forget_polls("addon-update", cluster, name)
        return json_answer(200, {"addon": self.addon_view(region, record, "CREATING")})

    def op_DescribeAddon(self, call, forward):
        return json_answer(200, {"addon": self.addon_view(call.region, self.addon(call))})

    def op_UpdateAddon(self, call, forward):
        p = call.params
        record = self.addon(call)
        if self.polls_left(("addon-update", p["clusterName"], p["addonName"])) > 0:
            raise in_use(f"Addon {p['addonName']} is currently being updated")
        if p.get("configurationValues"):
            self.check_configuration(p["configurationValues"])
        params = []
        for key, kind in (("addonVersion", "AddonVersion"), ("serviceAccountRoleArn", "ServiceAccountRoleArn"), ("configurationValues", "ConfigurationValues"), ("resolveConflicts", "ResolveConflicts")):
            if key in p:
                params.append((kind, p[key]))
                if key != "resolveConflicts":
                    record[key] = p[key]
        record["modifiedAt"] = time.time()
        update = self.update_record("AddonUpdate", params)
        return json_answer(200, {"update": self.start_update(("addon-update", p["clusterName"], p["addonName"]), update)})

    def op_DeleteAddon(self, call, forward):
        p = call.params
        record = self.addon(call)
        del self.addons[(call.region, p["clusterName"], p["addonName"])]
        self.forget_polls("addon", p["clusterName"], p["addonName"])
        self.forget_polls("addon-update", p["clusterName"], p["addonName"])
        return json_answer(200, {"addon": self.addon_view(call.region, record, "DELETING")})

    def op_ListAddons(self, call, forward):
        cluster = call.params["clusterName"]
        self.cluster(call.region, cluster)
        return self.page(call, sorted(a for (r, c, a) in self.addons if (r, c) == (call.region, cluster)), "addons")

    # -- access entries ---------------------------------------------------------------------
    def access_cluster(self, call):
        c = self.cluster(call.region, call.params["clusterName"])
        if c.access_config["authenticationMode"] == "CONFIG_MAP":
            raise invalid_request("The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.")
        return c

    def entry(self, call):
        self.access_cluster(call)
        p = call.params
        found = self.entries.get((call.region, p["clusterName"], p["principalArn"]))
        if found is None:
            raise not_found("The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.")
        return found

    def new_entry(self, region, cluster, principal, p):
        m = PRINCIPAL.match(principal)
        kind = "role" if m.group(3) != "user" else "user"
        principal_name = m.group(4).split("/")[-1]
        username = p.get("username")
        if username is None and p.get("type", "STANDARD") == "STANDARD":
            username = principal if kind == "user" else f"arn:aws:sts::{m.group(2)}:assumed-role/{principal_name}/{{{{SessionName}}}}"
        now = time.time()
        record = {
            "clusterName": cluster, "principalArn": principal, "kubernetesGroups": list(p.get("kubernetesGroups", [])),
            "accessEntryArn": self.cluster(region, cluster).arn.replace(":cluster/", ":access-entry/") + f"/{kind}/{m.group(2)}/{principal_name}/{uuid.uuid4()}",
            "createdAt": now, "modifiedAt": now, "tags": dict(p.get("tags", {})), "username": username, "type": p.get("type", "STANDARD"),
            "policies": {}, "_token": p.get("clientRequestToken"),
        }
        if username is None:
            del record["username"]
        self.entries[(region, cluster, principal)] = record
        return record

    @staticmethod
    def entry_view(record):
        return {k: v for k, v in record.items() if k not in ("policies", "_token")}

    def op_CreateAccessEntry(self, call, forward):
        p = call.params
        self.access_cluster(call)
        principal = p["principalArn"]
        if not PRINCIPAL.match(principal):
            raise invalid("The specified principalArn is invalid: invalid principal")
        kind = p.get("type", "STANDARD")
        if kind not in ENTRY_TYPES:
            raise invalid(f"The type {kind} is not supported. Valid types: {', '.join(ENTRY_TYPES)}")
        if kind != "STANDARD" and (p.get("kubernetesGroups") or p.get("username")):
            raise invalid(f"kubernetesGroups and username can not be specified for an access entry of type {kind}")
        existing = self.entries.get((call.region, p["clusterName"], principal))
        if existing is not None:
            if p.get("clientRequestToken") and existing["_token"] == p["clientRequestToken"]:
                return json_answer(200, {"accessEntry": self.entry_view(existing)})
            raise in_use("The specified access entry resource is already in use on this cluster.")
        return json_answer(200, {"accessEntry": self.entry_view(self.new_entry(call.region, p["clusterName"], principal, p))})

    def op_DescribeAccessEntry(self, call, forward):
        return json_answer(200, {"accessEntry": self.entry_view(self.entry(call))})

    def op_UpdateAccessEntry(self, call, forward):
        record = self.entry(call)
        p = call.params
        if record["type"] != "STANDARD" and (p.get("kubernetesGroups") or p.get("username")):
            raise invalid(f"kubernetesGroups and username can not be updated for an access entry of type {record['type']}")
        if "kubernetesGroups" in p:
            record["kubernetesGroups"] = list(p["kubernetesGroups"])
        if "username" in p:
            record["username"] = p["username"]
        record["modifiedAt"] = time.time()
        return json_answer(200, {"accessEntry": self.entry_view(record)})

    def op_DeleteAccessEntry(self, call, forward):
        self.entry(call)
        p = call.params
        del self.entries[(call.region, p["clusterName"], p["principalArn"])]
        return json_answer(200, {})

    def op_ListAccessEntries(self, call, forward):
        self.access_cluster(call)
        p = call.params
        wanted = p.get("associatedPolicyArn")
        if wanted is not None:
            self.check_policy(wanted)
        found = sorted(pr for (r, c, pr), e in self.entries.items() if (r, c) == (call.region, p["clusterName"]) and (wanted is None or wanted in e["policies"]))
        return self.page(call, found, "accessEntries")

    @staticmethod
    def check_policy(arn):
        if not arn.startswith(POLICY_PREFIX) or arn[len(POLICY_PREFIX):] not in ACCESS_POLICIES:
            raise invalid(f"The specified policyArn {arn} is not valid. Valid access policies: {', '.join(POLICY_PREFIX + n for n in ACCESS_POLICIES)}")

    def op_AssociateAccessPolicy(self, call, forward):
        record = self.entry(call)
        p = call.params
        self.check_policy(p["policyArn"])
        if record["type"] != "STANDARD":
            raise invalid(f"Access policies can only be associated with access entries of type STANDARD, not {record['type']}")
        scope = p["accessScope"]
        if scope.get("type") == "namespace" and not scope.get("namespaces"):
            raise invalid("namespaces must be specified for an access scope of type namespace")
        if scope.get("type") == "cluster" and scope.get("namespaces"):
            raise invalid("namespaces can not be specified for an access scope of type cluster")
        now = time.time()
        before = record["policies"].get(p["policyArn"], {})
        scope = {"type": scope.get("type"), "namespaces": list(scope.get("namespaces", []))}
        record["policies"][p["policyArn"]] = {"accessScope": scope, "associatedAt": before.get("associatedAt", now), "modifiedAt": now}
        return json_answer(200, {"clusterName": p["clusterName"], "principalArn": p["principalArn"], "associatedAccessPolicy": self.policy_view(p["policyArn"], record["policies"][p["policyArn"]])})

    @staticmethod
    def policy_view(arn, held):
        return {"policyArn": arn, **held}

    def op_DisassociateAccessPolicy(self, call, forward):
        record = self.entry(call)
        p = call.params
        if record["policies"].pop(p["policyArn"], None) is None:
            raise not_found(f"The specified policy {p['policyArn']} is not associated with principal {p['principalArn']}")
        return json_answer(200, {})

    def op_ListAssociatedAccessPolicies(self, call, forward):
        record = self.entry(call)
        p = call.params
        policies = [self.policy_view(arn, held) for arn, held in sorted(record["policies"].items())]
        return self.page(call, policies, "associatedAccessPolicies", {"clusterName": p["clusterName"], "principalArn": p["principalArn"]})
