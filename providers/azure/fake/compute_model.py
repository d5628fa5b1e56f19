"""Microsoft.Compute: resource SKUs (2021-07-01) and usages / quotas (2025-04-01), a mixin of model.Arm.

Why here: AKS checks agent pools against the same data a client reads from
these two APIs (which zones a VM size offers, which are restricted for the
subscription, how many vCPUs of its family are free), so the fake derives both
the answers and the checks from one table.

The SKU table is the fake's own data (see SOURCES.md): the VM sizes hoist's
tests use, in ``eastus`` and ``westus2``, all in zones 1, 2 and 3, with the
real family names, vCPU counts, memory and GPU counts.
"""

import re

from errors import ArmError, bad_request
from state import Answer

LOCATIONS = ["eastus", "westus2"]
ZONES = ["1", "2", "3"]

# name -> (family, vCPUs, memory GB, GPUs)
SKUS = {
    "Standard_D2ds_v5": ("standardDDSv5Family", 2, 8, 0),
    "Standard_D4ds_v5": ("standardDDSv5Family", 4, 16, 0),
    "Standard_D8ds_v5": ("standardDDSv5Family", 8, 32, 0),
    "Standard_D16ds_v5": ("standardDDSv5Family", 16, 64, 0),
    "Standard_DS1_v2": ("standardDSv2Family", 1, 3.5, 0),
    "Standard_DS2_v2": ("standardDSv2Family", 2, 7, 0),
    "Standard_NC24ads_A100_v4": ("standardNCADSA100v4Family", 24, 220, 1),
    "Standard_NC48ads_A100_v4": ("standardNCADSA100v4Family", 48, 440, 2),
    "Standard_NC96ads_A100_v4": ("standardNCADSA100v4Family", 96, 880, 4),
    "Standard_ND96asr_v4": ("standardNDASv4_A100Family", 96, 900, 8),
    "Standard_NC4as_T4_v3": ("standardNCASv3_T4Family", 4, 28, 1),
    "Standard_NC8as_T4_v3": ("standardNCASv3_T4Family", 8, 56, 1),
    "Standard_NC16as_T4_v3": ("standardNCASv3_T4Family", 16, 110, 1),
    "Standard_NC64as_T4_v3": ("standardNCASv3_T4Family", 64, 440, 4),
    "Standard_NV36ads_A10_v5": ("standardNVADSA10v5Family", 36, 440, 1),
}
FAMILY_NAMES = {
    "standardDDSv5Family": "Standard DDSv5 Family vCPUs",
    "standardDSv2Family": "Standard DSv2 Family vCPUs",
    "standardNCADSA100v4Family": "Standard NCADS_A100_v4 Family vCPUs",
    "standardNDASv4_A100Family": "Standard NDASv4_A100 Family vCPUs",
    "standardNCASv3_T4Family": "Standard NCASv3_T4 Family vCPUs",
    "standardNVADSA10v5Family": "Standard NVADSA10v5 Family vCPUs",
}
REGIONAL = {"cores": "Total Regional vCPUs", "lowPriorityCores": "Total Regional Low-priority vCPUs"}
DEFAULT_LIMITS = {"cores": 10000, "lowPriorityCores": 1000}
DEFAULT_FAMILY_LIMIT = 1000
USAGE_NAMES = list(REGIONAL) + list(FAMILY_NAMES)

SKU_FILTER = re.compile(r"^\s*location\s+eq\s+'([^']*)'\s*$", re.I)


def sku_name(size):
    """The table's spelling of a VM size (Azure compares sizes case-insensitively), or None."""
    for name in SKUS:
        if name.lower() == (size or "").lower():
            return name
    return None


