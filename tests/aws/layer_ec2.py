"""EC2 as AWS documents it, where moto 5.2.1 falls short (part of tests/aws/fake_aws.py).

  placement groups   CreatePlacementGroup, DescribePlacementGroups, DeletePlacementGroup (moto
                     5.2.1 has none; if a later moto answers one of them, moto's is used), and
                     CreateTags/DeleteTags on pg- ids (the other ids of such a call go to moto).
                     DescribeTags does not list placement group tags.
  dependencies       DeleteSubnet, DeleteSecurityGroup and DeleteVpc fail with DependencyViolation
                     while something still uses them (moto checks only a VPC's subnets and route
                     tables): network interfaces, ELB classic and ELBv2 load balancers, security
                     group rules of other groups, non-default security groups, attached internet
                     gateways.
  NAT gateways       DeleteNatGateway also removes the gateway's network interface (moto leaves
                     it, which would block deleting the subnet forever).
  launch templates   CreateTags/DeleteTags on lt- ids show in DescribeLaunchTemplates' Tags
                     (moto keeps the tags a template was made with there).
"""
import fnmatch
import re
import secrets
from urllib.parse import urlencode

from layer_http import AwsError, ec2_answer, error

ACCOUNT = "123456789012"
PLACEMENT_OPS = ("CreatePlacementGroup", "DescribePlacementGroups", "DeletePlacementGroup")
STRATEGIES = ("cluster", "spread", "partition")


def ec2_error(code, message):
    return AwsError(400, code, message)


def backends(region):
    from moto.ec2.models import ec2_backends
    from moto.elb.models import elb_backends
    from moto.elbv2.models import elbv2_backends
    return ec2_backends[ACCOUNT][region], elb_backends[ACCOUNT][region], elbv2_backends[ACCOUNT][region]


def numbered(params, prefix):
    """Values of PREFIX.1, PREFIX.2, ... in order."""
    out = []
    for key, value in params.items():
        m = re.fullmatch(re.escape(prefix) + r"\.(\d+)", key)
        if m:
            out.append((int(m.group(1)), value))
    return [v for _, v in sorted(out)]


def structures(params, prefix):
    """PREFIX.N.Field=value parameters as a list of {Field: value} dicts (nested keys kept flat)."""
    found = {}
    for key, value in params.items():
        m = re.fullmatch(re.escape(prefix) + r"\.(\d+)\.(.+)", key)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return [found[n] for n in sorted(found)]


def subnet_id_of(eni):
    subnet = getattr(eni, "subnet", None)
    return getattr(subnet, "id", subnet)


def moto_answers(op):
    """Whether moto's EC2 responses implement `op` (then the layer does not shadow it)."""
    from moto.ec2.responses import EC2Response
    return hasattr(EC2Response, re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower())


