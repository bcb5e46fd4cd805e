"""The runtime as a Flask extension: ``init_app`` stores it, :func:`rt` reads it."""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app

from storeflow.core.runtime import Runtime

EXTENSION = "storeflow"


def init_app(app: Flask, runtime: Runtime) -> None:
    app.extensions[EXTENSION] = runtime


def rt() -> Runtime:
    """The runtime of the app handling the current request."""
    return cast(Runtime, current_app.extensions[EXTENSION])
