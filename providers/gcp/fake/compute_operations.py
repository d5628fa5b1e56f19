"""Compute Engine v1 operations: how one starts, finishes and is rendered;
globalOperations.get/wait and regionOperations.get/wait.

Why a module of its own: every insert and delete in ComputeModel is an
operation that a client polls (``.../get``, the Rust SDK's poller) or waits
for (``.../wait``, gcloud), and the resource appears or disappears only when
it is DONE; this is that machinery, shared by networks, subnetworks and
routers.  Used as a mixin of ComputeModel (needs self.state, self.ops,
self.link and self.get_op).
"""


class ComputeOp:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class ComputeOperations:
    """Operation plumbing and {global,region}Operations.* calls (mixin of ComputeModel)."""

    def start_op(self, project, region, op_type, target_link, target_id, on_done):
        st = self.state
        name = "operation-%d-%s-%s-%s" % (st.ms(), st.hex(13), st.hex(8), st.hex(8))
        scope = "regions/%s" % region if region else "global"
        op = ComputeOp(name=name, project=project, region=region, scope=scope, type=op_type,
                       target_link=target_link, target_id=target_id, id=st.uint64_id(),
                       insert=st.compute_time(), end=None, status="RUNNING", polls_left=st.polls,
                       on_done=on_done)
        self.ops[(project, scope, name)] = op
        return op

    def finish(self, op):
        if op.status == "DONE":
            return
        op.status = "DONE"
        op.end = self.state.compute_time()
        if op.on_done:
            op.on_done(op)

    def render_op(self, op):
        out = {
            "kind": "compute#operation",
            "id": op.id,
            "name": op.name,
            "operationType": op.type,
            "targetLink": op.target_link,
            "targetId": op.target_id,
            "status": op.status,
            "user": "fake-user@%s.iam.gserviceaccount.com" % op.project,
            "progress": 100 if op.status == "DONE" else 0,
            "insertTime": op.insert,
            "startTime": op.insert,
            "selfLink": self.link(op.project, op.scope, "operations", op.name),
        }
        if op.region:
            out["region"] = self.link(op.project, "regions", op.region)
        if op.end:
            out["endTime"] = op.end
        return out

    # ------------------------------------------------------------------ operations
    def globalOperations_get(self, pp, query, body):
        op = self.get_op(pp["project"], "global", pp["operation"])
        self.advance(op)
        return 200, self.render_op(op)

    def globalOperations_wait(self, pp, query, body):
        op = self.get_op(pp["project"], "global", pp["operation"])
        self.finish(op)
        return 200, self.render_op(op)

    def regionOperations_get(self, pp, query, body):
        op = self.get_op(pp["project"], "regions/" + pp["region"], pp["operation"])
        self.advance(op)
        return 200, self.render_op(op)

    def regionOperations_wait(self, pp, query, body):
        op = self.get_op(pp["project"], "regions/" + pp["region"], pp["operation"])
        self.finish(op)
        return 200, self.render_op(op)

    def advance(self, op):
        if op.status != "RUNNING":
            return
        if op.polls_left > 0:
            op.polls_left -= 1
        else:
            self.finish(op)