class Ec2:
    def __init__(self, layer):
        self.layer = layer
        self.placement_groups = {}  # (region, name) -> placement group record, with its tags

    def handle(self, call, environ, body, forward):
        try:
            if call.op in PLACEMENT_OPS and not moto_answers(call.op):
                return getattr(self, "op_" + call.op)(call)
            if call.op in ("CreateTags", "DeleteTags") and not moto_answers("DescribePlacementGroups"):
                answer = self.placement_tags(call, environ, forward)
                if answer is not None:
                    return answer
            check = getattr(self, "check_" + call.op, None)
            if check is not None:
                check(call)
            after = getattr(self, "after_" + call.op, None)
            if after is not None:
                answer = forward(environ, body)
                if answer[0].startswith("200"):
                    after(call)
                return answer
        except AwsError as e:
            return error("ec2", e.status, e.code, e.message)
        return None

    # -- dependencies -----------------------------------------------------------------------
    def check_DeleteSubnet(self, call):
        sid = call.params.get("SubnetId", "")
        ec2, elb, elbv2 = backends(call.region)
        used = any(subnet_id_of(e) == sid for e in list(ec2.enis.values()))
        used = used or any(sid in lb.subnets for lb in elb.load_balancers.values())
        used = used or any(sid in [getattr(s, "id", s) for s in lb.subnets] for lb in elbv2.load_balancers.values())
        if used:
            raise ec2_error("DependencyViolation", f"The subnet '{sid}' has dependencies and cannot be deleted.")

    def check_DeleteSecurityGroup(self, call):
        ec2, elb, elbv2 = backends(call.region)
        gid = call.params.get("GroupId")
        if not gid and call.params.get("GroupName"):
            group = ec2.get_security_group_by_name_or_id(call.params["GroupName"])
            gid = group.id if group else None
        if not gid:
            return
        used = any(gid in [getattr(g, "id", g) for g in getattr(e, "_group_set", [])] for e in list(ec2.enis.values()))
        used = used or any(gid in (lb.security_groups or []) for lb in list(elb.load_balancers.values()) + list(elbv2.load_balancers.values()))
        for groups in ec2.groups.values():
            for group in groups.values():
                if group.id != gid and any((r.source_group or {}).get("GroupId") == gid for r in group.ingress_rules + group.egress_rules):
                    used = True
        if used:
            raise ec2_error("DependencyViolation", f"resource {gid} has a dependent object")

    def check_DeleteVpc(self, call):
        vid = call.params.get("VpcId", "")
        ec2, elb, elbv2 = backends(call.region)
        used = any(s.vpc_id == vid for zone in ec2.subnets.values() for s in zone.values())
        used = used or any(g.name != "default" for g in ec2.groups.get(vid, {}).values())
        used = used or any(lb.vpc_id == vid for lb in list(elb.load_balancers.values()) + list(elbv2.load_balancers.values()))
        used = used or any(getattr(igw.vpc, "id", None) == vid for igw in ec2.internet_gateways.values())
        if used:
            raise ec2_error("DependencyViolation", f"The vpc '{vid}' has dependencies and cannot be deleted.")

    def after_DeleteNatGateway(self, call):
        ec2, _, _ = backends(call.region)
        nat = ec2.nat_gateways.get(call.params.get("NatGatewayId", ""))
        eni = getattr(nat, "_eni", None)
        if eni is None or eni.id not in ec2.enis:
            return
        for address in list(ec2.addresses):
            if getattr(address, "eni", None) is eni:
                ec2.disassociate_address(address=address.public_ip)
        ec2.enis.pop(eni.id, None)

    # -- placement groups -------------------------------------------------------------------
    @staticmethod
    def placement_view(pg):
        view = {k: v for k, v in pg.items() if k != "tags"}
        view["tagSet"] = [{"key": k, "value": v} for k, v in pg["tags"].items()]
        return view

    def after_CreateTags(self, call):
        """A launch template's Tags, as DescribeLaunchTemplates shows them, follow its tags."""
        ec2, _, _ = backends(call.region)
        for rid in numbered(call.params, "ResourceId"):
            template = ec2.launch_templates.get(rid)
            if template is not None:
                template.tags = template.get_tags()

    after_DeleteTags = after_CreateTags

    def placement_tags(self, call, environ, forward):
        """CreateTags/DeleteTags: the pg- ids here, any others by moto (None: no pg- ids)."""
        ids = numbered(call.params, "ResourceId")
        groups = [i for i in ids if i.startswith("pg-")]
        if not groups:
            return None
        by_id = {pg["groupId"]: pg for (r, _), pg in self.placement_groups.items() if r == call.region}
        for gid in groups:
            if gid not in by_id:
                raise ec2_error("InvalidID", f"The ID '{gid}' is not valid")
        tags = structures(call.params, "Tag")
        others = [i for i in ids if not i.startswith("pg-")]
        if others:  # moto must accept the rest before the placement groups change
            form = {k: v for k, v in call.params.items() if not re.fullmatch(r"ResourceId\.\d+", k)}
            form.update({f"ResourceId.{n}": rid for n, rid in enumerate(others, 1)})
            body = urlencode(form).encode()
            environ["QUERY_STRING"] = ""
            answer = forward(environ, body)
            if not answer[0].startswith("200"):
                return answer
        for gid in groups:
            held = by_id[gid]["tags"]
            for tag in tags:
                if call.op == "CreateTags":
                    held[tag.get("Key")] = tag.get("Value", "")
                elif "Value" not in tag or held.get(tag.get("Key")) == tag["Value"]:
                    held.pop(tag.get("Key"), None)
        return ec2_answer(call.op, {"return": True})

    def op_CreatePlacementGroup(self, call):
        p, region = call.params, call.region
        name = p.get("GroupName")
        if not name:
            raise ec2_error("MissingParameter", "The request must contain the parameter GroupName")
        strategy = p.get("Strategy", "")
        if strategy not in STRATEGIES:
            raise ec2_error("InvalidParameterValue", f"Value ({strategy}) for parameter strategy is invalid. Valid values: {', '.join(STRATEGIES)}")
        if (region, name) in self.placement_groups:
            raise ec2_error("InvalidPlacementGroup.Duplicate", f"The placement group '{name}' already exists.")
        if "PartitionCount" in p and strategy != "partition":
            raise ec2_error("InvalidParameterCombination", "PartitionCount is only valid for the partition strategy")
        if "SpreadLevel" in p and strategy != "spread":
            raise ec2_error("InvalidParameterCombination", "SpreadLevel is only valid for the spread strategy")
        tags = {}
        for spec in structures(p, "TagSpecification"):
            if spec.get("ResourceType") != "placement-group":
                raise ec2_error("InvalidParameterValue", f"'{spec.get('ResourceType')}' is not a valid taggable resource type for this operation.")
            for tag in structures(spec, "Tag"):
                tags[tag.get("Key")] = tag.get("Value", "")
        gid = "pg-" + secrets.token_hex(9)[:17]
        pg = {"groupName": name, "state": "available", "strategy": strategy, "groupId": gid, "groupArn": f"arn:aws:ec2:{region}:{ACCOUNT}:placement-group/{name}", "tags": tags}
        if strategy == "partition":
            count = p.get("PartitionCount", "2")
            if not count.isdigit() or not 1 <= int(count) <= 7:
                raise ec2_error("InvalidParameterValue", f"Value ({count}) for parameter partitionCount is invalid. Valid range: 1-7")
            pg["partitionCount"] = int(count)
        if strategy == "spread":
            level = p.get("SpreadLevel", "rack")
            if level not in ("host", "rack"):
                raise ec2_error("InvalidParameterValue", f"Value ({level}) for parameter spreadLevel is invalid. Valid values: host, rack")
            pg["spreadLevel"] = level
        self.placement_groups[(region, name)] = pg
        return ec2_answer("CreatePlacementGroup", {"placementGroup": self.placement_view(pg)})

    def op_DescribePlacementGroups(self, call):
        p, region = call.params, call.region
        groups = [pg for (r, _), pg in self.placement_groups.items() if r == region]
        names, ids = numbered(p, "GroupName"), numbered(p, "GroupId")
        for name in names:
            if not any(pg["groupName"] == name for pg in groups):
                raise ec2_error("InvalidPlacementGroup.Unknown", f"The placement group '{name}' is unknown.")
        for gid in ids:
            if not any(pg["groupId"] == gid for pg in groups):
                raise ec2_error("InvalidPlacementGroup.Unknown", f"The placement group '{gid}' is unknown.")
        if names:
            groups = [pg for pg in groups if pg["groupName"] in names]
        if ids:
            groups = [pg for pg in groups if pg["groupId"] in ids]
        for f in structures(p, "Filter"):
            name = f.get("Name", "")
            values = [v for k, v in f.items() if re.fullmatch(r"Value\.\d+", k)]
            fields = {"group-name": "groupName", "group-id": "groupId", "group-arn": "groupArn", "state": "state", "strategy": "strategy", "spread-level": "spreadLevel"}

            def matches(pg, name=name, values=values):
                tags = pg["tags"]
                if name in fields:
                    have = [str(pg.get(fields[name], ""))]
                elif name.startswith("tag:"):
                    have = [tags[name[4:]]] if name[4:] in tags else []
                elif name == "tag-key":
                    have = list(tags)
                else:
                    raise ec2_error("InvalidParameterValue", f"The filter '{name}' is invalid")
                return any(fnmatch.fnmatchcase(h, v) for h in have for v in values)

            groups = [pg for pg in groups if matches(pg)]
        return ec2_answer("DescribePlacementGroups", {"placementGroupSet": [self.placement_view(pg) for pg in groups]})

    def op_DeletePlacementGroup(self, call):
        p, region = call.params, call.region
        name = p.get("GroupName")
        if not name:
            raise ec2_error("MissingParameter", "The request must contain the parameter GroupName")
        pg = self.placement_groups.pop((region, name), None)
        if pg is None:
            raise ec2_error("InvalidPlacementGroup.Unknown", f"The placement group '{name}' is unknown.")
        return ec2_answer("DeletePlacementGroup", {"return": True})
