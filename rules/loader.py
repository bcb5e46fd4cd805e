"""Load sequences from YAML rule files, with errors that point at the file and line.

A rule file holds one sequence (a mapping), or several under ``sequences:``. A rules
directory is every ``*.yaml`` / ``*.yml`` file below it (hidden files and directories
excepted), sorted by path. Loading is
all-or-nothing: ``load_path`` returns every sequence or raises :class:`RuleErrors`
listing every problem in every file, one line each:

    rules/refill.yaml:12 trigger.filters[0].operator: must be one of exists, not_exists, ...

The YAML is composed into a node tree first so each path can be mapped to the line
of its key (or, for list items, of the item). Values are read with YAML 1.2 core
scalars rather than PyYAML's YAML 1.1 defaults, because the 1.1 rules silently
corrupt rule data: ``10:30`` would be the integer 630, ``0501`` the octal 321,
``no`` / ``on`` booleans and ``2024-01-01`` a date. Here only ``true``/``false``,
``null``/``~``, decimal integers without a leading zero and plain floats are
non-strings; everything else is a string. Duplicate keys in a mapping are an error
(PyYAML keeps the last one silently).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from storeflow.rules.schema import PathPart, SchemaError, Sequence, format_path, structure_sequence

YAML_SUFFIXES = (".yaml", ".yml")


@attrs.frozen
class Problem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RuleErrors(ValueError):
    """The rule files have problems; nothing was loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in rule files:"]
        super().__init__("\n".join(lines + [str(problem) for problem in problems]))
        self.problems = problems


class _RuleYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalar resolution (see the module docstring)."""


_RuleYamlLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("int", r"[-+]?(?:0|[1-9][0-9]*)", "-+0123456789"),
    (
        "float",
        r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+",
        "-+.0123456789",
    ),
    ("merge", r"<<", "<"),
):
    _RuleYamlLoader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(f"^(?:{_pattern})$"), list(_first)
    )


class _Lines:
    """Path -> line, from the composed node tree."""

    def __init__(self) -> None:
        self.keys: dict[tuple[PathPart, ...], int] = {}
        self.values: dict[tuple[PathPart, ...], int] = {}
        self.duplicates: list[tuple[tuple[PathPart, ...], int]] = []

    def walk(self, node: Node, path: tuple[PathPart, ...] = ()) -> None:
        self.values.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key_path = (*path, key_node.value)
                if key_node.value in seen:
                    self.duplicates.append((key_path, key_node.start_mark.line + 1))
                seen.add(key_node.value)
                self.keys.setdefault(key_path, key_node.start_mark.line + 1)
                self.walk(value_node, key_path)
        elif isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                self.walk(child, (*path, index))

    def line(self, path: tuple[PathPart, ...]) -> int | None:
        """The line of the path's key, else of its value, else of its nearest ancestor."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return None


