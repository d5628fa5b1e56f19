#!/usr/bin/env python3
"""Self-test of the moto layer (fake_aws.py) and of emulator_state.py, through boto3.

    python3 tests/aws/test_layer.py

Starts the layer as the Rust tests do (a subprocess that prints its port first) and talks to it on
127.0.0.1 only. Prints one line per check group and a summary; exits 1 if anything failed.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"
CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"  # what moto's GetCallerIdentity says for these keys
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
DEFAULTS = {"throttle": 0, "creating_polls": 2, "stockout": {}, "quotas": {}, "page_size": 0, "fail_ops": {}, "throttle_ops": {}, "role_not_propagated": 0, "hang_ops": {}, "coredns_needs_nodes": True, "stockout_ids": "subnets"}
# Errors the layer must have recorded because the checks below provoke them; any other is a gap.
EXPECTED_ERRORS = [
    r"^eks:CreateCluster: invalid parameters: .*acessConfig",
    r"^eks:CreateCluster: invalid parameters: .*authenticationMode, value: APIX",
    r"^eks:CreateNodegroup: invalid parameters: .*scallingConfig",
    r"^eks:GET /clusters/nope/bogus: eks has no operation at GET",
    r"^ec2:DescribeFastLaunchImages: moto failed: NotImplementedError",
    r"^eks:ListClusters: invalid parameters: .*maxResults",
]


class Emulator:
    """The layer as a subprocess, and clients for it."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_aws.py")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            raise SystemExit(f"the layer did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{int(line)}"

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def client(self, service, **config):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config))

    def control(self, method, path, doc=None):
        data = json.dumps(doc).encode() if doc is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(self.endpoint + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def configure(self, **kw):
        status, doc = self.control("POST", "/_hoist/config", kw)
        assert status == 200, doc

    def raw(self, service, method, path, body=None):
        """A SigV4-signed request that boto3 would refuse to send (so the layer must reject it)."""
        data = json.dumps(body).encode() if body is not None else b""
        req = AWSRequest(method=method, url=self.endpoint + path, data=data, headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials("testing", "testing"), service, "us-east-1").add_auth(req)
        http = urllib.request.Request(self.endpoint + path, data=data or None, method=method, headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(http, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


def code_of(e):
    return e.response["Error"]["Code"]


def fails(fn, code, **kw):
    """`fn()` fails with error `code`; returns the ClientError."""
    try:
        fn()
    except ClientError as e:
        assert code_of(e) == code, f"expected {code}, got {code_of(e)}: {e}"
        return e
    raise AssertionError(f"expected {code}, but the call succeeded")


def trust(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


class World:
    """A tagged VPC with two subnets in two zones, and the EKS roles, for one check group."""

    def __init__(self, em, env):
        self.em, self.env = em, env
        self.ec2, self.eks, self.iam = em.client("ec2"), em.client("eks"), em.client("iam")
        tags = [{"Key": "hoist-env", "Value": env}]
        spec = lambda kind: [{"ResourceType": kind, "Tags": tags}]  # noqa: E731
        self.vpc = self.ec2.create_vpc(CidrBlock="10.60.0.0/16", TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
        self.subnets = [
            self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.60.{i}.0/24", AvailabilityZone=zone, TagSpecifications=spec("subnet"))["Subnet"]["SubnetId"]
            for i, zone in enumerate(["us-east-1a", "us-east-1b"])
        ]
        self.cluster_role = self.iam.create_role(RoleName=f"{env}-cluster", AssumeRolePolicyDocument=trust("eks.amazonaws.com"), Tags=tags)["Role"]["Arn"]
        self.node_role = self.iam.create_role(RoleName=f"{env}-node", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"), Tags=tags)["Role"]["Arn"]

    def cluster(self, name, **kw):
        c = self.eks.create_cluster(name=name, version="1.31", roleArn=self.cluster_role, resourcesVpcConfig={"subnetIds": self.subnets}, tags={"hoist-env": self.env}, **kw)["cluster"]
        self.wait(lambda: self.eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE")
        return c

    def nodegroup(self, cluster, name, **kw):
        kw.setdefault("scalingConfig", {"minSize": 1, "maxSize": 2, "desiredSize": 1})
        ng = self.eks.create_nodegroup(clusterName=cluster, nodegroupName=name, subnets=self.subnets, nodeRole=self.node_role, **kw)["nodegroup"]
        self.wait(lambda: self.eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]["status"] == "ACTIVE")
        return ng

    @staticmethod
    def wait(condition, polls=10):
        for _ in range(polls):
            if condition():
                return
        raise AssertionError("condition not met after polling")


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


# -- 1. validation, unknown operations, moto gaps ------------------------------------------
@check
def validation_errors_are_answered_400_and_recorded(em):
    w = World(em, "val")
    status, headers, body = em.raw("eks", "POST", "/clusters", {"name": "v1", "roleArn": w.cluster_role, "resourcesVpcConfig": {"subnetIds": w.subnets}, "acessConfig": {"authenticationMode": "API"}})
    assert status == 400 and headers.get("x-amzn-errortype") == "InvalidParameterException", (status, headers, body)
    assert "acessConfig" in json.loads(body)["message"], body
    loose = em.client("eks", parameter_validation=False)
    e = fails(lambda: loose.create_cluster(name="v2", roleArn=w.cluster_role, resourcesVpcConfig={"subnetIds": w.subnets}, accessConfig={"authenticationMode": "APIX"}), "InvalidParameterException")
    assert "APIX" in str(e)
    # Requests moto answers are validated too (moto ignores unknown fields).
    w.cluster("v3")
    status, headers, body = em.raw("eks", "POST", "/clusters/v3/node-groups", {"nodegroupName": "n", "subnets": w.subnets, "nodeRole": w.node_role, "scallingConfig": {"minSize": 1}})
    assert status == 400 and b"scallingConfig" in body, (status, body)
    fails(lambda: loose.list_clusters(maxResults=1000), "InvalidParameterException")
    status, _, _ = em.raw("eks", "GET", "/clusters/nope/bogus")
    assert status == 404
    fails(lambda: em.client("ec2").describe_fast_launch_images(), "InternalFailure")
    _, errors = em.control("GET", "/_hoist/errors")
    for pattern in EXPECTED_ERRORS:
        assert any(re.search(pattern, e) for e in errors), f"no error like {pattern!r} in {errors}"
    status, doc = em.control("POST", "/_hoist/config", {"page_sise": 1})
    assert status == 400 and "page_sise" in doc["message"], doc
    status, doc = em.control("POST", "/_hoist/config", {"throttle_ops": {"ec2:AssociateRouteTables": 1}})
    assert status == 400 and "AssociateRouteTables" in doc["message"], doc


# -- 2, 3. request capture and call names ---------------------------------------------------
@check
def requests_are_captured_with_params_and_named_by_service(em):
    w = World(em, "req")
    em.control("POST", "/_hoist/calls/reset")
    w.ec2.create_tags(Resources=[w.subnets[0]], Tags=[{"Key": "k", "Value": "v"}])
    fails(lambda: w.eks.describe_nodegroup(clusterName="nope", nodegroupName="ng"), "ResourceNotFoundException")
    em.client("logs").create_log_group(logGroupName="/aws/eks/req/cluster")
    em.client("elb").describe_load_balancers()
    em.client("elbv2").describe_load_balancers()
    em.client("autoscaling").describe_auto_scaling_groups()
    _, calls = em.control("GET", "/_hoist/calls")
    assert calls == ["ec2:CreateTags", "eks:DescribeNodegroup", "logs:CreateLogGroup", "elb:DescribeLoadBalancers", "elbv2:DescribeLoadBalancers", "autoscaling:DescribeAutoScalingGroups"], calls
    _, requests = em.control("GET", "/_hoist/requests")
    assert requests[0] == {"op": "ec2:CreateTags", "params": {"Action": "CreateTags", "Version": "2016-11-15", "ResourceId.1": w.subnets[0], "Tag.1.Key": "k", "Tag.1.Value": "v"}}, requests[0]
    assert requests[1] == {"op": "eks:DescribeNodegroup", "params": {"clusterName": "nope", "nodegroupName": "ng"}}, requests[1]
    assert requests[2]["params"] == {"logGroupName": "/aws/eks/req/cluster"}, requests[2]
    em.control("POST", "/_hoist/calls/reset")
    assert em.control("GET", "/_hoist/calls")[1] == [] and em.control("GET", "/_hoist/requests")[1] == []


# -- 4. clusters ------------------------------------------------------------------------------
@check
def clusters_keep_access_config_and_get_their_security_group_and_creator_entry(em):
    w = World(em, "clu")
    created = w.cluster("c1", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}, upgradePolicy={"supportType": "STANDARD"}, bootstrapSelfManagedAddons=False)
    assert created["status"] == "CREATING" and created["accessConfig"] == {"authenticationMode": "API_AND_CONFIG_MAP"}, created
    c = w.eks.describe_cluster(name="c1")["cluster"]
    assert c["accessConfig"] == {"authenticationMode": "API_AND_CONFIG_MAP"} and c["upgradePolicy"] == {"supportType": "STANDARD"}, c
    vpc = c["resourcesVpcConfig"]
    assert vpc["vpcId"] == w.vpc, vpc
    sg = w.ec2.describe_security_groups(GroupIds=[vpc["clusterSecurityGroupId"]])["SecurityGroups"][0]
    assert re.fullmatch(r"eks-cluster-sg-c1-\d{8}", sg["GroupName"]) and sg["VpcId"] == w.vpc, sg
    assert sg["Description"] == "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads."
    assert {t["Key"]: t["Value"] for t in sg["Tags"]} == {"aws:eks:cluster-name": "c1", "kubernetes.io/cluster/c1": "owned"}, sg["Tags"]
    assert any(p["IpProtocol"] == "-1" and [g["GroupId"] for g in p["UserIdGroupPairs"]] == [sg["GroupId"]] for p in sg["IpPermissions"]), sg["IpPermissions"]
    assert em.client("sts").get_caller_identity()["Arn"] == CALLER
    assert w.eks.list_access_entries(clusterName="c1")["accessEntries"] == [CALLER]
    policies = w.eks.list_associated_access_policies(clusterName="c1", principalArn=CALLER)["associatedAccessPolicies"]
    assert [(p["policyArn"], p["accessScope"]["type"]) for p in policies] == [(ADMIN, "cluster")], policies
    # Without accessConfig: CONFIG_MAP, and no access entries.
    w.cluster("c2")
    assert w.eks.describe_cluster(name="c2")["cluster"]["accessConfig"] == {"authenticationMode": "CONFIG_MAP"}
    fails(lambda: w.eks.list_access_entries(clusterName="c2"), "InvalidRequestException")
    # API with bootstrapClusterCreatorAdminPermissions false: no creator entry.
    w.cluster("c3", accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
    assert w.eks.list_access_entries(clusterName="c3")["accessEntries"] == []
    # Node groups block deleting the cluster; the security group goes with the cluster.
    w.nodegroup("c1", "ng")
    fails(lambda: w.eks.delete_cluster(name="c1"), "ResourceInUseException")
    w.eks.delete_nodegroup(clusterName="c1", nodegroupName="ng")
    assert w.eks.delete_cluster(name="c1")["cluster"]["status"] == "DELETING"
    assert not w.ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [sg["GroupId"]]}])["SecurityGroups"]
    fails(lambda: w.eks.create_cluster(name="c4", roleArn=w.cluster_role, resourcesVpcConfig={"subnetIds": w.subnets[:1]}), "InvalidParameterException")


# -- 5. access entries ------------------------------------------------------------------------
@check
def access_entries_and_policies(em):
    w = World(em, "acc")
    w.cluster("a1", accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
    role = w.iam.create_role(RoleName="acc-dev", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))["Role"]["Arn"]
    entry = w.eks.create_access_entry(clusterName="a1", principalArn=role, kubernetesGroups=["devs"], tags={"team": "ml"})["accessEntry"]
    assert entry["type"] == "STANDARD" and entry["accessEntryArn"].startswith(f"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/a1/role/{ACCOUNT}/acc-dev/"), entry
    fails(lambda: w.eks.create_access_entry(clusterName="a1", principalArn=role), "ResourceInUseException")
    got = w.eks.describe_access_entry(clusterName="a1", principalArn=role)["accessEntry"]
    assert got["kubernetesGroups"] == ["devs"] and got["tags"] == {"team": "ml"}, got
    assert w.eks.list_tags_for_resource(resourceArn=entry["accessEntryArn"])["tags"] == {"team": "ml"}
    w.eks.update_access_entry(clusterName="a1", principalArn=role, kubernetesGroups=["ops"])
    assert w.eks.describe_access_entry(clusterName="a1", principalArn=role)["accessEntry"]["kubernetesGroups"] == ["ops"]
    w.eks.associate_access_policy(clusterName="a1", principalArn=role, policyArn=VIEW, accessScope={"type": "namespace", "namespaces": ["ml"]})
    w.eks.associate_access_policy(clusterName="a1", principalArn=role, policyArn=ADMIN, accessScope={"type": "cluster"})
    listed = w.eks.list_associated_access_policies(clusterName="a1", principalArn=role)["associatedAccessPolicies"]
    assert {p["policyArn"]: p["accessScope"] for p in listed} == {ADMIN: {"type": "cluster", "namespaces": []}, VIEW: {"type": "namespace", "namespaces": ["ml"]}}, listed
    assert w.eks.list_access_entries(clusterName="a1", associatedPolicyArn=VIEW)["accessEntries"] == [role]
    fails(lambda: w.eks.associate_access_policy(clusterName="a1", principalArn=role, policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSRootPolicy", accessScope={"type": "cluster"}), "InvalidParameterException")
    fails(lambda: w.eks.associate_access_policy(clusterName="a1", principalArn=role, policyArn=VIEW, accessScope={"type": "namespace"}), "InvalidParameterException")
    w.eks.disassociate_access_policy(clusterName="a1", principalArn=role, policyArn=VIEW)
    assert [p["policyArn"] for p in w.eks.list_associated_access_policies(clusterName="a1", principalArn=role)["associatedAccessPolicies"]] == [ADMIN]
    w.eks.delete_access_entry(clusterName="a1", principalArn=role)
    fails(lambda: w.eks.describe_access_entry(clusterName="a1", principalArn=role), "ResourceNotFoundException")
    fails(lambda: w.eks.describe_access_entry(clusterName="a1", principalArn=f"arn:aws:iam::{ACCOUNT}:role/never"), "ResourceNotFoundException")
    # Entries go away with their cluster.
    w.eks.create_access_entry(clusterName="a1", principalArn=role)
    w.eks.delete_cluster(name="a1")
    w.eks.create_cluster(name="a1", roleArn=w.cluster_role, resourcesVpcConfig={"subnetIds": w.subnets}, accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
    assert w.eks.describe_cluster(name="a1")["cluster"]["status"] == "CREATING", "a re-made cluster is CREATING again"
    fails(lambda: w.nodegroup("a1", "early"), "InvalidRequestException")  # not ACTIVE yet
    assert w.eks.list_access_entries(clusterName="a1")["accessEntries"] == []


# -- 6, 7, 8. add-ons, pagination, node group Auto Scaling groups -----------------------------
@check
def coredns_needs_nodes_lists_paginate_and_node_groups_get_their_asg(em):
    w = World(em, "add")
    w.cluster("k1")
    eks, asg = w.eks, em.client("autoscaling")
    addon = eks.create_addon(clusterName="k1", addonName="coredns", configurationValues='{"replicaCount": 2}', resolveConflicts="OVERWRITE", tags={"a": "b"})["addon"]
    assert addon["status"] == "CREATING" and addon["configurationValues"] == '{"replicaCount": 2}' and addon["addonVersion"].startswith("v1."), addon
    eks.create_addon(clusterName="k1", addonName="vpc-cni", serviceAccountRoleArn=w.node_role)
    fails(lambda: eks.create_addon(clusterName="k1", addonName="no-such-addon"), "InvalidParameterException")
    statuses = [eks.describe_addon(clusterName="k1", addonName="coredns")["addon"] for _ in range(3)]
    assert [a["status"] for a in statuses] == ["CREATING", "CREATING", "DEGRADED"], [a["status"] for a in statuses]
    assert statuses[2]["health"]["issues"][0]["code"] == "InsufficientNumberOfReplicas", statuses[2]
    assert eks.describe_addon(clusterName="k1", addonName="vpc-cni")["addon"]["serviceAccountRoleArn"] == w.node_role
    # A node group with a launch template made through moto, and one with nodes: coredns recovers.
    lt = w.ec2.create_launch_template(LaunchTemplateName="add-lt", LaunchTemplateData={"MetadataOptions": {"HttpTokens": "required"}})["LaunchTemplate"]
    ng = w.nodegroup("k1", "gpu", launchTemplate={"name": "add-lt"}, updateConfig={"maxUnavailablePercentage": 25}, amiType="AL2023_x86_64_NVIDIA", instanceTypes=["p4d.24xlarge"])
    assert eks.describe_addon(clusterName="k1", addonName="coredns")["addon"]["status"] == "ACTIVE"
    got = eks.describe_nodegroup(clusterName="k1", nodegroupName="gpu")["nodegroup"]
    assert got["launchTemplate"] == {"name": "add-lt", "version": "1", "id": lt["LaunchTemplateId"]}, got["launchTemplate"]
    assert got["updateConfig"] == {"maxUnavailablePercentage": 25} and got["amiType"] == "AL2023_x86_64_NVIDIA" and "diskSize" not in got, got
    w.nodegroup("k1", "cpu", diskSize=50, instanceTypes=["m5.large"])
    cpu = eks.describe_nodegroup(clusterName="k1", nodegroupName="cpu")["nodegroup"]
    assert cpu["diskSize"] == 50 and cpu["updateConfig"] == {"maxUnavailable": 1}, cpu
    eks.update_addon(clusterName="k1", addonName="coredns", configurationValues='{"replicaCount": 3}')
    assert eks.describe_addon(clusterName="k1", addonName="coredns")["addon"]["configurationValues"] == '{"replicaCount": 3}'
    # The node group's Auto Scaling group, with EKS's tags, and tags that work through moto.
    name = ng["resources"]["autoScalingGroups"][0]["name"]
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]}
    assert tags == {"eks:cluster-name": ("k1", True), "eks:nodegroup-name": ("gpu", True), "k8s.io/cluster-autoscaler/enabled": ("true", True), "k8s.io/cluster-autoscaler/k1": ("owned", True)}, tags
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 0, 0) and group["LaunchTemplate"]["LaunchTemplateId"] == lt["LaunchTemplateId"], group
    assert set(group["VPCZoneIdentifier"].split(",")) == set(w.subnets), group["VPCZoneIdentifier"]
    asg.create_or_update_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": "k8s.io/cluster-autoscaler/node-template/label/gpu", "Value": "a100", "PropagateAtLaunch": False}])
    described = asg.describe_tags(Filters=[{"Name": "auto-scaling-group", "Values": [name]}])["Tags"]
    assert any(t["Key"] == "k8s.io/cluster-autoscaler/node-template/label/gpu" and t["Value"] == "a100" for t in described), described
    asg.delete_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": "k8s.io/cluster-autoscaler/node-template/label/gpu"}])
    assert len(asg.describe_tags(Filters=[{"Name": "auto-scaling-group", "Values": [name]}])["Tags"]) == 4
    cpu_asg = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[cpu["resources"]["autoScalingGroups"][0]["name"]])["AutoScalingGroups"][0]
    assert cpu_asg.get("LaunchConfigurationName"), cpu_asg
    # page_size 1: every list answers one item and a token; paginators still see everything.
    eks.create_addon(clusterName="k1", addonName="kube-proxy")
    em.configure(page_size=1)
    try:
        for op, key, kw in (("list_addons", "addons", {"clusterName": "k1"}), ("list_nodegroups", "nodegroups", {"clusterName": "k1"}), ("list_clusters", "clusters", {})):
            first = getattr(eks, op)(maxResults=50, **kw)
            assert len(first[key]) == 1 and first.get("nextToken"), first
            pages = list(eks.get_paginator(op).paginate(**kw))
            items = [i for p in pages for i in p[key]]
            assert all(len(p[key]) <= 1 for p in pages) and len(items) == len(set(items)) >= 2, pages
        assert [i for p in eks.get_paginator("list_addons").paginate(clusterName="k1") for i in p["addons"]] == ["coredns", "kube-proxy", "vpc-cni"]
    finally:
        em.configure(page_size=0)
    # Deleting a node group deletes its Auto Scaling group.
    eks.delete_nodegroup(clusterName="k1", nodegroupName="gpu")
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"] == []


# -- 9. placement groups ----------------------------------------------------------------------
@check
def placement_groups(em):
    ec2 = em.client("ec2")
    made = ec2.create_placement_group(GroupName="pg-train", Strategy="cluster", TagSpecifications=[{"ResourceType": "placement-group", "Tags": [{"Key": "hoist-env", "Value": "pgs"}]}])["PlacementGroup"]
    assert re.fullmatch(r"pg-[0-9a-f]{17}", made["GroupId"]) and made["Strategy"] == "cluster" and made["State"] == "available", made
    ec2.create_placement_group(GroupName="pg-other", Strategy="partition", PartitionCount=3)
    fails(lambda: ec2.create_placement_group(GroupName="pg-train", Strategy="cluster"), "InvalidPlacementGroup.Duplicate")
    by_tag = ec2.describe_placement_groups(Filters=[{"Name": "tag:hoist-env", "Values": ["pgs"]}])["PlacementGroups"]
    assert [g["GroupName"] for g in by_tag] == ["pg-train"] and by_tag[0]["Tags"] == [{"Key": "hoist-env", "Value": "pgs"}], by_tag
    assert [g["PartitionCount"] for g in ec2.describe_placement_groups(GroupNames=["pg-other"])["PlacementGroups"]] == [3]
    assert [g["GroupName"] for g in ec2.describe_placement_groups(Filters=[{"Name": "group-name", "Values": ["pg-*"]}])["PlacementGroups"]] == ["pg-train", "pg-other"]
    assert [g["GroupName"] for g in ec2.describe_placement_groups(GroupIds=[made["GroupId"]])["PlacementGroups"]] == ["pg-train"]
    ec2.create_tags(Resources=[made["GroupId"]], Tags=[{"Key": "extra", "Value": "1"}])
    assert ec2.describe_placement_groups(Filters=[{"Name": "tag-key", "Values": ["extra"]}])["PlacementGroups"][0]["GroupName"] == "pg-train"
    fails(lambda: ec2.describe_placement_groups(GroupNames=["nope"]), "InvalidPlacementGroup.Unknown")
    ec2.delete_placement_group(GroupName="pg-train")
    ec2.delete_placement_group(GroupName="pg-other")
    fails(lambda: ec2.delete_placement_group(GroupName="pg-train"), "InvalidPlacementGroup.Unknown")
    assert ec2.describe_placement_groups()["PlacementGroups"] == []


# -- 10. dependencies that block deletion -----------------------------------------------------
@check
def deletes_wait_for_dependencies(em):
    w = World(em, "dep")
    ec2 = w.ec2
    sg = ec2.create_security_group(GroupName="dep-sg", Description="d", VpcId=w.vpc)["GroupId"]
    eni = ec2.create_network_interface(SubnetId=w.subnets[0], Groups=[sg])["NetworkInterface"]["NetworkInterfaceId"]
    e = fails(lambda: ec2.delete_subnet(SubnetId=w.subnets[0]), "DependencyViolation")
    assert f"The subnet '{w.subnets[0]}' has dependencies and cannot be deleted." in str(e), e
    fails(lambda: ec2.delete_security_group(GroupId=sg), "DependencyViolation")
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_subnet(SubnetId=w.subnets[0])
    # A load balancer holds its subnets and groups.
    subnet = ec2.create_subnet(VpcId=w.vpc, CidrBlock="10.60.9.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    elbv2 = em.client("elbv2")
    lb = elbv2.create_load_balancer(Name="dep-lb", Subnets=[subnet, w.subnets[1]], SecurityGroups=[sg])["LoadBalancers"][0]["LoadBalancerArn"]
    fails(lambda: ec2.delete_subnet(SubnetId=subnet), "DependencyViolation")
    fails(lambda: ec2.delete_security_group(GroupId=sg), "DependencyViolation")
    fails(lambda: ec2.delete_vpc(VpcId=w.vpc), "DependencyViolation")
    elbv2.delete_load_balancer(LoadBalancerArn=lb)
    # A NAT gateway's interface goes with the gateway.
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    fails(lambda: ec2.delete_subnet(SubnetId=subnet), "DependencyViolation")
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.release_address(AllocationId=eip)
    for s in (subnet, w.subnets[1]):
        ec2.delete_subnet(SubnetId=s)
    e = fails(lambda: ec2.delete_vpc(VpcId=w.vpc), "DependencyViolation")  # dep-sg remains
    assert f"The vpc '{w.vpc}' has dependencies and cannot be deleted." in str(e)
    ec2.delete_security_group(GroupId=sg)
    ec2.delete_vpc(VpcId=w.vpc)


# -- 11. faults -------------------------------------------------------------------------------
@check
def injected_faults(em):
    w = World(em, "flt")
    em.configure(fail_ops={"eks:CreateCluster": {"count": 1, "status": 500, "code": "ServerException", "message": "boom"}, "ec2:CreateVpc": {"count": 1, "status": 400, "code": "VpcLimitExceeded", "message": "too many"}, "iam:CreateRole": {"count": 1, "status": 409, "code": "EntityAlreadyExists", "message": "exists"}})
    e = fails(lambda: w.eks.create_cluster(name="f1", roleArn=w.cluster_role, resourcesVpcConfig={"subnetIds": w.subnets}), "ServerException")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500 and e.response["Error"]["Message"] == "boom", e.response
    e = fails(lambda: w.ec2.create_vpc(CidrBlock="10.1.0.0/16"), "VpcLimitExceeded")
    assert e.response["Error"]["Message"] == "too many"
    e = fails(lambda: w.iam.create_role(RoleName="flt-x", AssumeRolePolicyDocument=trust("ec2.amazonaws.com")), "EntityAlreadyExists")
    assert e.response["Error"]["Type"] == "Sender"
    assert em.control("GET", "/_hoist/config")[1]["fail_ops"] == {}
    rt = w.ec2.create_route_table(VpcId=w.vpc)["RouteTable"]["RouteTableId"]
    em.configure(throttle_ops={"ec2:AssociateRouteTable": 1})
    w.ec2.describe_vpcs()  # other operations are not throttled
    fails(lambda: w.ec2.associate_route_table(RouteTableId=rt, SubnetId=w.subnets[0]), "RequestLimitExceeded")
    w.ec2.associate_route_table(RouteTableId=rt, SubnetId=w.subnets[0])
    em.configure(throttle=1)
    fails(lambda: w.iam.list_roles(), "Throttling")
    em.configure(role_not_propagated=1)
    e = fails(lambda: w.eks.create_cluster(name="f2", roleArn=w.cluster_role, resourcesVpcConfig={"subnetIds": w.subnets}), "InvalidParameterException")
    assert e.response["Error"]["Message"] == f"Role with arn: {w.cluster_role} could not be assumed because it does not exist or the trusted entity is not correct", e.response
    w.cluster("f2")
    em.configure(role_not_propagated=1)
    e = fails(lambda: w.eks.create_nodegroup(clusterName="f2", nodegroupName="n", subnets=w.subnets, nodeRole=w.node_role), "InvalidParameterException")
    assert "[arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy, arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly] are attached" in e.response["Error"]["Message"]
    w.nodegroup("f2", "n")
    # A hanging call is recorded first and proceeds once released.
    em.configure(hang_ops={"ec2:ModifyVpcAttribute": 1})
    em.control("POST", "/_hoist/calls/reset")
    outcome = {}

    def modify():
        try:
            em.client("ec2").modify_vpc_attribute(VpcId=w.vpc, EnableDnsHostnames={"Value": True})
            outcome["ok"] = True
        except Exception as e:  # reported below
            outcome["error"] = e

    thread = threading.Thread(target=modify)
    thread.start()
    for _ in range(100):
        if em.control("GET", "/_hoist/hanging")[1] == ["ec2:ModifyVpcAttribute"]:
            break
        time.sleep(0.05)
    assert em.control("GET", "/_hoist/calls")[1] == ["ec2:ModifyVpcAttribute"]
    time.sleep(0.3)
    assert thread.is_alive() and not outcome, outcome
    assert em.control("POST", "/_hoist/release")[1] == {"released": 1}
    thread.join(30)
    assert outcome == {"ok": True}, outcome
    assert w.ec2.describe_vpc_attribute(VpcId=w.vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
    w.ec2.modify_vpc_attribute(VpcId=w.vpc, EnableDnsHostnames={"Value": False})  # only one call hung


# -- 12. emulator_state.py --------------------------------------------------------------------
@check
def emulator_state_reports_the_new_keys(em):
    env = "st1"
    w = World(em, env)
    ec2, tag = w.ec2, [{"Key": "hoist-env", "Value": env}]
    w.ec2.modify_vpc_attribute(VpcId=w.vpc, EnableDnsHostnames={"Value": True})
    igw = ec2.create_internet_gateway(TagSpecifications=[{"ResourceType": "internet-gateway", "Tags": tag}])["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=w.vpc)
    rt = ec2.create_route_table(VpcId=w.vpc, TagSpecifications=[{"ResourceType": "route-table", "Tags": tag}])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rt, SubnetId=w.subnets[0])
    sg = ec2.create_security_group(GroupName="st1-nodes", Description="nodes", VpcId=w.vpc, TagSpecifications=[{"ResourceType": "security-group", "Tags": tag}])["GroupId"]
    ec2.create_launch_template(LaunchTemplateName="st1-gpu", TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag}], LaunchTemplateData={
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 200, "VolumeType": "gp3"}}],
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
        "NetworkInterfaces": [{"DeviceIndex": 0, "NetworkCardIndex": 0, "InterfaceType": "efa", "Groups": [sg]}],
        "Placement": {"GroupName": "st1-pg"},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tag}],
    })
    ec2.create_placement_group(GroupName="st1-pg", Strategy="cluster", TagSpecifications=[{"ResourceType": "placement-group", "Tags": tag}])
    ec2.create_vpc_endpoint(VpcId=w.vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway", RouteTableIds=[rt], TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": tag}])
    ec2.create_network_interface(SubnetId=w.subnets[1], Groups=[sg], TagSpecifications=[{"ResourceType": "network-interface", "Tags": tag}])
    em.client("elbv2").create_load_balancer(Name="st1-nlb", Type="network", Subnets=w.subnets)
    em.client("elb").create_load_balancer(LoadBalancerName="st1-clb", Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 80}], Subnets=[w.subnets[0]])
    logs = em.client("logs")
    logs.create_log_group(logGroupName="/aws/eks/st1/cluster", tags={"hoist-env": env})
    logs.put_retention_policy(logGroupName="/aws/eks/st1/cluster", retentionInDays=30)
    w.cluster("st1", accessConfig={"authenticationMode": "API"})
    w.eks.create_addon(clusterName="st1", addonName="coredns", configurationValues='{"replicaCount": 1}')
    w.nodegroup("st1", "gpu-a", launchTemplate={"name": "st1-gpu"}, instanceTypes=["p5.48xlarge"])
    w.nodegroup("st1", "cpu-a", instanceTypes=["m5.large"])
    w.wait(lambda: w.eks.describe_addon(clusterName="st1", addonName="coredns")["addon"]["status"] == "ACTIVE")
    em.configure(page_size=1)  # emulator_state.py must follow the tokens
    try:
        out = subprocess.run([sys.executable, os.path.join(HERE, "emulator_state.py"), em.endpoint, env], capture_output=True, text=True, timeout=120)
    finally:
        em.configure(page_size=0)
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    for key in ("vpcs", "subnets", "internet_gateways", "nat_gateways", "addresses", "route_tables", "security_groups", "roles", "clusters", "vpc_attributes", "launch_templates", "placement_groups", "log_groups", "vpc_endpoints", "network_interfaces", "load_balancers", "security_groups_in_vpc"):
        assert key in s, f"no {key}: {sorted(s)}"
    assert s["vpcs"] == [w.vpc] and s["vpc_attributes"][w.vpc]["dns_hostnames"] is True
    subnets = {x["id"]: x for x in s["subnets"]}
    assert subnets[w.subnets[0]]["route_table"] == rt and subnets[w.subnets[0]]["default_route"] == igw and subnets[w.subnets[0]]["tags"] == {"hoist-env": env}, subnets
    assert subnets[w.subnets[1]]["route_table"] is None and subnets[w.subnets[1]]["default_route"] is None
    lt = s["launch_templates"]["st1-gpu"]
    assert lt["network_interfaces"] == [{"InterfaceType": "efa", "NetworkCardIndex": 0, "DeviceIndex": 0, "Groups": [sg]}] and lt["placement_group"] == "st1-pg", lt
    assert lt["block_device_mappings"][0]["Ebs"]["VolumeSize"] == 200 and lt["metadata_options"]["HttpTokens"] == "required" and lt["tag_specifications"][0]["ResourceType"] == "instance", lt
    assert list(s["placement_groups"]) == ["st1-pg"] and s["placement_groups"]["st1-pg"]["strategy"] == "cluster"
    assert s["log_groups"]["/aws/eks/st1/cluster"] == {"retention": 30, "tags": {"hoist-env": env}}, s["log_groups"]
    assert [(e["type"], e["route_tables"]) for e in s["vpc_endpoints"]] == [("Gateway", [rt])], s["vpc_endpoints"]
    assert [n["tags"] for n in s["network_interfaces"] if n["subnet"] == w.subnets[1]] == [{"hoist-env": env}], s["network_interfaces"]
    assert sorted((b["name"], b["kind"]) for b in s["load_balancers"]) == [("st1-clb", "classic"), ("st1-nlb", "v2")], s["load_balancers"]
    names = {g["name"] for g in s["security_groups_in_vpc"]}
    assert {"default", "st1-nodes"} <= names and any(n.startswith("eks-cluster-sg-st1-") for n in names), names
    assert s["security_groups"] == [sg]
    c = s["clusters"]["st1"]
    assert c["access_config"] == {"authenticationMode": "API"} and c["cluster_security_group"].startswith("sg-"), c
    assert c["access_entries"] == {CALLER: [{"policy": ADMIN, "scope": {"type": "cluster", "namespaces": []}}]}, c["access_entries"]
    assert c["addons"] == {"coredns": {"status": "ACTIVE", "configuration_values": '{"replicaCount": 1}'}}, c["addons"]
    gpu, cpu = c["nodegroups"]["gpu-a"], c["nodegroups"]["cpu-a"]
    assert gpu["launch_template"]["name"] == "st1-gpu" and gpu["disk_size"] is None and gpu["update_config"] == {"maxUnavailable": 1}, gpu
    assert gpu["asg_tags"]["eks:nodegroup-name"] == "gpu-a" and sorted(gpu["subnets"]) == sorted(w.subnets) and gpu["zones"] == ["us-east-1a", "us-east-1b"], gpu
    assert cpu["disk_size"] == 20 and cpu["launch_template"] is None, cpu
    assert sorted(s["roles"]) == ["st1-cluster", "st1-node"]


