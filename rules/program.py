"""A sequence's steps as a numbered program: what runs at each position, and what next.

Steps nest (a ``branch`` has ``then`` and ``else`` lists), but the runner, the send
ledger (keyed by enrollment and step) and the enrollment's step history need one
number per step. Positions are the steps in pre-order:

    0 delay                      0: delay           -> 1
    1 branch if ...              1: branch          -> then 2, else 4
        then: 2 email, 3 tag     2: email           -> 3
        else: 4 email            3: tag             -> 5
    5 email                      4: email           -> 5
                                 5: email           -> end

A position's ``next`` is where the run continues after it; a branch has ``then_``
and ``else_`` instead (an empty list jumps straight past the branch). ``END`` means
the run is complete. Positions depend only on the step structure, so editing a
subject keeps them; inserting a step renumbers what follows, and running
enrollments continue at their stored position of the new program (documented in
docs/rules.md).
"""

from __future__ import annotations

from collections.abc import Sequence as Seq

import attrs

from storeflow.rules.schema import Branch, Step, step_key

END = -1


@attrs.frozen
class Node:
    position: int
    step: Step
    kind: str  # the wire key: delay | email | webhook | tag | branch
    next: int  # END when the run completes after this step
    then_: int = END  # branches only
    else_: int = END


@attrs.frozen
class Program:
    nodes: tuple[Node, ...]

    def __len__(self) -> int:
        return len(self.nodes)

    def at(self, position: int) -> Node | None:
        return self.nodes[position] if 0 <= position < len(self.nodes) else None

    @property
    def first(self) -> int:
        return 0 if self.nodes else END


def build(steps: Seq[Step]) -> Program:
    nodes: list[Node | None] = [None] * _size(steps)
    _fill(steps, 0, END, nodes)
    return Program(tuple(node for node in nodes if node is not None))


def _branch(branch: Branch, position: int, following: int, nodes: list[Node | None]) -> Node:
    then_start = position + 1
    else_start = then_start + _size(branch.then)
    _fill(branch.then, then_start, following, nodes)
    _fill(branch.else_, else_start, following, nodes)
    return Node(
        position,
        branch,
        "branch",
        following,
        then_=then_start if branch.then else following,
        else_=else_start if branch.else_ else following,
    )


def _fill(steps: Seq[Step], start: int, after: int, nodes: list[Node | None]) -> None:
    position = start
    for index, step in enumerate(steps):
        size = 1 + (_size(step.then) + _size(step.else_) if isinstance(step, Branch) else 0)
        following = position + size if index + 1 < len(steps) else after
        if isinstance(step, Branch):
            nodes[position] = _branch(step, position, following, nodes)
        else:
            nodes[position] = Node(position, step, step_key(step), following)
        position += size


def _size(steps: Seq[Step]) -> int:
    return sum(
        1 + (_size(step.then) + _size(step.else_) if isinstance(step, Branch) else 0)
        for step in steps
    )
