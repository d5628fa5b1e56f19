#!/usr/bin/env python3
"""Derive hoist's compact accelerator catalogs from the public raw data.

    python3 catalog/derive.py catalog/raw catalog/data

Input: aws.csv, gcp.csv, azure.csv, gcp_n1_host_vms.csv (see that folder's README).
Output: one CSV per cloud (aws, gcp, azure, sim) with one row per instance type and region:

    instance_type,accelerator,count,gpu_memory_gib,vcpus,memory_gib,region,zones,price,spot_price

- zones: space-separated zone names (GCP, sim) or zone IDs (AWS); empty where unknown (Azure).
- price: on-demand USD/hour for the whole node, host included.
- spot_price: the highest spot price among the region's zones (a conservative estimate:
  spot prices differ by zone); empty where none is published.
- GCP attachable GPUs (no instance type) are priced on an N1 host with 8 vCPUs per GPU
  (n1-standard-8/16/32/64 for 1/2/4/8 GPUs), in the zones where both are offered.
- sim: the simulated cloud's catalog, with real GPU types at the median per-GPU price of
  the three clouds, in sim regions (some GPUs only in some regions, like a real cloud).
- gcp-tpu.csv: how each TPU slice of the GCP rows is made on GKE (one row per slice name):
  slice,generation,chips,chips_per_host,hosts,machine_type,topology,gke_accelerator
  from Google's published rules (cloud.google.com/kubernetes-engine/docs/concepts/tpus, "Plan
  TPUs in GKE"): v4 and v5p names count TensorCores (2 per chip), v5e (v5litepod) and v6e names
  count chips; single-host slices are one VM with all the chips (v5e/v6e 1, 4 or 8 chips, v4/v5p 4
  chips), multi-host slices are 4-chip VMs in a 2D (v5e/v6e) or 3D (v4/v5p) topology. Slice
  sizes GKE offers no topology for (v2, v3, odd v4/v5p sizes) are left out: GKE cannot make them.
Rows without an on-demand price (a few in the source) are dropped.
Only the standard library is used; the output is sorted so reruns are byte-identical.
"""
import csv
import os
import statistics
import sys
from collections import defaultdict

FIELDS = ["instance_type", "accelerator", "count", "gpu_memory_gib", "vcpus", "memory_gib", "region", "zones", "price", "spot_price"]


def num(text):
    return float(text) if text not in ("", None) else None


def fmt(x, digits=5):
    if x is None:
        return ""
    s = f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return s or "0"


def read(path):
    """Rows of a raw file; offerings without an on-demand price cannot be priced and are dropped."""
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("price_usd_hour", "x") != ""]


def group(rows, key):
    """Merge rows of one instance type and region: zones joined, spot the highest."""
    out = {}
    for r in rows:
        k = key(r)
        g = out.get(k)
        zone = r.get("zone") or ""
        spot = num(r.get("spot_price_usd_hour"))
        if g is None:
            out[k] = g = dict(r, zones=set(), spots=[])
        if zone:
            g["zones"].add(zone)
        if spot is not None:
            g["spots"].append(spot)
    return out.values()


def row(instance_type, acc, count, gpu_mem, vcpus, mem, region, zones, price, spots):
    return {
        "instance_type": instance_type,
        "accelerator": acc,
        "count": fmt(count, 3),
        "gpu_memory_gib": fmt(gpu_mem, 1),
        "vcpus": fmt(vcpus, 1),
        "memory_gib": fmt(mem, 1),
        "region": region,
        "zones": " ".join(sorted(zones)),
        "price": fmt(price),
        "spot_price": fmt(max(spots) if spots else None),
    }


def hosted(rows):
    """AWS and Azure rows (and GCP rows with a machine type) already price the whole node."""
    out = []
    for g in group(rows, lambda r: (r["instance_type"], r["accelerator_name"], r["region"])):
        out.append(row(g["instance_type"], g["accelerator_name"], num(g["accelerator_count"]), num(g["gpu_memory_gib"]),
                       num(g["vcpus"]), num(g["memory_gib"]), g["region"], g["zones"], num(g["price_usd_hour"]), g["spots"]))
    return out


