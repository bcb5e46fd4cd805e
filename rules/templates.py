"""Email subject and body templates: Jinja2 in a sandbox, forgiving about missing data,
bounded in time and size.

Templates see four names: ``event`` (the enrolling event's properties),
``subscriber`` (the subscriber's attributes), ``product`` (``event.product`` unless
the caller passes another one) and ``order`` (the event's properties with money as
money: ``order.total``, ``order.refunded``, each line item's ``price`` and ``total``,
when the event has ``totalCents`` and ``currency``). Store data is incomplete more
often than not, so a missing value never breaks a send:

- a missing key, a ``null`` and any attribute of those render as ``""``;
- ``{{ event.city|default("your area") }}`` renders the fallback for missing *and*
  null values;
- arithmetic and comparisons on a missing value stay missing / false instead of
  raising (``{{ event.totalCents / 100 }}`` renders ``""`` when there is no total);
- so do filters and arithmetic on data of the wrong shape (``|first`` on a number,
  a division by zero): a blank, not a failed send.

``{{ order.total|money }}`` renders ``47.80 EUR`` (``storeflow.core.commerce.money``:
the currency's own number of decimals, never a float); ``{{ event.totalCents|money(event.currency) }}``
does the same from minor units.

Mapping keys win over dict methods, so ``{{ event.items }}`` is the ``items`` property,
not ``dict.items``. The sandbox blocks access to Python internals and changes to
lists and dicts. What remains an error raises :class:`RenderError`, so the caller can
fail the message with a reason: sandbox violations (``range(10**7)``), ordering
values that cannot be ordered (``{% if "a" > 1 %}``), calling something that is not
callable.

**Bounds** (:class:`Limits`). One tenant's template must not stall a worker or take
its memory, so every render runs under a budget: a time limit, a limit on the size of
every value it builds and of all the text it writes (captured ``{% set %}`` blocks and
macro output included), and a limit on the output. The budget is *cooperative*: it is
checked by the sandbox's hooks (every call, attribute and item access, operator,
filter, loop iteration, concatenation and output), and the operations that can
multiply sizes (``*``, ``**``, ``center``, ``join``, ``replace``, ``indent``, format
widths, ``batch``, ``slice``) are checked *before* they allocate. A thread cannot be
killed, and a subprocess per message costs more than the render, so nothing is
interrupted from outside: a template stops itself at the next hook, which comes at
least once per loop iteration. A render over budget raises :class:`BudgetExceeded`.
Compile-time constant folding is off, so compiling (at save time) never evaluates
template code.

:func:`check_template` runs at save time (the schema, ``storeflow rules check``): syntax
errors, unknown filters, loops over constant ranges that can never finish in time, and
a trial render without data under the same budget, so what can never render within
the budget is refused with the field's path before it is stored.
"""

from __future__ import annotations

import contextvars
import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import attrs
from jinja2 import ChainableUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from storeflow.core.commerce.money import Money, MoneyError, format_minor


class RenderError(ValueError):
    """A template failed for a reason other than missing data."""


class BudgetExceeded(RenderError):
    """A template ran out of its time or size budget."""


@attrs.frozen
class Limits:
    """What one render may spend."""

    seconds: float = 1.0
    # Characters (or items) of any one value it builds, and of all the text it
    # writes in total, captured blocks and macro calls included.
    size: int = 1024 * 1024
    # Characters of the rendered text.
    output: int = 256 * 1024
    # Bits of an integer it computes (``**`` and ``*`` on numbers).
    bits: int = 4096


LIMITS = Limits()
# Templates longer than this are refused at save time (an HTML email body with inline
# CSS is well below; Gmail clips messages over 102 KB).
MAX_SOURCE = 256 * 1024
# Nested loops over constant ranges with more iterations than this are refused at
# save time without running them.
MAX_CONSTANT_ITERATIONS = 1_000_000


