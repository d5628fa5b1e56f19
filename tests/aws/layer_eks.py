"""EKS as AWS documents it, where moto 5.2.1 stores too little (part of tests/aws/fake_aws.py).

moto keeps clusters, node groups and Fargate profiles; this module keeps what it drops and adds what
it lacks, working on moto's in-process backends so that EC2, Auto Scaling and CloudWatch Logs see
what EKS would create there:

  clusters      accessConfig (CONFIG_MAP unless sent), upgradePolicy, kubernetesNetworkConfig and
                bootstrapSelfManagedAddons as sent; the EKS-managed cluster security group in the
                cluster's VPC (deleted with the cluster); the creator's admin access entry (API and
                API_AND_CONFIG_MAP); the /aws/eks/NAME/cluster log group once the cluster is ACTIVE
                with control-plane logging on; CREATING for a few polls, UPDATING after an update;
                UpdateClusterVersion and UpdateClusterConfig (one kind of change per call, merged)
  node groups   updateConfig, launchTemplate, diskSize and amiType as sent; the Auto Scaling group
                moto only names (0 instances, EKS's tags), deleted with the node group; scaling,
                subnet, launch template and role checks; CREATING for a few polls, UPDATING after
                UpdateNodegroupConfig; CREATE_FAILED in a stocked-out zone
  add-ons,      in layer_eks_access.py
  access entries
  lists         ListClusters, ListNodegroups, ListAddons, ListAccessEntries and
                ListAssociatedAccessPolicies paginate with opaque tokens (config "page_size")
  tags          Tag/Untag/ListTagsForResource also for node groups, add-ons and access entries
  updates       DescribeUpdate for the updates above

An EKS operation that is neither here nor in moto is answered 501 and recorded as an error.
"""
import base64
import json
import os
import random
import re
import time
import uuid

from layer_eks_access import AddonsAndAccess
from layer_http import AwsError, error, in_use, invalid, invalid_request, json_answer, not_found

ACCOUNT = "123456789012"
CLUSTER_SG_DESCRIPTION = "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads."
# EKS operations moto 5.2.1 answers itself (the layer may check or complete them).
MOTO_OPS = {
    "CreateCluster", "DescribeCluster", "DeleteCluster",
    "CreateNodegroup", "DescribeNodegroup", "DeleteNodegroup", "UpdateNodegroupConfig",
    "CreateFargateProfile", "DescribeFargateProfile", "DeleteFargateProfile", "ListFargateProfiles",
}


