"""Google's JSON error bodies, in the shape each service really uses.

Why: a client that handles errors well has to read them as Google sends
them, and the three services differ:

* container (GKE, behind ESF): ``{"error": {"code", "message", "errors":
  [{"message", "domain", "reason"}], "status"}}`` -- ``status`` is the
  google.rpc.Code name, and it is what the Rust SDK turns into
  ``Status.code`` (gax: ``Code::try_from(status)``).
* compute: the same but **without** ``status`` for errors raised by Compute
  itself (notFound, alreadyExists, resourceInUseByAnotherResource, ...).  The
  Rust SDK then reports ``Code::Unknown``; a client must look at the HTTP
  status (``Error::http_status_code()``) or at the ``errors[].reason`` that gax
  turns into ``ErrorInfo.reason``.  Errors produced by the front end (JSON
  that does not parse or bind, rate limits) do carry ``status``.
* storage: like compute, no ``status`` (GCS's own servers, not ESF).

The shapes come from the README of /work/shared/cloud-api (GKE 404 from KCC
golden logs) and public recorded GCS/compute errors; wordings of messages are
Google's where known and marked approximate in SOURCES.md where not.
"""

STATUS_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}

REASON_BY_STATUS = {
    "INVALID_ARGUMENT": "badRequest",
    "FAILED_PRECONDITION": "failedPrecondition",
    "NOT_FOUND": "notFound",
    "ALREADY_EXISTS": "alreadyExists",
    "RESOURCE_EXHAUSTED": "rateLimitExceeded",
    "UNAVAILABLE": "backendError",
    "UNIMPLEMENTED": "notImplemented",
    "UNAUTHENTICATED": "required",
    "PERMISSION_DENIED": "forbidden",
    "INTERNAL": "backendError",
    "ABORTED": "aborted",
}


class ApiError(Exception):
    """An error answer.

    http: HTTP status; status: google.rpc.Code name (default from http);
    reason/domain: the errors[0] entry; esf: True when Google's front end,
    not the service, produces it (then compute and storage carry ``status``
    too); details: google.rpc.Status details (list of {"@type": ...}).
    """

    def __init__(self, http, message, reason=None, status=None, domain="global",
                 esf=False, details=None, problem=None):
        super().__init__(message)
        self.http = http
        self.message = message
        self.status = status or STATUS_BY_HTTP.get(http, "UNKNOWN")
        self.reason = reason or REASON_BY_STATUS.get(self.status, "backendError")
        self.domain = domain
        self.esf = esf
        self.details = details
        # When set, the answer is also recorded as a problem (the fake cannot
        # model what was asked, or the client sent something invalid).
        self.problem = problem

    def body(self, service):
        err = {
            "code": self.http,
            "message": self.message,
            "errors": [{"message": self.message, "domain": self.domain, "reason": self.reason}],
        }
        if service == "container" or self.esf:
            err["status"] = self.status
        if self.details:
            err["details"] = self.details
        return {"error": err}


def invalid_argument(message, problem=None):
    return ApiError(400, message, reason="invalid", status="INVALID_ARGUMENT", esf=True,
                    problem=problem)


def bad_request(message, reason="badRequest"):
    """A 400 raised by the service itself (not by request validation)."""
    return ApiError(400, message, reason=reason, status="INVALID_ARGUMENT")


def failed_precondition(message, http=400):
    return ApiError(http, message, reason="failedPrecondition", status="FAILED_PRECONDITION")


def not_found(message):
    return ApiError(404, message, reason="notFound", status="NOT_FOUND")


def already_exists(message, reason="alreadyExists", http=409):
    return ApiError(http, message, reason=reason, status="ALREADY_EXISTS")


def fault(service, http, project_number, method):
    """An injected transient failure (config "faults"), as Google answers it."""
    host = {"container": "container.googleapis.com", "compute": "compute.googleapis.com",
            "storage": "storage.googleapis.com"}[service]
    if http == 429:
        if service == "storage":
            return ApiError(429, "The project exceeded the rate limit for creating and deleting buckets.",
                            reason="rateLimitExceeded", domain="usageLimits", status="RESOURCE_EXHAUSTED")
        kind = "Read requests" if method == "GET" else "Write requests"
        msg = ("Quota exceeded for quota metric '%s' and limit '%s per minute' of service '%s' "
               "for consumer 'project_number:%s'." % (kind, kind, host, project_number))
        details = [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": host,
                "consumer": "projects/%s" % project_number,
                "quota_metric": "%s/%s" % (host, kind.lower().replace(" ", "_")),
                "quota_limit": kind.title().replace(" ", "") + "PerMinutePerProject",
            },
        }]
        return ApiError(429, msg, reason="rateLimitExceeded", domain="usageLimits",
                        status="RESOURCE_EXHAUSTED", esf=True, details=details)
    if http == 503:
        msg = "Backend Error" if service == "storage" else "The service is currently unavailable."
        return ApiError(503, msg, reason="backendError", status="UNAVAILABLE", esf=service != "storage")
    if http == 500:
        return ApiError(500, "Internal error encountered.", reason="backendError", status="INTERNAL",
                        esf=service != "storage")
    return ApiError(http, "Injected fault %d." % http, esf=True)
