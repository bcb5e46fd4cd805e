"""Access to the process runtime from inside a request."""

from __future__ import annotations

from flask import current_app
from storeflow.core.runtime import Runtime


def rt() -> Runtime:
    return current_app.extensions["storeflow"]
