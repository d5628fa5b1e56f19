"""Microsoft.Network 2025-01-01: virtual networks and subnets (a mixin of model.Arm).

Rules modelled, as the network RP applies them:

* PUTs are long-running: 201 (create) / 200 (update) with the resource in
  provisioningState ``Updating`` and ``Azure-AsyncOperation`` + ``Retry-After``;
  the state becomes ``Succeeded`` when the operation's poll says so.
* One operation at a time per virtual network (its subnets included): another
  write meanwhile is 409 ``AnotherOperationInProgress``.
* A vnet PUT *replaces* the subnet list: subnets it does not name are deleted
  (and refused with ``InUseSubnetCannotBeDeleted`` if an agent pool uses them).
* Address prefixes must be valid CIDRs; a subnet must lie inside the vnet's
  address space and not overlap another subnet.
* DELETE is long-running (202 + ``Location`` + ``Azure-AsyncOperation``); a
  missing resource answers 204; a subnet an agent pool uses (``vnetSubnetID`` /
  ``podSubnetID``) cannot be deleted: 400 ``InUseSubnetCannotBeDeleted``.
"""

import ipaddress

from errors import ArmError, bad_request, conflict, resource_not_found
from state import Answer

VNET_TYPE = "Microsoft.Network/virtualNetworks"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"


def parse_prefix(prefix, what):
    try:
        return ipaddress.ip_network(prefix, strict=True)
    except ValueError:
        raise bad_request("NetcfgInvalidIPAddressPrefix",
                          "Value provided is invalid. Parameter %s: '%s' is not a valid IP address prefix."
                          % (what, prefix))


def subnet_prefixes(props):
    out = []
    if props.get("addressPrefix"):
        out.append(props["addressPrefix"])
    out.extend(props.get("addressPrefixes") or [])
    return out


