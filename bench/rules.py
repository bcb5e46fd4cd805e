"""Benchmark: rule matching throughput against 10 and 10,000 sequences.

    .venv/bin/python bench/rules.py [--events 100000] [--naive-sample 1000] [--seed 7]

Builds a catalogue of 5,000 products (a third with 2-4 variants), 100,000 events in
the shapes of ``spec/api.md`` "Events" (orders with 1-4 line items, carts, checkouts,
back-in-stock, replenishment, ...) and three rule sets:

- 10 sequences: 5 store-wide ones (cart recovery, first-order thanks, ...) and 5 tied
  to products of the catalogue;
- 10,000 unrelated: the same 10 plus 9,990 product-specific sequences for products
  that carry no traffic here (a second store's catalogue). This is what the design
  target is about: the cost of an event must not grow with rules that do not
  concern it;
- 10,000 related: the same 10 plus 9,990 product-specific sequences spread over this
  catalogue (cross-sells, refill and restock flows, cart nudges; about 2 per
  product), so every order concerns a few of them and each event produces several
  times more enrolments. That extra work is output, not index overhead; the figure
  shows what it costs.

10 % of the product-specific sequences are paused or drafts. It prints events/s
through ``RuleIndex.match`` for each set and its ratio to the 10-sequence figure
(target >= 0.8), then a naive linear scan over the related 10,000 on a sample of
events, checks that scan and index agree on that sample, and prints the index's
speed-up (target >= 20x). Every figure is the best of three runs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storeflow.rules.compiler import CompiledSequence, compile_sequence  # noqa: E402
from storeflow.rules.index import RuleIndex  # noqa: E402
from storeflow.rules.schema import structure_sequence  # noqa: E402

Event = tuple[str, dict[str, Any], dict[str, Any]]
PRODUCTS = 5_000

EVENT_MIX = [
    ("ecommerce.order_placed", 30),
    ("ecommerce.order_fulfilled", 8),
    ("ecommerce.cart_started", 15),
    ("ecommerce.checkout_started", 10),
    ("ecommerce.cart_abandoned", 6),
    ("ecommerce.cart_cleared", 4),
    ("ecommerce.back_in_stock_requested", 5),
    ("ecommerce.back_in_stock", 8),
    ("ecommerce.replenishment_due", 10),
    ("ecommerce.order_refunded", 4),
]


def make_catalogue(rng: random.Random) -> list[dict[str, Any]]:
    catalogue = []
    next_variant = 100_000
    for number in range(PRODUCTS):
        product_id = str(1_000 + number)
        if rng.random() < 0.33:
            count = rng.randint(2, 4)
            variants = [str(next_variant + i) for i in range(count)]
            next_variant += count
        else:
            variants = [product_id]  # a simple product's variant id is its product id
        catalogue.append(
            {
                "providerProductId": product_id,
                "variants": variants,
                "title": f"Product {product_id}",
                "priceCents": rng.randint(300, 12_000),
            }
        )
    return catalogue


def _line_items(rng: random.Random, catalogue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = []
    for product in rng.sample(catalogue, rng.randint(1, 4)):
        variant = rng.choice(product["variants"])
        quantity = rng.randint(1, 3)
        items.append(
            {
                "provider": "woocommerce",
                "providerProductId": product["providerProductId"],
                "providerVariantId": variant,
                "title": product["title"],
                "variantTitle": ""
                if variant == product["providerProductId"]
                else f"Variant {variant}",
                "quantity": quantity,
                "priceCents": product["priceCents"],
                "sku": f"SKU-{variant}",
            }
        )
    return items


def _product(rng: random.Random, catalogue: list[dict[str, Any]]) -> dict[str, Any]:
    product = rng.choice(catalogue)
    variant = rng.choice(product["variants"])
    return {
        "provider": "woocommerce",
        "providerProductId": product["providerProductId"],
        "providerVariantId": variant,
        "title": product["title"],
        "variantTitle": "",
        "imageUrl": f"https://shop.example.com/img/{variant}.jpg",
        "url": f"https://shop.example.com/p/{product['providerProductId']}",
    }


def make_event(
    rng: random.Random, catalogue: list[dict[str, Any]], name: str, number: int
) -> dict[str, Any]:
    email = f"shopper{number % 20_000}@example.com"
    if name.startswith("ecommerce.order_"):
        items = _line_items(rng, catalogue)
        return {
            "email": email,
            "orderId": str(50_000 + number),
            "orderNumber": str(50_000 + number),
            "status": "processing",
            "totalCents": sum(i["priceCents"] * i["quantity"] for i in items),
            "currency": "EUR",
            "orderedAt": "2025-05-01T10:00:00+00:00",
            "lineItems": items,
        }
    if name.startswith("ecommerce.cart_") or name == "ecommerce.checkout_started":
        items = [] if name == "ecommerce.cart_cleared" else _line_items(rng, catalogue)
        return {
            "email": email,
            "cartId": f"cart-{number}",
            "totalCents": sum(i["priceCents"] * i["quantity"] for i in items),
            "currency": "EUR",
            "checkoutUrl": "https://shop.example.com/checkout",
            "lineItems": items,
        }
    properties = {"email": email, "product": _product(rng, catalogue)}
    if name == "ecommerce.replenishment_due":
        properties["orderId"] = str(40_000 + number)
        properties["replenishmentMatch"] = rng.choice(["product", "variant"])
    return properties


def make_events(rng: random.Random, catalogue: list[dict[str, Any]], count: int) -> list[Event]:
    names = [name for name, _ in EVENT_MIX]
    weights = [weight for _, weight in EVENT_MIX]
    subscribers = [
        {
            "email": f"shopper{n}@example.com",
            "status": "active",
            "ordersCount": rng.randint(0, 12),
            "totalSpent": round(rng.uniform(0, 900), 2),
            "tags": rng.sample(["vip", "wholesale", "newsletter", "coffee"], rng.randint(0, 2)),
        }
        for n in range(2_000)
    ]
    chosen = rng.choices(names, weights, k=count)
    return [
        (name, make_event(rng, catalogue, name, n), rng.choice(subscribers))
        for n, name in enumerate(chosen)
    ]


STEPS = [
    {"delay": {"hours": 1}},
    {"email": {"subject": "Hi {{ subscriber.firstName|default('there') }}", "body": "..."}},
]


def store_wide() -> list[dict[str, Any]]:
    """The flows nearly every store has; they are candidates for every event of their name."""
    return [
        {
            "id": "cart-recovery",
            "name": "Cart recovery",
            "priority": 80,
            "trigger": {
                "event": "ecommerce.cart_abandoned",
                "filters": [{"path": "totalCents", "operator": "greater_than", "value": 1000}],
            },
            "steps": STEPS,
        },
        {
            "id": "checkout-nudge",
            "name": "Checkout nudge",
            "trigger": {
                "event": "ecommerce.checkout_started",
                "filters": [{"path": "checkoutUrl", "operator": "exists"}],
            },
            "steps": STEPS,
        },
        {
            "id": "first-order",
            "name": "First order thanks",
            "trigger": {
                "event": "ecommerce.order_placed",
                "subscriberFilters": [
                    {"path": "subscriber.ordersCount", "operator": "equals", "value": 1}
                ],
            },
            "steps": STEPS,
        },
        {
            "id": "back-in-stock",
            "name": "Back in stock",
            "trigger": {"event": "ecommerce.back_in_stock"},
            "steps": STEPS,
        },
        {
            "id": "vip-order",
            "name": "VIP order",
            "trigger": {
                "event": "ecommerce.order_placed",
                "filters": [{"path": "totalCents", "operator": "greater_than", "value": 20_000}],
                "subscriberFilters": [
                    {"path": "subscriber.tags", "operator": "contains", "value": "vip"}
                ],
            },
            "steps": STEPS,
        },
    ]


def product_specific(
    rng: random.Random, catalogue: list[dict[str, Any]], number: int
) -> dict[str, Any]:
    kind = rng.choices(["cross-sell", "refill", "restock", "cart"], [4, 3, 2, 1])[0]
    products = rng.sample(catalogue, rng.randint(1, 3))
    ids = [p["providerProductId"] for p in products]
    # Authors write ids both as YAML numbers and strings; both must match "501" in events.
    values: list[Any] = [int(i) if rng.random() < 0.3 else i for i in ids]
    sequence: dict[str, Any] = {
        "id": f"{kind}-{number}",
        "name": f"{kind} {number}",
        "status": rng.choices(["active", "paused", "draft"], [90, 5, 5])[0],
        "priority": rng.randint(0, 100),
        "steps": STEPS,
    }
    if kind == "cross-sell":
        filters = [{"path": "lineItems[].providerProductId", "operator": "one_of", "value": values}]
        if rng.random() < 0.3:
            filters.append({"path": "totalCents", "operator": "greater_than", "value": 3000})
        sequence["trigger"] = {"event": "ecommerce.order_placed", "filters": filters}
    elif kind == "refill":
        sequence["trigger"] = {
            "event": "ecommerce.replenishment_due",
            "filters": [
                {"path": "product.providerProductId", "operator": "equals", "value": values[0]}
            ],
        }
    elif kind == "restock":
        variants = products[0]["variants"]
        sequence["trigger"] = {
            "event": "ecommerce.back_in_stock",
            "filters": [
                {"path": "product.providerVariantId", "operator": "one_of", "value": variants}
            ],
        }
    else:
        sequence["trigger"] = {
            "event": "ecommerce.cart_started",
            "filters": [
                {"path": "lineItems[].providerProductId", "operator": "equals", "value": values[0]}
            ],
        }
    return sequence


def make_sequences(
    rng: random.Random,
    catalogue: list[dict[str, Any]],
    count: int,
    base: list[dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], list[CompiledSequence]]:
    """``base`` (default: the store-wide flows) plus product-specific ones, up to ``count``."""
    raw = list(base if base is not None else store_wide())
    raw += [product_specific(rng, catalogue, n) for n in range(count - len(raw))]
    return raw, [compile_sequence(structure_sequence(item)) for item in raw]


def other_store(rng: random.Random) -> list[dict[str, Any]]:
    """A catalogue whose ids never occur in the events (another store of the company)."""
    catalogue = make_catalogue(rng)
    for product in catalogue:
        product["providerProductId"] = str(int(product["providerProductId"]) + 900_000)
        product["variants"] = [str(int(v) + 900_000) for v in product["variants"]]
    return catalogue


def best_rate(run: Callable[[], None], count: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def throughput(index: RuleIndex, events: list[Event]) -> tuple[float, int]:
    matched = 0

    def run() -> None:
        nonlocal matched
        matched = 0
        match = index.match
        for name, properties, subscriber in events:
            matched += len(match(name, properties, subscriber))

    return best_rate(run, len(events)), matched


def naive_throughput(index: RuleIndex, events: list[Event]) -> float:
    def run() -> None:
        for name, properties, subscriber in events:
            index.naive_match(name, properties, subscriber)

    return best_rate(run, len(events))


def report(
    label: str, rate: float, matches: int, events: int, baseline: float | None = None
) -> None:
    line = f"{label:<27}{rate:>10,.0f} events/s  {matches / events:.2f} enrolments/event"
    if baseline is not None:
        ratio = rate / baseline
        verdict = "OK" if ratio >= 0.8 else "BELOW TARGET"
        line += f"  ratio {ratio:.2f} (target >= 0.80) {verdict}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    catalogue = make_catalogue(rng)
    started = time.perf_counter()
    events = make_events(rng, catalogue, args.events)
    elapsed = time.perf_counter() - started
    print(
        f"catalogue: {len(catalogue):,} products; {len(events):,} events built in {elapsed:.1f} s"
    )

    started = time.perf_counter()
    base, small_sequences = make_sequences(random.Random(args.seed + 1), catalogue, 10)
    elsewhere = other_store(random.Random(args.seed + 3))
    _, unrelated_sequences = make_sequences(random.Random(args.seed + 2), elsewhere, 10_000, base)
    _, related_sequences = make_sequences(random.Random(args.seed + 2), catalogue, 10_000, base)
    small = RuleIndex(small_sequences)
    unrelated = RuleIndex(unrelated_sequences)
    related = RuleIndex(related_sequences)
    elapsed = time.perf_counter() - started
    print(f"sequences: 10 + 2 x 10,000 validated, compiled and indexed in {elapsed:.1f} s")
    print()

    small_rate, small_matches = throughput(small, events)
    report("index, 10 sequences", small_rate, small_matches, len(events))
    rate, matches = throughput(unrelated, events)
    report("index, 10,000 unrelated", rate, matches, len(events), small_rate)
    related_rate, matches = throughput(related, events)
    report("index, 10,000 related", related_rate, matches, len(events), small_rate)

    sample = events[: args.naive_sample]
    for name, properties, subscriber in sample:
        indexed = [s.id for s, _ in related.match(name, properties, subscriber)]
        scanned = [s.id for s, _ in related.naive_match(name, properties, subscriber)]
        if indexed != scanned:
            raise SystemExit(f"index and scan disagree on {name}: {indexed} != {scanned}")
    naive_rate = naive_throughput(related, sample)
    speedup = related_rate / naive_rate
    verdict = "OK" if speedup >= 20 else "BELOW TARGET"
    print()
    print(
        f"{'naive scan, 10,000 related':<27}{naive_rate:>10,.0f} events/s"
        f"  (on {len(sample):,} events; same results as the index)"
    )
    print(
        f"{'index speed-up':<27}{speedup:>10,.0f}x  (related index / naive scan; target >= 20x) {verdict}"
    )


if __name__ == "__main__":
    main()
