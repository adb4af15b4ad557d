"""Request bodies read whole, within MAX_CONTENT_LENGTH, and parsed as I-JSON (RFC 7493)."""

import json

from flask import abort, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from .errors import problem

INCOMPLETE_BODY = "The body ended before its Content-Length, or its chunked framing is broken."


def read_body() -> bytes:
    """Return the request's body, all of it, or raise 400 or 413.

    The limit is MAX_CONTENT_LENGTH bytes whatever the framing: a Content-Length or
    chunks (RFC 9112 §6).
    """
    limit = request.max_content_length
    try:
        body = request.get_data()
    except RequestEntityTooLarge:  # Werkzeug's, for a Content-Length over the limit
        raise RequestEntityTooLarge(f"The body is over the limit of {limit} bytes.") from None
    except Exception:  # each server has its own error for broken chunks or a lost client
        raise BadRequest(INCOMPLETE_BODY) from None
    if request.content_length is None:
        # Werkzeug stops reading a chunked body at the limit without an error: one that
        # reaches the limit may go on.
        if len(body) >= limit:
            raise RequestEntityTooLarge(f"A chunked body must stay under {limit} bytes.")
    elif len(body) < request.content_length:  # gunicorn passes on what came before the end
        raise BadRequest(INCOMPLETE_BODY)
    return body


def unique_names(pairs: list[tuple[str, object]]) -> dict:
    """Return a JSON object's members as a dict, or raise 400 for a name given twice."""
    members = {}
    for name, value in pairs:
        if name in members:
            raise BadRequest(f"The body gives the name {name!r} twice in one object.")
        members[name] = value
    return members


def refuse_constant(name: str):
    """Raise 400 for NaN, Infinity or -Infinity: Python's parser reads them, JSON has none."""
    raise BadRequest(f"{name} is not a JSON value.")


def read_json():
    """Return the request's body parsed as JSON, or raise 400, 413, 415 or 501.

    Three rules of I-JSON (RFC 7493) keep every parser reading the body alike: UTF-8, no
    name twice in one object (parsers differ on which one wins), no NaN or Infinity.
    """
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
    # The HTTP server only removes the chunked framing: a body in any other coding would
    # be parsed undecoded, so it is refused (RFC 9110 §15.5.16, RFC 9112 §6.1).
    if (request.content_encoding or "identity").lower() != "identity":
        detail = "This server decodes no Content-Encoding: send the body uncompressed."
        response = problem(UnsupportedMediaType(detail))
        response.headers["Accept-Encoding"] = "identity"
        abort(response)
    if request.headers.get("Transfer-Encoding", "chunked").lower() != "chunked":
        abort(501, "Send the body with no Transfer-Encoding other than chunked.")
    body = read_body()
    try:
        # utf-8-sig: a byte order mark may be ignored (RFC 8259 §8.1); no other encoding.
        text = body.decode("utf-8-sig")
        return json.loads(text, object_pairs_hook=unique_names, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:  # the parser says where: line, column, character
        raise BadRequest(f"The body is not valid JSON: {error}.") from None
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid JSON: it is not encoded as UTF-8.") from None
    except ValueError:  # Python reads no integer of over 4,300 digits (CVE-2020-10735)
        raise BadRequest("The body holds a number too long to read.") from None
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply.") from None
