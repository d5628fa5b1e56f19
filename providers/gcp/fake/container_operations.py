"""GKE long-running operations: how one starts, counts down its polls, finishes, and is
rendered; operations.get and operations.list.

Why a module of its own: every GKE mutation in the fake is an Operation that
stays RUNNING for the configured number of polls and is applied when it
finishes (see container_model.py), and a cluster with a RUNNING operation
refuses the next mutation; this is that machinery, shared by the cluster and
node pool calls.  Used as a mixin of ContainerModel (needs self.state,
self.ops, self.clusters, check_location and legacy_path).
"""

from errors import failed_precondition, not_found
from state import is_zone, region_of


class Operation:
    """A GKE operation: RUNNING for `polls_left` more GETs, then DONE (maybe with an error)."""

    def __init__(self, name, project, location, op_type, target, polls, start, on_done=None,
                 cluster_key=None):
        self.name = name
        self.project = project
        self.location = location
        self.type = op_type
        self.target = target              # "clusters/C" or "clusters/C/nodePools/P"
        self.polls_left = polls
        self.start = start
        self.end = None
        self.status = "RUNNING"
        self.on_done = on_done
        self.cluster_key = cluster_key
        self.error = None                 # google.rpc.Status dict
        self.status_message = None
        self.conditions = None


class ContainerOperations:
    """Operation plumbing and operations.* calls (mixin of ContainerModel)."""

    def ensure_idle(self, c):
        op = self.ops.get((c["project"], c["location"], c["op"])) if c["op"] else None
        if op is not None and op.status == "RUNNING":
            raise failed_precondition("Cluster is running incompatible operation %s." % op.name)

    def start_op(self, c, op_type, target, on_done):
        st = self.state
        name = "operation-%d-%s" % (st.ms(), st.hex(8))
        op = Operation(name, c["project"], c["location"], op_type, target, st.polls,
                       st.rfc3339(), on_done, (c["project"], c["location"], c["name"]))
        self.ops[(c["project"], c["location"], name)] = op
        c["op"] = name
        return op

    def advance(self, op):
        """One GET of a RUNNING operation: count down, finish when the polls are used up."""
        if op.status != "RUNNING":
            return
        if op.polls_left > 0:
            op.polls_left -= 1
            return
        self.finish(op)

    def finish(self, op):
        op.status = "DONE"
        op.end = self.state.rfc3339()
        if op.on_done:
            op.on_done(op)
        c = self.clusters.get(op.cluster_key)
        if c is not None and c["op"] == op.name:
            c["op"] = None

    def render_op(self, op):
        st = self.state
        kind = "zones" if is_zone(op.location) else "locations"
        base = "https://container.googleapis.com/v1/projects/%s/%s/%s" % (
            st.project_number(op.project), kind, op.location)
        out = {
            "name": op.name,
            "zone": op.location,
            "operationType": op.type,
            "status": op.status,
            "selfLink": base + "/operations/" + op.name,
            "targetLink": base + "/" + op.target,
            "startTime": op.start,
        }
        if not is_zone(op.location):
            out["location"] = op.location
        if op.end:
            out["endTime"] = op.end
        if op.error:
            out["error"] = op.error
        if op.status_message:
            out["statusMessage"] = op.status_message
        if op.conditions:
            out["nodepoolConditions"] = op.conditions
        return out

    # ------------------------------------------------------------------ operations
    def op_get(self, pp, query, body):
        project, location, name = pp["projectsId"], pp["locationsId"], pp["operationsId"]
        op = self.ops.get((project, location, name))
        if op is None and location == "-":
            op = next((o for (p, _, n), o in self.ops.items() if p == project and n == name), None)
        if op is None:
            raise not_found("Not found: %s." % self.legacy_path(project, location, "operations", name))
        self.advance(op)
        return 200, self.render_op(op)

    def op_list(self, pp, query, body):
        project, location = pp["projectsId"], pp["locationsId"]
        self.check_location(project, location, allow_wildcard=True)
        out = [self.render_op(o) for (p, loc, _), o in self.ops.items()
               if p == project and (location == "-" or loc == location or
                                    (not is_zone(location) and region_of(loc) == location))]
        return 200, ({"operations": out} if out else {})
