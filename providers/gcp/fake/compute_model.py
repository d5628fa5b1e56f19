"""Compute Engine v1 model: networks, subnetworks, routers (Cloud NAT), regions, operations.

Why: hoist builds the VPC a GKE cluster lives in and tears it down again, so
the parts worth modelling are compute's ordering rules -- a network cannot be
deleted while subnetworks, routers or clusters use it, a subnetwork cannot be
deleted while a cluster or a NAT uses it, names are unique, a reference must
name an existing resource -- and its operations, which a client polls with
``globalOperations.get`` / ``regionOperations.get`` (the Rust SDK's poller) or
``.../wait`` (gcloud).  A resource appears when its insert operation is DONE
and disappears when its delete operation is DONE.

Errors raised by compute itself carry no ``status`` field (see errors.py).
selfLinks use https://www.googleapis.com/compute/v1/, as real compute does;
nothing in the fake needs them to be fetched.

Operations are in compute_operations.py and GKE's instance group managers in
compute_igm.py (mixins of ComputeModel), list filters in compute_filters.py.
"""

import copy
import ipaddress
import re

from compute_filters import apply_filter
from compute_igm import InstanceGroupManagers
from compute_operations import ComputeOperations
from errors import ApiError, already_exists, not_found
from state import REGION_RE

BASE = "https://www.googleapis.com/compute/v1/"
NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
NAME_RULE = "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"
REF_RE = {
    "networks": re.compile(r"(?:^|/)projects/([^/]+)/global/networks/([^/]+)$|^global/networks/([^/]+)$"),
    "subnetworks": re.compile(r"(?:^|/)projects/([^/]+)/regions/([^/]+)/subnetworks/([^/]+)$"
                              r"|^regions/([^/]+)/subnetworks/([^/]+)$"),
}

# Regional quotas reported by regions.get unless config "quotas" overrides them.
BASE_QUOTAS = {
    "CPUS": 2400, "DISKS_TOTAL_GB": 409600, "SSD_TOTAL_GB": 81920, "LOCAL_SSD_TOTAL_GB": 30000,
    "INSTANCES": 6000, "IN_USE_ADDRESSES": 575, "STATIC_ADDRESSES": 175, "INSTANCE_GROUPS": 300,
    "INSTANCE_GROUP_MANAGERS": 300, "PREEMPTIBLE_CPUS": 2400, "N2_CPUS": 2400, "C3_CPUS": 2400,
    "A2_CPUS": 2400,
}
ACCELERATOR_LIMIT = 1000


def not_found_resource(path):
    return not_found("The resource '%s' was not found" % path)


def in_use(kind, path, user):
    return ApiError(400, "The %s resource '%s' is already being used by '%s'" % (kind, path, user),
                    reason="resourceInUseByAnotherResource", status="FAILED_PRECONDITION")


def invalid_field(field, value, why):
    return ApiError(400, "Invalid value for field '%s': '%s'. %s" % (field, value, why), reason="invalid",
                    status="INVALID_ARGUMENT")