def gcp(rows, hosts):
    out = hosted([r for r in rows if r["instance_type"] or r["accelerator_name"].startswith("tpu-")])
    for r in out:
        if not r["instance_type"]:
            r["instance_type"] = r["accelerator"]  # a TPU slice is its own node type
    host_by_zone = {(h["instance_type"], h["zone"]): h for h in hosts}
    attach = defaultdict(list)
    for r in rows:
        if not r["instance_type"] and not r["accelerator_name"].startswith("tpu-"):
            attach[(r["accelerator_name"], r["accelerator_count"], r["region"])].append(r)
    for (acc, count, region), zone_rows in attach.items():
        n = float(count)
        host_type = f"n1-standard-{min(96, int(8 * n))}"
        zones, prices, spots = set(), [], []
        for r in zone_rows:
            h = host_by_zone.get((host_type, r["zone"]))
            if h is None:
                continue
            zones.add(r["zone"])
            prices.append(num(r["price_usd_hour"]) + num(h["price_usd_hour"]))
            if r["spot_price_usd_hour"] and h["spot_price_usd_hour"]:
                spots.append(num(r["spot_price_usd_hour"]) + num(h["spot_price_usd_hour"]))
        if zones:
            h = host_by_zone[(host_type, sorted(zones)[0])]
            out.append(row(host_type, acc, n, num(zone_rows[0]["gpu_memory_gib"]), num(h["vcpus"]), num(h["memory_gib"]),
                           region, zones, max(prices), spots))
    return out


SIM_REGIONS = {"sim-east1": "abc", "sim-west1": "ab", "sim-central1": "abcd"}
# Which sim regions offer each GPU (all when absent): scarce parts are not everywhere.
SIM_ONLY = {"H200": ["sim-central1"], "B200": ["sim-central1"], "H100": ["sim-east1", "sim-central1"]}
# Zones of a region that offer a GPU, where not all do.
SIM_ZONES = {("H100", "sim-east1"): "ab"}
SIM_GPUS = ["A100", "A100-80GB", "H100", "H200", "B200", "L4", "L40S", "A10G", "T4", "V100"]


def sim(all_rows):
    per_gpu = defaultdict(list)
    spot_ratio = defaultdict(list)
    mem = {}
    for r in all_rows:
        acc, count, price = r["accelerator"], num(r["count"]), num(r["price"])
        if acc in SIM_GPUS and count and count >= 1 and price:
            per_gpu[acc].append(price / count)
            if r["spot_price"]:
                spot_ratio[acc].append(num(r["spot_price"]) / price)
            if r["gpu_memory_gib"]:
                mem[acc] = num(r["gpu_memory_gib"])
    out = []
    for acc in SIM_GPUS:
        unit = statistics.median(per_gpu[acc])
        ratio = statistics.median(spot_ratio[acc]) if spot_ratio[acc] else 0.35
        for count in (1, 2, 4, 8):
            for region, zones in SIM_REGIONS.items():
                if region not in SIM_ONLY.get(acc, SIM_REGIONS):
                    continue
                price = round(unit * count, 4)
                offered = SIM_ZONES.get((acc, region), zones)
                out.append(row(f"sim-{acc.lower()}-x{count}", acc, count, mem.get(acc), 12 * count, 96 * count, region,
                               [f"{region}-{z}" for z in offered], price, [round(price * ratio, 4)]))
    for region, zones in SIM_REGIONS.items():
        for vcpus in (4, 16):
            out.append(row(f"sim-standard-{vcpus}", "", 0, None, vcpus, 4 * vcpus, region,
                           [f"{region}-{z}" for z in zones], 0.048 * vcpus, [0.0145 * vcpus]))
    return out


