"""Shared state of one fake_azure server: configuration, the journal, ids, clock, tag rules.

Why one object: the resource models, the HTTP layer and the control API all
need the same configuration (polls, faults, quotas, SKU restrictions,
allocation failures, kube endpoint) and the same journal of requests and
problems, and every handler runs under the one lock held here, so the models
stay simple single-threaded code although the server is a ThreadingHTTPServer.
"""

import copy
import datetime
import random
import threading
import uuid

DEFAULT_CONFIG = {
    # Polls of an operation that still answer InProgress (202 on a Location URL)
    # before one answers Succeeded/Failed (0: the first poll finishes it).
    "polls": 2,
    # [{"operation": operationId or "*", "status": 429|500|503|..., "count": n, "retry_after": s}]
    "faults": [],
    # {"<location>": {"<usage name, e.g. standardNCADSA100v4Family, cores>": {"limit": n, "current": m}}}
    "quotas": {},
    # {"<vmSize>": {"<location>": ["3", ...]}}: Zone restrictions ("*": the whole location).
    "sku_restrictions": {},
    # {"<vmSize or *>": ["1", "2"]}: agent pools in these zones fail with ZonalAllocationFailed.
    "allocation_failures": {},
    # What listClusterUserCredential's kubeconfig points at (default https://{fqdn}:443, a dummy CA).
    "kube": {"server": None, "ca_pem": None},
    # Storage account names taken by someone else (409 StorageAccountAlreadyTaken, nameAvailable false).
    "taken_storage_account_names": [],
}

# Fixed tenant of the fake's subscription (identities, AAD kubeconfigs).
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def deep_merge(base, patch):
    """Merge patch into base: dicts recursively, anything else replaced; null restores the default."""
    for k, v in patch.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


class FakeState:
    def __init__(self, subscription, token):
        self.lock = threading.RLock()
        self.subscription = subscription
        self.token = token
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        self.records = []
        self.problems = []
        self.rng = random.Random()

    def configure(self, patch):
        deep_merge(self.config, patch)
        for k, v in DEFAULT_CONFIG.items():
            if k not in self.config:
                self.config[k] = copy.deepcopy(v)
            elif isinstance(v, dict):
                for kk, vv in v.items():
                    self.config[k].setdefault(kk, copy.deepcopy(vv))
        return self.config

    @property
    def polls(self):
        return int(self.config.get("polls", 2))

    def take_fault(self, operation):
        """The injected fault for this operation, or None: (status, retry_after)."""
        for f in self.config.get("faults", []):
            if f.get("operation") in (operation, "*") and int(f.get("count", 1)) > 0:
                f["count"] = int(f.get("count", 1)) - 1
                return int(f.get("status", 503)), f.get("retry_after")
        return None

    def problem(self, operation, method, path, message):
        self.problems.append({"operation": operation, "method": method, "path": path, "problem": message})

    # -- ids and times -----------------------------------------------------
    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n=8):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def etag(self):
        return 'W/"%s"' % self.uuid()

    @staticmethod
    def now():
        return datetime.datetime.now(datetime.timezone.utc)

    def time(self, t=None):
        """ARM style: 2025-11-28T12:34:56.1234567Z."""
        t = t or self.now()
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%07dZ" % (t.microsecond * 10)


TAG_NAME_FORBIDDEN = set('<>%&\\?/')


def tag_error(tags):
    """ARM's rules for tags: (code, message) of the first violation, or None."""
    if tags is None:
        return None
    if len(tags) > 50:
        return ("InvalidTagCount", "The number of tags %d exceeds the limit of 50 tags per resource."
                % len(tags))
    for k, v in tags.items():
        if len(k) > 512:
            return ("InvalidTagNameLength", "The tag name '%s...' exceeds the maximum length of 512 "
                    "characters." % k[:32])
        bad = sorted(set(k) & TAG_NAME_FORBIDDEN)
        if bad:
            return ("InvalidTagNameCharacters", "The tag names '%s' have reserved characters '%s' or "
                    "control characters." % (k, ",".join(bad)))
        if isinstance(v, str) and len(v) > 256:
            return ("InvalidTagValueLength", "The tag value '%s...' of tag '%s' exceeds the maximum "
                    "length of 256 characters." % (v[:32], k))
    return None


class Operation:
    """One long-running operation (what an Azure-AsyncOperation / Location URL polls).

    finish: called once when the operation completes; returns None (Succeeded)
    or an error dict {"code","message"} (Failed).  result: called for a
    Location poll that completes with a body (storage account create)."""

    def __init__(self, state, rp, location, resource_id, finish, result=None):
        self.id = state.uuid()
        self.rp = rp
        self.location = location
        self.resource_id = resource_id
        self.finish = finish
        self.result = result
        self.polls_left = state.polls
        self.status = "InProgress"
        self.error = None
        self.start = state.time()
        self.end = None
        self.state = state

    def poll(self):
        """Advance by one poll; return the status after it."""
        if self.status == "InProgress":
            if self.polls_left > 0:
                self.polls_left -= 1
            else:
                err = self.finish()
                self.status = "Failed" if err else "Succeeded"
                self.error = err
                self.end = self.state.time()
        return self.status


class Req:
    def __init__(self, params, query, body, base, headers):
        self.params = params    # path parameters (decoded)
        self.query = query      # {name: value}
        self.body = body        # parsed JSON or None
        self.base = base        # http://127.0.0.1:PORT, for the URLs the fake hands out
        self.headers = headers


class Answer:
    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}
