"""ARM's error bodies: ``{"error": {"code", "message", "target"?, "details"?}}``.

Why one shape: every Azure resource provider answers errors in the ARM common
shape (common-types ``ErrorResponse``; network's and storage's ``CloudError``
and resources' ``CloudError`` have the same wire form), and the Rust SDK
(azure_core) reads ``error.code`` and ``error.message`` from it.  What differs
between the RPs is the code vocabulary; the codes used here are the ones real
ARM / AKS / network / storage send (see README.md for the list and SOURCES.md
for which wordings are approximate).
"""


class ArmError(Exception):
    """An error answer.

    http: HTTP status; code/message/target: the ``error`` object; details: a
    list of ``{"code","message"}``; headers: extra response headers (e.g.
    Retry-After); problem: when set, the answer is also recorded as a problem
    (the client sent something the specs refuse, or the fake cannot model it).
    """

    def __init__(self, http, code, message, target=None, details=None, headers=None, problem=None):
        super().__init__(message)
        self.http = http
        self.code = code
        self.message = message
        self.target = target
        self.details = details
        self.headers = headers or {}
        self.problem = problem

    def body(self):
        err = {"code": self.code, "message": self.message}
        if self.target:
            err["target"] = self.target
        if self.details:
            err["details"] = self.details
        return {"error": err}


def bad_request(code, message, target=None):
    return ArmError(400, code, message, target=target)


def invalid_parameter(message, target=None):
    """AKS's code for a value its validation refuses."""
    return ArmError(400, "InvalidParameter", message, target=target)


def conflict(code, message):
    return ArmError(409, code, message)


def resource_not_found(rtype, name, rg):
    """ARM's 404 for a resource that does not exist (type like Microsoft.Network/virtualNetworks)."""
    return ArmError(404, "ResourceNotFound",
                    "The Resource '%s/%s' under resource group '%s' was not found. For more details "
                    "please go to https://aka.ms/ARMResourceNotFoundFix" % (rtype, name, rg))


def parent_not_found(rtype, name, rg):
    return ArmError(404, "ParentResourceNotFound",
                    "Can not perform requested operation on nested resource. Parent resource '%s' "
                    "not found." % name, target="%s/%s in %s" % (rtype, name, rg))


def group_not_found(rg):
    return ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)


def fault(http, retry_after=None):
    """An injected transient failure (config "faults"), as ARM answers it."""
    headers = {}
    if retry_after is not None or http == 429:
        headers["Retry-After"] = str(retry_after if retry_after is not None else 1)
    if http == 429:
        return ArmError(429, "TooManyRequests",
                        "The request is being throttled as the limit has been reached for operation type "
                        "- Write_ObservationWindow_00:01:00. For more information, see "
                        "https://aka.ms/srpthrottlinglimits", headers=headers)
    if http == 503:
        return ArmError(503, "ServiceUnavailable",
                        "The service is currently unavailable. Please retry the request later.", headers=headers)
    if http == 500:
        return ArmError(500, "InternalServerError",
                        "An error has occurred. Please retry the request later.", headers=headers)
    if http == 502:
        return ArmError(502, "BadGateway", "The gateway did not receive a response in time.", headers=headers)
    if http == 504:
        return ArmError(504, "GatewayTimeout", "The gateway did not receive a response within the "
                        "specified time period.", headers=headers)
    return ArmError(http, "InjectedFault", "Injected fault %d." % http, headers=headers)
