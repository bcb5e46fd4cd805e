"""The provider conformance kit: pytest base classes every store provider passes.

A provider's test module subclasses :class:`ProviderKit` (re-exported as
``storeflow.testing.ProviderKit``) and supplies what only it knows: the provider,
its secret, recorded deliveries with their headers, and builders for an order and a
product document in its wire format. The kit then checks what storeflow relies on:
discovery through the ``storeflow.providers`` entry point, settings validation,
signatures, mapping of every recording, idempotency and ordering through the real
delivery flow (store raw + job, worker maps and applies), money exactness, extra
and missing fields, and ids beyond 2**53.

This module imports pytest and hypothesis: only test code imports it (``storeflow``
itself never does), so a plain ``pip install storeflow`` does not need them.

A capability the provider lacks is declared with :func:`unsupported` and a reason;
the checks that need it are skipped with that reason, never silently.
"""

from __future__ import annotations

import copy as copy_module
import hmac
import importlib.metadata
import secrets as secrets_module
import shutil
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import attrs

try:
    import pytest
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError as missing:  # a plain install: the kit is for a provider's test suite
    raise ImportError(
        f"the provider conformance kit needs pytest and hypothesis ({missing.name} is not "
        "installed): pip install 'storeflow[testing]'"
    ) from missing
from sqlalchemy import func, select

from storeflow.core import accounts, clock, config, plugins
from storeflow.core.commerce import ingest, money, records
from storeflow.core.errors import StoreflowError, Unauthenticated, ValidationFailed
from storeflow.core.runtime import Runtime
from storeflow.core.storage import migrate
from storeflow.core.storage.tables import Event, InboundDelivery, OrderRow, ProductRow
from storeflow.core.stores import integrations
from storeflow.core.stores.provider import Provider, StoreContext, Verified, WebhookRequest

ENTRY_POINT_GROUP = "storeflow.providers"
# One currency of each kind of minor unit: none, cents, mils.
CURRENCIES = ("JPY", "USD", "EUR", "KWD", "BHD")
BEYOND_2_53 = 2**53 + 1

# Property checks run on every provider's suite: enough examples to find a float,
# few enough to keep a provider's kit run in seconds. Each provider's subclass runs
# the same test methods (differing executors, by design); the fixtures they use are
# the provider's, never state that one example leaves for the next.
_PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.differing_executors,
    ],
)


@attrs.frozen
class Recording:
    """One delivery as the platform sends it: header names as sent, the raw body."""

    name: str
    headers: dict[str, str]
    body: bytes
    content_type: str = "application/json"

    def request(self) -> WebhookRequest:
        return WebhookRequest(
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self.body,
            content_type=self.content_type,
        )

    def tampered(self) -> Recording:
        """The same delivery with one byte of the body changed."""
        body = bytearray(self.body)
        position = len(body) // 2
        body[position] = ord("0") if body[position] != ord("0") else ord("1")
        return attrs.evolve(self, name=f"{self.name} (tampered)", body=bytes(body))


@attrs.frozen
class Unsupported:
    reason: str


def unsupported(reason: str) -> Unsupported:
    """Declare a capability the provider lacks; the kit skips its checks with ``reason``."""
    if not reason.strip():
        raise ValueError("say why the capability is unsupported")
    return Unsupported(reason)


@attrs.frozen
class SettingsCase:
    """A valid settings document and an invalid one with the path its error must name."""

    valid: dict[str, Any]
    invalid: dict[str, Any]
    invalid_path: str


def _skip_unless(capability: object) -> None:
    if isinstance(capability, Unsupported):
        pytest.skip(capability.reason)


def _flat(mapped: records.Mapped, kind: type) -> list[Any]:
    return [rec for rec in mapped.records if isinstance(rec, kind)]


