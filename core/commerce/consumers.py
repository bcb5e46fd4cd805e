"""Event consumers: what runs when a live commerce event is appended.

Core appends events; it does not know what reacts to them. Consumers arrive
through the ``register_event_consumers`` hook (the rules engine is one) and run,
in name order, inside the transaction of the ``event`` job
(``storeflow.core.commerce.events.EVENT_JOBS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from storeflow.core.storage.tables import Event

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime


@runtime_checkable
class EventConsumer(Protocol):
    name: str

    def on_event(self, rt: Runtime, session: Session, event: Event) -> None:
        """React to one live event, in the caller's transaction; never commit."""


class ConsumerError(RuntimeError):
    pass


def collect_consumers(batches: list[list[EventConsumer]]) -> tuple[EventConsumer, ...]:
    found: dict[str, EventConsumer] = {}
    for batch in batches:
        for consumer in batch or ():
            if not isinstance(consumer, EventConsumer):
                raise ConsumerError(f"{consumer!r} does not implement EventConsumer")
            if consumer.name in found:
                raise ConsumerError(f"two plugins register the event consumer {consumer.name!r}")
            found[consumer.name] = consumer
    return tuple(found[name] for name in sorted(found))