@check
def a_hoist_shaped_apply_and_destroy_leaves_nothing(em):
    """The calls hoist makes for an EKS environment, in its order, then its destroy."""
    env = "full"
    c = em.client
    ec2, iam, eks, logs = c("ec2"), c("iam"), c("eks"), c("logs")
    tags = [{"Key": "hoist-env", "Value": env}]
    spec = lambda kind: [{"ResourceType": kind, "Tags": tags}]  # noqa: E731
    assert c("service-quotas").get_service_quota(ServiceCode="ec2", QuotaCode="L-417A185B")["Quota"]["Value"] == 100000
    ec2.describe_instance_type_offerings(LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": ["p4d.24xlarge"]}])
    ec2.describe_instance_types(InstanceTypes=["p4d.24xlarge"])
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16", TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    public = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24", AvailabilityZone=z, TagSpecifications=spec("subnet"))["Subnet"]["SubnetId"] for i, z in enumerate(zones)]
    private = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{10 + i}.0/24", AvailabilityZone=z, TagSpecifications=spec("subnet"))["Subnet"]["SubnetId"] for i, z in enumerate(zones)]
    for s in public:
        ec2.modify_subnet_attribute(SubnetId=s, MapPublicIpOnLaunch={"Value": True})
    igw = ec2.create_internet_gateway(TagSpecifications=spec("internet-gateway"))["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=spec("elastic-ip"))["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public[0], AllocationId=eip, TagSpecifications=spec("natgateway"))["NatGateway"]["NatGatewayId"]
    tables = {}
    for kind, subnets, target in (("public", public, {"GatewayId": igw}), ("private", private, {"NatGatewayId": nat})):
        rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table"))["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", **target)
        tables[rt] = [ec2.associate_route_table(RouteTableId=rt, SubnetId=s)["AssociationId"] for s in subnets]
    sg = ec2.create_security_group(GroupName=f"{env}-cluster", Description="cluster", VpcId=vpc, TagSpecifications=spec("security-group"))["GroupId"]
    roles = {}
    for name, service, policies in (("cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"]), ("node", "ec2.amazonaws.com", ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"])):
        roles[name] = iam.create_role(RoleName=f"{env}-eks-{name}", AssumeRolePolicyDocument=trust(service), Tags=tags)["Role"]["Arn"]
        for policy in policies:
            iam.attach_role_policy(RoleName=f"{env}-eks-{name}", PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    iam.get_account_authorization_details(Filter=["Role"])
    logs.create_log_group(logGroupName=f"/aws/eks/{env}/cluster", tags={"hoist-env": env})
    logs.put_retention_policy(logGroupName=f"/aws/eks/{env}/cluster", retentionInDays=90)
    eks.create_cluster(name=env, version="1.32", roleArn=roles["cluster"], resourcesVpcConfig={"subnetIds": public + private, "securityGroupIds": [sg], "endpointPublicAccess": True, "endpointPrivateAccess": False},
                       logging={"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": True}]}, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True},
                       bootstrapSelfManagedAddons=False, tags={"hoist-env": env})
    World.wait(lambda: eks.describe_cluster(name=env)["cluster"]["status"] == "ACTIVE")
    for addon in ("vpc-cni", "kube-proxy"):
        eks.create_addon(clusterName=env, addonName=addon, resolveConflicts="OVERWRITE", tags={"hoist-env": env})
    groups = {}
    for pool, types, scaling in (("gpu", ["p4d.24xlarge"], (1, 1, 1)), ("system", ["m5.large"], (1, 3, 1))):
        name = f"{pool}-0123abcd"
        eks.create_nodegroup(clusterName=env, nodegroupName=name, scalingConfig=dict(zip(("minSize", "maxSize", "desiredSize"), scaling)), subnets=private, instanceTypes=types, amiType="AL2023_x86_64_NVIDIA" if pool == "gpu" else "AL2023_x86_64_STANDARD",
                             capacityType="ON_DEMAND", nodeRole=roles["node"], labels={"workload": "training"} if pool == "gpu" else {}, taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}] if pool == "gpu" else [], tags={"hoist-env": env})
        World.wait(lambda: eks.describe_nodegroup(clusterName=env, nodegroupName=name)["nodegroup"]["status"] == "ACTIVE")
        groups[pool] = name
    eks.create_addon(clusterName=env, addonName="coredns", resolveConflicts="OVERWRITE", tags={"hoist-env": env})
    for addon in ("vpc-cni", "kube-proxy", "coredns"):
        World.wait(lambda: eks.describe_addon(clusterName=env, addonName=addon)["addon"]["status"] == "ACTIVE")
    eks.update_nodegroup_config(clusterName=env, nodegroupName=groups["gpu"], scalingConfig={"minSize": 2, "maxSize": 2, "desiredSize": 2})
    World.wait(lambda: eks.describe_nodegroup(clusterName=env, nodegroupName=groups["gpu"])["nodegroup"]["status"] == "ACTIVE")
    eks.update_cluster_config(name=env, resourcesVpcConfig={"endpointPublicAccess": True, "endpointPrivateAccess": True})
    fails(lambda: eks.update_cluster_config(name=env, logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}), "ResourceInUseException")
    World.wait(lambda: eks.describe_cluster(name=env)["cluster"]["status"] == "ACTIVE")
    eks.update_cluster_version(name=env, version="1.33")
    World.wait(lambda: eks.describe_cluster(name=env)["cluster"]["status"] == "ACTIVE")
    # Destroy, in hoist's order: what runs in the cluster, the cluster, then the network.
    for pool, name in groups.items():
        eks.delete_nodegroup(clusterName=env, nodegroupName=name)
    for addon in ("coredns", "vpc-cni", "kube-proxy"):
        eks.delete_addon(clusterName=env, addonName=addon)
    eks.delete_cluster(name=env)
    fails(lambda: eks.describe_cluster(name=env), "ResourceNotFoundException")
    logs.delete_log_group(logGroupName=f"/aws/eks/{env}/cluster")
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.release_address(AllocationId=eip)
    for rt, associations in tables.items():
        for a in associations:
            ec2.disassociate_route_table(AssociationId=a)
        ec2.delete_route_table(RouteTableId=rt)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    ec2.delete_security_group(GroupId=sg)
    for s in public + private:
        ec2.delete_subnet(SubnetId=s)
    ec2.delete_vpc(VpcId=vpc)
    for name, arn in roles.items():
        for p in iam.list_attached_role_policies(RoleName=f"{env}-eks-{name}")["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=f"{env}-eks-{name}", PolicyArn=p["PolicyArn"])
        iam.delete_role(RoleName=f"{env}-eks-{name}")
    out = subprocess.run([sys.executable, os.path.join(HERE, "emulator_state.py"), em.endpoint, env], capture_output=True, text=True, timeout=120)
    s = json.loads(out.stdout)
    left = {k: v for k, v in s.items() if v and k != "log_groups"}  # log groups: every /aws/eks/ one
    assert not left and not [g for g in s["log_groups"] if g.startswith(f"/aws/eks/{env}/")], s


@check
def no_unexpected_errors(em):
    """Everything the checks above did is known to the layer, except what they provoked."""
    _, errors = em.control("GET", "/_hoist/errors")
    unexpected = [e for e in errors if not any(re.search(p, e) for p in EXPECTED_ERRORS)]
    assert not unexpected, unexpected
    em.control("POST", "/_hoist/errors/reset")
    assert em.control("GET", "/_hoist/errors")[1] == []


def main():
    # A timeout's SIGTERM still stops the layer (through the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    em = Emulator()
    failed = 0
    try:
        for fn in CHECKS:
            started = time.monotonic()
            try:
                fn(em)
                print(f"ok    {fn.__name__} ({time.monotonic() - started:.1f}s)", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL  {fn.__name__}\n{traceback.format_exc()}", flush=True)
            finally:
                em.configure(**DEFAULTS)
    finally:
        em.stop()
    print(f"test_layer: {len(CHECKS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
