"""The az CLI against the fake (run by test_fake.py; skipped when ``az`` is not installed).

Why: a second client, written by Microsoft, that must be able to talk to the
fake.  ``az rest`` sends any ARM request to any URL; with
``--skip-authorization-header`` it needs no login, so the test passes the
fake's bearer token itself.  (az was not installed where this was written, so
this test has not been run there.)
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from test_harness import SUB, TOKEN, FakeTest

AZ = shutil.which("az")


@unittest.skipIf(AZ is None, "the az CLI is not installed")
class AzCliTests(FakeTest):
    def az_rest(self, method, path, body=None):
        env = dict(os.environ, AZURE_CONFIG_DIR=tempfile.mkdtemp(prefix="fake-azure-az-"),
                   AZURE_CORE_COLLECT_TELEMETRY="false", AZURE_CORE_ONLY_SHOW_ERRORS="true")
        cmd = [AZ, "rest", "--method", method, "--url", self.f.base + path, "--skip-authorization-header",
               "--headers", "Authorization=Bearer " + TOKEN]
        if body is not None:
            cmd += ["--body", json.dumps(body)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout) if out.stdout.strip() else None

    def test_resource_group_round_trip(self):
        path = "/subscriptions/%s/resourcegroups/%s?api-version=2025-04-01" % (SUB, self.rg)
        made = self.az_rest("put", path, {"location": "eastus", "tags": {"hoist": "az"}})
        self.assertEqual(made["properties"]["provisioningState"], "Succeeded")
        got = self.az_rest("get", path)
        self.assertEqual(got["tags"], {"hoist": "az"})