class _OverBudget(Exception):
    """Raised inside a render; not a data error, so no forgiving hook swallows it."""


class _Budget:
    """What a render has left; checked by every hook of the environment."""

    __slots__ = ("deadline", "limits", "written")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.written = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OverBudget(f"it ran longer than its time budget ({self.limits.seconds:g} s)")

    def allow(self, amount: int, what: str) -> None:
        """Refuse before building something of ``amount`` characters or items."""
        if amount > self.limits.size:
            raise _OverBudget(
                f"{what} would exceed the size limit ({amount:,} > {self.limits.size:,})"
            )

    def shallow(self, value: Any) -> None:
        """A cheap check of a value's own length (strings and containers)."""
        if isinstance(value, str | list | tuple | dict | set | frozenset | bytes):
            self.allow(len(value), "a value")

    def deep(self, value: Any, what: str = "a value") -> None:
        """Check the characters ``str(value)`` would take, before taking them."""
        self.allow(_weight(value, self.limits.size), what)

    def write(self, text: str) -> None:
        self.tick()
        self.written += len(text)
        if self.written > self.limits.size:
            raise _OverBudget(
                f"the text it writes would exceed the size limit ({self.limits.size:,} characters)"
            )

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for count, item in enumerate(iterable):
            if not count & 63:
                self.tick()
            yield item


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "storeflow_template_budget", default=None
)