# Per TPU generation on GKE: the name's unit (chips or TensorCores per unit), the single-host
# machine types by chip count, the multi-host machine type, its GKE node label value, and
# whether topologies are 2D or 3D.
TPU_GENERATIONS = {
    "v4": {"cores": 2, "single": {4: "ct4p-hightpu-4t"}, "multi": "ct4p-hightpu-4t",
           "label": "tpu-v4-podslice", "dims": 3},
    "v5p": {"cores": 2, "single": {4: "ct5p-hightpu-4t"}, "multi": "ct5p-hightpu-4t",
            "label": "tpu-v5p-slice", "dims": 3},
    "v5litepod": {"cores": 1, "single": {1: "ct5lp-hightpu-1t", 4: "ct5lp-hightpu-4t", 8: "ct5lp-hightpu-8t"},
                  "multi": "ct5lp-hightpu-4t", "label": "tpu-v5-lite-podslice", "dims": 2},
    "v6e": {"cores": 1, "single": {1: "ct6e-standard-1t", 4: "ct6e-standard-4t", 8: "ct6e-standard-8t"},
            "multi": "ct6e-standard-4t", "label": "tpu-v6e-slice", "dims": 2},
}
# The topologies GKE documents, by chip count (2D for v5e and v6e, 3D for v4 and v5p).
TOPOLOGIES = {
    2: {1: "1x1", 4: "2x2", 8: "2x4", 16: "4x4", 32: "4x8", 64: "8x8", 128: "8x16", 256: "16x16"},
    3: {4: "2x2x1", 8: "2x2x2", 16: "2x2x4", 32: "2x4x4", 64: "4x4x4", 128: "4x4x8", 256: "4x8x8",
        512: "8x8x8", 1024: "8x8x16", 2048: "8x16x16", 4096: "16x16x16"},
}


def tpu_slices(gcp_rows):
    out = []
    names = sorted({r["accelerator"] for r in gcp_rows if r["accelerator"].startswith("tpu-")})
    for name in names:
        gen, _, size = name[len("tpu-"):].rpartition("-")
        g = TPU_GENERATIONS.get(gen)
        if g is None or not size.isdigit() or int(size) % g["cores"]:
            continue
        chips = int(size) // g["cores"]
        topology = TOPOLOGIES[g["dims"]].get(chips)
        if topology is None:
            continue
        if chips in g["single"]:
            machine, per_host = g["single"][chips], chips
        elif chips % 4 == 0 and chips > 4:
            machine, per_host = g["multi"], 4
        else:
            continue
        out.append({"slice": name, "generation": gen, "chips": str(chips), "chips_per_host": str(per_host),
                    "hosts": str(chips // per_host), "machine_type": machine, "topology": topology,
                    "gke_accelerator": g["label"]})
    return out


TPU_FIELDS = ["slice", "generation", "chips", "chips_per_host", "hosts", "machine_type", "topology", "gke_accelerator"]


def write_tpus(rows, path):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=TPU_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def write(rows, path):
    rows.sort(key=lambda r: (r["accelerator"], float(r["count"] or 0), r["region"], r["instance_type"]))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    aws = hosted(read(os.path.join(src, "aws.csv")))
    azure = hosted(read(os.path.join(src, "azure.csv")))
    gcp_rows = gcp(read(os.path.join(src, "gcp.csv")), read(os.path.join(src, "gcp_n1_host_vms.csv")))
    for name, rows in (("aws", aws), ("gcp", gcp_rows), ("azure", azure), ("sim", sim(aws + gcp_rows + azure))):
        write(rows, os.path.join(dst, f"{name}.csv"))
        print(f"{name}: {len(rows)} offerings")
    slices = tpu_slices(gcp_rows)
    write_tpus(slices, os.path.join(dst, "gcp-tpu.csv"))
    print(f"gcp-tpu: {len(slices)} TPU slices GKE can make")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
