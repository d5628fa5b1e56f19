#!/usr/bin/env python3
"""Trim Azure's REST specs (swagger 2.0) down to what fake_azure serves.

Why: the fake validates every request and response against Azure's own specs,
but the full files are large (the AKS one is 440 KB) and the fake must not read
/work/shared at run time.  This script keeps only the operations the fake
implements (``KEEP``), the definitions and parameters those operations reach
(transitively through ``$ref``, across files, with the mapping of
``specs.map_ref``), drops prose (string-valued ``description`` keys; properties
*named* ``description`` are schemas and stay) and ``x-ms-examples``, and writes
the result to ``specs/<same file name>``.  Everything else (types, formats,
enums, ``x-ms-enum``, ``readOnly``, ``pattern``, ``required``, ``default``,
``x-ms-long-running-operation(-options)``, response headers) is verbatim.

It also copies the stored examples byte for byte to ``specs/examples/<folder>/``
(the replay tests read them there) and prints the sha256 of every input, for
SOURCES.md.

``specs/fake-operations.json`` and ``specs/fake-substitutes.json`` are the
fake's own, written by hand; this script only checks that every reference that
maps to a substitute exists there.

Usage:
    python3 trim_specs.py [/work/shared/cloud-api/azure] [--out DIR]
"""

import argparse
import hashlib
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from specs import SUBSTITUTES, SUPPORT_FILES, map_ref, pointer  # noqa: E402

KEEP = {
    "resources-2025-04-01.json": [
        "ResourceGroups_CreateOrUpdate", "ResourceGroups_Get", "ResourceGroups_Delete",
        "ResourceGroups_List", "ResourceGroups_Update"],
    "network-virtualNetwork-2025-01-01.json": [
        "VirtualNetworks_CreateOrUpdate", "VirtualNetworks_Get", "VirtualNetworks_Delete",
        "VirtualNetworks_List", "VirtualNetworks_UpdateTags",
        "Subnets_CreateOrUpdate", "Subnets_Get", "Subnets_Delete"],
    "aks-stable-2026-10-01-managedClusters.json": [
        "ManagedClusters_CreateOrUpdate", "ManagedClusters_Get", "ManagedClusters_Delete",
        "ManagedClusters_ListClusterUserCredentials", "ManagedClusters_ListByResourceGroup",
        "AgentPools_CreateOrUpdate", "AgentPools_Get", "AgentPools_Delete", "AgentPools_List"],
    "storage-2025-01-01.json": [
        "StorageAccounts_Create", "StorageAccounts_GetProperties", "StorageAccounts_Delete",
        "StorageAccounts_Update", "StorageAccounts_ListByResourceGroup",
        "StorageAccounts_CheckNameAvailability"],
    "storage-blob-2025-01-01.json": ["BlobContainers_Create", "BlobContainers_Get", "BlobContainers_Delete"],
    "compute-skus-2021-07-01.json": ["ResourceSkus_List"],
    "compute-common-2025-04-01.json": ["Usage_List"],
}
OWN_FILES = ["fake-operations.json", SUBSTITUTES]
EXAMPLE_DIRS = ["examples", "examples-2026-08-01", "examples-compute", "examples-network",
                "examples-resources", "examples-storage"]
TOP_KEYS = ["swagger", "info", "host", "schemes", "basePath", "consumes", "produces"]


def strip(node):
    """A copy without prose and examples."""
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items()
                if not (k == "description" and isinstance(v, str)) and k != "x-ms-examples"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs_in(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            elif k != "x-ms-examples":
                yield from refs_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs_in(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", nargs="?", default="/work/shared/cloud-api/azure")
    ap.add_argument("--out", default=os.path.join(HERE, "specs"))
    args = ap.parse_args()
    full = {}
    for f in list(KEEP) + [f for f in SUPPORT_FILES if f not in OWN_FILES]:
        with open(os.path.join(args.source, f), encoding="utf-8") as fh:
            full[f] = json.load(fh)
    for f in OWN_FILES:
        with open(os.path.join(args.out, f), encoding="utf-8") as fh:
            full[f] = json.load(fh)

    kept_paths = {f: {} for f in full}
    todo = []
    for f, ids in KEEP.items():
        found = set()
        for template, item in full[f]["paths"].items():
            for method, op in item.items():
                if method != "parameters" and op.get("operationId") in ids:
                    kept_paths[f].setdefault(template, {})[method] = op
                    if "parameters" in item:
                        kept_paths[f][template]["parameters"] = item["parameters"]
                    todo.append((f, op))
                    todo.append((f, item.get("parameters", [])))
                    found.add(op["operationId"])
        missing = set(ids) - found
        if missing:
            sys.exit("%s: operations not found: %s" % (f, sorted(missing)))
    for f in OWN_FILES:
        todo.append((f, full[f]))

    reached = {f: set() for f in full}
    unresolved = []
    while todo:
        f, node = todo.pop()
        for ref in refs_in(node):
            target, frag = map_ref(f, ref)
            if target not in full:
                unresolved.append((f, ref))
                continue
            try:
                sub = pointer(full[target], frag)
            except (KeyError, TypeError):
                unresolved.append((f, ref))
                continue
            parts = [p for p in frag.split("/") if p]
            if len(parts) != 2:
                unresolved.append((f, ref))
                continue
            if (parts[0], parts[1]) not in reached[target]:
                reached[target].add((parts[0], parts[1]))
                todo.append((target, sub))
    if unresolved:
        for f, ref in sorted(set(unresolved)):
            print("unresolved: %s -> %s" % (f, ref), file=sys.stderr)
        sys.exit(1)

    os.makedirs(args.out, exist_ok=True)
    for f in full:
        if f in OWN_FILES:
            continue
        src = full[f]
        out = {k: strip(src[k]) for k in TOP_KEYS if k in src}
        out["info"] = {k: v for k, v in src.get("info", {}).items() if k in ("title", "version")}
        if kept_paths[f]:
            out["paths"] = strip(kept_paths[f])
        for section in ("definitions", "parameters"):
            names = sorted(n for s, n in reached[f] if s == section)
            if names:
                out[section] = {n: strip(src[section][n]) for n in names}
        text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
        with open(os.path.join(args.out, f), "w", encoding="utf-8") as fh:
            fh.write(text)
        nd = len(out.get("definitions", {}))
        print("%-48s %7d -> %6d bytes, %d operations, %d definitions, %d parameters" % (
            f, os.path.getsize(os.path.join(args.source, f)), len(text.encode()),
            sum(len([m for m in v if m != "parameters"]) for v in kept_paths[f].values()),
            nd, len(out.get("parameters", {}))))

    for d in EXAMPLE_DIRS:
        src_dir = os.path.join(args.source, d)
        dst_dir = os.path.join(args.out, "examples", d)
        os.makedirs(dst_dir, exist_ok=True)
        for name in sorted(os.listdir(src_dir)):
            shutil.copyfile(os.path.join(src_dir, name), os.path.join(dst_dir, name))

    print("\nsha256 of the inputs:")
    inputs = list(KEEP) + [f for f in SUPPORT_FILES if f not in OWN_FILES]
    inputs += ["%s/%s" % (d, n) for d in EXAMPLE_DIRS for n in sorted(os.listdir(os.path.join(args.source, d)))]
    for f in inputs:
        with open(os.path.join(args.source, f), "rb") as fh:
            print("%s  %s" % (hashlib.sha256(fh.read()).hexdigest(), f))


if __name__ == "__main__":
    main()
