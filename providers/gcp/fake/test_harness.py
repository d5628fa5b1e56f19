"""The fake as the tests use it: a subprocess serving on a loopback port, a client
for it, and FakeTest, the base class of every test that talks to it.

Why a module of its own: the tests are in several modules (test_fake.py,
test_fake_replay.py, test_fake_gcloud.py) and share one fake server, which
has to live in a module that each of them imports -- not in test_fake.py,
which runs as ``__main__`` and would be imported a second time under its
own name.
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

SDK_ALT = {"$alt": "json;enum-encoding=int"}
AUTH = {"Authorization": "Bearer fake-token"}


class Fake:
    """The fake as a subprocess, the way hoist's tests start it."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_gcp.py"), "--project", "p-default"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.strip())
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def call(self, method, path, body=None, query=None, headers=None, raw=None):
        url = self.base + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = dict(AUTH)
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, text, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        if "json" in ctype and text:
            return status, json.loads(text)
        return status, text

    def control(self, method, path, body=None):
        return self.call(method, "/_fake/" + path, body)[1]


FAKE = None


def shared_fake():
    """The one fake server of the run: started on first use, stopped when the run ends.

    Not setUpModule/tearDownModule: unittest runs those of the module that
    defines a test class, each time the run passes from one module's classes
    to another's, so with the classes in several modules they would start and
    stop a fake several times per run."""
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
        self.project = "p-" + uuid.uuid4().hex[:8]

    def tearDown(self):
        if not self.expect_problems:
            self.assertEqual(self.f.control("GET", "problems"), [], "the fake recorded problems")

    # -- helpers -----------------------------------------------------------
    def gke(self, method, rest, body=None, loc="us-central1", query=None):
        q = dict(SDK_ALT)
        q.update(query or {})
        return self.f.call(method, "/v1/projects/%s/locations/%s%s" % (self.project, loc, rest), body, q)

    def wait_gke(self, op, loc="us-central1"):
        for _ in range(20):
            s, op = self.gke("GET", "/operations/" + op["name"], loc=loc, query={"$alt": "json"})
            self.assertEqual(s, 200, op)
            if op["status"] == "DONE":
                return op
        self.fail("operation never finished")

    def compute(self, method, rest, body=None, query=None):
        q = {"$alt": "json", "$apiVersion": "2026-09-01"}
        q.update(query or {})
        return self.f.call(method, "/compute/v1/projects/%s%s" % (self.project, rest), body, q)

    def wait_compute(self, op):
        scope = "global" if "region" not in op else "regions/" + op["region"].rsplit("/", 1)[1]
        s, done = self.compute("POST", "/%s/operations/%s/wait" % (scope, op["name"]))
        self.assertEqual((s, done["status"]), (200, "DONE"), done)
        return done

    def make_cluster(self, name="c1", loc="us-central1", pools=None, **extra):
        cl = {"name": name, "nodePools": pools or [{"name": "default-pool", "initialNodeCount": 1}]}
        cl.update(extra)
        s, op = self.gke("POST", "/clusters", {"cluster": cl}, loc=loc)
        self.assertEqual(s, 200, op)
        return self.wait_gke(op, loc)

    def problems(self):
        return self.f.control("GET", "problems")
