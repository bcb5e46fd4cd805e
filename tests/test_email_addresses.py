"""Issue 16, finding 7: every address is checked with email-validator and IDNA-normalised.

Store data (a WooCommerce order's billing email), sign-up (``accounts.create_user``)
and lookups share one normal form, so ``A@BÜCHER.de`` and ``a@xn--bcher-kva.de``
are one subscriber, and ``a,b@example.com`` is nobody.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storeflow.core import accounts
from storeflow.core.emails import (
    InvalidAddress,
    account_email,
    envelope_address,
    normalize_email,
    parse_sender,
    usable_email,
)
from storeflow.core.errors import Unmappable, ValidationFailed
from storeflow.core.stores.provider import StoreContext
from storeflow.providers.woocommerce.plugin import WooCommerceProvider
from tests.providers import woocommerce_payloads as fx


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("  Ana.Garcia@Example.COM ", "ana.garcia@example.com"),
        ("A@BÜCHER.de", "a@bücher.de"),
        ("a@xn--bcher-kva.de", "a@bücher.de"),  # the same person, typed as punycode
        ("ü@example.com", "ü@example.com"),  # RFC 6531: a non-ASCII local part is valid
    ],
)
def test_usable_addresses_are_stored_in_one_normal_form(value: str, stored: str) -> None:
    assert usable_email(value) == stored
    assert normalize_email(value) == stored


@pytest.mark.parametrize(
    "value",
    ["a,b@example.com", "a@b@c", "a..b@example.com", "buyer@shop.test", "x@localhost", "a@-x.com"],
)
def test_what_is_not_a_deliverable_address_is_not_usable(value: str) -> None:
    assert usable_email(value) is None


def test_envelopes_use_the_ascii_domain() -> None:
    assert envelope_address("a@bücher.de") == "a@xn--bcher-kva.de"
    assert envelope_address("a@example.com") == "a@example.com"


@pytest.mark.parametrize(
    ("value", "address", "name"),
    [
        ("shop@example.com", "shop@example.com", ""),
        ("Acme <Shop@Example.com>", "shop@example.com", "Acme"),
        ('"Acme, Inc" <shop@example.com>', "shop@example.com", "Acme, Inc"),
        ("storeflow@localhost", "storeflow@localhost", ""),  # a local relay's default
    ],
)
def test_a_sender_is_one_address_with_an_optional_name(value: str, address: str, name: str) -> None:
    found = parse_sender(value)
    assert (found.address, found.display_name) == (address, name)


@pytest.mark.parametrize(
    "value", ["a@example.com, b@example.com", "shop@example.com\r\nBcc: x@example.com", "", "x"]
)
def test_a_sender_list_or_a_header_injection_is_refused(value: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_sender(value)


# --- hypothesis: the normal form is stable ----------------------------------------------

local = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,10}[A-Za-z0-9]", fullmatch=True)
domain = st.sampled_from(["example.com", "Bücher.DE", "xn--bcher-kva.de", "ÉCOLE.fr", "shop.io"])


@given(local, domain, st.sampled_from(["", " ", "\t"]))
def test_normalising_is_idempotent_and_agrees_with_usable(name: str, host: str, pad: str) -> None:
    value = f"{pad}{name}@{host}{pad}"
    found = usable_email(value)
    if found is None:
        return  # e.g. two dots in a row: refused, and lookups keep what they were given
    assert normalize_email(value) == found
    assert normalize_email(found) == found and usable_email(found) == found
    assert usable_email(envelope_address(found)) == found


@given(st.text(max_size=40))
def test_normalising_never_raises(value: str) -> None:
    assert isinstance(normalize_email(value), str)


# --- where addresses come in ---------------------------------------------------------------


def test_an_order_with_an_address_list_is_kept_as_a_failed_delivery() -> None:
    provider = WooCommerceProvider()
    store = StoreContext(integration_id="int_1", company_id=1, currency="USD", timezone="UTC")
    payload = fx.order(id=4243, email="a,b@example.com")
    parsed = provider.parse_payload("order.created", fx.php_json(payload))
    with pytest.raises(Unmappable) as caught:
        provider.map_webhook("order.created", parsed, store)
    assert caught.value.code == "missing_email"


def test_an_order_with_an_international_domain_is_normalised() -> None:
    provider = WooCommerceProvider()
    store = StoreContext(integration_id="int_1", company_id=1, currency="USD", timezone="UTC")
    payload = fx.order(id=4244, email="Ana@BÜCHER.de")
    parsed = provider.parse_payload("order.created", fx.php_json(payload))
    (record,) = provider.map_webhook("order.created", parsed, store).records
    assert record.email == "ana@bücher.de"


def test_sign_up_refuses_what_is_not_one_address(rt) -> None:
    with rt.unit_of_work() as session:
        with pytest.raises(ValidationFailed) as caught:
            accounts.create_user(session, "a,b@example.com", "long enough password")
        assert caught.value.details[0]["path"] == "$.email"
        user = accounts.create_user(session, "Owner@Bücher.DE", "long enough password")
        assert user.email == "owner@bücher.de"
        assert accounts.find_user(session, "owner@xn--bcher-kva.de") is user
    assert account_email("admin@intranet") == "admin@intranet"  # private names for operators