class ProviderKit:
    """Subclass in a test module; override the fixtures and builders marked *required*.

    Required: ``entry_point`` (the name in the ``storeflow.providers`` group), the
    ``provider``, ``secret`` and ``recordings`` fixtures, and the ``order_document``,
    ``product_document`` and ``deliver`` builders. Optional: ``settings_case`` and
    ``signatures`` (return :func:`unsupported` to skip with a reason),
    ``optional_order_fields``, and ``receive`` for providers authenticated outside
    ``verify_webhook``.
    """

    entry_point: ClassVar[str] = ""
    # Dotted paths into ``order_document`` that a sender may leave out.
    optional_order_fields: ClassVar[tuple[str, ...]] = ()

    # --- fixtures a provider supplies -------------------------------------------------

    @pytest.fixture
    def provider(self) -> Provider:
        raise NotImplementedError("override the `provider` fixture: return your provider")

    @pytest.fixture
    def secret(self) -> str:
        raise NotImplementedError("override the `secret` fixture: the secret recordings use")

    @pytest.fixture
    def recordings(self, secret: str) -> list[Recording]:
        raise NotImplementedError("override `recordings`: deliveries with their headers")

    @pytest.fixture
    def settings_case(self) -> SettingsCase | Unsupported:
        return unsupported("the provider declares no settings (no validate_settings)")

    @pytest.fixture
    def signatures(self) -> bool | Unsupported:
        """Whether ``verify_webhook`` checks a signature made with ``secret``."""
        return True

    # --- builders a provider supplies ---------------------------------------------------

    def order_document(
        self, *, order_id: str, total: Decimal, currency: str, modified_at: datetime
    ) -> tuple[str, Any]:
        """(topic, JSON document) of one placed order in the provider's wire format."""
        raise NotImplementedError("override order_document(order_id, total, currency, modified_at)")

    def product_document(
        self, *, product_id: str, title: str, modified_at: datetime
    ) -> tuple[str, Any]:
        """(topic, JSON document) of one simple product in the provider's wire format."""
        raise NotImplementedError("override product_document(product_id, title, modified_at)")

    def deliver(self, topic: str, document: Any, secret: str) -> Recording:
        """The delivery the platform would send for ``document``, signed with ``secret``."""
        raise NotImplementedError("override deliver(topic, document, secret)")

    def receive(self, provider: Provider, recording: Recording, secret: str) -> Verified:
        """How storeflow authenticates the recording (the provider's ``verify_webhook``)."""
        return provider.verify_webhook(recording.request(), secret)

    # --- helpers ------------------------------------------------------------------------

    def store_context(self, currency: str = "USD") -> StoreContext:
        return StoreContext(
            integration_id="int_kit",
            company_id=1,
            store_url="https://kit.example.com",
            currency=currency,
        )

    def map_recording(
        self, provider: Provider, recording: Recording, secret: str, currency: str = "USD"
    ) -> records.Mapped:
        verified = self.receive(provider, recording, secret)
        assert verified.kind == "delivery", f"{recording.name}: verified as {verified.kind!r}"
        payload = provider.parse_payload(verified.topic, recording.body)
        mapped = provider.map_webhook(verified.topic, payload, self.store_context(currency))
        assert isinstance(mapped, records.Mapped), (
            f"{recording.name}: map_webhook returned {type(mapped).__name__}, not storeflow.Mapped"
        )
        return mapped

    def one_order(self, mapped: records.Mapped, what: str) -> records.Order:
        found = [rec for rec in mapped.records if isinstance(rec, records.Order)]
        assert len(found) == 1, f"{what}: expected one storeflow.Order record, got {mapped.records}"
        return found[0]


class DiscoveryChecks(ProviderKit):
    def test_discovered_by_entry_point(self, provider: Provider) -> None:
        assert self.entry_point, "set `entry_point` to the name in the storeflow.providers group"
        names = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        assert self.entry_point in names, (
            f"no entry point {self.entry_point!r} in the {ENTRY_POINT_GROUP!r} group "
            f"(found {sorted(names)}); declare it in pyproject.toml and install the distribution"
        )
        pm = plugins.build_plugin_manager()
        pm.check_pending()
        found = plugins.providers(pm)
        assert provider.name in found, (
            f"the entry point loads, but no plugin's register_providers() returns a provider "
            f"named {provider.name!r} (found {sorted(found)})"
        )
        assert type(found[provider.name]) is type(provider), (
            f"the registered {provider.name!r} is a {type(found[provider.name]).__name__}, "
            f"the kit tests a {type(provider).__name__}"
        )

    def test_implements_the_interface(self, provider: Provider) -> None:
        assert isinstance(provider, Provider), (
            f"{type(provider).__name__} lacks part of storeflow.Provider "
            "(name, verify_webhook, parse_payload, map_webhook, map_sync_item)"
        )
        assert provider.name and provider.name == provider.name.strip().lower(), (
            f"provider name {provider.name!r} must be a non-empty lower-case word"
        )