class ComputeModel(ComputeOperations, InstanceGroupManagers):
    def __init__(self, state):
        self.state = state
        self.container = None
        self.networks = {}       # (project, name)
        self.subnetworks = {}    # (project, region, name)
        self.routers = {}        # (project, region, name)
        self.ops = {}            # (project, scope, name); scope "global" or "regions/R"
        self.pending = {}        # key -> (op name, network link), for inserts not yet DONE

    # ------------------------------------------------------------------ dispatch
    def handle(self, mid, pp, query, body):
        coll, verb = mid.split(".")[1:]
        return getattr(self, "%s_%s" % (coll, verb))(pp, query, body or {})

    # ------------------------------------------------------------------ lookups for container
    def find_network(self, project, name):
        return self.networks.get((project, name))

    def find_subnetwork(self, project, region, name):
        return self.subnetworks.get((project, region, name))

    def subnetworks_of(self, project, network, region):
        return [s for (p, r, _), s in sorted(self.subnetworks.items())
                if p == project and r == region and s["network"].endswith("/global/networks/" + network)]

    # ------------------------------------------------------------------ helpers
    def link(self, project, *rest):
        return BASE + "/".join(("projects", project) + rest)

    def parse_ref(self, kind, ref, project, field):
        """A full URL, partial URL (projects/p/... or global/...) -> key tuple."""
        ref = (ref or "").split("?")[0]
        path = re.sub(r"^https?://[^/]+/compute/(?:v1|beta|alpha)/", "", ref)
        m = REF_RE[kind].search(path)
        if not m:
            raise invalid_field(field, ref, "The URL is malformed.")
        g = [x for x in m.groups() if x is not None]
        if kind == "networks":
            return (g[0], g[1]) if len(g) == 2 else (project, g[0])
        return tuple(g) if len(g) == 3 else (project, g[0], g[1])

    def check_region(self, region):
        if not REGION_RE.match(region):
            raise not_found_resource("regions/%s" % region)

    def check_name(self, body, field="resource.name"):
        name = body.get("name", "")
        if not name:
            raise ApiError(400, "Required field '%s' not specified" % field, reason="required",
                           status="INVALID_ARGUMENT")
        if not NAME_RE.match(name):
            raise invalid_field(field, name, NAME_RULE)
        return name

    def get_op(self, project, scope, name):
        op = self.ops.get((project, scope, name))
        if op is None:
            raise not_found_resource("projects/%s/%s/operations/%s" % (project, scope, name))
        return op

    def taken(self, key, path):
        if key in self.pending:
            raise ApiError(400, "The resource '%s' is not ready" % path, reason="resourceNotReady",
                           status="FAILED_PRECONDITION")

    def list_reply(self, kind, project, scope_path, items, query):
        items = apply_filter(items, query.get("filter", [None])[0])
        order = query.get("orderBy", [None])[0]
        if order == "creationTimestamp desc":
            items = sorted(items, key=lambda r: r.get("creationTimestamp", ""), reverse=True)
        else:
            items = sorted(items, key=lambda r: r.get("name", ""))
        token = query.get("pageToken", ["0"])[0] or "0"
        if not token.isdigit():
            raise invalid_field("pageToken", token, "Invalid page token.")
        start = int(token)
        size = min(int(query.get("maxResults", ["500"])[0] or 500) or 500, 500)
        page = items[start:start + size]
        out = {"kind": kind, "id": "projects/%s/%s" % (project, scope_path),
               "selfLink": self.link(project, *scope_path.split("/"))}
        if page:
            out["items"] = copy.deepcopy(page)
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return 200, out

    def aggregated(self, kind, field, project, coll, query):
        """aggregatedList: compute always sends "items", one entry per scope, with a
        NO_RESULTS_ON_PAGE warning for empty scopes (gcloud crashes without "items")."""
        flt = query.get("filter", [None])[0]
        found = {}
        for (p, r, _), res in sorted(coll.items()):
            if p == project and apply_filter([res], flt):
                found.setdefault("regions/" + r, []).append(copy.deepcopy(res))
        scopes = ["global"] + ["regions/" + r for r in sorted(set(self.state.regions()) |
                                                           {s.split("/", 1)[1] for s in found})]
        items = {}
        for scope in scopes:
            if scope in found:
                items[scope] = {field: found[scope]}
            else:
                items[scope] = {"warning": {"code": "NO_RESULTS_ON_PAGE",
                                            "message": "No results for the scope '%s'." % scope,
                                            "data": [{"key": "scope", "value": scope}]}}
        return 200, {"kind": kind, "id": "projects/%s/aggregated/%s" % (project, field), "items": items,
                     "selfLink": self.link(project, "aggregated", field)}

    # ------------------------------------------------------------------ networks
    def networks_insert(self, pp, query, body):
        st, project = self.state, pp["project"]
        name = self.check_name(body)
        key = (project, name)
        path = "projects/%s/global/networks/%s" % (project, name)
        if key in self.networks or key in self.pending:
            raise already_exists("The resource '%s' already exists" % path)
        if "autoCreateSubnetworks" not in body and not body.get("IPv4Range"):
            raise ApiError(400, "fake_gcp does not model legacy networks: set autoCreateSubnetworks.",
                           problem="networks.insert without autoCreateSubnetworks (a legacy network)")
        net = {
            "kind": "compute#network",
            "id": st.uint64_id(),
            "creationTimestamp": st.compute_time(),
            "name": name,
            "autoCreateSubnetworks": bool(body.get("autoCreateSubnetworks")),
            "routingConfig": {"routingMode": (body.get("routingConfig") or {}).get("routingMode", "REGIONAL")},
            "networkFirewallPolicyEnforcementOrder": body.get("networkFirewallPolicyEnforcementOrder",
                                                              "AFTER_CLASSIC_FIREWALL"),
            "mtu": body.get("mtu", 1460),
            "selfLink": self.link(project, "global", "networks", name),
        }
        net["selfLinkWithId"] = self.link(project, "global", "networks", net["id"])
        for k in ("description", "enableUlaInternalIpv6", "internalIpv6Range"):
            if k in body:
                net[k] = body[k]

        def done(op):
            self.pending.pop(key, None)
            self.networks[key] = net
            if net["autoCreateSubnetworks"]:
                for i, region in enumerate(self.state.regions()):
                    cidr = "10.%d.0.0/20" % (128 + i)
                    self.subnetworks[(project, region, name)] = self.make_subnet(
                        project, region, name, net["selfLink"], {"ipCidrRange": cidr, "name": name})

        op = self.start_op(project, None, "insert", net["selfLink"], net["id"], done)
        self.pending[key] = (op.name, None)
        return 200, self.render_op(op)

    def networks_get(self, pp, query, body):
        project, name = pp["project"], pp["network"]
        net = self.networks.get((project, name))
        if net is None:
            raise not_found_resource("projects/%s/global/networks/%s" % (project, name))
        out = copy.deepcopy(net)
        subs = [s["selfLink"] for (p, _, _), s in sorted(self.subnetworks.items())
                if p == project and s["network"] == net["selfLink"]]
        if subs:
            out["subnetworks"] = subs
        return 200, out

    def networks_list(self, pp, query, body):
        project = pp["project"]
        items = [self.networks_get({"project": project, "network": n}, query, body)[1]
                 for (p, n) in self.networks if p == project]
        return self.list_reply("compute#networkList", project, "global/networks", items, query)

    def networks_delete(self, pp, query, body):
        project, name = pp["project"], pp["network"]
        key = (project, name)
        path = "projects/%s/global/networks/%s" % (project, name)
        self.taken(key, path)
        net = self.networks.get(key)
        if net is None:
            raise not_found_resource(path)
        for (p, r, n), s in sorted(self.subnetworks.items()):
            if p == project and s["network"] == net["selfLink"] and not (net["autoCreateSubnetworks"] and n == name):
                raise in_use("network", path, "projects/%s/regions/%s/subnetworks/%s" % (p, r, n))
        for pkey, (_, link) in sorted(self.pending.items()):
            if link == net["selfLink"]:
                # A subnetwork or router insert on this network has not finished yet.
                raise ApiError(400, "The resource '%s' is not ready" % path, reason="resourceNotReady",
                               status="FAILED_PRECONDITION")
        for (p, r, n), rt in sorted(self.routers.items()):
            if p == project and rt["network"] == net["selfLink"]:
                raise in_use("network", path, "projects/%s/regions/%s/routers/%s" % (p, r, n))
        for user in (self.container.network_users(project, name) if self.container else []):
            raise in_use("network", path, user)

        def done(op):
            self.pending.pop(key, None)
            self.networks.pop(key, None)
            for k in [k for k, s in self.subnetworks.items() if s["network"] == net["selfLink"]]:
                del self.subnetworks[k]

        op = self.start_op(project, None, "delete", net["selfLink"], net["id"], done)
        self.pending[key] = (op.name, None)
        return 200, self.render_op(op)

    # ------------------------------------------------------------------ subnetworks
    def make_subnet(self, project, region, name, network_link, body):
        st = self.state
        cidr = body["ipCidrRange"]
        sub = {
            "kind": "compute#subnetwork",
            "id": st.uint64_id(),
            "creationTimestamp": st.compute_time(),
            "name": name,
            "network": network_link,
            "ipCidrRange": cidr,
            "gatewayAddress": str(next(ipaddress.ip_network(cidr).hosts())),
            "region": self.link(project, "regions", region),
            "selfLink": self.link(project, "regions", region, "subnetworks", name),
            "privateIpGoogleAccess": bool(body.get("privateIpGoogleAccess", False)),
            "privateIpv6GoogleAccess": body.get("privateIpv6GoogleAccess", "DISABLE_GOOGLE_ACCESS"),
            "purpose": body.get("purpose", "PRIVATE"),
            "stackType": body.get("stackType", "IPV4_ONLY"),
            "state": "READY",
            "fingerprint": "abcdef0123A=",
        }
        for k in ("description", "secondaryIpRanges", "logConfig", "enableFlowLogs", "role"):
            if k in body:
                sub[k] = copy.deepcopy(body[k])
        return sub

    def subnetworks_insert(self, pp, query, body):
        project, region = pp["project"], pp["region"]
        self.check_region(region)
        name = self.check_name(body)
        key = (project, region, name)
        path = "projects/%s/regions/%s/subnetworks/%s" % (project, region, name)
        if key in self.subnetworks or key in self.pending:
            raise already_exists("The resource '%s' already exists" % path)
        if not body.get("network"):
            raise ApiError(400, "Required field 'resource.network' not specified", reason="required",
                           status="INVALID_ARGUMENT")
        nkey = self.parse_ref("networks", body["network"], project, "resource.network")
        net = self.networks.get(nkey)
        if net is None:
            raise invalid_field("resource.network", body["network"],
                                "The referenced network resource cannot be found.")
        if net["autoCreateSubnetworks"]:
            raise invalid_field("resource.network", body["network"],
                                "Subnetworks cannot be added to an auto mode network by this fake "
                                "(switch it to custom mode).")
        cidr = body.get("ipCidrRange", "")
        ranges = [("resource.ipCidrRange", cidr, None)] + [
            ("resource.secondaryIpRanges[%d].ipCidrRange" % i, r.get("ipCidrRange", ""), r.get("rangeName"))
            for i, r in enumerate(body.get("secondaryIpRanges", []))]
        parsed = []
        for field, value, rname in ranges:
            try:
                parsed.append((field, ipaddress.IPv4Network(value), rname))
            except ValueError:
                raise invalid_field(field, value, "Invalid IPCidrRange: %s." % value)
        names = [r for _, _, r in parsed[1:]]
        if len(set(names)) != len(names):
            raise invalid_field("resource.secondaryIpRanges", ",".join(map(str, names)),
                                "Secondary range names must be unique.")
        for i, (f1, n1, _) in enumerate(parsed):
            for f2, n2, _ in parsed[i + 1:]:
                if n1.overlaps(n2):
                    raise invalid_field(f2, str(n2), "Invalid IPCidrRange: %s conflicts with %s." % (n2, n1))
        for (p, r, n), other in self.subnetworks.items():
            if p == project and other["network"] == net["selfLink"]:
                ex = [ipaddress.IPv4Network(other["ipCidrRange"])] + [
                    ipaddress.IPv4Network(s["ipCidrRange"]) for s in other.get("secondaryIpRanges", [])]
                for f, mine, _ in parsed:
                    for e in ex:
                        if mine.overlaps(e):
                            raise invalid_field(f, str(mine), "Invalid IPCidrRange: %s conflicts with existing "
                                                "subnetwork '%s' in region '%s'." % (mine, n, r))
        sub = self.make_subnet(project, region, name, net["selfLink"], body)

        def done(op):
            self.pending.pop(key, None)
            self.subnetworks[key] = sub

        op = self.start_op(project, region, "insert", sub["selfLink"], sub["id"], done)
        self.pending[key] = (op.name, net["selfLink"])
        return 200, self.render_op(op)

    def subnetworks_get(self, pp, query, body):
        project, region, name = pp["project"], pp["region"], pp["subnetwork"]
        sub = self.subnetworks.get((project, region, name))
        if sub is None:
            raise not_found_resource("projects/%s/regions/%s/subnetworks/%s" % (project, region, name))
        return 200, copy.deepcopy(sub)

    def subnetworks_list(self, pp, query, body):
        project, region = pp["project"], pp["region"]
        items = [s for (p, r, _), s in self.subnetworks.items() if p == project and r == region]
        return self.list_reply("compute#subnetworkList", project, "regions/%s/subnetworks" % region, items, query)

    def subnetworks_aggregatedList(self, pp, query, body):
        return self.aggregated("compute#subnetworkAggregatedList", "subnetworks", pp["project"],
                               self.subnetworks, query)

    def subnetworks_delete(self, pp, query, body):
        project, region, name = pp["project"], pp["region"], pp["subnetwork"]
        key = (project, region, name)
        path = "projects/%s/regions/%s/subnetworks/%s" % (project, region, name)
        self.taken(key, path)
        sub = self.subnetworks.get(key)
        if sub is None:
            raise not_found_resource(path)
        for user in (self.container.subnet_users(project, region, name) if self.container else []):
            raise in_use("subnetwork", path, user)
        for (p, r, n), rt in sorted(self.routers.items()):
            for nat in rt.get("nats", []):
                for s in nat.get("subnetworks", []):
                    if p == project and s.get("name", "").endswith("/subnetworks/" + name) and r == region:
                        raise in_use("subnetwork", path, "projects/%s/regions/%s/routers/%s" % (p, r, n))

        def done(op):
            self.pending.pop(key, None)
            self.subnetworks.pop(key, None)

        op = self.start_op(project, region, "delete", sub["selfLink"], sub["id"], done)
        self.pending[key] = (op.name, None)
        return 200, self.render_op(op)

    # ------------------------------------------------------------------ routers
    def routers_insert(self, pp, query, body):
        st, project, region = self.state, pp["project"], pp["region"]
        self.check_region(region)
        name = self.check_name(body)
        key = (project, region, name)
        path = "projects/%s/regions/%s/routers/%s" % (project, region, name)
        if key in self.routers or key in self.pending:
            raise already_exists("The resource '%s' already exists" % path)
        nkey = self.parse_ref("networks", body.get("network"), project, "resource.network")
        net = self.networks.get(nkey)
        if net is None:
            raise invalid_field("resource.network", body.get("network"),
                                "The referenced network resource cannot be found.")
        nats = copy.deepcopy(body.get("nats", []))
        seen = set()
        for i, nat in enumerate(nats):
            f = "resource.nats[%d]" % i
            if not nat.get("name"):
                raise ApiError(400, "Required field '%s.name' not specified" % f, reason="required",
                               status="INVALID_ARGUMENT")
            if nat["name"] in seen:
                raise invalid_field(f + ".name", nat["name"], "NAT names must be unique within a router.")
            seen.add(nat["name"])
            if not nat.get("natIpAllocateOption"):
                raise ApiError(400, "Required field '%s.natIpAllocateOption' not specified" % f,
                               reason="required", status="INVALID_ARGUMENT")
            if nat["natIpAllocateOption"] == "MANUAL_ONLY" and not nat.get("natIps"):
                raise invalid_field(f + ".natIps", "", "natIps must be set when natIpAllocateOption is MANUAL_ONLY.")
            src = nat.get("sourceSubnetworkIpRangesToNat")
            if not src:
                raise ApiError(400, "Required field '%s.sourceSubnetworkIpRangesToNat' not specified" % f,
                               reason="required", status="INVALID_ARGUMENT")
            if src == "LIST_OF_SUBNETWORKS":
                if not nat.get("subnetworks"):
                    raise invalid_field(f + ".subnetworks", "", "Subnetworks must be listed when "
                                        "sourceSubnetworkIpRangesToNat is LIST_OF_SUBNETWORKS.")
                for j, s in enumerate(nat["subnetworks"]):
                    sk = self.parse_ref("subnetworks", s.get("name"), project, f + ".subnetworks[%d].name" % j)
                    sub = self.subnetworks.get(sk)
                    if sub is None or sk[1] != region or sub["network"] != net["selfLink"]:
                        raise invalid_field(f + ".subnetworks[%d].name" % j, s.get("name"),
                                            "The subnetwork must exist in the router's region and network.")
                    s["name"] = sub["selfLink"]
            elif nat.get("subnetworks"):
                raise invalid_field(f + ".subnetworks", "", "Subnetworks can only be listed when "
                                    "sourceSubnetworkIpRangesToNat is LIST_OF_SUBNETWORKS.")
            nat.setdefault("endpointTypes", ["ENDPOINT_TYPE_VM"])
            nat.setdefault("enableEndpointIndependentMapping", False)
        rt = {
            "kind": "compute#router",
            "id": st.uint64_id(),
            "creationTimestamp": st.compute_time(),
            "name": name,
            "network": net["selfLink"],
            "region": self.link(project, "regions", region),
            "selfLink": self.link(project, "regions", region, "routers", name),
        }
        if nats:
            rt["nats"] = nats
        for k in ("description", "bgp", "bgpPeers", "interfaces", "encryptedInterconnectRouter"):
            if k in body:
                rt[k] = copy.deepcopy(body[k])

        def done(op):
            self.pending.pop(key, None)
            self.routers[key] = rt

        op = self.start_op(project, region, "insert", rt["selfLink"], rt["id"], done)
        self.pending[key] = (op.name, net["selfLink"])
        return 200, self.render_op(op)

    def routers_get(self, pp, query, body):
        project, region, name = pp["project"], pp["region"], pp["router"]
        rt = self.routers.get((project, region, name))
        if rt is None:
            raise not_found_resource("projects/%s/regions/%s/routers/%s" % (project, region, name))
        return 200, copy.deepcopy(rt)

    def routers_list(self, pp, query, body):
        project, region = pp["project"], pp["region"]
        items = [s for (p, r, _), s in self.routers.items() if p == project and r == region]
        return self.list_reply("compute#routerList", project, "regions/%s/routers" % region, items, query)

    def routers_aggregatedList(self, pp, query, body):
        return self.aggregated("compute#routerAggregatedList", "routers", pp["project"], self.routers, query)

    def routers_delete(self, pp, query, body):
        project, region, name = pp["project"], pp["region"], pp["router"]
        key = (project, region, name)
        path = "projects/%s/regions/%s/routers/%s" % (project, region, name)
        self.taken(key, path)
        rt = self.routers.get(key)
        if rt is None:
            raise not_found_resource(path)

        def done(op):
            self.pending.pop(key, None)
            self.routers.pop(key, None)

        op = self.start_op(project, region, "delete", rt["selfLink"], rt["id"], done)
        self.pending[key] = (op.name, None)
        return 200, self.render_op(op)

    # ------------------------------------------------------------------ regions
    def quotas(self, region):
        metrics = self.state.registry_quota_metrics
        q = {m: {"limit": v, "usage": 0} for m, v in BASE_QUOTAS.items()}
        for m in metrics:
            if "GPU" in m or "TPU" in m:
                q[m] = {"limit": ACCELERATOR_LIMIT, "usage": 0}
        for m, v in (self.state.config.get("quotas", {}).get(region) or {}).items():
            q.setdefault(m, {"limit": 0, "usage": 0}).update(v)
        return [{"metric": m, "limit": v["limit"], "usage": v["usage"]} for m, v in sorted(q.items())]

    def region_resource(self, project, region):
        zones = self.state.zones_for(region)
        return {
            "kind": "compute#region",
            "id": str(1000 + sum(ord(ch) for ch in region)),
            "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
            "name": region,
            "description": region,
            "status": "UP",
            "zones": [self.link(project, "zones", z) for z in zones],
            "quotas": self.quotas(region),
            "selfLink": self.link(project, "regions", region),
            "supportsPzs": False,
        }

    def regions_get(self, pp, query, body):
        region = pp["region"]
        if not REGION_RE.match(region):
            raise not_found_resource("projects/%s/regions/%s" % (pp["project"], region))
        return 200, self.region_resource(pp["project"], region)

    def regions_list(self, pp, query, body):
        project = pp["project"]
        items = [self.region_resource(project, r) for r in self.state.regions()]
        return self.list_reply("compute#regionList", project, "regions", items, query)

    # ------------------------------------------------------------------ control API
    def resources(self):
        for (p, n), net in self.networks.items():
            yield "network", n, "projects/%s/global/networks/%s" % (p, n), net.get("description", "")
        for (p, r, n), s in self.subnetworks.items():
            yield "subnetwork", n, "projects/%s/regions/%s/subnetworks/%s" % (p, r, n), s.get("description", "")
        for (p, r, n), rt in self.routers.items():
            yield "router", n, "projects/%s/regions/%s/routers/%s" % (p, r, n), rt.get("description", "")
