"""Shared state of one fake_gcp server: configuration, the request log, problems, ids.

Why one object: the three service models, the HTTP layer and the control API
all need the same configuration (polls, stockouts, quotas, faults, kube
endpoint, zones) and the same journal of requests and problems, and every
handler runs under the one lock held here, so the models can stay simple
single-threaded code even though the server is a ThreadingHTTPServer.
"""

import copy
import datetime
import hashlib
import random
import re
import threading

DEFAULT_CONFIG = {
    # How many GETs of a RUNNING operation answer RUNNING before one answers
    # DONE (0: the first GET answers DONE).  compute's .../wait finishes at once.
    "polls": 2,
    # machine type (or "*") -> zones where node pool creation stocks out.
    "stockouts": {},
    # "GCE_STOCKOUT" or "ZONE_RESOURCE_POOL_EXHAUSTED": the wording of a stockout.
    "stockout_reason": "GCE_STOCKOUT",
    # region -> quota metric -> {"limit": n, "usage": n}; merged over defaults.
    "quotas": {},
    # [{"call": discovery method id or "*", "status": 429|500|503, "times": n}]
    "faults": [],
    # What every cluster reports as endpoint and masterAuth.clusterCaCertificate.
    "kube": {"endpoint": None, "ca": None},
    # region -> zones (default: <region>-a,-b,-c,-f for us-central1, -a,-b,-c otherwise).
    "zones": {},
    # "auto": enums as numbers when the request has $alt=json;enum-encoding=int
    # (as Google does); "string": always names.
    "enum_encoding": "auto",
    # Answer 401 UNAUTHENTICATED to requests without an Authorization header.
    "require_auth": False,
    # GKE keeps NodePool.initialNodeCount at its create-time value and the live
    # size is in the instance groups (compute.instanceGroupManagers.get,
    # targetSize), so false is GKE's behaviour.  true: initialNodeCount shows
    # the current per-zone size, for a test that wants the older fake's view.
    "initial_node_count_tracks_size": False,
}

REGION_RE = re.compile(r"^[a-z]+-[a-z]+\d+$")
ZONE_RE = re.compile(r"^([a-z]+-[a-z]+\d+)-([a-z])$")

KNOWN_REGIONS = ["us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1",
                 "us-west4", "europe-west1", "europe-west4", "asia-northeast1", "asia-southeast1"]


def deep_merge(base, patch):
    """Merge patch into base: dicts recursively, anything else replaced; null removes."""
    for k, v in patch.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


class FakeState:
    def __init__(self, default_project="fake-project"):
        self.lock = threading.RLock()
        self.default_project = default_project
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        self.records = []
        self.problems = []
        self.rng = random.Random()
        self.counter = 0

    # -- configuration -----------------------------------------------------
    def configure(self, patch):
        deep_merge(self.config, patch)
        for k, v in DEFAULT_CONFIG.items():
            if k not in self.config:
                self.config[k] = copy.deepcopy(v)
        return self.config

    @property
    def polls(self):
        return int(self.config.get("polls", 2))

    def zones_for(self, region):
        z = self.config.get("zones", {}).get(region)
        if z:
            return list(z)
        letters = "abcf" if region == "us-central1" else "abc"
        return ["%s-%s" % (region, c) for c in letters]

    def regions(self):
        return sorted(set(KNOWN_REGIONS) | set(self.config.get("zones", {})))

    def take_fault(self, call):
        """The HTTP status of an injected fault for this call, or None."""
        for f in self.config.get("faults", []):
            if f.get("call") in (call, "*") and int(f.get("times", 1)) > 0:
                f["times"] = int(f.get("times", 1)) - 1
                return int(f.get("status", 503))
        return None

    # -- journal -----------------------------------------------------------
    def problem(self, call, method, path, message):
        self.problems.append({"call": call, "method": method, "path": path, "problem": message})

    # -- ids and times -----------------------------------------------------
    def project_number(self, project):
        """A stable fake 12-digit project number per project id."""
        if project.isdigit():
            return project
        h = int(hashlib.sha256(project.encode()).hexdigest(), 16)
        return str(100000000000 + h % 900000000000)

    def uint64_id(self):
        return str(self.rng.randrange(10 ** 18, 10 ** 19))

    def hex(self, n=8):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def next_counter(self):
        self.counter += 1
        return self.counter

    @staticmethod
    def now():
        return datetime.datetime.now(datetime.timezone.utc)

    def rfc3339(self, t=None):
        """Container/storage style: 2024-04-01T12:34:56.123456Z."""
        t = t or self.now()
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def compute_time(self, t=None):
        """Compute style: local Pacific time with milliseconds, 2024-04-01T05:34:56.123-07:00."""
        t = (t or self.now()).astimezone(datetime.timezone(datetime.timedelta(hours=-7)))
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d-07:00" % (t.microsecond // 1000)

    def ms(self):
        return int(self.now().timestamp() * 1000)


def region_of(location):
    """us-central1-a -> us-central1; us-central1 -> us-central1; else None."""
    m = ZONE_RE.match(location)
    if m:
        return m.group(1)
    if REGION_RE.match(location):
        return location
    return None


def is_zone(location):
    return bool(ZONE_RE.match(location))


LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def label_problems(labels, what="label"):
    """Google's rules for resource labels (lowercase letters, digits, _ and -, 63 chars)."""
    out = []
    if len(labels) > 64:
        out.append("at most 64 %ss are allowed, got %d" % (what, len(labels)))
    for k, v in labels.items():
        if not LABEL_KEY.match(k):
            out.append("invalid %s key %r: must start with a lowercase letter and contain only "
                       "lowercase letters, digits, '_' and '-' (at most 63)" % (what, k))
        if not isinstance(v, str) or not LABEL_VALUE.match(v):
            out.append("invalid %s value %r for key %r: only lowercase letters, digits, '_' and '-' "
                       "(at most 63)" % (what, v, k))
    return out