class SettingsChecks(ProviderKit):
    def test_valid_settings_accepted(
        self, provider: Provider, settings_case: SettingsCase | Unsupported
    ) -> None:
        _skip_unless(settings_case)
        assert isinstance(settings_case, SettingsCase)
        provider.validate_settings(settings_case.valid)  # type: ignore[attr-defined]

    def test_invalid_settings_rejected_readably(
        self, provider: Provider, settings_case: SettingsCase | Unsupported
    ) -> None:
        _skip_unless(settings_case)
        assert isinstance(settings_case, SettingsCase)
        with pytest.raises(ValidationFailed) as caught:
            provider.validate_settings(settings_case.invalid)  # type: ignore[attr-defined]
        details = caught.value.details or []
        paths = [d.get("path") for d in details]
        assert settings_case.invalid_path in paths, (
            f"the error should name {settings_case.invalid_path!r}; it names {paths}"
        )
        assert all(str(d.get("message", "")).strip() for d in details), (
            f"every detail needs a message a person can act on: {details}"
        )


class _CompareSpy:
    def __init__(self, real: Callable[[Any, Any], bool]) -> None:
        self.real = real
        self.calls = 0

    def __call__(self, left: Any, right: Any) -> bool:
        self.calls += 1
        return self.real(left, right)


class SignatureChecks(ProviderKit):
    def test_valid_signatures_accepted(
        self,
        provider: Provider,
        recordings: list[Recording],
        secret: str,
        signatures: bool | Unsupported,
    ) -> None:
        _skip_unless(signatures)
        for recording in recordings:
            verified = self.receive(provider, recording, secret)
            assert verified.kind == "delivery", f"{recording.name}: {verified}"
            assert verified.dedupe_key, f"{recording.name}: verified without a dedupe_key"

    def test_tampered_body_rejected(
        self,
        provider: Provider,
        recordings: list[Recording],
        secret: str,
        signatures: bool | Unsupported,
    ) -> None:
        _skip_unless(signatures)
        for recording in recordings:
            with pytest.raises(Unauthenticated):
                self.receive(provider, recording.tampered(), secret)

    def test_wrong_secret_rejected(
        self,
        provider: Provider,
        recordings: list[Recording],
        secret: str,
        signatures: bool | Unsupported,
    ) -> None:
        _skip_unless(signatures)
        wrong = self.wrong_secret(secret)
        for recording in recordings:
            with pytest.raises(Unauthenticated):
                self.receive(provider, recording, wrong)

    def wrong_secret(self, secret: str) -> str:
        """A secret of the same shape that is not ``secret`` (override for strict formats)."""
        return secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")

    def test_signatures_compared_in_constant_time(
        self,
        provider: Provider,
        recordings: list[Recording],
        secret: str,
        signatures: bool | Unsupported,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        _skip_unless(signatures)
        spy = _CompareSpy(hmac.compare_digest)
        monkeypatch.setattr(hmac, "compare_digest", spy)
        monkeypatch.setattr(secrets_module, "compare_digest", spy)
        self.receive(provider, recordings[0], secret)
        assert spy.calls, (
            "verify_webhook accepted a signature without hmac.compare_digest "
            "(or secrets.compare_digest): compare signatures in constant time"
        )


class MappingChecks(ProviderKit):
    def test_every_recording_maps(
        self, provider: Provider, recordings: list[Recording], secret: str
    ) -> None:
        assert recordings, "supply at least one recorded delivery"
        for recording in recordings:
            mapped = self.map_recording(provider, recording, secret)
            if mapped.ignored is not None:
                assert mapped.ignored.reason.strip(), f"{recording.name}: ignored without reason"
                continue
            assert mapped.records, f"{recording.name}: mapped into no records and not Ignored"
            for rec in mapped.records:
                assert isinstance(rec, records.Record), (
                    f"{recording.name}: {type(rec).__name__} is not a storeflow record"
                )
                records.check_bounds(rec)

    @_PROPERTY
    @given(data=st.data())
    def test_money_is_exact(self, provider: Provider, secret: str, data: st.DataObject) -> None:
        currency = data.draw(st.sampled_from(CURRENCIES), label="currency")
        places = money.exponent(currency)
        minor = data.draw(st.integers(min_value=0, max_value=10**12), label="minor units")
        total = Decimal(minor).scaleb(-places)
        topic, document = self.order_document(
            order_id="1001", total=total, currency=currency, modified_at=_when()
        )
        mapped = self.map_recording(provider, self.deliver(topic, document, secret), secret)
        order = self.one_order(mapped, f"an order of {total} {currency}")
        assert order.total == money.Money(minor, currency), (
            f"an order of {total} {currency} mapped to {order.total}; expected "
            f"Money(minor={minor}, currency={currency!r}): money must stay exact "
            "(parse decimal strings with storeflow.money.parse, never float)"
        )

    def test_ids_beyond_2_53_stay_strings(self, provider: Provider, secret: str) -> None:
        for big in (BEYOND_2_53, 2**63 - 1):
            topic, document = self.order_document(
                order_id=str(big), total=Decimal("10.00"), currency="USD", modified_at=_when()
            )
            mapped = self.map_recording(provider, self.deliver(topic, document, secret), secret)
            order = self.one_order(mapped, f"order {big}")
            assert order.provider_order_id == str(big), (
                f"order id {big} came out as {order.provider_order_id!r}: ids are strings, "
                "never floats"
            )
            topic, document = self.product_document(
                product_id=str(big), title="Big id", modified_at=_when()
            )
            mapped = self.map_recording(provider, self.deliver(topic, document, secret), secret)
            ids = [r.provider_product_id for r in _flat(mapped, records.Product)]
            assert ids == [str(big)], f"product id {big} came out as {ids}"

    @_PROPERTY
    @given(data=st.data())
    def test_extra_fields_never_crash(
        self, provider: Provider, secret: str, data: st.DataObject
    ) -> None:
        topic, document = self.order_document(
            order_id="1002", total=Decimal("12.50"), currency="USD", modified_at=_when()
        )
        plain = self.map_recording(provider, self.deliver(topic, document, secret), secret)
        extra = data.draw(_extra_fields(), label="extra fields")
        widened = _with_extra(document, extra)
        mapped = self.map_recording(provider, self.deliver(topic, widened, secret), secret)
        assert mapped.records == plain.records, (
            f"unknown fields {sorted(extra)} changed the mapping: stores add fields, "
            "a provider must ignore the ones it does not know"
        )

    @_PROPERTY
    @given(data=st.data())
    def test_missing_optional_fields_never_crash(
        self, provider: Provider, secret: str, data: st.DataObject
    ) -> None:
        if not self.optional_order_fields:
            pytest.skip("optional_order_fields names no optional field of order_document")
        dropped = data.draw(
            st.sets(st.sampled_from(self.optional_order_fields), min_size=1), label="dropped"
        )
        topic, document = self.order_document(
            order_id="1003", total=Decimal("7.00"), currency="USD", modified_at=_when()
        )
        narrowed = _without(document, dropped)
        try:
            mapped = self.map_recording(provider, self.deliver(topic, narrowed, secret), secret)
        except StoreflowError as exc:
            raise AssertionError(
                f"an order without {sorted(dropped)} was refused ({exc.code}: {exc}); "
                "optional fields may be missing"
            ) from exc
        self.one_order(mapped, f"an order without {sorted(dropped)}")


# --- the delivery flow ----------------------------------------------------------------


@attrs.frozen
class KitStore:
    """A migrated database with one company and one connected integration of the provider."""

    rt: Runtime
    integration_id: str
    company_id: int

    def deliver(
        self, kit: ProviderKit, provider: Provider, recording: Recording, secret: str
    ) -> None:
        """What the webhook route does: authenticate, check, store with a job (run at commit)."""
        verified = kit.receive(provider, recording, secret)
        error = ingest.check(provider, verified, recording.body)
        assert error is None, f"{recording.name}: refused: {error.code}: {error}"
        with self.rt.unit_of_work() as session:
            integration = integrations.get(session, self.integration_id)
            ingest.store(session, integration, provider, verified, recording.body, None)

    def count(self, model: Any) -> int:
        with self.rt.reading() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.company_id == self.company_id)
                )
                or 0
            )

    def failures(self) -> list[str]:
        with self.rt.reading() as session:
            rows = session.scalars(
                select(InboundDelivery).where(InboundDelivery.status == "failed")
            )
            return [f"{row.topic}: {row.error}" for row in rows]


