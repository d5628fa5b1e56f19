#!/usr/bin/env python3
"""Trim Google's discovery documents down to what fake_gcp serves.

Why: the fake validates every request and response against Google's own
discovery documents, but the full documents are large (compute v1 is 4 MB)
and the fake must not read /work/shared at run time.  This script keeps only
the methods the fake implements and the schemas those methods reach
(transitively through ``$ref``), drops prose (``description`` strings and
``enumDescriptions``) and writes the result to ``discovery/<name>.<version>.json``.

It also writes two things that are not in Google's documents, each recorded in
SOURCES.md:

* ``Quota.metric`` in compute gets the enum values listed in
  ``QUOTA_METRIC_ADDITIONS`` (the stored compute document is revision
  20230620, older than the Rust SDK; newer revisions of the API report these
  metrics).  The added names are also listed under ``x-fakeAddedEnum``.
* For container, every ``enum`` gets ``x-fakeEnumNumbers``: the protobuf
  numbers of its values.  The Rust SDK sends ``$alt=json;enum-encoding=int``
  and writes enums as their proto numbers, which are *not* the position in the
  discovery ``enum`` list when the proto has gaps (for example
  ``UpgradeSettings.strategy``: BLUE_GREEN = 2, SURGE = 3, but positions 1 and
  2).  Discovery documents do not carry the numbers, so they are read from the
  SDK's generated ``model.rs`` (``--container-sdk-model``; by default the
  google-cloud-container-v1 crate in ~/.cargo/registry).  Without it the fake
  falls back to positions.

Also written: ``discovery/unimplemented.json``, the id, HTTP method and path of
every method that was dropped, so the fake can answer 501 (and name the call)
instead of a bare 404 when a client uses an API method the fake does not model.

Usage:
    python3 trim_discovery.py /work/shared/cloud-api/gcp/container.v1.discovery.json \
        /work/shared/cloud-api/gcp/compute.v1.discovery.json \
        /work/shared/cloud-api/gcp/storage.v1.discovery.json \
        [--container-sdk-model PATH/model.rs] [--out DIR]
"""

import argparse
import glob
import json
import os
import re
import sys

# The methods fake_gcp implements, per discovery document name.
KEEP_METHODS = {
    "container": [
        "container.projects.locations.clusters.create",
        "container.projects.locations.clusters.get",
        "container.projects.locations.clusters.list",
        "container.projects.locations.clusters.delete",
        "container.projects.locations.clusters.update",
        "container.projects.locations.clusters.setResourceLabels",
        "container.projects.locations.clusters.nodePools.create",
        "container.projects.locations.clusters.nodePools.get",
        "container.projects.locations.clusters.nodePools.list",
        "container.projects.locations.clusters.nodePools.delete",
        "container.projects.locations.clusters.nodePools.setSize",
        "container.projects.locations.clusters.nodePools.setAutoscaling",
        "container.projects.locations.clusters.nodePools.update",
        "container.projects.locations.operations.get",
        "container.projects.locations.operations.list",
    ],
    "compute": [
        "compute.networks.insert",
        "compute.networks.get",
        "compute.networks.list",
        "compute.networks.delete",
        "compute.subnetworks.insert",
        "compute.subnetworks.get",
        "compute.subnetworks.list",
        "compute.subnetworks.delete",
        "compute.subnetworks.aggregatedList",
        "compute.routers.insert",
        "compute.routers.get",
        "compute.routers.list",
        "compute.routers.delete",
        "compute.routers.aggregatedList",
        "compute.regions.get",
        "compute.regions.list",
        "compute.globalOperations.get",
        "compute.globalOperations.wait",
        "compute.regionOperations.get",
        "compute.regionOperations.wait",
        # GKE's node pools are zonal managed instance groups; their targetSize
        # is a pool's live size per zone (what Terraform reads).
        "compute.instanceGroupManagers.get",
    ],
    "storage": [
        "storage.buckets.insert",
        "storage.buckets.get",
        "storage.buckets.list",
        "storage.buckets.delete",
        "storage.buckets.patch",
        "storage.buckets.getIamPolicy",
        "storage.buckets.setIamPolicy",
        "storage.objects.list",
        "storage.objects.get",
        "storage.objects.delete",
        "storage.objects.insert",
    ],
}

