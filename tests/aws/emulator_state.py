#!/usr/bin/env python3
"""Print, as JSON, what the emulator at ENDPOINT holds for hoist environment ENV (via boto3).

    python3 tests/aws/emulator_state.py http://127.0.0.1:PORT ENV

"The env's" means tagged hoist-env=ENV, or, where said, inside the env's (tagged) VPCs. Keys:

  vpcs, internet_gateways, nat_gateways (not deleted), addresses, route_tables, security_groups
                     ids of the env's resources of that kind
  vpc_attributes     {vpc id: {"dns_hostnames": bool, "dns_support": bool}}
  subnets            [{"id", "zone", "public", "tags": {..}, "route_table": id of the table
                     explicitly associated with it or null, "default_route": the target id of that
                     table's 0.0.0.0/0 route or null}]
  security_groups_in_vpc   [{"id", "name", "tags"}] every group in the env's VPCs
  network_interfaces [{"id", "subnet", "status", "tags"}] in the env's VPCs
  load_balancers     [{"name", "kind": "v2" | "classic"}] in the env's VPCs
  vpc_endpoints      [{"id", "service", "type", "route_tables", "subnets", "state"}] (not deleted)
  launch_templates   {name: {"id", "version", "block_device_mappings", "metadata_options",
                     "network_interfaces": [{"InterfaceType", "NetworkCardIndex", "DeviceIndex",
                     "Groups"}], "placement_group", "tag_specifications"}} from the latest version
  placement_groups   {name: {"id", "strategy", "state", "tags"}}
  log_groups         {name: {"retention": days or null, "tags": {..}}} named /aws/eks/...
  roles              {role name: [attached policy ARNs, sorted]}
  clusters           {name: {"version", "tags", "access_config", "cluster_security_group",
                     "access_entries": {principal: [{"policy", "scope"}]},
                     "addons": {name: {"status", "configuration_values"}},
                     "nodegroups": {name: {"instance_types", "ami_type", "capacity_type",
                     "scaling", "labels", "taints", "zones", "subnets", "launch_template",
                     "update_config", "disk_size", "asg_tags": {..}}}}}

Every list and describe call follows its pagination to the end.
"""
import json
import sys

import boto3

DEFAULT_ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "TransitGatewayId", "NetworkInterfaceId", "VpcPeeringConnectionId", "InstanceId", "EgressOnlyInternetGatewayId", "CarrierGatewayId", "LocalGatewayId")


def every(client, op, key, **kw):
    """All `key` items of `op`, page after page."""
    if client.can_paginate(op):
        out = []
        for page in client.get_paginator(op).paginate(**kw):
            out.extend(page.get(key, []))
        return out
    return getattr(client, op)(**kw).get(key, [])


def tag_dict(tags, key="Key", value="Value"):
    return {t[key]: t[value] for t in tags or []}