def _compose(text: str, label: str) -> tuple[Any, _Lines] | Problem:
    loader = _RuleYamlLoader(text)
    try:
        node = loader.get_single_node()
        lines = _Lines()
        if node is not None:
            lines.walk(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        detail = " ".join(part for part in (error.context, error.problem) if part)
        return Problem(label, mark.line + 1 if mark else None, "", f"invalid YAML: {detail}")
    except yaml.YAMLError as error:
        return Problem(label, None, "", f"invalid YAML: {error}")
    finally:
        loader.dispose()
    return data, lines


def _documents(data: Any) -> Iterator[tuple[tuple[PathPart, ...], Any]] | str:
    """Each sequence's data with its path prefix, or what is wrong with the layout."""
    if data is None:
        return "empty file: expected a sequence, or a list under sequences:"
    if not isinstance(data, dict):
        return "expected a sequence (a mapping), or a list under sequences:"
    if "sequences" not in data:
        return iter([((), data)])
    if len(data) != 1:
        return "a file with sequences: holds nothing else (put each sequence in the list)"
    if not isinstance(data["sequences"], list):
        return "sequences: must be a list of sequences"
    return iter((("sequences", i), item) for i, item in enumerate(data["sequences"]))


@attrs.frozen
class _Loaded:
    """One sequence of a file: valid (``sequence``) or not, with where its id is."""

    sequence: Sequence | None
    id: str | None
    file: str
    id_path: tuple[PathPart, ...]
    id_line: int | None


def _parse(text: str, label: str) -> tuple[list[_Loaded], list[Problem]]:
    """The sequences of one file and its problems (the sequences are unusable if any)."""
    read = _compose(text, label)
    if isinstance(read, Problem):
        return [], [read]
    data, lines = read
    problems = [
        Problem(label, line, format_path(path), f"duplicate key {path[-1]!r}")
        for path, line in lines.duplicates
    ]
    documents = _documents(data)
    if isinstance(documents, str):
        return [], [*problems, Problem(label, 1, "", documents)]
    loaded = []
    for prefix, item in documents:
        sequence = None
        try:
            sequence = structure_sequence(item)
        except SchemaError as error:
            for issue in error.issues:
                path = prefix + issue.path
                problems.append(Problem(label, lines.line(path), format_path(path), issue.message))
        # Ids of invalid sequences count too: a duplicate is reported on the first run.
        raw_id = item.get("id") if isinstance(item, dict) else None
        id_path = (*prefix, "id")
        loaded.append(
            _Loaded(
                sequence,
                raw_id if isinstance(raw_id, str) else None,
                label,
                id_path,
                lines.line(id_path),
            )
        )
    return loaded, problems


def _duplicate_ids(loaded: list[_Loaded]) -> list[Problem]:
    first: dict[str, _Loaded] = {}
    problems = []
    for item in loaded:
        if item.id is None:
            continue
        earlier = first.setdefault(item.id, item)
        if earlier is not item:
            at = earlier.file if earlier.id_line is None else f"{earlier.file}:{earlier.id_line}"
            problems.append(
                Problem(
                    item.file,
                    item.id_line,
                    format_path(item.id_path),
                    f"duplicate sequence id {item.id!r} (first defined at {at})",
                )
            )
    return problems


def _sequences(loaded: list[_Loaded]) -> list[Sequence]:
    return [item.sequence for item in loaded if item.sequence is not None]


def _rule_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = []
    for directory, subdirectories, files in os.walk(root):
        # Hidden directories (.git, editor backups) are not rules.
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        found += [
            Path(directory, name)
            for name in sorted(files)
            if name.endswith(YAML_SUFFIXES) and not name.startswith(".")
        ]
    return sorted(found, key=lambda path: path.parts)


def _load(root: str | os.PathLike[str]) -> tuple[list[Sequence], list[Problem]]:
    root = Path(root)
    if not root.exists():
        return [], [Problem(str(root), None, "", "no such file or directory")]
    loaded: list[_Loaded] = []
    problems: list[Problem] = []
    for file in _rule_files(root):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(str(file), None, "", f"cannot read file: {error}"))
            continue
        found, file_problems = _parse(text, str(file))
        loaded += found
        problems += file_problems
    problems += _duplicate_ids(loaded)
    return _sequences(loaded), problems


def parse_text(text: str, file: str = "<text>") -> list[Sequence]:
    """Sequences from YAML text (an upload, a test), or :class:`RuleErrors`."""
    loaded, problems = _parse(text, file)
    problems += _duplicate_ids(loaded)
    if problems:
        raise RuleErrors(problems)
    return _sequences(loaded)


def load_path(root: str | os.PathLike[str]) -> list[Sequence]:
    """Every sequence under ``root`` (a file or a directory), or :class:`RuleErrors`."""
    sequences, problems = _load(root)
    if problems:
        raise RuleErrors(problems)
    return sequences


def check_path(root: str | os.PathLike[str]) -> list[Problem]:
    """Every problem under ``root``; empty when ``load_path`` would succeed."""
    return _load(root)[1]
