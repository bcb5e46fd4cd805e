"""The one JSON parser of request bodies, webhook bodies and stored deliveries.

Strict UTF-8 (a BOM is tolerated), no ``NaN``/``Infinity``, and at most
:data:`MAX_JSON_DEPTH` levels of nesting. Everything after the parser recurses:
cattrs, the JSON columns, ``jsonify``; a document a thousand levels deep would
otherwise surface as a ``RecursionError`` in whichever of them meets it first (a 500
on a route, a dead job in a worker). Refusing it here makes it a 400 at the edge
and a failed delivery with its reason in the worker.

Providers reach it as ``storeflow.parse_json`` (core sits below every provider).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from storeflow.core.errors import BadRequest

# Legitimate bodies nest a dozen levels; Python's recursion limit is about 1000.
MAX_JSON_DEPTH = 64


def parse_json(raw: bytes | str, *, decimals: bool = False) -> Any:
    """Decode a body, or raise :class:`BadRequest` (``malformed_json``, ``json_too_deep``).

    ``decimals`` parses numbers with a fraction as ``Decimal`` (store traffic carries
    money as JSON numbers; a float would round it).
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")  # a BOM is harmless; other encodings are not JSON
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"the body is not valid UTF-8 (byte {exc.start})", code="malformed_json"
            ) from None
    else:
        text = raw
    try:
        data = json.loads(
            text,
            parse_float=Decimal if decimals else _finite_float,
            parse_constant=_reject_constant,
        )
    except RecursionError:
        data = _TOO_DEEP
    except ValueError as exc:  # JSONDecodeError, NaN, an integer beyond Python's digit limit
        raise BadRequest(f"the body is not valid JSON: {exc}", code="malformed_json") from None
    if data is _TOO_DEEP or not _within_depth(data, MAX_JSON_DEPTH):
        raise BadRequest(
            f"the body is nested deeper than {MAX_JSON_DEPTH} levels",
            code="json_too_deep",
            details=[{"path": "$", "message": f"at most {MAX_JSON_DEPTH} levels of nesting"}],
        )
    return data


_TOO_DEEP = object()


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as infinity, which no JSON can carry back
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _within_depth(value: Any, limit: int) -> bool:
    """Whether no container is nested deeper than ``limit`` (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > limit:
            return False
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return True
