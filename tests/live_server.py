"""A real HTTP server around a test's Flask app (werkzeug, in a thread).

The app shares the test's runtime and database, so tests can look at the tables
while a simulator or a browser talks HTTP to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
from werkzeug.serving import make_server


@contextmanager
def serving(rt: Any, make_app: Any) -> Iterator[str]:
    """Serve ``make_app()`` on a free port; ``rt.settings.base_url`` points at it."""
    server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    base_url = f"http://127.0.0.1:{server.server_port}"
    rt.settings = attrs.evolve(rt.settings, base_url=base_url)
    server.app = make_app()
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)
