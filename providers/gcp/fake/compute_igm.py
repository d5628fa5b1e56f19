"""Compute Engine v1 instanceGroupManagers.get: the zonal managed instance
groups behind GKE node pools.

Why: GKE keeps ``NodePool.initialNodeCount`` at its create-time value; the
live size of a pool is the ``targetSize`` of the instance group managers its
``instanceGroupUrls`` name, one per zone (Terraform's google_container_node_pool
reads its node_count that way).  The fake keeps no instance groups of its own:
an IGM is derived from the pool that owns it, so it appears with the pool,
follows setSize and /_fake/resize (the pool's per-zone count), and is gone
(404) once the pool or its cluster is deleted.  Used as a mixin of
ComputeModel (needs self.state, self.container and self.link).
"""

import base64
import hashlib

from errors import not_found


class InstanceGroupManagers:
    """compute.instanceGroupManagers.get (mixin of ComputeModel)."""

    def instanceGroupManagers_get(self, pp, query, body):
        project, zone, name = pp["project"], pp["zone"], pp["instanceGroupManager"]
        found = self.container.find_igm(project, zone, name) if self.container else None
        if found is None:
            raise not_found("The resource 'projects/%s/zones/%s/instanceGroupManagers/%s' was not found"
                            % (project, zone, name))
        _, pool = found
        size = pool["count"]
        base = name[:-len("-grp")] if name.endswith("-grp") else name
        digest = hashlib.sha256(("%s/%s/%s" % (project, zone, name)).encode()).digest()
        return 200, {
            "kind": "compute#instanceGroupManager",
            # Stable for the life of the pool: derived from its (unique) name and zone.
            "id": str(10 ** 18 + int.from_bytes(digest[:8], "big") % (9 * 10 ** 18)),
            "creationTimestamp": pool["created"],
            "name": name,
            "zone": self.link(project, "zones", zone),
            "selfLink": self.link(project, "zones", zone, "instanceGroupManagers", name),
            "baseInstanceName": base,
            "instanceGroup": self.link(project, "zones", zone, "instanceGroups", name),
            "instanceTemplate": self.link(project, "global", "instanceTemplates", base),
            "targetSize": size,
            "status": {"isStable": True},
            # Changes with the size, as compute's fingerprint changes with every update; `format:
            # byte` is base64url in discovery documents (the SDK decodes it so).
            "fingerprint": base64.urlsafe_b64encode(hashlib.md5(("%s/%d" % (name, size)).encode())
                                            .digest()[:8]).decode(),
        }
