"""Cloud Storage JSON API v1 model: buckets, bucket IAM policies and (simple) objects.

Why: hoist keeps state or artifacts in a bucket it creates with uniform
bucket-level access and public access prevention, labels it, grants service
accounts on it and must empty it before deleting it.  The behaviour that
matters is GCS's: bucket names are global (another project's bucket is a
409), a bucket with objects cannot be deleted (409 "The bucket you tried to
delete is not empty."), IAM policies are read-modify-write with an etag,
public members are refused under enforced public access prevention, and
PATCH merges labels (a null value removes one).  Objects exist so a test can
put one in (simple media upload) and the client has to list and delete it.

Errors carry no ``status`` field, as GCS sends them.
"""

import base64
import copy
import datetime
import hashlib
import re
from urllib.parse import quote

from errors import ApiError, not_found
from state import REGION_RE, label_problems

MULTI_REGIONS = {"US", "EU", "ASIA"}
DUAL_REGIONS = {"NAM4", "EUR4", "ASIA1", "EUR5", "EUR7", "EUR8"}
STORAGE_CLASSES = {"STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE", "MULTI_REGIONAL", "REGIONAL",
                   "DURABLE_REDUCED_AVAILABILITY"}
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
MEMBER = re.compile(r"^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|projectOwner|"
                    r"projectEditor|projectViewer|deleted:user|deleted:serviceAccount|deleted:group):.+|"
                    r"principal://.+|principalSet://.+)$")
SOFT_DELETE_DEFAULT = 604800


def gcs_error(http, message, reason):
    return ApiError(http, message, reason=reason)


def precondition_failed():
    return ApiError(412, "Precondition Failed", reason="conditionNotMet")


def etag_for(n):
    """GCS-style etag: base64 of a proto varint field 1 (b'\\x08' + varint n), e.g. CAE= for 1."""
    out = bytearray(b"\x08")
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    return base64.b64encode(bytes(out)).decode()


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return (c ^ 0xFFFFFFFF).to_bytes(4, "big")


