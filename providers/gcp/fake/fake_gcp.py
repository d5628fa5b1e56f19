#!/usr/bin/env python3
"""fake_gcp: a loopback stand-in for GKE (container v1), Compute Engine v1 and Cloud Storage JSON v1.

Why: hoist's end-to-end tests run the real hoist binary (Google's Rust SDK
for container and compute, plain HTTP for storage) and the real gcloud CLI
against something that behaves like Google Cloud -- long-running operations
that must be polled, stockouts, quotas, throttling, Google's error shapes --
and that checks every request against Google's discovery documents, so a
request Google would refuse fails the test here too.

Start:
    python3 providers/gcp/fake/fake_gcp.py [--project P] [--port N] [--verbose] [--exit-with-stdin]

It binds 127.0.0.1 (a free port unless --port), prints the port number alone
on the first stdout line, flushes, and serves until killed.  Point clients at
it with, for example:

    CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER=http://127.0.0.1:PORT/
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=http://127.0.0.1:PORT/compute/v1/
    CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE=http://127.0.0.1:PORT/storage/v1/

and the Rust SDK clients with ``with_endpoint("http://127.0.0.1:PORT")``.

Control API (JSON, not validated against discovery):
    GET  /_fake/requests           every API request: method, path, query, call, status,
                                   problems, authorization, body
    GET  /_fake/problems           every problem (invalid request, unknown call, bad response)
    GET  /_fake/config             the current configuration
    POST /_fake/config             merge a partial configuration (see state.DEFAULT_CONFIG)
    POST /_fake/resize             {"project","location","cluster","pool","nodeCount"}
    GET  /_fake/resources?label=k=v  resources labelled k=v (compute: description contains k=v)
    POST /_fake/reset              forget everything ({"records_only": true}: only requests/problems)

See README.md for details and SOURCES.md for where the discovery documents
and recorded exchanges come from.
"""

import argparse
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from server import make_server  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Loopback fake of GKE, Compute Engine and Cloud Storage.")
    ap.add_argument("--project", default="fake-project",
                    help="default project for control calls that name none")
    ap.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--exit-with-stdin", action="store_true",
                    help="exit when stdin reaches end of file (start with a piped stdin so the fake "
                         "dies with a test process that forgot to kill it)")
    args = ap.parse_args()
    srv = make_server("127.0.0.1", args.port, args.project, args.verbose)
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