def _weight(value: Any, limit: int) -> int:
    """About how many characters ``str(value)`` takes; counting stops past ``limit``.

    Shared references count each time (``[s, s]`` prints ``s`` twice), and the walk
    ends as soon as the total passes the limit, so it costs at most ``limit`` steps.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, Namespace):
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        else:
            total += 16
    return total


# --- checks of the operations that multiply sizes ------------------------------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


def _check_percent(budget: _Budget, template: Any) -> None:
    """``"%10000000s" % x``: widths are bounded, ``*`` widths refused."""
    if not isinstance(template, str):
        return
    for match in _PERCENT_SPEC.finditer(template):
        for part in match.groups():
            if part == "*":
                raise _OverBudget("'*' widths in % formatting are not supported in templates")
            if part:
                budget.allow(int(part), "a % format width")


def _check_format_spec(budget: _Budget, template: str) -> None:
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise _OverBudget("nested {} in a format spec are not supported in templates")
        for number in _NUMBER.findall(spec):
            budget.allow(int(number), "a format width")


def _int_arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name)


def _check_join(budget: _Budget, items: Any, separator: Any) -> None:
    if not isinstance(items, list | tuple | str | dict | set | frozenset):
        return  # a generator: its items come from something already checked
    sep = len(separator) if isinstance(separator, str) else 0
    budget.allow(sep * len(items) + _weight(items, budget.limits.size), "join")


def _check_replace(budget: _Budget, text: Any, old: Any, new: Any, count: Any) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    budget.allow(len(text) + found * max(0, len(new) - len(old)), "replace")


def _check_indent(budget: _Budget, text: Any, width: Any) -> None:
    if not isinstance(text, str):
        return
    pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    budget.allow(len(text) + (text.count("\n") + 1) * max(0, pad), "indent")


def _check_width(budget: _Budget, width: Any, what: str) -> None:
    if isinstance(width, int):
        budget.allow(width, what)


_FILTER_CHECKS: dict[str, Callable[[_Budget, tuple[Any, ...], dict[str, Any]], None]] = {
    "center": lambda b, a, k: _check_width(b, _int_arg(a, k, 1, "width"), "center"),
    "batch": lambda b, a, k: _check_width(b, _int_arg(a, k, 1, "linecount"), "batch"),
    "slice": lambda b, a, k: _check_width(b, _int_arg(a, k, 1, "slices"), "slice"),
    "indent": lambda b, a, k: _check_indent(
        b, a[0] if a else None, _int_arg(a, k, 1, "width") or 4
    ),
    "join": lambda b, a, k: _check_join(b, a[0] if a else None, _int_arg(a, k, 1, "d")),
    "replace": lambda b, a, k: _check_replace(
        b,
        a[0] if a else None,
        _int_arg(a, k, 1, "old"),
        _int_arg(a, k, 2, "new"),
        _int_arg(a, k, 3, "count"),
    ),
    "format": lambda b, a, k: _check_percent(b, a[0] if a else None),
}

_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
# Filters that never turn their value into text (they count, pick or reorder items), so
# a large list may pass through them; every other filter's value is weighed first
# (``|string``, ``|tojson``, ``|upper`` of a nested list print all of it).
_NO_TEXT_FILTERS = frozenset(
    {
        "abs",
        "attr",
        "batch",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "float",
        "groupby",
        "int",
        "items",
        "last",
        "length",
        "list",
        "map",
        "max",
        "min",
        "random",
        "reject",
        "rejectattr",
        "reverse",
        "round",
        "select",
        "selectattr",
        "slice",
        "sort",
        "sum",
        "unique",
    }
)


def _check_str_method(budget: _Budget, method: Any, args: tuple[Any, ...]) -> None:
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(method, "__name__", "")
    if name in _WIDTH_METHODS and args:
        _check_width(budget, args[0], name)
    elif name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        budget.allow(len(owner) + owner.count("\t") * max(0, size), "expandtabs")
    elif name == "join" and args:
        _check_join(budget, args[0], owner)
    elif name == "replace" and len(args) >= 2:
        _check_replace(budget, owner, args[0], args[1], args[2] if len(args) > 2 else None)


def _check_binop(budget: _Budget, operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str) and isinstance(times, int):
                budget.allow(len(seq) * max(0, times), "'*'")
            elif isinstance(seq, list | tuple) and isinstance(times, int):
                budget.allow(_weight(seq, budget.limits.size) * max(0, times), "'*'")
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(budget, left.bit_length() + right.bit_length())
    elif operator == "**" and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1:
            _check_bits(budget, right * left.bit_length())
    elif operator == "%" and isinstance(left, str):
        _check_percent(budget, left)
        budget.deep(right, "'%' formatting")


def _check_bits(budget: _Budget, bits: int) -> None:
    if bits > budget.limits.bits:
        raise _OverBudget(
            f"a number of about {bits:,} bits is over the limit ({budget.limits.bits:,})"
        )


# --- the forgiving environment ------------------------------------------------------------


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


def _bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter under the render's budget: checked before it runs, and its result after."""
    check = _FILTER_CHECKS.get(name)
    weigh = name not in _NO_TEXT_FILTERS
    # Filters marked pass_context / pass_eval_context / pass_environment get that first.
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
            if weigh and len(args) > skip:
                budget.deep(args[skip], f"the value of |{name}")
            if check is not None:
                check(budget, args[skip:], kwargs)
        result = function(*args, **kwargs)
        if budget is not None:
            budget.shallow(result)
        return result

    return bounded


def money(value: Any, currency: Any = None) -> Any:
    """``{{ order.total|money }}`` -> ``47.80 EUR``; ``{{ cents|money("EUR") }}`` from minor units."""
    if isinstance(value, Money):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(currency, str):
        code = currency.strip().upper()
        if code:
            return f"{format_minor(value, code)} {code}"
    return Blank()


def _iterate(value: Any) -> Any:
    """Every ``{% for %}`` iterates through this (see ``_Environment._parse``)."""
    budget = _BUDGET.get()
    if budget is None or isinstance(value, ChainableUndefined):
        return value
    return budget.iterate(value)


class _BoundedCode(CodeGenerator):
    """Route every output, concatenation and constant through the budget; fold nothing
    at compile time (folding would run template code while saving it)."""

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.written({super()._output_const_repr(group)})"

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.written(")
        super()._output_child_pre(node, frame, finalize)
        self.write("environment.sized(")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(")")
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            markup = "context.eval_ctx.autoescape"
        else:
            markup = "True" if frame.eval_ctx.autoescape else "False"
        self.write("environment.joined((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f"), {markup})")


