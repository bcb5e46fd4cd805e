"""A job kind made from a function, for tests that need a handler of their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs


@attrs.frozen
class FnKind:
    name: str
    fn: Callable[[Any, Any, Any], None]

    def run(self, rt: Any, session: Any, job: Any) -> None:
        self.fn(rt, session, job)
