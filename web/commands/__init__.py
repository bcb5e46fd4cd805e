"""The ``storeflow`` command's groups, one module per area; ``storeflow.web.cli`` assembles them.

What every command shares lives here: the invocation's runtime and the first-run step.
The names are private to the package (its modules import them; nothing else should).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from storeflow.core import config
from storeflow.core.runtime import Runtime

_RUNTIME = "storeflow.runtime"


def _runtime() -> Runtime:
    """The invocation's runtime: the one handed in as ``obj`` (tests, embedding), or one
    built from the environment on first use and closed when the command ends."""
    root = click.get_current_context().find_root()
    if isinstance(root.obj, Runtime):
        return root.obj
    found = root.meta.get(_RUNTIME)
    if found is None:
        found = root.meta[_RUNTIME] = Runtime.build(config.load())
        root.call_on_close(found.close)
    return found


def _prepare(settings: config.Settings) -> config.Settings:
    """The explicit first-run step: the var dir and, unless configured, the session key."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return config.ensure_secret_key(settings)


T = TypeVar("T")


def _progress(length: int, label: str, *, at_least: int = 0) -> Any:
    """A progress bar on standard error (standard output stays parseable); advance it
    with ``bar.update(n)``. Without a terminal, click prints the label alone. Below
    ``at_least`` items the work is quick and nothing is shown."""
    if length < at_least:
        return _NoProgress()
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True)


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _n: int) -> None:
        return None


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Since(click.ParamType):
    """A point in time: ISO 8601 (``2026-11-01``, ``2026-11-01T08:00:00+01:00``; UTC
    when no offset is given) or an age (``30m``, ``12h``, ``7d``, ``2w``)."""

    name = "since"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        from storeflow.core import clock

        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        match = _RELATIVE.match(text)
        if match:
            amount, unit = match.groups()
            return clock.now() - timedelta(**{_UNITS[unit]: int(amount)})
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither an ISO date/time nor an age like 7d or 12h", param, ctx)
        return when if when.tzinfo else when.replace(tzinfo=UTC)
