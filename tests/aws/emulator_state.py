#!/usr/bin/env python3
"""Print, as JSON, what the emulator at ENDPOINT holds for hoist environment ENV (via boto3).

    python3 tests/aws/emulator_state.py http://127.0.0.1:PORT ENV
"""
import json
import sys

import boto3


def main(endpoint, env):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    ec2, iam, eks = boto3.client("ec2", **kw), boto3.client("iam", **kw), boto3.client("eks", **kw)
    tag = [{"Name": "tag:hoist-env", "Values": [env]}]
    out = {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag)["Vpcs"]],
        "subnets": [{"id": s["SubnetId"], "zone": s["AvailabilityZone"], "public": s.get("MapPublicIpOnLaunch", False)} for s in ec2.describe_subnets(Filters=tag)["Subnets"]],
        "internet_gateways": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=tag)["InternetGateways"]],
        "nat_gateways": [n["NatGatewayId"] for n in ec2.describe_nat_gateways(Filters=tag)["NatGateways"] if n["State"] != "deleted"],
        "addresses": [a["AllocationId"] for a in ec2.describe_addresses(Filters=tag)["Addresses"]],
        "route_tables": [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=tag)["RouteTables"]],
        "security_groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]],
        "roles": {},
        "clusters": {},
    }
    for role in iam.list_roles()["Roles"]:
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
        if tags.get("hoist-env") == env:
            out["roles"][role["RoleName"]] = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"])
    subnet_zone = {s["id"]: s["zone"] for s in out["subnets"]}
    for name in eks.list_clusters()["clusters"]:
        c = eks.describe_cluster(name=name)["cluster"]
        if c.get("tags", {}).get("hoist-env") != env:
            continue
        groups = {}
        for g in eks.list_nodegroups(clusterName=name)["nodegroups"]:
            ng = eks.describe_nodegroup(clusterName=name, nodegroupName=g)["nodegroup"]
            groups[g] = {
                "instance_types": ng.get("instanceTypes"),
                "ami_type": ng.get("amiType"),
                "capacity_type": ng.get("capacityType"),
                "scaling": ng.get("scalingConfig"),
                "labels": ng.get("labels"),
                "taints": ng.get("taints"),
                "zones": sorted({subnet_zone.get(s, "?") for s in ng.get("subnets", [])}),
            }
        out["clusters"][name] = {"version": c.get("version"), "tags": c.get("tags", {}), "nodegroups": groups}
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:3])
