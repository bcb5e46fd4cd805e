"""Where a sequence is invalid and why: issues with their paths, and the errors that carry them.

Hooks of the converter raise :class:`Invalid` (one problem, at a path relative to the
hook) or :class:`Nested` (several); cattrs wraps them in its own validation errors.
:func:`issues_of` flattens any of these into :class:`Issue` objects with absolute
paths, which :class:`SchemaError` carries: every problem at once, never only the
first one.
"""

from __future__ import annotations

import attrs
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)

from storeflow.rules.model import wire_name

PathPart = str | int


@attrs.frozen
class Issue:
    """One problem: where (``("trigger", "filters", 0, "operator")``) and what."""

    path: tuple[PathPart, ...]
    message: str

    @property
    def location(self) -> str:
        """``trigger.filters[0].operator``."""
        return format_path(self.path)

    @property
    def json_path(self) -> str:
        """``$.trigger.filters[0].operator``, the API's 422 ``details`` form."""
        rest = self.location
        return "$" if not rest else "$" + ("" if rest.startswith("[") else ".") + rest

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.path else self.message


class SchemaError(ValueError):
    """The data is not a valid sequence; ``issues`` lists every problem."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues


class Invalid(ValueError):
    """Raised by hooks: ``message`` about the value at ``path`` (relative to the hook)."""

    def __init__(self, message: str, path: tuple[PathPart, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class Nested(ValueError):
    """Several errors at relative paths, from one hook."""

    def __init__(self, errors: list[tuple[tuple[PathPart, ...], BaseException]]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


def format_path(path: tuple[PathPart, ...]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def issues_of(error: BaseException, path: tuple[PathPart, ...] = ()) -> list[Issue]:
    """Flatten a structuring error into issues with absolute paths."""
    if isinstance(error, Invalid):
        return [Issue(path + error.path, error.message)]
    if isinstance(error, Nested):
        return [issue for sub, err in error.errors for issue in issues_of(err, path + sub)]
    if isinstance(error, BaseValidationError):
        found: list[Issue] = []
        for sub in error.exceptions:
            found += issues_of(sub, path + _note_path(sub))
        return found
    if isinstance(error, ForbiddenExtraKeysError):
        return [
            Issue(path + (str(key),), "unknown key") for key in sorted(map(str, error.extra_fields))
        ]
    if isinstance(error, KeyError):
        return [Issue(path, "required")]
    return [Issue(path, f"invalid value: {error}")]


def _note_path(error: BaseException) -> tuple[PathPart, ...]:
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return (wire_name(note.name),)
        if isinstance(note, IterableValidationNote):
            return (note.index,)
    return ()