def network(ec2, env):
    tag = [{"Name": "tag:hoist-env", "Values": [env]}]
    vpcs = [v["VpcId"] for v in every(ec2, "describe_vpcs", "Vpcs", Filters=tag)]
    in_vpcs = [{"Name": "vpc-id", "Values": vpcs}]
    tables = every(ec2, "describe_route_tables", "RouteTables", Filters=in_vpcs) if vpcs else []
    table_of = {a["SubnetId"]: t["RouteTableId"] for t in tables for a in t.get("Associations", []) if a.get("SubnetId")}
    default_route = {}
    for t in tables:
        for r in t.get("Routes", []):
            if r.get("DestinationCidrBlock") == "0.0.0.0/0":
                default_route[t["RouteTableId"]] = next((r[k] for k in DEFAULT_ROUTE_TARGETS if r.get(k)), None)
    subnets = []
    for s in every(ec2, "describe_subnets", "Subnets", Filters=tag):
        table = table_of.get(s["SubnetId"])
        subnets.append({"id": s["SubnetId"], "zone": s["AvailabilityZone"], "public": s.get("MapPublicIpOnLaunch", False), "tags": tag_dict(s.get("Tags")), "route_table": table, "default_route": default_route.get(table)})
    out = {
        "vpcs": vpcs,
        "vpc_attributes": {
            v: {
                "dns_hostnames": ec2.describe_vpc_attribute(VpcId=v, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"],
                "dns_support": ec2.describe_vpc_attribute(VpcId=v, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"],
            }
            for v in vpcs
        },
        "subnets": subnets,
        "internet_gateways": [g["InternetGatewayId"] for g in every(ec2, "describe_internet_gateways", "InternetGateways", Filters=tag)],
        "nat_gateways": [n["NatGatewayId"] for n in every(ec2, "describe_nat_gateways", "NatGateways", Filter=tag) if n["State"] != "deleted"],
        "addresses": [a["AllocationId"] for a in every(ec2, "describe_addresses", "Addresses", Filters=tag)],
        "route_tables": [t["RouteTableId"] for t in every(ec2, "describe_route_tables", "RouteTables", Filters=tag)],
        "security_groups": [g["GroupId"] for g in every(ec2, "describe_security_groups", "SecurityGroups", Filters=tag)],
        "security_groups_in_vpc": [{"id": g["GroupId"], "name": g["GroupName"], "tags": tag_dict(g.get("Tags"))} for g in every(ec2, "describe_security_groups", "SecurityGroups", Filters=in_vpcs)] if vpcs else [],
        "network_interfaces": [{"id": n["NetworkInterfaceId"], "subnet": n.get("SubnetId"), "status": n.get("Status"), "tags": tag_dict(n.get("TagSet"))} for n in every(ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=in_vpcs)] if vpcs else [],
        "vpc_endpoints": [
            {"id": e["VpcEndpointId"], "service": e["ServiceName"], "type": e.get("VpcEndpointType"), "route_tables": e.get("RouteTableIds", []), "subnets": e.get("SubnetIds", []), "state": e.get("State")}
            for e in every(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=tag)
            if e.get("State", "").lower() != "deleted"
        ],
        "launch_templates": {},
        "placement_groups": {
            g["GroupName"]: {"id": g.get("GroupId"), "strategy": g.get("Strategy"), "state": g.get("State"), "tags": tag_dict(g.get("Tags"))}
            for g in every(ec2, "describe_placement_groups", "PlacementGroups", Filters=tag)
        },
    }
    for t in every(ec2, "describe_launch_templates", "LaunchTemplates", Filters=tag):
        latest = every(ec2, "describe_launch_template_versions", "LaunchTemplateVersions", LaunchTemplateId=t["LaunchTemplateId"], Versions=["$Latest"])[0]
        data = latest.get("LaunchTemplateData", {})
        out["launch_templates"][t["LaunchTemplateName"]] = {
            "id": t["LaunchTemplateId"],
            "version": latest.get("VersionNumber"),
            "block_device_mappings": data.get("BlockDeviceMappings", []),
            "metadata_options": data.get("MetadataOptions"),
            "network_interfaces": [{k: n.get(k) for k in ("InterfaceType", "NetworkCardIndex", "DeviceIndex", "Groups")} for n in data.get("NetworkInterfaces", [])],
            "placement_group": data.get("Placement", {}).get("GroupName"),
            "tag_specifications": data.get("TagSpecifications", []),
        }
    return out


def load_balancers(elbv2, elb, vpcs):
    v2 = [{"name": lb["LoadBalancerName"], "kind": "v2"} for lb in every(elbv2, "describe_load_balancers", "LoadBalancers") if lb.get("VpcId") in vpcs]
    classic = [{"name": lb["LoadBalancerName"], "kind": "classic"} for lb in every(elb, "describe_load_balancers", "LoadBalancerDescriptions") if lb.get("VPCId") in vpcs]
    return v2 + classic


def log_groups(logs):
    out = {}
    for g in every(logs, "describe_log_groups", "logGroups", logGroupNamePrefix="/aws/eks/"):
        arn = g.get("logGroupArn") or g["arn"].removesuffix(":*")
        out[g["logGroupName"]] = {"retention": g.get("retentionInDays"), "tags": logs.list_tags_for_resource(resourceArn=arn).get("tags", {})}
    return out


def roles(iam, env):
    out = {}
    for role in every(iam, "list_roles", "Roles"):
        tags = tag_dict(every(iam, "list_role_tags", "Tags", RoleName=role["RoleName"]))
        if tags.get("hoist-env") == env:
            out[role["RoleName"]] = sorted(p["PolicyArn"] for p in every(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=role["RoleName"]))
    return out


def clusters(eks, autoscaling, env, subnet_zone):
    out = {}
    for name in every(eks, "list_clusters", "clusters"):
        c = eks.describe_cluster(name=name)["cluster"]
        if c.get("tags", {}).get("hoist-env") != env:
            continue
        groups = {}
        for g in every(eks, "list_nodegroups", "nodegroups", clusterName=name):
            ng = eks.describe_nodegroup(clusterName=name, nodegroupName=g)["nodegroup"]
            asgs = [a["name"] for a in ng.get("resources", {}).get("autoScalingGroups", [])]
            found = every(autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups", AutoScalingGroupNames=asgs) if asgs else []
            groups[g] = {
                "instance_types": ng.get("instanceTypes"),
                "ami_type": ng.get("amiType"),
                "capacity_type": ng.get("capacityType"),
                "scaling": ng.get("scalingConfig"),
                "labels": ng.get("labels"),
                "taints": ng.get("taints"),
                "zones": sorted({subnet_zone.get(s, "?") for s in ng.get("subnets", [])}),
                "subnets": ng.get("subnets", []),
                "launch_template": ng.get("launchTemplate"),
                "update_config": ng.get("updateConfig"),
                "disk_size": ng.get("diskSize"),
                "asg_tags": {t["Key"]: t["Value"] for a in found for t in a.get("Tags", [])},
            }
        access = c.get("accessConfig")
        entries = {}
        if access and access.get("authenticationMode") != "CONFIG_MAP":
            for principal in every(eks, "list_access_entries", "accessEntries", clusterName=name):
                policies = every(eks, "list_associated_access_policies", "associatedAccessPolicies", clusterName=name, principalArn=principal)
                entries[principal] = [{"policy": p["policyArn"], "scope": p["accessScope"]} for p in policies]
        addons = {}
        for a in every(eks, "list_addons", "addons", clusterName=name):
            addon = eks.describe_addon(clusterName=name, addonName=a)["addon"]
            addons[a] = {"status": addon.get("status"), "configuration_values": addon.get("configurationValues")}
        out[name] = {
            "version": c.get("version"),
            "tags": c.get("tags", {}),
            "access_config": access,
            "cluster_security_group": c.get("resourcesVpcConfig", {}).get("clusterSecurityGroupId"),
            "access_entries": entries,
            "addons": addons,
            "nodegroups": groups,
        }
    return out


def main(endpoint, env):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    client = lambda service: boto3.client(service, **kw)  # noqa: E731
    out = network(client("ec2"), env)
    out["load_balancers"] = load_balancers(client("elbv2"), client("elb"), out["vpcs"])
    out["log_groups"] = log_groups(client("logs"))
    out["roles"] = roles(client("iam"), env)
    out["clusters"] = clusters(client("eks"), client("autoscaling"), env, {s["id"]: s["zone"] for s in out["subnets"]})
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:3])