_TEMPLATES: dict[str, Path] = {}


def _template(factory: pytest.TempPathFactory) -> Path:
    """One migrated database per test session, copied for each check."""
    key = str(factory.getbasetemp())
    if key not in _TEMPLATES:
        path = factory.mktemp("storeflow-kit") / "template.db"
        migrate.upgrade(f"sqlite:///{path}")
        _TEMPLATES[key] = path
    return _TEMPLATES[key]


class FlowChecks(ProviderKit):
    @pytest.fixture
    def kit_store(
        self,
        provider: Provider,
        secret: str,
        tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Iterator[KitStore]:
        path = tmp_path / "kit.db"
        shutil.copy(_template(tmp_path_factory), path)
        rt = Runtime.build(
            config.Settings(
                var_dir=tmp_path / "var",
                database_url=f"sqlite:///{path}",
                secret_key="kit",
                queue_immediate=True,
                wake_interval_seconds=0.0,
            )
        )
        # The instance under test, whatever the entry point registered under its name.
        rt.providers[provider.name] = provider
        with rt.unit_of_work() as session:
            company = accounts.create_company(session, "kit", "Kit")
            integration = integrations.create(
                session, company, provider.name, store_url="https://kit.example.com"
            )
            integration.webhook_secret = secret
            integration.signing_secret = secret
            store = KitStore(rt, integration.id, company.id)
        clock.reset()
        try:
            yield store
        finally:
            clock.reset()
            rt.close()

    def test_duplicate_delivery_has_one_effect(
        self, provider: Provider, recordings: list[Recording], secret: str, kit_store: KitStore
    ) -> None:
        for recording in recordings:
            kit_store.deliver(self, provider, recording, secret)
        effects = self._effects(kit_store)
        for recording in recordings:
            kit_store.deliver(self, provider, recording, secret)
        assert self._effects(kit_store) == effects, (
            "delivering every recording a second time changed what is stored "
            f"({effects} -> {self._effects(kit_store)}): a re-sent delivery must have no effect "
            "(same Verified.dedupe_key, idempotent records)"
        )
        assert not kit_store.failures(), f"deliveries failed: {kit_store.failures()}"

    def test_order_pushed_twice_is_one_order(
        self, provider: Provider, secret: str, kit_store: KitStore
    ) -> None:
        topic, document = self.order_document(
            order_id="2001", total=Decimal("30.00"), currency="USD", modified_at=_when()
        )
        for _ in range(2):
            kit_store.deliver(self, provider, self.deliver(topic, document, secret), secret)
        assert kit_store.count(OrderRow) == 1
        placed = self._events(kit_store, "ecommerce.order_placed")
        assert placed == 1, f"one order delivered twice made {placed} order_placed events"

    def test_older_after_newer_changes_nothing(
        self, provider: Provider, secret: str, kit_store: KitStore
    ) -> None:
        when = _when()
        newer = self.product_document(product_id="3001", title="Newer", modified_at=when)
        older = self.product_document(
            product_id="3001", title="Older", modified_at=when - timedelta(hours=1)
        )
        kit_store.deliver(self, provider, self.deliver(*newer, secret), secret)
        kit_store.deliver(self, provider, self.deliver(*older, secret), secret)
        with kit_store.rt.reading() as session:
            titles = list(
                session.scalars(
                    select(ProductRow.title).where(ProductRow.provider_product_id == "3001")
                )
            )
        assert titles == ["Newer"], (
            f"an older version delivered after a newer one left {titles}: map the source's "
            "modified time into modified_at so core can keep the newer version"
        )

    def _effects(self, store: KitStore) -> dict[str, int]:
        return {
            "orders": store.count(OrderRow),
            "products": store.count(ProductRow),
            "events": store.count(Event),
        }

    def _events(self, store: KitStore, name: str) -> int:
        with store.rt.reading() as session:
            return int(
                session.scalar(select(func.count()).select_from(Event).where(Event.name == name))
                or 0
            )


class ProviderConformance(
    DiscoveryChecks, SettingsChecks, SignatureChecks, MappingChecks, FlowChecks
):
    """Every check. ``class TestMyShop(ProviderConformance): ...`` runs them all."""


# --- document surgery -----------------------------------------------------------------


def _when() -> datetime:
    return datetime(2026, 3, 2, 9, 15, 4, tzinfo=UTC)


_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12).map(
    lambda key: f"x_{key}"
)
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=6,
)


def _extra_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=4)


def _with_extra(document: Any, extra: Mapping[str, Any]) -> Any:
    """``document`` with ``extra`` added at its top level and in each nested object."""
    if isinstance(document, dict):
        widened = {key: _with_extra(value, extra) for key, value in document.items()}
        return {**extra, **widened}
    if isinstance(document, list):
        return [_with_extra(item, extra) for item in document]
    return document


def _without(document: Any, paths: set[str]) -> Any:
    """A copy of ``document`` without the dotted ``paths`` (a list applies to each item)."""
    copy = copy_module.deepcopy(document)
    for path in paths:
        *parents, last = path.split(".")
        for target in _reach(copy, parents):
            target.pop(last, None)
    return copy


def _reach(node: Any, parts: list[str]) -> list[dict[str, Any]]:
    """The objects at ``parts`` under ``node``, stepping into every item of a list."""
    if isinstance(node, list):
        return [found for item in node for found in _reach(item, parts)]
    if not isinstance(node, dict):
        return []
    if not parts:
        return [node]
    return _reach(node.get(parts[0]), parts[1:])