# Quota.metric values reported by newer revisions of the compute API than the
# stored 20230620 document.  Names the document already has are skipped.
# The first group is what hoist's brief asked for; the second group is what
# google-cloud-compute-v1 4.1.0 (model.rs, quota::Metric) knows and the stored
# document does not.  The main engineer checks these names against the SDK.
QUOTA_METRIC_ADDITIONS = [
    # requested for GPU/TPU capacity checks
    "NVIDIA_H100_GPUS",
    "PREEMPTIBLE_NVIDIA_H100_GPUS",
    "NVIDIA_H100_MEGA_GPUS",
    "PREEMPTIBLE_NVIDIA_H100_MEGA_GPUS",
    "NVIDIA_L4_GPUS",
    "TPU_LITE_PODSLICE_V5",
    "PREEMPTIBLE_TPU_LITE_PODSLICE_V5",
    "TPU_LITE_DEVICE_V5",
    "PREEMPTIBLE_TPU_LITE_DEVICE_V5",
    "TPU_PODSLICE_V4",
    "PREEMPTIBLE_TPU_PODSLICE_V4",
    "TPU_V5P",
    "PREEMPTIBLE_TPU_V5P",
    "TPU_V6E",
    "PREEMPTIBLE_TPU_V6E",
    # in google-cloud-compute-v1 4.1.0's quota::Metric, not in revision 20230620
    "COMMITTED_NVIDIA_H100_GPUS",
    "COMMITTED_Z3_CPUS",
    "HDB_TOTAL_GB",
    "HDB_TOTAL_IOPS",
    "HDB_TOTAL_THROUGHPUT",
    "SSL_POLICIES",
]

# Top-level keys of a discovery document that the fake (or a reader) needs.
TOP_LEVEL_KEEP = [
    "kind", "discoveryVersion", "id", "name", "version", "revision", "title",
    "canonicalName", "ownerDomain", "ownerName", "protocol", "rootUrl",
    "mtlsRootUrl", "servicePath", "basePath", "baseUrl", "batchPath",
    "parameters", "schemas", "resources",
]


def strip_prose(node):
    """Drop description strings and enumDescriptions, keep everything else.

    A *property* called "description" (Network.description) is a dict, so it
    survives: only string-valued "description" keys are prose.
    """
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "description" and isinstance(v, str):
                continue
            if k == "enumDescriptions":
                continue
            out[k] = strip_prose(v)
        return out
    if isinstance(node, list):
        return [strip_prose(v) for v in node]
    return node


