"""Reading a JSON request body within bounds: its size before reading, its nesting before parsing.

Python's json parser recurses once per level, so about a thousand levels (a 30 KB body) raised
RecursionError, a 500. The depth is measured first, in C-speed passes over the bytes (escapes
dropped by replace, quotes and brackets kept by translate, strings cut out by split, the running
depth by itertools).
"""
from __future__ import annotations

import json
from itertools import accumulate, count
from operator import sub

from auditapp.services.errors import DomainError, Invalid

MAX_BODY_BYTES = 16 * 1024 * 1024  # a full batch of long notes fits; the tablet halves a batch on 413
MAX_DEPTH = 16  # a push needs 6: envelope, list, mutation, payload, fields, a typed value

_OPEN_CLOSE = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')


class TooLarge(DomainError):
    status = 413


def depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings ignored)."""
    if b'\\"' in data:  # escaped backslashes, then escaped quotes, are inside strings: drop them
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = data.translate(None, _NOT_STRUCTURE)  # only quotes and brackets
    marks = b"".join(kept.split(b'"')[::2]).translate(_OPEN_CLOSE)  # outside strings: 2 per opening, 0 per closing
    return max(map(sub, accumulate(marks), count(1)), default=0)


def read_json(request, malformed: str = "sync.malformed"):
    """The request's JSON body. :raises request.too_large (413), request.too_deep / `malformed` (422)."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise _too_large()
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY_BYTES:
        raise _too_large()
    if not request.is_json:
        raise Invalid(malformed, "Send the body as JSON (Content-Type: application/json)")
    if data.count(b"[") + data.count(b"{") > MAX_DEPTH and depth(data) > MAX_DEPTH:
        raise _too_deep()
    try:
        return json.loads(data)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:  # not JSON, not UTF-8, or a number too long to convert
        raise Invalid(malformed, "The request body is not valid JSON") from None


def _too_large() -> TooLarge:
    return TooLarge("request.too_large", f"The request body is larger than {MAX_BODY_BYTES} bytes; send fewer "
                    "mutations per push", {"max_body_bytes": MAX_BODY_BYTES})


def _too_deep() -> Invalid:
    return Invalid("request.too_deep", f"The request body nests arrays and objects more than {MAX_DEPTH} deep",
                   {"max_depth": MAX_DEPTH})
