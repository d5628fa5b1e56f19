"""Answers in each AWS protocol's own shape, for the moto layer (tests/aws/fake_aws.py).

An answer is a plain tuple (status line, headers, body bytes). Errors follow the protocol of the
service that is called, as the AWS SDKs parse them:

    rest-json (EKS)      x-amzn-errortype header + {"message": ...}
    json (logs, quotas)  x-amzn-errortype header + {"__type": ..., "message": ...}
    ec2                  <Response><Errors><Error><Code>..</Code><Message>..</Message>..
    query (IAM, STS, Auto Scaling, ELB)
                         <ErrorResponse><Error><Type>Sender</Type><Code>..</Code>..
"""
import json
import uuid
from http import HTTPStatus
from xml.sax.saxutils import escape

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


class AwsError(Exception):
    """An error to answer in the protocol of the service called (raised by the layer's modules)."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# The errors JSON services such as EKS answer most.
def invalid(message):
    return AwsError(400, "InvalidParameterException", message)


def invalid_request(message):
    return AwsError(400, "InvalidRequestException", message)


def not_found(message):
    return AwsError(404, "ResourceNotFoundException", message)


def in_use(message):
    return AwsError(409, "ResourceInUseException", message)


def status_line(code):
    return f"{code} {HTTPStatus(code).phrase}"


def answer(code, data, content_type, headers=()):
    """A complete answer with a correct Content-Length."""
    return status_line(code), [("Content-Type", content_type), ("Content-Length", str(len(data)))] + list(headers), data


def json_answer(code, doc, headers=()):
    return answer(code, json.dumps(doc).encode(), "application/json", headers)


def xml_answer(code, text):
    return answer(code, text.encode(), "text/xml")


def request_id():
    return str(uuid.uuid4())


def error(protocol, code, error_code, message):
    """`error_code` with `message` and HTTP status `code`, as `protocol` carries errors."""
    if protocol == "ec2":
        return xml_answer(code, "<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>".format(escape(error_code), escape(message), request_id()))
    if protocol == "query":
        kind = "Receiver" if code >= 500 else "Sender"
        return xml_answer(code, "<ErrorResponse><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>".format(kind, escape(error_code), escape(message), request_id()))
    doc = {"message": message}
    if protocol == "json":
        doc = {"__type": error_code, "message": message}
    return json_answer(code, doc, [("x-amzn-errortype", error_code), ("x-amzn-RequestId", request_id())])


def throttled(protocol):
    """The answer each protocol gives when its rate limit is exceeded (as the layer always has)."""
    if protocol == "ec2":
        xml = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>throttle</RequestID></Response>"
        return xml_answer(503, xml)
    if protocol == "query":
        xml = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>throttle</RequestId></ErrorResponse>"
        return xml_answer(400, xml)
    return json_answer(429, {"message": "Rate exceeded"}, [("x-amzn-errortype", "ThrottlingException")])


def ec2_xml(name, value):
    """`value` as an EC2 XML element: dicts become child elements, lists <item>s, bools true/false."""
    if value is None:
        return ""
    if isinstance(value, dict):
        inner = "".join(ec2_xml(k, v) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(ec2_xml("item", v) for v in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def ec2_answer(action, fields):
    """The 200 answer to EC2 `action`: <ActionResponse xmlns=...><requestId/>fields..."""
    body = "".join(ec2_xml(k, v) for k, v in fields.items())
    return xml_answer(200, f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}"><requestId>{request_id()}</requestId>{body}</{action}Response>')