class StorageModel:
    def __init__(self, state):
        self.state = state
        self.buckets = {}      # name -> {"project", "api", "objects", "policy", "policy_n"}

    def handle(self, mid, pp, query, body, raw=None, headers=None):
        coll, verb = mid.split(".")[1:]
        return getattr(self, "%s_%s" % (coll, verb))(pp, query, body if body is not None else {}, raw, headers)

    # ------------------------------------------------------------------ helpers
    def q(self, query, name, default=None):
        return query.get(name, [default])[0]

    def page(self, query, default_size):
        token = self.q(query, "pageToken", "0") or "0"
        if not token.isdigit():
            raise gcs_error(400, "Invalid argument: pageToken %r." % token, "invalid")
        return int(token), int(self.q(query, "maxResults", str(default_size)) or default_size)

    def bucket(self, name):
        b = self.buckets.get(name)
        if b is None:
            raise not_found("The specified bucket does not exist.")
        return b

    def check_meta_preconditions(self, query, metageneration):
        m = self.q(query, "ifMetagenerationMatch")
        if m is not None and int(m) != metageneration:
            raise precondition_failed()
        m = self.q(query, "ifMetagenerationNotMatch")
        if m is not None and int(m) == metageneration:
            raise precondition_failed()

    def render_bucket(self, b, projection):
        out = copy.deepcopy(b["api"])
        num = out["projectNumber"]
        if projection == "full":
            if not out["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"]:
                out["acl"] = [self.bucket_acl(out["name"], num, team, role)
                              for team, role in (("owners", "OWNER"), ("editors", "OWNER"), ("viewers", "READER"))]
                out["defaultObjectAcl"] = [
                    {"kind": "storage#objectAccessControl", "entity": "project-%s-%s" % (team, num),
                     "role": role, "etag": "CAE=", "projectTeam": {"projectNumber": num, "team": team}}
                    for team, role in (("owners", "OWNER"), ("editors", "OWNER"), ("viewers", "READER"))]
            out["owner"] = {"entity": "project-owners-%s" % num}
        return out

    def bucket_acl(self, bucket, num, team, role):
        entity = "project-%s-%s" % (team, num)
        return {"kind": "storage#bucketAccessControl", "id": "%s/%s" % (bucket, entity),
                "selfLink": "https://www.googleapis.com/storage/v1/b/%s/acl/%s" % (bucket, entity),
                "bucket": bucket, "entity": entity, "role": role, "etag": "CAE",
                "projectTeam": {"projectNumber": num, "team": team}}

    def location_type(self, loc):
        if loc in MULTI_REGIONS:
            return "multi-region"
        if loc in DUAL_REGIONS:
            return "dual-region"
        return "region"

    def apply_iam_config(self, api, iam, now):
        """iamConfiguration; uniform access can be turned off again for 90 days (lockedTime)."""
        cur = api.setdefault("iamConfiguration", {
            "bucketPolicyOnly": {"enabled": False}, "uniformBucketLevelAccess": {"enabled": False},
            "publicAccessPrevention": "inherited"})
        ubla = (iam.get("uniformBucketLevelAccess") or iam.get("bucketPolicyOnly") or {})
        if "enabled" in ubla and not (ubla["enabled"] and cur["uniformBucketLevelAccess"]["enabled"]):
            enabled = bool(ubla["enabled"])
            val = {"enabled": enabled}
            if enabled:
                locked = now + datetime.timedelta(days=90)
                val["lockedTime"] = self.state.rfc3339(locked)
            cur["uniformBucketLevelAccess"] = dict(val)
            cur["bucketPolicyOnly"] = dict(val)
        pap = iam.get("publicAccessPrevention")
        if pap is not None:
            if pap == "unspecified":
                pap = "inherited"
            if pap not in ("enforced", "inherited"):
                raise gcs_error(400, "Invalid argument: publicAccessPrevention must be 'enforced' or "
                                "'inherited'.", "invalid")
            cur["publicAccessPrevention"] = pap

    def apply_soft_delete(self, api, sdp):
        secs = int(sdp.get("retentionDurationSeconds", SOFT_DELETE_DEFAULT))
        if secs != 0 and not 7 * 86400 <= secs <= 90 * 86400:
            raise gcs_error(400, "Soft delete retention duration must be 0 or between 7 and 90 days.", "invalid")
        out = {"retentionDurationSeconds": str(secs)}
        if secs:
            out["effectiveTime"] = self.state.rfc3339()
        api["softDeletePolicy"] = out

    # ------------------------------------------------------------------ buckets
    def buckets_insert(self, pp, query, body, raw, headers):
        st = self.state
        project = self.q(query, "project")
        name = body.get("name", "")
        if not name:
            raise gcs_error(400, "Required", "required")
        if (not BUCKET_NAME.match(name) or ".." in name or name.startswith("goog") or "google" in name
                or re.match(r"^\d+\.\d+\.\d+\.\d+$", name)):
            raise gcs_error(400, "Invalid bucket name: '%s'" % name, "invalid")
        if name in self.buckets:
            if self.buckets[name]["project"] == project:
                raise gcs_error(409, "Your previous request to create the named bucket succeeded and you "
                                "already own it.", "conflict")
            raise gcs_error(409, "The requested bucket name is not available. The bucket namespace is shared "
                            "by all users of the system. Please select a different name and try again.",
                            "conflict")
        loc = (body.get("location") or "US").upper()
        if not (loc in MULTI_REGIONS or loc in DUAL_REGIONS or REGION_RE.match(loc.lower())):
            raise gcs_error(400, "The specified location constraint is not valid.", "invalid")
        sc = (body.get("storageClass") or "STANDARD").upper()
        if sc not in STORAGE_CLASSES:
            raise gcs_error(400, "The specified storage class is not valid.", "invalid")
        labels = body.get("labels") or {}
        probs = label_problems({k: v for k, v in labels.items() if v is not None})
        if probs:
            raise gcs_error(400, "Invalid argument: " + "; ".join(probs), "invalid")
        now = st.now()
        num = st.project_number(project)
        api = {
            "kind": "storage#bucket",
            "id": name,
            "selfLink": "https://www.googleapis.com/storage/v1/b/" + name,
            "projectNumber": num,
            "name": name,
            "timeCreated": st.rfc3339(now),
            "updated": st.rfc3339(now),
            "metageneration": "1",
            "generation": str(int(now.timestamp() * 1e6)),
            "location": loc,
            "locationType": self.location_type(loc),
            "storageClass": sc,
            "etag": etag_for(1),
        }
        if api["locationType"] != "region":
            api["rpo"] = body.get("rpo", "DEFAULT")
        self.apply_iam_config(api, body.get("iamConfiguration") or {}, now)
        self.apply_soft_delete(api, body.get("softDeletePolicy") or {})
        if labels:
            api["labels"] = {k: v for k, v in labels.items() if v is not None}
        for k in ("versioning", "lifecycle", "cors", "website", "logging", "encryption", "retentionPolicy",
                  "autoclass", "hierarchicalNamespace", "customPlacementConfig", "billing", "defaultEventBasedHold"):
            if body.get(k) is not None:
                api[k] = copy.deepcopy(body[k])
        pdefault = "full" if self.q(query, "predefinedAcl") else "noAcl"
        self.buckets[name] = {"project": project, "api": api, "objects": {}, "policy": None, "policy_n": 1}
        return 200, self.render_bucket(self.buckets[name], self.q(query, "projection", pdefault))

    def buckets_get(self, pp, query, body, raw, headers):
        b = self.bucket(pp["bucket"])
        self.check_meta_preconditions(query, int(b["api"]["metageneration"]))
        return 200, self.render_bucket(b, self.q(query, "projection", "noAcl"))

    def buckets_list(self, pp, query, body, raw, headers):
        project = self.q(query, "project")
        prefix = self.q(query, "prefix", "")
        items = [self.render_bucket(b, self.q(query, "projection", "noAcl"))
                 for n, b in sorted(self.buckets.items())
                 if b["project"] in (project, self.state.project_number(project)) and n.startswith(prefix)]
        start, size = self.page(query, 1000)
        out = {"kind": "storage#buckets"}
        if items[start:start + size]:
            out["items"] = items[start:start + size]
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return 200, out

    def buckets_delete(self, pp, query, body, raw, headers):
        b = self.bucket(pp["bucket"])
        self.check_meta_preconditions(query, int(b["api"]["metageneration"]))
        if b["objects"]:
            raise gcs_error(409, "The bucket you tried to delete is not empty.", "conflict")
        del self.buckets[pp["bucket"]]
        return 204, None

    def buckets_patch(self, pp, query, body, raw, headers):
        b = self.bucket(pp["bucket"])
        api = b["api"]
        self.check_meta_preconditions(query, int(api["metageneration"]))
        for k in ("name", "id", "projectNumber", "location", "locationType", "timeCreated", "kind",
                  "selfLink", "metageneration", "etag", "generation"):
            if k in body and body[k] is not None and body[k] != api.get(k):
                if k == "location":
                    raise gcs_error(400, "Changing a bucket's location is not supported.", "invalid")
        if "labels" in body:
            if body["labels"] is None:
                api.pop("labels", None)
            else:
                merged = dict(api.get("labels", {}))
                for k, v in body["labels"].items():
                    if v is None:
                        merged.pop(k, None)
                    else:
                        merged[k] = v
                probs = label_problems(merged)
                if probs:
                    raise gcs_error(400, "Invalid argument: " + "; ".join(probs), "invalid")
                if merged:
                    api["labels"] = merged
                else:
                    api.pop("labels", None)
        if body.get("iamConfiguration") is not None:
            self.apply_iam_config(api, body["iamConfiguration"], self.state.now())
        if "softDeletePolicy" in body:
            self.apply_soft_delete(api, body["softDeletePolicy"] or {"retentionDurationSeconds": "0"})
        if "storageClass" in body and body["storageClass"]:
            api["storageClass"] = body["storageClass"].upper()
        for k in ("versioning", "lifecycle", "cors", "website", "logging", "encryption", "retentionPolicy",
                  "autoclass", "billing", "defaultEventBasedHold", "rpo"):
            if k in body:
                if body[k] is None:
                    api.pop(k, None)
                else:
                    api[k] = copy.deepcopy(body[k])
        n = int(api["metageneration"]) + 1
        api["metageneration"] = str(n)
        api["etag"] = etag_for(n)
        api["updated"] = self.state.rfc3339()
        return 200, self.render_bucket(b, self.q(query, "projection", "full"))

    # ------------------------------------------------------------------ IAM
    def default_policy(self, b):
        p = b["project"]
        return [{"role": "roles/storage.legacyBucketOwner", "members": ["projectEditor:%s" % p, "projectOwner:%s" % p]},
                {"role": "roles/storage.legacyBucketReader", "members": ["projectViewer:%s" % p]}]

    def render_policy(self, name, b):
        bindings = b["policy"] if b["policy"] is not None else self.default_policy(b)
        out = {"kind": "storage#policy", "resourceId": "projects/_/buckets/%s" % name,
               "version": b.get("policy_version", 1), "etag": etag_for(b["policy_n"])}
        if bindings:
            out["bindings"] = copy.deepcopy(bindings)
        return out

    def buckets_getIamPolicy(self, pp, query, body, raw, headers):
        b = self.bucket(pp["bucket"])
        return 200, self.render_policy(pp["bucket"], b)

    def buckets_setIamPolicy(self, pp, query, body, raw, headers):
        name = pp["bucket"]
        b = self.bucket(name)
        if body.get("etag") and body["etag"] != etag_for(b["policy_n"]):
            raise precondition_failed()
        pap = b["api"]["iamConfiguration"]["publicAccessPrevention"] == "enforced"
        bindings = []
        for i, bd in enumerate(body.get("bindings") or []):
            role = bd.get("role", "")
            if not (role.startswith("roles/") or re.match(r"^(projects|organizations)/[^/]+/roles/.+", role)):
                raise gcs_error(400, "Role (%s) does not exist in the resource's hierarchy." % role, "invalid")
            members = bd.get("members") or []
            for m in members:
                if not MEMBER.match(m):
                    raise gcs_error(400, "Invalid argument: member '%s' of role %s is not a valid principal."
                                    % (m, role), "invalid")
                if pap and m in ("allUsers", "allAuthenticatedUsers"):
                    raise gcs_error(412, "The member bindings allUsers and allAuthenticatedUsers are not "
                                    "allowed since public access prevention is enforced.", "conditionNotMet")
            if members:
                nb = {"role": role, "members": sorted(set(members))}
                if bd.get("condition"):
                    nb["condition"] = copy.deepcopy(bd["condition"])
                bindings.append(nb)
        b["policy"] = bindings
        b["policy_n"] += 1
        b["policy_version"] = int(body.get("version") or 1)
        return 200, self.render_policy(name, b)

    # ------------------------------------------------------------------ objects
    def render_object(self, bucket, o):
        return copy.deepcopy(o["api"])

    def objects_insert(self, pp, query, body, raw, headers):
        name = pp["bucket"]
        b = self.bucket(name)
        utype = self.q(query, "uploadType")
        if raw is None:
            raise gcs_error(400, "Upload requests must include an uploadType URL parameter and a URL path "
                            "beginning with /upload/", "wrongUrlForUpload")
        if utype != "media":
            raise ApiError(400, "fake_gcp models only uploadType=media, not %r." % utype, reason="invalid",
                           problem="objects.insert with uploadType=%s (not modelled by the fake)" % utype)
        oname = self.q(query, "name")
        if not oname:
            raise gcs_error(400, "Required", "required")
        existing = b["objects"].get(oname)
        g = self.q(query, "ifGenerationMatch")
        if g is not None and int(g) != (int(existing["api"]["generation"]) if existing else 0):
            raise precondition_failed()
        g = self.q(query, "ifGenerationNotMatch")
        if g is not None and int(g) == (int(existing["api"]["generation"]) if existing else 0):
            raise precondition_failed()
        st = self.state
        now = st.now()
        gen = str(int(now.timestamp() * 1e6) + st.next_counter())
        enc = quote(oname, safe="")
        api = {
            "kind": "storage#object",
            "id": "%s/%s/%s" % (name, oname, gen),
            "selfLink": "https://www.googleapis.com/storage/v1/b/%s/o/%s" % (name, enc),
            "mediaLink": "https://storage.googleapis.com/download/storage/v1/b/%s/o/%s?generation=%s&alt=media"
                         % (name, enc, gen),
            "name": oname,
            "bucket": name,
            "generation": gen,
            "metageneration": "1",
            "contentType": (headers or {}).get("Content-Type") or "application/octet-stream",
            "storageClass": b["api"]["storageClass"],
            "size": str(len(raw)),
            "md5Hash": base64.b64encode(hashlib.md5(raw).digest()).decode(),
            "crc32c": base64.b64encode(crc32c(raw)).decode(),
            "etag": base64.b64encode(hashlib.md5(gen.encode()).digest()[:8]).decode(),
            "timeCreated": st.rfc3339(now),
            "updated": st.rfc3339(now),
            "timeStorageClassUpdated": st.rfc3339(now),
            "timeFinalized": st.rfc3339(now),
        }
        b["objects"][oname] = {"api": api, "data": raw}
        return 200, api

    def object(self, b, bucket, oname):
        o = b["objects"].get(oname)
        if o is None:
            raise not_found("No such object: %s/%s" % (bucket, oname))
        return o

    def objects_get(self, pp, query, body, raw, headers):
        b = self.bucket(pp["bucket"])
        o = self.object(b, pp["bucket"], pp["object"])
        if self.q(query, "alt") == "media":
            return 200, o["data"], o["api"]["contentType"]
        return 200, self.render_object(pp["bucket"], o)

    def objects_list(self, pp, query, body, raw, headers):
        b = self.bucket(pp["bucket"])
        prefix = self.q(query, "prefix", "") or ""
        delim = self.q(query, "delimiter")
        start_off, end_off = self.q(query, "startOffset"), self.q(query, "endOffset")
        items, prefixes = [], set()
        for n in sorted(b["objects"]):
            if not n.startswith(prefix) or (start_off and n < start_off) or (end_off and n >= end_off):
                continue
            rest = n[len(prefix):]
            if delim and delim in rest:
                prefixes.add(prefix + rest[:rest.index(delim) + len(delim)])
                continue
            items.append(self.render_object(pp["bucket"], b["objects"][n]))
        start, size = self.page(query, 1000)
        out = {"kind": "storage#objects"}
        if items[start:start + size]:
            out["items"] = items[start:start + size]
        if prefixes:
            out["prefixes"] = sorted(prefixes)
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return 200, out

    def objects_delete(self, pp, query, body, raw, headers):
        b = self.bucket(pp["bucket"])
        o = self.object(b, pp["bucket"], pp["object"])
        g = self.q(query, "ifGenerationMatch")
        if g is not None and int(g) != int(o["api"]["generation"]):
            raise precondition_failed()
        del b["objects"][pp["object"]]
        return 204, None

    # ------------------------------------------------------------------ control API
    def resources(self):
        for n, b in self.buckets.items():
            yield "bucket", n, "b/" + n, b["api"].get("labels", {})