class _Environment(ImmutableSandboxedEnvironment):
    """Mapping keys before attributes; ``null`` behaves like a missing key; bounded.

    Arithmetic and filters on data of the wrong shape give a blank, like missing data.
    """

    intercepted_binops = frozenset(["+", "-", "*", "/", "//", "%", "**"])
    intercepted_unops = frozenset(["+", "-"])
    code_generator_class = _BoundedCode

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.globals.pop("lipsum", None)  # builds text in Python, out of the budget's reach
        self.filters["money"] = money
        self.filters = {name: _bounded(name, _forgiving(f)) for name, f in self.filters.items()}
        self.filters["_iterate"] = _iterate

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(
                loop.iter, "_iterate", [], [], None, None, lineno=loop.iter.lineno
            )
        return tree

    # --- hooks the generated code calls ---------------------------------------------

    def written(self, text: str) -> str:
        budget = _BUDGET.get()
        if budget is not None:
            budget.write(text)
        return text

    def sized(self, value: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.deep(value, "an output value")
        return value

    def joined(self, values: tuple[Any, ...], markup: bool) -> str:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
            budget.deep(values, "a concatenation")
        return markup_join(values) if markup else str_join(values)

    # --- the sandbox's hooks ---------------------------------------------------------

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
            for arg in (*args, *kwargs.values()):
                budget.shallow(arg)
            _check_str_method(budget, obj, args)
        result = super().call(context, obj, *args, **kwargs)
        if budget is not None:
            budget.shallow(result)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            budget = _BUDGET.get()
            if budget is not None:
                _check_format_spec(budget, template)
                budget.deep((args, kwargs), "format()")
            return wrapped(*args, **kwargs)

        return checked

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
            _check_binop(budget, operator, left, right)
        try:
            result = super().call_binop(context, operator, left, right)
        except _DATA_ERRORS:
            return self.undefined(name=operator)
        if budget is not None:
            budget.shallow(result)
        return result

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        try:
            return super().call_unop(context, operator, arg)
        except _DATA_ERRORS:
            return self.undefined(name=operator)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            if attribute in obj:
                return _tick_and_check(self._present(obj[attribute], attribute))
            return self.undefined(obj=obj, name=attribute)
        return _tick_and_check(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping):
            try:
                return _tick_and_check(self._present(obj[argument], argument))
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return _tick_and_check(super().getitem(obj, argument))

    def _present(self, value: Any, name: Any) -> Any:
        return self.undefined(name=name) if value is None else value


def _tick_and_check(value: Any) -> Any:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()
        budget.shallow(value)
    return value


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _environment(*, html: bool) -> _Environment:
    return _Environment(undefined=Blank, autoescape=html, finalize=_finalize)


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


@lru_cache(maxsize=2048)
def _compiled(source: str, html: bool) -> Template:
    return (_HTML if html else _TEXT).from_string(source)


# --- save-time checks ---------------------------------------------------------------------


@lru_cache(maxsize=4096)
def check_template(source: str, html: bool = False) -> str | None:
    """A one-line description of why the template cannot be used, or None.

    Syntax errors and unknown filters; loops over constant ranges too long to ever
    finish; and what a trial render without data finds over budget.
    """
    if len(source) > MAX_SOURCE:
        return f"template too long: {len(source):,} characters (at most {MAX_SOURCE:,})"
    try:
        _compiled(source, html)
    except TemplateSyntaxError as error:
        message = (error.message or "invalid syntax").rstrip(".")
        return f"template syntax error: {message} (template line {error.lineno})"
    except TemplateError as error:
        return f"template error: {error}"
    env = _HTML if html else _TEXT
    tree = env.parse(source)
    iterations = _constant_iterations(tree)
    if iterations > MAX_CONSTANT_ITERATIONS:
        return (
            f"template cannot render within its budget: its loops run {iterations:,} "
            f"times (at most {MAX_CONSTANT_ITERATIONS:,})"
        )
    try:
        render(source, html=html)
    except BudgetExceeded as error:
        return f"template cannot render within its budget: {error}"
    except RenderError:
        pass  # depends on data it will have when it is sent (see the step's history then)
    return None


def _constant_iterations(node: nodes.Node) -> int:
    """The largest product of nested ``range(<constants>)`` loop sizes under ``node``."""
    most = 1
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.For):
            inner = _constant_iterations(child)
            iterable = child.iter
            most = max(
                most, (_range_size(iterable) if isinstance(iterable, nodes.Expr) else 1) * inner
            )
        else:
            most = max(most, _constant_iterations(child))
    return most