class NetworkMixin:
    # ------------------------------------------------------------------ ids and rendering
    def vnet_id(self, v):
        return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s" % (self.sub, v["rg"], VNET_TYPE, v["name"])

    def render_subnet(self, v, s):
        props = dict(s["props"])
        props.setdefault("privateEndpointNetworkPolicies", "Disabled")
        props.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
        props["provisioningState"] = s["state"]
        return {"id": self.vnet_id(v) + "/subnets/" + s["name"], "name": s["name"], "etag": s["etag"],
                "type": SUBNET_TYPE, "properties": props}

    def render_vnet(self, v):
        props = dict(v["props"])
        props.update({"provisioningState": v["state"], "resourceGuid": v["guid"],
                      "subnets": [self.render_subnet(v, s) for s in v["subnets"].values()],
                      "virtualNetworkPeerings": []})
        props.setdefault("enableDdosProtection", False)
        props.setdefault("privateEndpointVNetPolicies", "Disabled")
        out = {"id": self.vnet_id(v), "name": v["name"], "type": VNET_TYPE, "location": v["location"],
               "etag": v["etag"], "properties": props}
        if v.get("tags") is not None:
            out["tags"] = dict(v["tags"])
        return out

    # ------------------------------------------------------------------ lookups
    def vnet(self, req, must=True):
        rg, name = req.params["resourceGroupName"], req.params["virtualNetworkName"]
        v = self.vnets.get((rg.lower(), name.lower()))
        if v is None and must:
            self.group(rg)
            raise resource_not_found(VNET_TYPE, name, rg)
        return v

    def vnet_busy(self, v):
        if v.get("op") is not None and v["op"].status == "InProgress":
            a, _ = self.op_urls(self.current_req, v["op"])
            raise conflict("AnotherOperationInProgress",
                           "Another operation on this or dependent resource is in progress. To retrieve status "
                           "of the operation use uri: %s." % a)

    def subnet_in_use(self, v, s):
        sid = (self.vnet_id(v) + "/subnets/" + s["name"]).lower()
        return self.subnet_users(sid)

    def refuse_in_use(self, v, s):
        users = self.subnet_in_use(v, s)
        if users:
            raise bad_request("InUseSubnetCannotBeDeleted",
                              "Subnet %s is in use by %s and cannot be deleted. In order to delete the subnet, "
                              "delete all the resources within the subnet. See aka.ms/deletesubnet."
                              % (s["name"], users[0]))

    def check_subnet_ranges(self, v, space, name, props, others):
        """A subnet inside the vnet's address space and clear of the other subnets."""
        prefixes = subnet_prefixes(props)
        if not prefixes:
            raise bad_request("NoAddressPrefixOrPoolProvided",
                              "Subnet '%s' must have an address prefix or an IPAM pool." % name)
        nets = [parse_prefix(p, "addressPrefix") for p in prefixes]
        for n in nets:
            if not any(n.version == s.version and n.subnet_of(s) for s in space):
                raise bad_request("NetcfgSubnetRangeOutsideVnet",
                                  "Subnet '%s' is not valid because its IP address range is outside the IP "
                                  "address range of virtual network '%s'." % (name, v["name"]))
            for oname, oprops in others:
                for o in subnet_prefixes(oprops):
                    on = ipaddress.ip_network(o, strict=False)
                    if n.version == on.version and n.overlaps(on):
                        raise bad_request("NetcfgSubnetRangesOverlap",
                                          "Subnet '%s' is not valid because its IP address range overlaps with "
                                          "that of an existing subnet '%s' in virtual network '%s'."
                                          % (name, oname, v["name"]))

    @staticmethod
    def address_space(props):
        return [parse_prefix(p, "addressSpace.addressPrefixes")
                for p in (props.get("addressSpace") or {}).get("addressPrefixes") or []]

    # ------------------------------------------------------------------ virtual networks
    def h_VirtualNetworks_CreateOrUpdate(self, req):
        rg, name, body = req.params["resourceGroupName"], req.params["virtualNetworkName"], req.body
        g = self.group(rg, writing=True)
        if not body.get("location"):
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        self.check_tags(body.get("tags"))
        props = dict(body.get("properties") or {})
        subnets_in = props.pop("subnets", None) or []
        v = self.vnets.get((rg.lower(), name.lower()))
        if v is not None:
            if v["location"].lower() != body["location"].lower():
                raise conflict("InvalidResourceLocation",
                               "The resource '%s' already exists in location '%s' in resource group '%s'. A "
                               "resource with the same name cannot be created in location '%s'. Please select "
                               "a new resource name." % (name, v["location"], g["name"], body["location"]))
            self.vnet_busy(v)
        probe = v or {"name": name, "rg": g["name"]}
        space = self.address_space(props)
        seen = {}
        for s in subnets_in:
            if not s.get("name"):
                raise bad_request("InvalidRequestFormat", "Cannot parse the request: a subnet has no name.")
            if s["name"].lower() in seen:
                raise bad_request("DuplicateResourceName", "Resource %s/subnets/%s has a duplicate name."
                                  % (name, s["name"]))
            sp = s.get("properties") or {}
            self.check_subnet_ranges(probe, space, s["name"], sp, list(seen.values()))
            seen[s["name"].lower()] = (s["name"], sp)
        if v is not None:
            for key, s in v["subnets"].items():
                if key not in seen:
                    self.refuse_in_use(v, s)
                elif self.subnet_in_use(v, s) and subnet_prefixes(s["props"]) != subnet_prefixes(seen[key][1]):
                    raise bad_request("InUseSubnetCannotBeUpdated", "Subnet %s is in use and its address "
                                      "prefix cannot be updated." % s["name"])
        status = 200 if v is not None else 201
        if v is None:
            v = {"name": name, "rg": g["name"], "guid": self.st.uuid(), "subnets": {}}
            self.vnets[(rg.lower(), name.lower())] = v
        old = v["subnets"]
        v.update({"location": body["location"], "tags": body.get("tags"), "props": props, "state": "Updating",
                  "etag": self.st.etag()})
        v["subnets"] = {}
        for key, (sname, sp) in seen.items():
            keep = old.get(key)
            v["subnets"][key] = {"name": keep["name"] if keep else sname, "props": dict(sp),
                                 "state": "Updating", "etag": v["etag"]}

        def finish():
            if self.vnets.get((rg.lower(), name.lower())) is v and v.get("op") is op:
                v["state"] = "Succeeded"
                for s in v["subnets"].values():
                    s["state"] = "Succeeded"
        op = v["op"] = self.start_op("network", v["location"], self.vnet_id(v), finish)
        return self.answer_put(req, status, self.render_vnet(v), op)

    def answer_put(self, req, status, body, op):
        return Answer(status, body, self.async_headers(req, op))

    def answer_delete(self, req, op):
        return Answer(202, None, self.delete_headers(req, op))

    def h_VirtualNetworks_Get(self, req):
        return Answer(200, self.render_vnet(self.vnet(req)))

    def h_VirtualNetworks_List(self, req):
        rg = req.params["resourceGroupName"]
        self.group(rg)
        return Answer(200, {"value": [self.render_vnet(v) for k, v in self.vnets.items() if k[0] == rg.lower()]})

    def h_VirtualNetworks_UpdateTags(self, req):
        v = self.vnet(req)
        tags = req.body.get("tags")
        self.check_tags(tags)
        v["tags"] = tags
        v["etag"] = self.st.etag()
        return Answer(200, self.render_vnet(v))

    def h_VirtualNetworks_Delete(self, req):
        v = self.vnet(req, must=False)
        if v is None:
            return Answer(204)
        self.vnet_busy(v)
        for s in v["subnets"].values():
            self.refuse_in_use(v, s)
        v["state"] = "Deleting"
        key = (req.params["resourceGroupName"].lower(), req.params["virtualNetworkName"].lower())

        def finish():
            if self.vnets.get(key) is v:
                del self.vnets[key]
        op = v["op"] = self.start_op("network", v["location"], self.vnet_id(v), finish)
        return self.answer_delete(req, op)

    # ------------------------------------------------------------------ subnets
    def h_Subnets_CreateOrUpdate(self, req):
        v = self.vnet(req)
        self.group(req.params["resourceGroupName"], writing=True)
        self.vnet_busy(v)
        name, props = req.params["subnetName"], dict((req.body or {}).get("properties") or {})
        key = name.lower()
        others = [(s["name"], s["props"]) for k, s in v["subnets"].items() if k != key]
        self.check_subnet_ranges(v, self.address_space(v["props"]), name, props, others)
        s = v["subnets"].get(key)
        if s is not None and self.subnet_in_use(v, s) and subnet_prefixes(s["props"]) != subnet_prefixes(props):
            raise bad_request("InUseSubnetCannotBeUpdated",
                              "Subnet %s is in use and its address prefix cannot be updated." % s["name"])
        status = 200 if s is not None else 201
        if s is None:
            s = v["subnets"][key] = {"name": name}
        v["etag"] = self.st.etag()
        s.update({"props": props, "state": "Updating", "etag": v["etag"]})

        def finish():
            if v["subnets"].get(key) is s and v.get("op") is op:
                s["state"] = "Succeeded"
        op = v["op"] = self.start_op("network", v["location"], self.vnet_id(v) + "/subnets/" + s["name"], finish)
        return self.answer_put(req, status, self.render_subnet(v, s), op)

    def h_Subnets_Get(self, req):
        v = self.vnet(req)
        s = v["subnets"].get(req.params["subnetName"].lower())
        if s is None:
            raise ArmError(404, "NotFound", "Resource /subscriptions/%s/resourceGroups/%s/providers/%s/%s/subnets/%s "
                           "not found." % (self.sub, v["rg"], VNET_TYPE, v["name"], req.params["subnetName"]))
        return Answer(200, self.render_subnet(v, s))

    def h_Subnets_Delete(self, req):
        v = self.vnet(req, must=False)
        s = v and v["subnets"].get(req.params["subnetName"].lower())
        if not s:
            return Answer(204)
        self.vnet_busy(v)
        self.refuse_in_use(v, s)
        s["state"] = "Deleting"
        key = req.params["subnetName"].lower()

        def finish():
            if v["subnets"].get(key) is s:
                del v["subnets"][key]
                v["etag"] = self.st.etag()
        op = v["op"] = self.start_op("network", v["location"], self.vnet_id(v) + "/subnets/" + s["name"], finish)
        return self.answer_delete(req, op)

    def find_subnet(self, subnet_id):
        """The (vnet, subnet) an ARM subnet id names, or None."""
        parts = subnet_id.strip("/").split("/")
        if len(parts) != 10 or parts[0].lower() != "subscriptions" or parts[1].lower() != self.sub.lower():
            return None
        if [p.lower() for p in (parts[2], parts[4], parts[5], parts[6], parts[8])] != \
                ["resourcegroups", "providers", "microsoft.network", "virtualnetworks", "subnets"]:
            return None
        v = self.vnets.get((parts[3].lower(), parts[7].lower()))
        s = v and v["subnets"].get(parts[9].lower())
        return (v, s) if s else None