def refs_in(node, acc):
    """Collect every $ref name below node."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            acc.add(node["$ref"])
        for v in node.values():
            refs_in(v, acc)
    elif isinstance(node, list):
        for v in node:
            refs_in(v, acc)
    return acc


def walk_methods(resources, prefix=()):
    """Yield (resource path tuple, method name, method) for every method."""
    for rname, res in resources.items():
        path = prefix + (rname,)
        for mname, m in res.get("methods", {}).items():
            yield path, mname, m
        yield from walk_methods(res.get("resources", {}), path)


def trim(doc, keep_ids):
    """Return (trimmed doc, list of dropped methods)."""
    kept = {}
    dropped = []
    found = set()
    for path, mname, m in walk_methods(doc["resources"]):
        if m["id"] in keep_ids:
            kept.setdefault(path, {})[mname] = m
            found.add(m["id"])
        else:
            entry = {"id": m["id"], "httpMethod": m["httpMethod"],
                     "path": m.get("flatPath") or m["path"]}
            dropped.append(entry)
            mu = m.get("mediaUpload", {}).get("protocols", {})
            for proto in mu.values():
                dropped.append({"id": m["id"], "httpMethod": m["httpMethod"],
                                "path": proto["path"], "absolute": True})
    missing = set(keep_ids) - found
    if missing:
        sys.exit("methods not in %s: %s" % (doc["name"], sorted(missing)))

    # Rebuild the resource tree with only the kept methods.
    resources = {}
    for path, methods in kept.items():
        node = {"resources": resources}
        for part in path:
            node = node.setdefault("resources", {}).setdefault(part, {})
        node["methods"] = methods
    # Remove empty "resources" keys created on the way.
    def clean(res):
        for r in res.values():
            if "resources" in r:
                if r["resources"]:
                    clean(r["resources"])
                else:
                    del r["resources"]
    clean(resources)

    # Schemas reached from the kept methods, transitively.
    schemas = doc["schemas"]
    want = refs_in(resources, set())
    seen = set()
    while want:
        name = want.pop()
        if name in seen:
            continue
        seen.add(name)
        refs_in(schemas[name], want)
    out = {k: doc[k] for k in TOP_LEVEL_KEEP if k in doc and k not in ("schemas", "resources")}
    out["schemas"] = {k: schemas[k] for k in sorted(seen)}
    out["resources"] = resources
    return strip_prose(out), dropped


# ---------------------------------------------------------------------------
# Proto enum numbers from the Rust SDK (container only).

def sdk_enums(model_rs):
    """Parse google-cloud-container-v1's model.rs into name->number dicts.

    Each generated enum has an ``impl std::convert::From<&str> for X`` mapping
    wire names to variants and an ``impl serde::ser::Serialize for X`` that
    writes ``serializer.serialize_i32(N)`` per variant.
    """
    src = open(model_rs, encoding="utf-8").read()
    enums = []
    for m in re.finditer(r"\n( *)impl std::convert::From<&str> for (\w+) \{(.*?)\n\1\}\n", src, re.S):
        name, body = m.group(2), m.group(3)
        strs = {var: wire for wire, var in re.findall(r'"([A-Za-z0-9_]+)" => Self::(\w+)', body)}
        start = src.find("impl serde::ser::Serialize for %s {" % name, m.end())
        if start < 0:
            continue
        ser = src[start:start + 20000]
        ser = ser[:ser.find("UnknownValue")]
        nums = dict(re.findall(r"Self::(\w+) => serializer\.serialize_i32\((-?\d+)\)", ser))
        d = {strs[v]: int(nums[v]) for v in strs if v in nums}
        if d:
            enums.append(d)
    return enums


# google.rpc.Code (google/rpc/code.proto): discovery lists it alphabetically by
# number except UNAUTHENTICATED (16), so positions are wrong for it.
RPC_CODE_NUMBERS = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5, "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9,
    "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13,
    "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}


def annotate_enum_numbers(doc, enums):
    """Add x-fakeEnumNumbers next to every enum the SDK can number.

    A discovery enum is matched to the SDK enums sharing the most names with
    it (at least all but two of them, and at least two).  A value gets the
    number every such SDK enum agrees on; a value the SDK does not know (the
    discovery revision is newer than the SDK) gets null, and the fake then
    accepts no integer for it and answers it by name.
    """
    enums = enums + [RPC_CODE_NUMBERS]
    stats = {"annotated": 0, "partial": [], "gapped": [], "unmatched": []}

    def visit(node, where):
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list) and node.get("type") == "string":
                names = node["enum"]
                scored = [(sum(n in e for n in names), i) for i, e in enumerate(enums)]
                best = max(scored)[0] if scored else 0
                cands = [enums[i] for sc, i in scored if sc == best]
                if best >= 2 and best >= len(names) - 2:
                    nums = []
                    for n in names:
                        vals = {e.get(n) for e in cands}
                        nums.append(vals.pop() if len(vals) == 1 else None)
                    node["x-fakeEnumNumbers"] = nums
                    stats["annotated"] += 1
                    if None in nums:
                        stats["partial"].append(where)
                    elif nums != list(range(len(names))):
                        stats["gapped"].append(where)
                else:
                    stats["unmatched"].append(where)
            for k, v in node.items():
                visit(v, where + "." + k if where else k)
        elif isinstance(node, list):
            for v in node:
                visit(v, where)

    visit(doc["schemas"], "")
    return stats


def default_sdk_model():
    pats = glob.glob(os.path.expanduser(
        "~/.cargo/registry/src/*/google-cloud-container-v1-*/src/model.rs"))
    return sorted(pats)[-1] if pats else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("docs", nargs="+", help="discovery documents (container, compute, storage)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "discovery"))
    ap.add_argument("--container-sdk-model", default=None,
                    help="google-cloud-container-v1 src/model.rs for proto enum numbers")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    unimplemented = {}
    for path in args.docs:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        name = doc["name"]
        if name not in KEEP_METHODS:
            sys.exit("no method list for discovery document %r" % name)
        trimmed, dropped = trim(doc, KEEP_METHODS[name])
        notes = []
        if name == "compute":
            metric = trimmed["schemas"]["Quota"]["properties"]["metric"]
            added = [m for m in QUOTA_METRIC_ADDITIONS if m not in metric["enum"]]
            metric["enum"] = metric["enum"] + added
            metric["x-fakeAddedEnum"] = added
            notes.append("Quota.metric: added %d enum values" % len(added))
        if name == "container":
            model = args.container_sdk_model or default_sdk_model()
            if model and os.path.exists(model):
                stats = annotate_enum_numbers(trimmed, sdk_enums(model))
                notes.append("enum numbers from %s: %d annotated; differ from positions: %s; "
                             "values unknown to the SDK (null): %s; unmatched (positions): %s" % (
                                 model, stats["annotated"], ", ".join(stats["gapped"]) or "-",
                                 ", ".join(stats["partial"]) or "-",
                                 ", ".join(stats["unmatched"]) or "-"))
            else:
                notes.append("WARNING: no google-cloud-container-v1 model.rs found; "
                             "integer enums are checked against positions")
        out_path = os.path.join(args.out, "%s.%s.json" % (name, doc["version"]))
        with open(out_path, "w", encoding="utf-8") as f:
            json.dump(trimmed, f, indent=1, sort_keys=True)
            f.write("\n")
        unimplemented[name] = sorted(dropped, key=lambda d: (d["path"], d["httpMethod"]))
        print("%s: revision %s, %d methods, %d schemas -> %s (%d bytes)" % (
            name, doc.get("revision"), len(KEEP_METHODS[name]), len(trimmed["schemas"]),
            out_path, os.path.getsize(out_path)))
        for n in notes:
            print("  " + n)
    # One [httpMethod, path, id, absolute?] per line: small and diff-friendly.
    with open(os.path.join(args.out, "unimplemented.json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        for i, name in enumerate(sorted(unimplemented)):
            rows = [[d["httpMethod"], d["path"], d["id"]] + ([True] if d.get("absolute") else [])
                    for d in unimplemented[name]]
            f.write(' "%s": [\n' % name)
            f.write(",\n".join("  " + json.dumps(r, separators=(",", ":")) for r in rows))
            f.write("\n ]%s\n" % ("," if i < len(unimplemented) - 1 else ""))
        f.write("}\n")


if __name__ == "__main__":
    main()