class ComputeMixin:
    # ------------------------------------------------------------------ SKUs
    def restrictions(self, name, location):
        """(restricted zones, whole location restricted) from config sku_restrictions."""
        cfg = self.st.config.get("sku_restrictions", {})
        entry = None
        for k, v in cfg.items():
            if k.lower() == name.lower():
                entry = v
        zones = [str(z) for z in ((entry or {}).get(location) or [])]
        return [z for z in zones if z != "*"], "*" in zones

    def render_sku(self, name, location):
        family, vcpus, mem, gpus = SKUS[name]
        caps = [("vCPUs", str(vcpus)), ("MemoryGB", ("%g" % mem)), ("vCPUsAvailable", str(vcpus)),
                ("HyperVGenerations", "V2" if gpus else "V1,V2"), ("LowPriorityCapable", "True"),
                ("PremiumIO", "True"), ("AcceleratedNetworkingEnabled", "True")]
        if gpus:
            caps.insert(2, ("GPUs", str(gpus)))
        zones, whole = self.restrictions(name, location)
        restr = []
        if whole:
            restr.append({"type": "Location", "values": [location],
                          "restrictionInfo": {"locations": [location]},
                          "reasonCode": "NotAvailableForSubscription"})
        if zones:
            restr.append({"type": "Zone", "values": [location],
                          "restrictionInfo": {"locations": [location], "zones": sorted(zones)},
                          "reasonCode": "NotAvailableForSubscription"})
        return {"resourceType": "virtualMachines", "name": name, "tier": "Standard",
                "size": name.split("_", 1)[1], "family": family, "locations": [location],
                "locationInfo": [{"location": location, "zones": list(ZONES), "zoneDetails": []}],
                "capabilities": [{"name": n, "value": v} for n, v in caps], "restrictions": restr}

    def h_ResourceSkus_List(self, req):
        flt = req.query.get("$filter")
        locations = LOCATIONS
        if flt is not None:
            m = SKU_FILTER.match(flt)
            if not m:
                raise ArmError(400, "InvalidFilter", "Invalid $filter '%s': fake_azure supports only "
                               "\"location eq 'L'\"." % flt,
                               problem="ResourceSkus_List $filter the fake does not model: %r" % flt)
            locations = [loc for loc in LOCATIONS if loc == m.group(1).lower()]
        return Answer(200, {"value": [self.render_sku(n, loc) for loc in locations for n in SKUS]})

    # ------------------------------------------------------------------ usages
    def pool_usage(self, location):
        """usage name -> vCPUs the agent pools in a location use now (Failed pools hold none)."""
        used = {}
        for c, p in self.all_pools():
            if c["location"].lower() != location.lower() or p["state"] == "Failed":
                continue
            name = sku_name(p["props"].get("vmSize"))
            if not name:
                continue
            family, vcpus, _, _ = SKUS[name]
            n = vcpus * int(p["props"].get("count") or 0)
            if p["props"].get("scaleSetPriority") == "Spot":
                used["lowPriorityCores"] = used.get("lowPriorityCores", 0) + n
            else:
                used[family] = used.get(family, 0) + n
                used["cores"] = used.get("cores", 0) + n
        return used

    def quota(self, location, usage):
        """(limit, current value) of one usage name in a location."""
        cfg = {}
        for loc, q in self.st.config.get("quotas", {}).items():
            if loc.lower() == location.lower():
                cfg = (q or {}).get(usage) or {}
        limit = cfg.get("limit", DEFAULT_LIMITS.get(usage, DEFAULT_FAMILY_LIMIT))
        return int(limit), int(cfg.get("current", 0)) + self.pool_usage(location).get(usage, 0)

    def h_Usage_List(self, req):
        loc = req.params["location"]
        out = []
        for name in USAGE_NAMES:
            limit, current = self.quota(loc, name)
            out.append({"unit": "Count", "currentValue": current, "limit": limit,
                        "name": {"value": name, "localizedValue": REGIONAL.get(name) or FAMILY_NAMES[name]}})
        return Answer(200, {"value": out})

    # ------------------------------------------------------------------ checks AKS makes
    def check_vm_size(self, pool_name, size, location, zones):
        """The VM size exists in the location, is not restricted there, and offers the zones."""
        name = sku_name(size)
        if name is None or location.lower() not in LOCATIONS or self.restrictions(name, location.lower())[1]:
            raise bad_request("BadRequest", "The VM size of %s is not allowed in your subscription in location "
                              "'%s'. For more details, please visit https://aka.ms/aks/quotas-skus-regions"
                              % (size, location))
        restricted, _ = self.restrictions(name, location.lower())
        supported = [z for z in ZONES if z not in restricted]
        bad = [z for z in zones or [] if z not in supported]
        if bad:
            raise bad_request("AvailabilityZoneNotSupported",
                              "The zone(s) '%s' for resource '%s' is not supported. The supported zones for "
                              "location '%s' are '%s'" % (",".join(bad), pool_name, location,
                                                          ",".join(supported) or "(empty)"))
        return name

    def check_quota(self, location, items):
        """Nodes to add fit in the free quota: items are (vmSize, new count, spot, nodes it replaces)."""
        need = {}
        for size, count, spot, old_count in items:
            family, vcpus, _, _ = SKUS[sku_name(size)]
            for usage in (["lowPriorityCores"] if spot else [family, "cores"]):
                need[usage] = need.get(usage, 0) + vcpus * (int(count or 0) - int(old_count or 0))
        for usage in sorted(need, key=lambda u: u in REGIONAL):
            limit, current = self.quota(location, usage)
            if need[usage] > 0 and current + need[usage] > limit:
                label = {"cores": "Total Regional Cores", "lowPriorityCores": "Low Priority Cores"}.get(
                    usage, usage + " Cores")
                raise bad_request("QuotaExceeded",
                                  "Operation could not be completed as it results in exceeding approved %s quota. "
                                  "Additional details - Deployment Model: Resource Manager, Location: %s, Current "
                                  "Limit: %d, Current Usage: %d, Additional Required: %d, (Minimum) New Limit "
                                  "Required: %d. Submit a request for Quota increase at https://aka.ms/"
                                  "ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView by "
                                  "specifying parameters listed in the 'Details' section for deployment to succeed."
                                  % (label, location, limit, current, need[usage], current + need[usage]))

    def allocation_failure(self, size, zones):
        """The first zone of `zones` where config allocation_failures says `size` has no capacity."""
        cfg = self.st.config.get("allocation_failures", {})
        failing = set()
        for k, v in cfg.items():
            if k == "*" or k.lower() == (size or "").lower():
                failing |= {str(z) for z in v or []}
        for z in zones or []:
            if z in failing:
                return z
        return None