def _range_size(node: nodes.Expr) -> int:
    call = node.node if isinstance(node, nodes.Filter) and node.name == "_iterate" else node
    if not (
        isinstance(call, nodes.Call)
        and isinstance(call.node, nodes.Name)
        and call.node.name == "range"
    ):
        return 1
    try:
        args = [arg.as_const() for arg in call.args]
        return len(range(*args)) if all(type(a) is int for a in args) else 1
    except (nodes.Impossible, TypeError, ValueError, OverflowError):
        return 1


# --- rendering ----------------------------------------------------------------------------


def order_view(event: Mapping[str, Any]) -> dict[str, Any]:
    """``order.*`` in templates: the event's properties with its amounts as money."""
    currency = event.get("currency")
    total = event.get("totalCents")
    if not (isinstance(currency, str) and currency and isinstance(total, int)) or isinstance(
        total, bool
    ):
        return {}
    view = dict(event)
    view["total"] = _money(total, currency)
    if _is_int(event.get("refundedCents")):
        view["refunded"] = _money(event["refundedCents"], currency)
    items = event.get("lineItems")
    if isinstance(items, list):
        view["lineItems"] = [_line_money(item, currency) for item in items]
    return view


def _line_money(item: Any, currency: str) -> Any:
    if not isinstance(item, Mapping):
        return item
    line = dict(item)
    for cents, name in (("priceCents", "price"), ("totalCents", "total")):
        if _is_int(item.get(cents)):
            line[name] = _money(item[cents], currency)
    return line


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _money(minor: int, currency: str) -> Money | None:
    try:
        return Money(minor, currency.strip().upper())
    except MoneyError:
        return None


def render(
    source: str,
    *,
    event: Mapping[str, Any] | None = None,
    subscriber: Mapping[str, Any] | None = None,
    product: Mapping[str, Any] | None = None,
    html: bool = False,
    limits: Limits | None = None,
) -> str:
    """Render ``source`` under ``limits`` (:data:`LIMITS` by default); ``html=True``
    escapes values (HTML bodies)."""
    limits = limits or LIMITS
    event = event or {}
    if product is None:
        found = event.get("product")
        product = found if isinstance(found, Mapping) else {}
    token = _BUDGET.set(_Budget(limits))
    try:
        template = _compiled(source, html)
        text = template.render(
            event=event, subscriber=subscriber or {}, product=product, order=order_view(event)
        )
    except _OverBudget as error:
        raise BudgetExceeded(str(error)) from None
    except TemplateSyntaxError as error:
        raise RenderError(f"template syntax error: {error.message}") from error
    except RecursionError:
        raise RenderError("template failed: too much recursion") from None
    except Exception as error:  # noqa: BLE001 - every runtime failure becomes one error type
        raise RenderError(f"template failed: {type(error).__name__}: {error}") from error
    finally:
        _BUDGET.reset(token)
    if len(text) > limits.output:
        raise BudgetExceeded(
            f"its output would exceed the output limit ({len(text):,} > {limits.output:,} characters)"
        )
    return text
