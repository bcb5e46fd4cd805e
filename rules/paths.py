"""Dot-paths into event properties and subscriber attributes.

Grammar: segments separated by ``.``; a segment is a key (``[A-Za-z_][A-Za-z0-9_-]*``)
optionally followed by one or more ``[]``, which means "every element of this array":

    product.providerVariantId          one value (or none)
    lineItems[].providerProductId      one value per line item that has it
    subscriber.tags                    the tags list itself, as one value
    subscriber.tags[]                  each tag

``resolve(obj, path)`` always returns a list: the values found, in document order,
empty when the path leads nowhere. JSON ``null`` counts as absent (it is never
returned), so "exists" never has to special-case it. ``[]`` is the only way to
traverse an array: ``lineItems.title`` finds nothing, because a key on a list is a
type error in the data, and guessing would make filters silently match.

A path is parsed once into a :class:`Path`, whose ``resolve`` is a closure
specialised for the path's shape; ``parse`` is cached, so compiled rules share
accessors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)((?:\[\])*)")

Resolver = Callable[[Any], list[Any]]


class PathError(ValueError):
    """A dot-path that does not follow the grammar."""


class Path:
    """A parsed dot-path: ``steps`` are ``(key, number of [] after it)``."""

    __slots__ = ("text", "steps", "resolve")

    def __init__(self, text: str, steps: tuple[tuple[str, int], ...]) -> None:
        self.text = text
        self.steps = steps
        self.resolve: Resolver = _compile(steps)

    @property
    def has_array(self) -> bool:
        return any(expand for _, expand in self.steps)

    @property
    def head(self) -> str:
        return self.steps[0][0]

    def tail(self) -> Path:
        """The path without its first segment (``subscriber.x`` -> ``x``)."""
        rest = self.steps[1:]
        return Path(_render(rest), rest)

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and other.steps == self.steps

    def __hash__(self) -> int:
        return hash(self.steps)


@lru_cache(maxsize=4096)
def parse(text: str) -> Path:
    """Parse ``text`` or raise :class:`PathError` saying what is wrong."""
    if not isinstance(text, str):
        raise PathError(f"a path must be a string, got {type(text).__name__}")
    if not text:
        raise PathError("a path cannot be empty")
    steps: list[tuple[str, int]] = []
    for segment in text.split("."):
        found = _SEGMENT.fullmatch(segment)
        if found is None:
            raise PathError(f"invalid path {text!r}: bad segment {segment!r}")
        steps.append((found.group(1), len(found.group(2)) // 2))
    return Path(text, tuple(steps))


def resolve(obj: Any, path: str | Path) -> list[Any]:
    """Every value ``path`` reaches in ``obj`` (``[]`` when it reaches none)."""
    compiled = path if isinstance(path, Path) else parse(path)
    return compiled.resolve(obj)


def _render(steps: tuple[tuple[str, int], ...]) -> str:
    return ".".join(key + "[]" * expand for key, expand in steps)


def _get(obj: Any, key: str) -> Any:
    # dict first: it is what JSON gives us, and the isinstance(Mapping) ABC check is slow.
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(key)
    return None


def _compile(steps: tuple[tuple[str, int], ...]) -> Resolver:
    """A closure for the path's shape; the two common shapes get a fast path."""
    if not steps:
        return lambda obj: [] if obj is None else [obj]
    if all(expand == 0 for _, expand in steps):
        return _scalar_resolver(tuple(key for key, _ in steps))
    if len(steps) == 2 and steps[0][1] == 1 and steps[1][1] == 0:
        return _array_field_resolver(steps[0][0], steps[1][0])
    return _generic_resolver(steps)


def _scalar_resolver(keys: tuple[str, ...]) -> Resolver:
    def resolve_scalar(obj: Any) -> list[Any]:
        for key in keys:
            obj = _get(obj, key)
            if obj is None:
                return []
        return [obj]

    return resolve_scalar


def _array_field_resolver(array_key: str, field: str) -> Resolver:
    # ``lineItems[].providerProductId``: the shape of every product filter.
    def resolve_array_field(obj: Any) -> list[Any]:
        items = _get(obj, array_key)
        if type(items) is not list and not isinstance(items, tuple):
            return []
        found = []
        for item in items:
            value = item.get(field) if type(item) is dict else _get(item, field)
            if value is not None:
                found.append(value)
        return found

    return resolve_array_field


def _generic_resolver(steps: tuple[tuple[str, int], ...]) -> Resolver:
    def resolve_generic(obj: Any) -> list[Any]:
        frontier = [obj]
        for key, expand in steps:
            values = [v for v in (_get(o, key) for o in frontier) if v is not None]
            for _ in range(expand):
                values = [
                    element
                    for v in values
                    if isinstance(v, list | tuple)
                    for element in v
                    if element is not None
                ]
            if not values:
                return []
            frontier = values
        return frontier

    return resolve_generic
