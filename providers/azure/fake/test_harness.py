"""The fake as the tests use it: a subprocess serving on a loopback port, a client
for it, and FakeTest, the base class of every test that talks to it.

Why a module of its own: the tests are in several modules (test_fake.py,
test_fake_aks.py, test_fake_replay.py, test_fake_az.py) and share one fake
server, which has to live in a module each of them imports -- not in
test_fake.py, which runs as ``__main__`` and would be imported a second time
under its own name.
"""

import atexit
import json
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SUB = "00000000-0000-0000-0000-000000000001"
TOKEN = "static-test-token"
API = {"resources": "2025-04-01", "network": "2025-01-01", "aks": "2026-10-01", "storage": "2025-01-01",
       "skus": "2021-07-01", "usage": "2025-04-01"}


class Fake:
    """The fake as a subprocess, the way hoist's tests start it (piped stdin, --exit-with-stdin)."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_azure.py"), "--exit-with-stdin"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.port = int(self.proc.stdout.readline().strip())
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.stdin.close()      # --exit-with-stdin: end of file ends it
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def call(self, method, path, body=None, query=None, headers=None, raw=None, auth=True):
        """(status, headers, parsed JSON body or None)."""
        url = path if path.startswith("http") else self.base + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Authorization": "Bearer " + TOKEN} if auth else {}
        if data is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text, hdrs = r.status, r.read(), dict(r.headers.items())
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read(), dict(e.headers.items())
        return status, hdrs, (json.loads(text) if text else None)

    def control(self, method, path, body=None):
        return self.call(method, "/_fake/" + path, body, auth=False)[2]


FAKE = None


def shared_fake():
    """The one fake server of the run: started on first use, stopped when the run ends."""
    global FAKE
    if FAKE is None:
        FAKE = Fake()
        atexit.register(stop_shared_fake)
    return FAKE


def stop_shared_fake():
    global FAKE
    if FAKE is not None:
        FAKE.stop()
        FAKE = None


class FakeTest(unittest.TestCase):
    expect_problems = False

    def setUp(self):
        self.f = shared_fake()
        self.f.control("POST", "reset")
        self.f.control("POST", "config", {"polls": 1})
        self.rg = "rg-" + uuid.uuid4().hex[:6]

    def tearDown(self):
        if not self.expect_problems:
            self.assertEqual(self.problems(), [], "the fake recorded problems")

    # -- helpers -----------------------------------------------------------
    def problems(self):
        return self.f.control("GET", "problems")

    def arm(self, method, path, body=None, api="resources", query=None, **kw):
        q = {"api-version": API[api]} if api else {}
        q.update(query or {})
        return self.f.call(method, "/subscriptions/%s%s" % (SUB, path), body, q, **kw)

    def rg_path(self, rg=None):
        return "/resourceGroups/%s" % (rg or self.rg)

    def make_group(self, rg=None, location="eastus", tags=None):
        body = {"location": location}
        if tags is not None:
            body["tags"] = tags
        s, _, b = self.arm("PUT", self.rg_path(rg), body)
        self.assertIn(s, (200, 201), b)
        return b

    def wait_async(self, headers, want="Succeeded"):
        """Poll an Azure-AsyncOperation URL until it is done; return the final status body."""
        url = headers["Azure-AsyncOperation"]
        for _ in range(20):
            s, h, b = self.f.call("GET", url)
            self.assertEqual(s, 200, b)
            if b["status"] != "InProgress":
                self.assertEqual(b["status"], want, b)
                return b
            self.assertEqual(h.get("Retry-After"), "1")
        self.fail("operation never finished")

    def wait_location(self, headers, final=200):
        """Poll a Location URL until it stops answering 202; return (status, body)."""
        url = headers["Location"]
        for _ in range(20):
            s, h, b = self.f.call("GET", url)
            if s != 202:
                self.assertEqual(s, final, b)
                return s, b
            self.assertEqual(h.get("Retry-After"), "1")
        self.fail("operation never finished")

    def vnet_path(self, name="vnet1", rg=None):
        return self.rg_path(rg) + "/providers/Microsoft.Network/virtualNetworks/" + name

    def make_vnet(self, name="vnet1", subnets=(("nodes", "10.1.0.0/16"),), space="10.0.0.0/8", rg=None):
        body = {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": [space]},
            "subnets": [{"name": n, "properties": {"addressPrefix": p}} for n, p in subnets]}}
        s, h, b = self.arm("PUT", self.vnet_path(name, rg), body, api="network")
        self.assertEqual(s, 201, b)
        self.wait_async(h)
        return b

    def cluster_path(self, name="c1", rg=None):
        return self.rg_path(rg) + "/providers/Microsoft.ContainerService/managedClusters/" + name

    def make_cluster(self, name="c1", pools=None, wait=True, **props):
        body = {"location": "eastus", "identity": {"type": "SystemAssigned"},
                "properties": dict({"dnsPrefix": name,
                                    "agentPoolProfiles": pools or [{"name": "system", "mode": "System", "count": 1,
                                                                    "vmSize": "Standard_D4ds_v5"}]}, **props)}
        s, h, b = self.arm("PUT", self.cluster_path(name), body, api="aks")
        self.assertEqual(s, 201, b)
        if wait:
            self.wait_async(h)
        return s, h, b

    def pool_path(self, pool, cluster="c1"):
        return self.cluster_path(cluster) + "/agentPools/" + pool

    def put_pool(self, pool, props, cluster="c1"):
        return self.arm("PUT", self.pool_path(pool, cluster), {"properties": props}, api="aks")
