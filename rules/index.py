"""Find the sequences an event enrols into without looking at unrelated ones.

Sequences are bucketed by trigger event name. Inside a bucket, a sequence whose
trigger has an ``equals`` or ``one_of`` filter on a product path (``PRODUCT_PATHS``)
is filed under each of that filter's values; an event then looks up only the ids it
carries. Sequences without such a filter are candidates for every event of their
name.

Correctness rests on one property of ``storeflow.rules.operators.index_key``: values that are
``equals`` share a key (``"501"``, ``501`` and ``501.0`` all key to 501), so a lookup
never misses a sequence. Keys may also be shared by values that are not equal
(``"0501"`` and ``"501"``), so every hit is confirmed with ``equals`` before the rest
of the sequence's filters run.

The cost of one event is therefore the ids it carries, the sequences that name
those ids, and the product-agnostic sequences of its event name; not the number of
rules. ``naive_match`` is the linear scan, kept as the reference for tests and the
benchmark.

Results (both functions) are the *active* sequences that match, ordered by priority
(highest first), then id, then the order they were given in. Sequences that did not
match are not listed: explaining a non-match is ``CompiledSequence.match``'s job
(dry-runs evaluate one sequence, not the index).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from storeflow.rules import paths
from storeflow.rules.compiler import CompiledSequence, MatchResult
from storeflow.rules.operators import index_key

PRODUCT_PATHS: tuple[str, ...] = (
    "lineItems[].providerProductId",
    "lineItems[].providerVariantId",
    "product.providerProductId",
    "product.providerVariantId",
)

Matches = list[tuple[CompiledSequence, MatchResult]]
Residual = Callable[[Mapping[str, Any], Mapping[str, Any] | None], bool]
# (rank, sequence, filter value, the rest of its checks or None)
Entry = tuple[int, CompiledSequence, Any, Residual | None]
Ranked = tuple[int, CompiledSequence]


def index_filter(sequence: CompiledSequence) -> tuple[int, str, list[Any]] | None:
    """The trigger's product filter with the fewest values: (position, path, values)."""
    best: tuple[int, str, list[Any]] | None = None
    for position, item in enumerate(sequence.sequence.trigger.filters):
        if item.path not in PRODUCT_PATHS:
            continue
        if item.operator == "equals":
            values = [item.value]
        elif item.operator == "one_of":
            values = list(item.value)
        else:
            continue
        if best is None or len(values) < len(best[2]):
            best = (position, item.path, values)
    return best


class _Bucket:
    """The active sequences of one event name, each with its rank in the index."""

    __slots__ = ("unkeyed", "lookups", "_tables")

    def __init__(self) -> None:
        self.unkeyed: list[Ranked] = []
        self.lookups: list[tuple[paths.Resolver, dict[Any, list[Entry]]]] = []
        self._tables: dict[str, dict[Any, list[Entry]]] = {}

    def add(self, rank: int, sequence: CompiledSequence) -> None:
        found = index_filter(sequence)
        if found is None:
            self.unkeyed.append((rank, sequence))
            return
        position, path, values = found
        table = self._tables.get(path)
        if table is None:
            table = self._tables[path] = {}
            self.lookups.append((paths.parse(path).resolve, table))
        residual = sequence.matcher_without(position)
        for value in values:
            table.setdefault(index_key(value), []).append((rank, sequence, value, residual))

    def matching(
        self,
        event_name: str,
        properties: Mapping[str, Any],
        subscriber: Mapping[str, Any] | None,
    ) -> list[Ranked]:
        found = [
            (rank, s) for rank, s in self.unkeyed if s.matches(event_name, properties, subscriber)
        ]
        done: set[int] = set()
        for resolve, table in self.lookups:
            for value in resolve(properties):
                for rank, sequence, expected, residual in table.get(index_key(value), ()):
                    if rank in done:
                        continue
                    # Equal keys mean equal values, except for two different strings
                    # ("0501" / "501", "True" / "true"), which are different ids.
                    if type(value) is str and type(expected) is str and value != expected:
                        continue
                    done.add(rank)
                    if residual is None or residual(properties, subscriber):
                        found.append((rank, sequence))
        return found

    def candidates(self, properties: Mapping[str, Any]) -> list[Ranked]:
        found = list(self.unkeyed)
        seen: set[int] = set()
        for resolve, table in self.lookups:
            for value in resolve(properties):
                for rank, sequence, _, _ in table.get(index_key(value), ()):
                    if rank not in seen:
                        seen.add(rank)
                        found.append((rank, sequence))
        return found


def _ranks(sequences: list[CompiledSequence]) -> dict[int, int]:
    """id(sequence) -> position in the result order (priority desc, id, given order)."""
    order = sorted(
        range(len(sequences)), key=lambda i: (-sequences[i].priority, sequences[i].id, i)
    )
    return {id(sequences[i]): rank for rank, i in enumerate(order)}


class RuleIndex:
    """Active sequences, indexed by event name and product id."""

    def __init__(self, sequences: Iterable[CompiledSequence]) -> None:
        self.sequences = list(sequences)
        self._rank = _ranks(self.sequences)
        self._buckets: dict[str, _Bucket] = {}
        for sequence in self.sequences:
            if sequence.status == "active":
                bucket = self._buckets.setdefault(sequence.event, _Bucket())
                bucket.add(self._rank[id(sequence)], sequence)

    def __len__(self) -> int:
        return len(self.sequences)

    def candidates(self, event_name: str, properties: Mapping[str, Any]) -> list[CompiledSequence]:
        """The active sequences the index would examine for this event (a superset)."""
        bucket = self._buckets.get(event_name)
        return [sequence for _, sequence in bucket.candidates(properties)] if bucket else []

    def match(
        self,
        event_name: str,
        properties: Mapping[str, Any],
        subscriber: Mapping[str, Any] | None = None,
    ) -> Matches:
        """Every active sequence the event enrols into, best first."""
        bucket = self._buckets.get(event_name)
        if bucket is None:
            return []
        found = bucket.matching(event_name, properties, subscriber)
        if len(found) > 1:
            found.sort()  # ranks are unique, so tuples never compare their sequences
        return [(sequence, MatchResult(True, [])) for _, sequence in found]

    def naive_match(
        self,
        event_name: str,
        properties: Mapping[str, Any],
        subscriber: Mapping[str, Any] | None = None,
    ) -> Matches:
        """``match`` by scanning every sequence: the reference for tests and benchmarks."""
        return naive_match(self.sequences, event_name, properties, subscriber, rank=self._rank)


def naive_match(
    sequences: Iterable[CompiledSequence],
    event_name: str,
    properties: Mapping[str, Any],
    subscriber: Mapping[str, Any] | None = None,
    *,
    rank: dict[int, int] | None = None,
) -> Matches:
    """Scan every sequence; same result and order as ``RuleIndex.match``."""
    sequences = sequences if isinstance(sequences, list) else list(sequences)
    if rank is None:
        rank = _ranks(sequences)
    found = [
        sequence
        for sequence in sequences
        if sequence.status == "active" and sequence.matches(event_name, properties, subscriber)
    ]
    found.sort(key=lambda sequence: rank[id(sequence)])
    return [(sequence, MatchResult(True, [])) for sequence in found]
