#!/usr/bin/env python3
"""fake_azure: a loopback stand-in for Azure Resource Manager (resource groups,
virtual networks and subnets, AKS managed clusters and agent pools, storage
accounts and blob containers, compute SKUs and usages).

Why: hoist's end-to-end tests run the real hoist binary against something
that behaves like ARM -- long-running operations that must be polled,
capacity and quota failures, SKU restrictions, throttling, ARM's error shapes --
and that checks every request against Azure's REST specs, so a request ARM
would refuse fails the test here too.

Start:
    python3 providers/azure/fake/fake_azure.py [--subscription S] [--token T] [--port N]
                                               [--verbose] [--exit-with-stdin]

It binds 127.0.0.1 (a free port unless --port), prints the port number alone
on the first stdout line, flushes, and serves until killed.  Point the Azure
SDK's ARM endpoint at http://127.0.0.1:PORT and send
``Authorization: Bearer <token>`` (default token ``static-test-token``).

Control API (JSON, not validated against the specs):
    GET  /_fake/requests            every ARM request: method, path, query, operation, status,
                                    problems, authorization, body
    GET  /_fake/problems            every problem (invalid request, unknown route, bad answer)
    GET  /_fake/config              the current configuration
    POST /_fake/config              merge a partial configuration (see state.DEFAULT_CONFIG)
    POST /_fake/reset               forget everything ({"records_only": true}: only requests/problems)
    GET  /_fake/resources?tag=K=V   resources tagged K=V (without tag: everything)
    POST /_fake/resize              {"resourceGroup","cluster","pool","count"}

See README.md for details and SOURCES.md for where the specs come from.
"""

import argparse
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from server import make_server  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Loopback fake of Azure Resource Manager.")
    ap.add_argument("--subscription", default="00000000-0000-0000-0000-000000000001",
                    help="the one subscription that exists (others: 404 SubscriptionNotFound)")
    ap.add_argument("--token", default="static-test-token", help="the bearer token every request must carry")
    ap.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--exit-with-stdin", action="store_true",
                    help="exit when stdin reaches end of file (start with a piped stdin so the fake "
                         "dies with a test process that forgot to kill it)")
    args = ap.parse_args()
    srv = make_server("127.0.0.1", args.port, args.subscription, args.token, args.verbose)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    if args.exit_with_stdin:
        def watch():
            while sys.stdin.buffer.read(65536):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
