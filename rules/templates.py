"""Email subject and body templates: Jinja2 in a sandbox, forgiving about missing data.

Templates see three names: ``event`` (the enrolling event's properties),
``subscriber`` (the subscriber's attributes) and ``product`` (``event.product`` unless
the caller passes another one). Store data is incomplete more often than not, so a
missing value never breaks a send:

- a missing key, a ``null`` and any attribute of those render as ``""``;
- ``{{ event.city|default("your area") }}`` renders the fallback for missing *and*
  null values;
- arithmetic and comparisons on a missing value stay missing / false instead of
  raising (``{{ event.totalCents / 100 }}`` renders ``""`` when there is no total);
- so do filters and arithmetic on data of the wrong shape (``|first`` on a number,
  a division by zero): a blank, not a failed send.

Mapping keys win over dict methods, so ``{{ event.items }}`` is the ``items`` property,
not ``dict.items``. The sandbox blocks access to Python internals. What remains an
error raises :class:`RenderError`, so the caller can fail the message with a reason:
sandbox violations (``range(10**7)``), ordering values that cannot be ordered
(``{% if "a" > 1 %}``), calling something that is not callable. ``check_template``
reports syntax errors and unknown filters at load time (``storeflow rules check``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment


class RenderError(ValueError):
    """A template failed for a reason other than missing data."""


def _stay_blank(self: Blank, *args: Any, **kwargs: Any) -> Blank:
    return self


def _false(self: Blank, *args: Any, **kwargs: Any) -> bool:
    return False


def _zero(self: Blank) -> int:
    return 0


def _zero_float(self: Blank) -> float:
    return 0.0


class Blank(ChainableUndefined):
    """An undefined value that renders ``""`` and absorbs every operation."""

    __slots__ = ()


# Jinja's Undefined raises from these, and its type hints say they never return; a
# blank answers instead. Set after the class is made, since overriding a method that
# "never returns" with one that does is what a type checker refuses in a class body.
_ANSWERS: dict[str, Callable[..., object]] = {
    **dict.fromkeys(
        [
            "__add__",
            "__radd__",
            "__sub__",
            "__rsub__",
            "__mul__",
            "__rmul__",
            "__div__",
            "__rdiv__",
            "__truediv__",
            "__rtruediv__",
            "__floordiv__",
            "__rfloordiv__",
            "__mod__",
            "__rmod__",
            "__pos__",
            "__neg__",
            "__pow__",
            "__rpow__",
            "__call__",
        ],
        _stay_blank,
    ),
    **dict.fromkeys(("__lt__", "__le__", "__gt__", "__ge__"), _false),
    "__int__": _zero,
    "__float__": _zero_float,
}
for _name, _answer in _ANSWERS.items():
    setattr(Blank, _name, _answer)


_DATA_ERRORS = (TypeError, ValueError, AttributeError, LookupError, ArithmeticError)


def _forgiving(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that yields a blank instead of raising on data of the wrong shape."""

    @functools.wraps(function)  # keeps jinja's pass_context / pass_environment markers
    def forgiving(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except _DATA_ERRORS:
            return Blank()

    return forgiving


class _Environment(SandboxedEnvironment):
    """Mapping keys before attributes; ``null`` behaves like a missing key.

    Arithmetic and filters on data of the wrong shape give a blank, like missing data.
    """

    intercepted_binops = frozenset(["+", "-", "*", "/", "//", "%", "**"])
    intercepted_unops = frozenset(["+", "-"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _forgiving(f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        try:
            return super().call_binop(context, operator, left, right)
        except _DATA_ERRORS:
            return self.undefined(name=operator)

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        try:
            return super().call_unop(context, operator, arg)
        except _DATA_ERRORS:
            return self.undefined(name=operator)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            if attribute in obj:
                return self._present(obj[attribute], attribute)
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping):
            try:
                return self._present(obj[argument], argument)
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def _present(self, value: Any, name: Any) -> Any:
        return self.undefined(name=name) if value is None else value


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _environment(*, html: bool) -> _Environment:
    return _Environment(undefined=Blank, autoescape=html, finalize=_finalize)


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


@lru_cache(maxsize=2048)
def _compiled(source: str, html: bool) -> Template:
    return (_HTML if html else _TEXT).from_string(source)


def check_template(source: str) -> str | None:
    """A one-line description of the template's syntax error, or None."""
    try:
        _compiled(source, False)
    except TemplateSyntaxError as error:
        message = (error.message or "invalid syntax").rstrip(".")
        return f"template syntax error: {message} (template line {error.lineno})"
    except TemplateError as error:
        return f"template error: {error}"
    return None


def render(
    source: str,
    *,
    event: Mapping[str, Any] | None = None,
    subscriber: Mapping[str, Any] | None = None,
    product: Mapping[str, Any] | None = None,
    html: bool = False,
) -> str:
    """Render ``source``; ``html=True`` escapes values (email bodies that are HTML)."""
    event = event or {}
    if product is None:
        found = event.get("product")
        product = found if isinstance(found, Mapping) else {}
    try:
        template = _compiled(source, html)
        return template.render(event=event, subscriber=subscriber or {}, product=product)
    except TemplateSyntaxError as error:
        raise RenderError(f"template syntax error: {error.message}") from error
    except Exception as error:  # noqa: BLE001 - every runtime failure becomes one error type
        raise RenderError(f"template failed: {type(error).__name__}: {error}") from error