def backends(region):
    """moto's in-process backends EKS works with, for `region`."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends
    from moto.eks.models import eks_backends
    from moto.iam.models import iam_backends
    from moto.logs.models import logs_backends
    from moto.sts.models import sts_backends
    return {
        "eks": eks_backends[ACCOUNT][region],
        "ec2": ec2_backends[ACCOUNT][region],
        "autoscaling": autoscaling_backends[ACCOUNT][region],
        "iam": iam_backends[ACCOUNT]["aws"],
        "logs": logs_backends[ACCOUNT][region],
        "sts": sts_backends[ACCOUNT]["aws"],
    }


def status_of(status_line):
    return int(status_line.split()[0])


def short_uuid():
    return str(uuid.uuid4())


class Eks(AddonsAndAccess):
    def __init__(self, layer):
        self.layer = layer  # config, polls, errors
        self.clusters = {}  # (region, name) -> what CreateCluster sent that moto drops, and more
        self.addons = {}  # (region, cluster, addon) -> add-on record
        self.entries = {}  # (region, cluster, principal ARN) -> access entry record
        self.nodegroups = {}  # (region, cluster, nodegroup) -> {"asg": name, "launch_configuration": name}
        self.updates = {}  # update id -> (update record, poll key)

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, call, environ, body, forward):
        handler = getattr(self, "op_" + call.op, None)
        try:
            if handler is not None:
                return handler(call, lambda: forward(environ, body))
            if call.op in MOTO_OPS:
                return forward(environ, body)
            message = f"eks:{call.op} is not emulated (moto 5.2.1 lacks it and tests/aws/layer_eks.py does not add it)"
            self.layer.record_error(message)
            raise AwsError(501, "NotImplementedByFake", message)
        except AwsError as e:
            return error("rest-json", e.status, e.code, e.message)

    # -- helpers ----------------------------------------------------------------------------
    def cluster(self, region, name):
        found = backends(region)["eks"].clusters.get(name)
        if found is None:
            raise not_found(f"No cluster found for name: {name}.")
        return found

    def nodegroup(self, region, cluster, name):
        found = self.cluster(region, cluster).nodegroups.get(name)
        if found is None:
            raise not_found(f"No node group found for name: {name}.")
        return found

    def polls_left(self, key):
        with self.layer.lock:
            return self.layer.polls.get(key, self.layer.config["creating_polls"] if key[0] in ("cluster", "nodegroup", "addon") else 0)

    def updating(self, key):
        """True while an update started with start_update() should still show (counts one poll)."""
        with self.layer.lock:
            left = self.layer.polls.get(key, 0)
            if left > 0:
                self.layer.polls[key] = left - 1
            return left > 0

    def start_update(self, key, record):
        """An update that is InProgress (and its resource UPDATING) for `creating_polls` polls."""
        with self.layer.lock:
            self.layer.polls[key] = self.layer.config["creating_polls"]
        self.updates[record["id"]] = (record, key)
        return record

    def update_record(self, kind, params):
        return {"id": short_uuid(), "status": "InProgress", "type": kind, "params": [{"type": t, "value": v} for t, v in params], "createdAt": time.time(), "errors": []}

    def forget_polls(self, *prefix):
        """Drop the poll counters whose keys start with `prefix` (a re-made resource starts over)."""
        with self.layer.lock:
            for key in [k for k in self.layer.polls if k[:len(prefix)] == prefix]:
                del self.layer.polls[key]

    def page(self, call, items, key, extra=None):
        """One page of `items`: at most maxResults, and at most page_size when that is set."""
        limit = call.params.get("maxResults") or 100
        if self.layer.config["page_size"] > 0:
            limit = min(limit, self.layer.config["page_size"])
        start = 0
        token = call.params.get("nextToken")
        if token:
            try:
                op, start = base64.urlsafe_b64decode(token.encode()).decode().split(":")
                start = int(start)
                assert op == call.op
            except Exception:
                raise invalid("The nextToken provided is not valid.")
        doc = dict(extra or {})
        doc[key] = items[start:start + limit]
        if start + limit < len(items):
            doc["nextToken"] = base64.urlsafe_b64encode(f"{call.op}:{start + limit}".encode()).decode()
        return json_answer(200, doc)

    def check_role(self, region, arn, service):
        """The role exists in IAM and trusts `service` (EKS assumes it)."""
        try:
            trust = backends(region)["iam"].get_role_by_arn(arn).assume_role_policy_document
        except Exception:
            trust = ""
        if service not in (trust if isinstance(trust, str) else json.dumps(trust)):
            raise invalid(f"Role with arn: {arn} could not be assumed because it does not exist or the trusted entity is not correct")

    def check_subnets(self, region, subnet_ids, min_zones=1):
        ec2 = backends(region)["ec2"]
        zones = set()
        for sid in subnet_ids:
            try:
                zones.add(ec2.get_subnet(sid).availability_zone)
            except Exception:
                raise invalid(f"The subnet ID '{sid}' does not exist")
        if len(zones) < min_zones:
            raise invalid(f"Subnets specified must be in at least {min_zones} different AZs")

    def caller(self, call):
        """The IAM principal that signed `call`, as EKS names it in access entries."""
        _, arn, _ = backends(call.region)["sts"].get_caller_identity(call.access_key, call.region)
        m = re.match(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/", arn)
        return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}" if m else arn

    # -- clusters ---------------------------------------------------------------------------
    def op_CreateCluster(self, call, forward):
        p, region = call.params, call.region
        vpc_config = p["resourcesVpcConfig"]
        self.check_subnets(region, vpc_config.get("subnetIds", []), min_zones=2)
        ec2 = backends(region)["ec2"]
        for sg in vpc_config.get("securityGroupIds", []):
            if ec2.get_security_group_from_id(sg) is None:
                raise invalid(f"The security group '{sg}' does not exist")
        self.check_role(region, p["roleArn"], "eks.amazonaws.com")
        access = p.get("accessConfig") or {}
        mode = access.get("authenticationMode", "CONFIG_MAP")
        bootstrap = access.get("bootstrapClusterCreatorAdminPermissions", True)
        if mode == "CONFIG_MAP" and bootstrap is False:
            raise invalid("bootstrapClusterCreatorAdminPermissions can not be false when authenticationMode is CONFIG_MAP")
        answer = forward()
        if status_of(answer[0]) != 200:
            return answer
        name = p["name"]
        c = self.cluster(region, name)
        vpc_id = ec2.get_subnet(vpc_config["subnetIds"][0]).vpc_id
        sg = ec2.create_security_group(
            name=f"eks-cluster-sg-{name}-{random.randint(0, 10**8 - 1):08d}",
            description=CLUSTER_SG_DESCRIPTION,
            vpc_id=vpc_id,
            tags={"aws:eks:cluster-name": name, f"kubernetes.io/cluster/{name}": "owned"},
        )
        ec2.authorize_security_group_ingress(group_name_or_id=sg.id, ip_protocol="-1", from_port=None, to_port=None, ip_ranges=[], source_groups=[{"GroupId": sg.id}], vpc_id=vpc_id)
        # moto serializes whichever attributes match the model's Cluster members.
        c.access_config = {"authenticationMode": mode}
        c.upgrade_policy = dict(p.get("upgradePolicy") or {"supportType": "EXTENDED"})
        network = dict(p.get("kubernetesNetworkConfig") or {})
        network.setdefault("ipFamily", "ipv4")
        if network["ipFamily"] == "ipv4":
            network.setdefault("serviceIpv4Cidr", "172.20.0.0/16")
        else:
            network.setdefault("serviceIpv6Cidr", "fd30:2b1c:8a5e::/108")
        c.kubernetes_network_config = network
        vpc = c.resources_vpc_config
        for k, v in (("securityGroupIds", []), ("endpointPublicAccess", True), ("endpointPrivateAccess", False), ("publicAccessCidrs", ["0.0.0.0/0"])):
            vpc.setdefault(k, v)
        vpc["clusterSecurityGroupId"], vpc["vpcId"] = sg.id, vpc_id
        sent = {k: p[k] for k in ("accessConfig", "upgradePolicy", "kubernetesNetworkConfig", "bootstrapSelfManagedAddons") if k in p}
        self.clusters[(region, name)] = {"sent": sent, "securityGroup": sg.id, "logGroup": False}
        self.forget_polls("cluster", name)
        if bootstrap and mode != "CONFIG_MAP":
            self.bootstrap_creator(region, name, self.caller(call))
        doc = json.loads(answer[2])
        doc["cluster"].update(self.cluster_fields(c), status="CREATING")
        self.kube_api(doc["cluster"])
        return json_answer(200, doc)

    @staticmethod
    def kube_api(doc):
        """Point the cluster at the test's loopback Kubernetes API when the test runs one
        (HOIST_FAKE_KUBE_URL and HOIST_FAKE_KUBE_CA, the base64 PEM of its CA)."""
        url, ca = os.environ.get("HOIST_FAKE_KUBE_URL"), os.environ.get("HOIST_FAKE_KUBE_CA")
        if url and ca:
            doc["endpoint"] = url
            doc["certificateAuthority"] = {"data": ca}

    @staticmethod
    def cluster_fields(c):
        return {"accessConfig": c.access_config, "upgradePolicy": c.upgrade_policy, "kubernetesNetworkConfig": c.kubernetes_network_config, "resourcesVpcConfig": c.resources_vpc_config, "version": c.version}

    def op_DescribeCluster(self, call, forward):
        answer = forward()
        if status_of(answer[0]) != 200:
            return answer
        doc = json.loads(answer[2])
        c = doc["cluster"]
        self.kube_api(c)
        if self.layer.creating(("cluster", c["name"])):
            c["status"] = "CREATING"
        elif self.updating(("cluster-update", c["name"])):
            c["status"] = "UPDATING"
        else:
            self.ensure_log_group(call.region, c["name"])
        return json_answer(200, doc)

    def ensure_log_group(self, region, name):
        """EKS creates /aws/eks/NAME/cluster once it runs with control-plane logging on."""
        extra = self.clusters.get((region, name))
        c = backends(region)["eks"].clusters.get(name)
        if extra is None or c is None or extra["logGroup"]:
            return
        if any(s.get("enabled") and s.get("types") for s in (c.logging or {}).get("clusterLogging", [])):
            logs = backends(region)["logs"]
            group = f"/aws/eks/{name}/cluster"
            if group not in logs.groups:
                logs.create_log_group(group, {})
            extra["logGroup"] = True

    def op_DeleteCluster(self, call, forward):
        name, region = call.params["name"], call.region
        answer = forward()  # moto refuses while node groups remain (ResourceInUseException)
        if status_of(answer[0]) != 200:
            return answer
        extra = self.clusters.pop((region, name), None)
        if extra:
            try:
                backends(region)["ec2"].delete_security_group(group_id=extra["securityGroup"])
            except Exception as e:
                self.layer.record_error(f"eks:DeleteCluster: could not delete the cluster security group {extra['securityGroup']}: {e}")
        for store in (self.addons, self.entries):
            for key in [k for k in store if k[:2] == (region, name)]:
                del store[key]
        for kind in ("cluster", "cluster-update", "addon", "addon-update"):
            self.forget_polls(kind, name)
        doc = json.loads(answer[2])
        doc.get("cluster", {})["status"] = "DELETING"
        return json_answer(200, doc)

    def op_ListClusters(self, call, forward):
        return self.page(call, sorted(backends(call.region)["eks"].clusters), "clusters")

    def cluster_status(self, name):
        """CREATING, UPDATING or ACTIVE, as the next describes will show it (counts no poll)."""
        if self.polls_left(("cluster", name)) > 0:
            return "CREATING"
        return "UPDATING" if self.polls_left(("cluster-update", name)) > 0 else "ACTIVE"

    def check_updatable(self, name):
        """EKS runs one update at a time, on an ACTIVE cluster."""
        status = self.cluster_status(name)
        if status == "CREATING":
            raise invalid_request(f"Cluster '{name}' is not in ACTIVE status")
        if status == "UPDATING":
            raise in_use("Update already in progress")

    def op_UpdateClusterVersion(self, call, forward):
        p, region = call.params, call.region
        c = self.cluster(region, p["name"])
        self.check_updatable(p["name"])
        have, want = c.version, p["version"]
        try:
            h, w = [tuple(int(x) for x in v.split(".")) for v in (have, want)]
        except ValueError:
            raise invalid(f"Unsupported Kubernetes version {want}")
        if w != (h[0], h[1] + 1):
            raise invalid(f"Unsupported Kubernetes minor version update from {have} to {want}")
        c.version = want
        update = self.update_record("VersionUpdate", [("Version", want), ("PlatformVersion", "eks.1")])
        return json_answer(200, {"update": self.start_update(("cluster-update", p["name"]), update)})

    def op_UpdateClusterConfig(self, call, forward):
        p, region = call.params, call.region
        c = self.cluster(region, p["name"])
        self.check_updatable(p["name"])
        changes = [k for k in p if k not in ("name", "clientRequestToken")]
        if len(changes) != 1:
            raise invalid("Only one type of update can be allowed." if changes else "No changes needed")
        kind = changes[0]
        value = p[kind]
        if kind == "resourcesVpcConfig":
            vpc = c.resources_vpc_config
            if value.get("subnetIds"):
                self.check_subnets(region, value["subnetIds"], min_zones=2)
            before = dict(vpc)
            vpc.update(value)
            if vpc == before:
                raise invalid(f"Cluster is already at the desired configuration with endpointPrivateAccess: {str(vpc.get('endpointPrivateAccess')).lower()} , endpointPublicAccess: {str(vpc.get('endpointPublicAccess')).lower()}, and Public Endpoint Restrictions: [{', '.join(vpc.get('publicAccessCidrs', []))}]")
            endpoint_keys = ("endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs")
            update_type = "EndpointAccessUpdate" if set(value) <= set(endpoint_keys) else "VpcConfigUpdate"
            params = [(k[0].upper() + k[1:], json.dumps(v) if isinstance(v, list) else str(v).lower()) for k, v in value.items()]
        elif kind == "logging":
            enabled = {t for s in (c.logging or {}).get("clusterLogging", []) if s.get("enabled") for t in s.get("types", [])}
            for setup in value.get("clusterLogging", []):
                types = set(setup.get("types", []))
                enabled = enabled | types if setup.get("enabled") else enabled - types
            every = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
            c.logging = {"clusterLogging": [s for s in ({"types": [t for t in every if t in enabled], "enabled": True}, {"types": [t for t in every if t not in enabled], "enabled": False}) if s["types"]]}
            update_type, params = "LoggingUpdate", [("ClusterLogging", json.dumps(value))]
            extra = self.clusters.get((region, p["name"]))
            if extra:
                extra["logGroup"] = False
                self.ensure_log_group(region, p["name"])
        elif kind == "accessConfig":
            if "bootstrapClusterCreatorAdminPermissions" in value:
                raise invalid("bootstrapClusterCreatorAdminPermissions can only be set when the cluster is created")
            order = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"]
            have, want = c.access_config["authenticationMode"], value.get("authenticationMode")
            if want is None or order.index(want) <= order.index(have):
                raise invalid(f"Unsupported authentication mode update from {have} to {want}")
            c.access_config = {"authenticationMode": want}
            update_type, params = "AccessConfigUpdate", [("AuthenticationMode", want)]
        elif kind == "upgradePolicy":
            c.upgrade_policy = dict(value)
            update_type, params = "UpgradePolicyUpdate", [("UpgradePolicy", json.dumps(value))]
        else:
            message = f"eks:UpdateClusterConfig with {kind} is not emulated by tests/aws/layer_eks.py"
            self.layer.record_error(message)
            raise AwsError(501, "NotImplementedByFake", message)
        update = self.update_record(update_type, params)
        return json_answer(200, {"update": self.start_update(("cluster-update", p["name"]), update)})

    # -- node groups ------------------------------------------------------------------------
    def launch_template(self, region, spec):
        ec2 = backends(region)["ec2"]
        try:
            if spec.get("id"):
                found = ec2.describe_launch_templates(template_ids=[spec["id"]])
            else:
                found = ec2.describe_launch_templates(template_names=[spec.get("name")])
        except Exception:
            found = []
        if not found or (spec.get("id") and spec.get("name") and found[0].name != spec["name"]):
            raise invalid(f"The specified launch template {spec.get('id') or spec.get('name')} does not exist")
        return found[0]

    @staticmethod
    def check_scaling(scaling):
        lo, want, hi = scaling.get("minSize", 0), scaling.get("desiredSize", 0), scaling.get("maxSize", 1)
        if hi < 1:
            raise invalid("Maximum capacity should be greater than or equal to 1")
        if lo > want:
            raise invalid(f"Minimum capacity {lo} can't be greater than desired size {want}")
        if want > hi:
            raise invalid(f"Desired capacity {want} can't be greater than max size {hi}")

    def op_CreateNodegroup(self, call, forward):
        p, region = call.params, call.region
        cluster, name = p["clusterName"], p["nodegroupName"]
        c = self.cluster(region, cluster)
        if name not in c.nodegroups and self.cluster_status(cluster) != "ACTIVE":  # a duplicate is moto's ResourceInUseException
            raise invalid_request(f"Cluster '{cluster}' is not in ACTIVE status")
        self.check_scaling({"minSize": 1, "desiredSize": 2, "maxSize": 2, **(p.get("scalingConfig") or {})})
        self.check_subnets(region, p["subnets"])
        template = None
        if p.get("launchTemplate"):
            template = self.launch_template(region, p["launchTemplate"])
            try:
                data = template.get_version(p["launchTemplate"].get("version") or "$Default").data
            except Exception:
                raise invalid(f"The launch template version {p['launchTemplate'].get('version')} of {template.name} does not exist")
            if data.get("ImageId") and p.get("amiType", "CUSTOM") != "CUSTOM":
                raise invalid("You cannot specify an AMI Type other than CUSTOM, when specifying an image id in your launch template.")
            if data.get("InstanceType") and p.get("instanceTypes"):
                raise invalid("Instance type must not be specified in both the launch template and the node group")
        self.check_role(region, p["nodeRole"], "ec2.amazonaws.com")
        answer = forward()
        if status_of(answer[0]) != 200:
            return answer
        ng = c.nodegroups[name]
        ng.update_config = dict(p.get("updateConfig") or {"maxUnavailable": 1})
        if "remoteAccess" not in p:
            ng.remote_access = None
        if "version" not in p:
            ng.version = c.version
        if template is not None:
            ng.launch_template = {"name": template.name, "version": str(p["launchTemplate"].get("version") or template.default_version_number), "id": template.id}
            if "diskSize" not in p:
                ng.disk_size = None
            if "instanceTypes" not in p:
                ng.instance_types = None
            if "amiType" not in p and data.get("ImageId"):
                ng.ami_type = "CUSTOM"
        self.create_asg(region, c, ng)
        self.forget_polls("nodegroup", cluster, name)
        self.forget_polls("nodegroup-update", cluster, name)
        doc = json.loads(answer[2])
        for key, value in self.nodegroup_fields(ng).items():
            if value is None:
                doc["nodegroup"].pop(key, None)
            else:
                doc["nodegroup"][key] = value
        doc["nodegroup"]["status"] = "CREATING"
        return json_answer(200, doc)

    @staticmethod
    def nodegroup_fields(ng):
        return {"updateConfig": ng.update_config, "launchTemplate": ng.launch_template, "diskSize": int(ng.disk_size) if ng.disk_size is not None else None,
                "amiType": ng.ami_type, "remoteAccess": ng.remote_access, "instanceTypes": ng.instance_types, "version": ng.version}

    def create_asg(self, region, c, ng):
        """The Auto Scaling group EKS runs the node group's instances in (here: none)."""
        b = backends(region)
        asg = ng.resources["autoScalingGroups"][0]["name"]
        tags = [("eks:cluster-name", c.name), ("eks:nodegroup-name", ng.nodegroup_name), ("k8s.io/cluster-autoscaler/enabled", "true"), (f"k8s.io/cluster-autoscaler/{c.name}", "owned")]
        tags = [{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": asg, "ResourceType": "auto-scaling-group"} for k, v in tags]
        config, template = None, {}
        if ng.launch_template:
            template = {"LaunchTemplateId": ng.launch_template["id"], "Version": ng.launch_template["version"]}
        else:
            config = asg
            b["autoscaling"].create_launch_configuration(
                name=config, image_id="ami-eks-optimized", key_name=None, kernel_id="", ramdisk_id="", security_groups=[],
                user_data=None, instance_type=(ng.instance_types or ["t3.medium"])[0], instance_monitoring=False, instance_profile_name=None,
                spot_price=None, ebs_optimized=False, associate_public_ip_address=False, block_device_mappings=[])
        b["autoscaling"].create_auto_scaling_group(
            name=asg, availability_zones=[], desired_capacity=0, max_size=0, min_size=0, launch_config_name=config, launch_template=template,
            vpc_zone_identifier=",".join(ng.subnets), default_cooldown=None, health_check_period=None, health_check_type="EC2",
            load_balancers=[], target_group_arns=[], placement_group=None, termination_policies=[], tags=tags)
        self.nodegroups[(region, c.name, ng.nodegroup_name)] = {"asg": asg, "launch_configuration": config}

    def op_DescribeNodegroup(self, call, forward):
        answer = forward()
        if status_of(answer[0]) != 200:
            return answer
        doc = json.loads(answer[2])
        ng = doc["nodegroup"]
        short = self.short_subnets(call.region, ng)
        if short:
            ng["status"] = "CREATE_FAILED"
            ids = short if self.layer.config["stockout_ids"] == "subnets" else ["i-0" + uuid.uuid4().hex[:16] for _ in short]
            ng["health"] = {"issues": [{"code": "InsufficientInstanceCapacity", "message": "We currently do not have sufficient capacity in the Availability Zone you requested.", "resourceIds": ids}]}
        elif self.layer.creating(("nodegroup", ng["clusterName"], ng["nodegroupName"])):
            ng["status"] = "CREATING"
        elif self.updating(("nodegroup-update", ng["clusterName"], ng["nodegroupName"])):
            ng["status"] = "UPDATING"
        return json_answer(200, doc)

    def short_subnets(self, region, ng):
        """The node group's subnets in zones that are stocked out of its instance types."""
        types = ng.get("instanceTypes") or []
        stockout = self.layer.config["stockout"]
        ec2 = backends(region)["ec2"]
        out = []
        for s in ng.get("subnets", []):
            try:
                zone = ec2.get_subnet(s).availability_zone
            except Exception:
                continue
            if any(t in stockout.get(zone, []) for t in types):
                out.append(s)
        return out

    def op_UpdateNodegroupConfig(self, call, forward):
        p, region = call.params, call.region
        ng = self.nodegroup(region, p["clusterName"], p["nodegroupName"])
        if p.get("scalingConfig"):
            self.check_scaling({**ng.scaling_config, **p["scalingConfig"]})
        answer = forward()
        if status_of(answer[0]) == 200:
            update = json.loads(answer[2]).get("update")
            if update:
                update["status"] = "InProgress"
                self.start_update(("nodegroup-update", p["clusterName"], p["nodegroupName"]), update)
                return json_answer(200, {"update": update})
        return answer

    def op_DeleteNodegroup(self, call, forward):
        p, region = call.params, call.region
        cluster, name = p["clusterName"], p["nodegroupName"]
        answer = forward()
        if status_of(answer[0]) != 200:
            return answer
        made = self.nodegroups.pop((region, cluster, name), None)
        if made:
            b = backends(region)["autoscaling"]
            b.delete_auto_scaling_group(made["asg"])
            if made["launch_configuration"]:
                b.delete_launch_configuration(made["launch_configuration"])
        self.forget_polls("nodegroup", cluster, name)
        self.forget_polls("nodegroup-update", cluster, name)
        doc = json.loads(answer[2])
        doc.get("nodegroup", {})["status"] = "DELETING"
        return json_answer(200, doc)

    def op_ListNodegroups(self, call, forward):
        return self.page(call, sorted(self.cluster(call.region, call.params["clusterName"]).nodegroups), "nodegroups")

    def has_nodes(self, region, cluster):
        """Whether a node group of `cluster` is ACTIVE (as clients see it) with at least one node."""
        for ng in self.cluster(region, cluster).nodegroups.values():
            view = {"instanceTypes": ng.instance_types, "subnets": ng.subnets}
            if (ng.scaling_config or {}).get("desiredSize", 0) >= 1 and not self.short_subnets(region, view) and self.polls_left(("nodegroup", cluster, ng.nodegroup_name)) == 0:
                return True
        return False

    # -- tags and updates -------------------------------------------------------------------
    def tagged(self, region, arn):
        """The tags dict of the node group, add-on or access entry `arn` (None for clusters)."""
        if ":cluster/" in arn:
            return None
        if ":nodegroup/" in arn:
            for c in backends(region)["eks"].clusters.values():
                for ng in c.nodegroups.values():
                    if ng.arn == arn:
                        return ng.tags
        for store in (self.addons, self.entries):
            for record in store.values():
                if arn in (record.get("addonArn"), record.get("accessEntryArn")):
                    return record["tags"]
        raise AwsError(404, "NotFoundException", "Resource was not found")

    def op_TagResource(self, call, forward):
        tags = self.tagged(call.region, call.params["resourceArn"])
        if tags is None:
            return forward()
        tags.update(call.params["tags"])
        return json_answer(200, {})

    def op_UntagResource(self, call, forward):
        tags = self.tagged(call.region, call.params["resourceArn"])
        if tags is None:
            return forward()
        for key in call.params["tagKeys"]:
            tags.pop(key, None)
        return json_answer(200, {})

    def op_ListTagsForResource(self, call, forward):
        tags = self.tagged(call.region, call.params["resourceArn"])
        return forward() if tags is None else json_answer(200, {"tags": tags})

    def op_DescribeUpdate(self, call, forward):
        p = call.params
        self.cluster(call.region, p["name"])
        found = self.updates.get(p["updateId"])
        if found is None or found[1][1] != p["name"]:
            raise not_found(f"No update found for ID: {p['updateId']}")
        record, key = found
        if self.polls_left(key) == 0:
            record["status"] = "Successful"
        return json_answer(200, {"update": record})
