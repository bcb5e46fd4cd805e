"""X-WC-Webhook-Signature and the activation ping, as WooCommerce really sends them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from storeflow.core.errors import Unauthenticated
from storeflow.core.stores.provider import WebhookRequest
from storeflow.providers.woocommerce import signature
from storeflow.providers.woocommerce.plugin import KEPT_HEADERS, WooCommerceProvider
from tests.providers import woocommerce_payloads as fx

SECRET = "s3cr3t-Kx9fQ2mV7pL"
PROVIDER = WooCommerceProvider()


def reference_signature_ok(raw_body: bytes, header_value: str, secret: str) -> bool:
    """The check from wire-formats.md A2, written independently of the module."""
    mac = hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac), header_value.strip().encode("ascii"))


# --- sign / verify -----------------------------------------------------------------


def test_sign_matches_the_reference_computation() -> None:
    body = fx.php_json(fx.order())
    assert reference_signature_ok(body, signature.sign(body, SECRET), SECRET)


def test_sign_is_base64_of_the_raw_digest_not_hex() -> None:
    value = signature.sign(b"{}", SECRET)
    assert len(value) == 44 and value.endswith("=")
    assert len(base64.b64decode(value, validate=True)) == 32


def test_known_vector() -> None:
    # printf '%s' '{"id":1}' | openssl dgst -sha256 -hmac key -binary | base64
    assert signature.sign(b'{"id":1}', "key") == "yVxqfCx8dh6YTGjPZLS8qT8HJCkAqv27Mo07t1qw3LA="


def test_php_escaped_body_verifies_over_its_raw_bytes() -> None:
    body = fx.php_json(fx.guest_order())
    assert b"\\/" in body and b"\\u00e9" in body  # the bytes a store really signs
    header = signature.sign(body, SECRET)
    assert signature.verify(body, header, SECRET)
    # Re-serialising the decoded JSON changes the bytes, so its signature cannot match:
    # verification must happen on what arrived.
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert reserialised != body
    assert not signature.verify(reserialised, header, SECRET)


def test_tampered_body_fails() -> None:
    body = fx.php_json(fx.order())
    header = signature.sign(body, SECRET)
    tampered = body.replace(b'"total":"75.00"', b'"total":"0.01"')
    assert tampered != body
    assert not signature.verify(tampered, header, SECRET)
    assert not signature.verify(body + b" ", header, SECRET)


def test_wrong_secret_fails() -> None:
    body = fx.php_json(fx.order())
    assert not signature.verify(body, signature.sign(body, SECRET), SECRET + "x")


@pytest.mark.parametrize("header", [None, "", "   ", "not-base64", "\u00e9\u00e9\u00e9", "0" * 64])
def test_missing_or_garbage_headers_fail_without_raising(header: str | None) -> None:
    assert not signature.verify(b"{}", header, SECRET)


def test_surrounding_whitespace_in_the_header_is_ignored() -> None:
    assert signature.verify(b"{}", f"  {signature.sign(b'{}', SECRET)}\n", SECRET)


def test_an_empty_secret_never_verifies() -> None:
    # Otherwise anyone could sign with the empty key of a misconfigured integration.
    body = b'{"id":1}'
    forged = base64.b64encode(hmac.new(b"", body, hashlib.sha256).digest()).decode()
    assert not signature.verify(body, forged, "")


def test_entity_encoded_secret_is_decoded_like_wordpress() -> None:
    stored = "a&amp;b&lt;c&gt;d&quot;e&#039;f"
    body = b'{"id":1}'
    header = signature.sign(body, stored)
    assert reference_signature_ok(body, header, "a&b<c>d\"e'f")
    assert not reference_signature_ok(body, header, stored)
    assert signature.verify(body, header, stored)


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("plain", "plain"),
        ("&amp;", "&"),
        ("&#038;", "&"),
        ("&#38;", "&"),
        ("&#0038;", "&"),
        ("&#x26;", "&"),
        ("&#X0026;", "&"),
        ("&lt;&gt;", "<>"),
        ("&#60;&#062;", "<>"),
        ("&quot;&#34;&#x22;", '"""'),
        ("&#039;&#39;&#x27;&#X27;", "''''"),
        ("&amp;lt;", "&lt;"),  # one pass, like strtr: no double decoding
        ("&eacute;&nbsp;&copy;", "&eacute;&nbsp;&copy;"),  # not in WordPress's table
        ("&#65;", "&#65;"),
        ("a & b", "a & b"),
    ],
)
def test_wp_specialchars_decode(text: str, decoded: str) -> None:
    assert signature.wp_specialchars_decode(text) == decoded


@given(body=st.binary(max_size=500), secret=st.text(min_size=1, max_size=60))
def test_sign_then_verify_round_trips(body: bytes, secret: str) -> None:
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:
        assume(False)
    assert signature.verify(body, signature.sign(body, secret), secret)


@given(body=st.binary(max_size=200), one=st.text(min_size=1), other=st.text(min_size=1))
def test_different_secrets_give_different_signatures(body: bytes, one: str, other: str) -> None:
    try:
        key_one = signature.wp_specialchars_decode(one).encode("utf-8")
        key_other = signature.wp_specialchars_decode(other).encode("utf-8")
    except UnicodeEncodeError:
        assume(False)
    # HMAC pads short keys with zeros, so "a" and "a\0" are the same key.
    assume(key_one.rstrip(b"\0") != key_other.rstrip(b"\0"))
    assert not signature.verify(body, signature.sign(body, one), other)


# --- verify_webhook: the ping ------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "",  # left to the HTTP transport; may be absent
    ],
)
def test_the_creation_ping_needs_no_signature(content_type: str) -> None:
    verified = PROVIDER.verify_webhook(fx.ping_request(17, content_type=content_type), "")
    assert verified.kind == "ping"
    assert verified.headers == {"x-wc-webhook-id": "17"}


def test_a_ping_shaped_body_with_a_topic_is_not_a_ping() -> None:
    request = fx.ping_request(17)
    request = WebhookRequest(
        headers={**request.headers, "x-wc-webhook-topic": "order.created"},
        body=request.body,
        content_type=request.content_type,
    )
    with pytest.raises(Unauthenticated):
        PROVIDER.verify_webhook(request, SECRET)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"webhook_id=17", "application/json"),
        (b"webhook_id=17&x=1", "application/x-www-form-urlencoded"),
        (b"webhook_id=abc", "application/x-www-form-urlencoded"),
        (b'{"id":1}', "application/x-www-form-urlencoded"),
        (b'{"id":1}', ""),
    ],
)
def test_anything_else_unsigned_is_unauthenticated(body: bytes, content_type: str) -> None:
    request = WebhookRequest(headers={}, body=body, content_type=content_type)
    with pytest.raises(Unauthenticated) as caught:
        PROVIDER.verify_webhook(request, SECRET)
    assert caught.value.code == "invalid_signature"
    assert caught.value.status == 401


# --- verify_webhook: deliveries ----------------------------------------------------


def test_a_signed_delivery_is_verified() -> None:
    request = fx.webhook_request("order.updated", fx.order(), SECRET, webhook_id=4)
    verified = PROVIDER.verify_webhook(request, SECRET)
    assert verified.kind == "delivery"
    assert verified.topic == "order.updated"
    assert verified.dedupe_key == f"order.updated:{hashlib.sha256(request.body).hexdigest()}"
    assert set(verified.headers) == set(KEPT_HEADERS)
    assert verified.headers["x-wc-webhook-id"] == "4"
    assert verified.headers["x-wc-webhook-source"] == "https://shop.example.com/"
    assert "x-wc-webhook-signature" not in verified.headers


def test_header_names_are_matched_case_insensitively() -> None:
    body = fx.php_json(fx.order())
    headers = fx.webhook_headers("order.created", body, SECRET)  # WooCommerce's casing
    verified = PROVIDER.verify_webhook(WebhookRequest(headers=headers, body=body), SECRET)
    assert verified.topic == "order.created"


def test_a_bad_signature_is_unauthenticated() -> None:
    request = fx.webhook_request("order.updated", fx.order(), "another-secret")
    with pytest.raises(Unauthenticated) as caught:
        PROVIDER.verify_webhook(request, SECRET)
    assert caught.value.code == "invalid_signature"
    assert "does not match" in caught.value.message


def test_a_missing_signature_is_unauthenticated() -> None:
    request = fx.webhook_request("order.updated", fx.order(), SECRET)
    headers = {k: v for k, v in request.headers.items() if k != "x-wc-webhook-signature"}
    with pytest.raises(Unauthenticated) as caught:
        PROVIDER.verify_webhook(WebhookRequest(headers=headers, body=request.body), SECRET)
    assert "missing" in caught.value.message


def test_dedupe_ignores_the_non_unique_delivery_id() -> None:
    # Same webhook, same second: WooCommerce repeats the Delivery-ID for different bodies.
    first = fx.webhook_request("order.updated", fx.order(id=1), SECRET, delivery="a" * 32)
    second = fx.webhook_request("order.updated", fx.order(id=2), SECRET, delivery="a" * 32)
    resent = fx.webhook_request("order.updated", fx.order(id=1), SECRET, delivery="b" * 32)
    keys = [PROVIDER.verify_webhook(r, SECRET).dedupe_key for r in (first, second, resent)]
    assert keys[0] != keys[1]
    assert keys[0] == keys[2]


def test_the_same_body_under_another_topic_is_another_delivery() -> None:
    body = fx.php_json(fx.order())
    created = fx.webhook_request("order.created", body, SECRET)
    updated = fx.webhook_request("order.updated", body, SECRET)
    assert (
        PROVIDER.verify_webhook(created, SECRET).dedupe_key
        != PROVIDER.verify_webhook(updated, SECRET).dedupe_key
    )


def test_fixture_headers_look_like_woocommerce() -> None:
    body = fx.php_json(fx.order())
    headers = fx.webhook_headers("order.updated", body, SECRET, webhook_id=4)
    assert headers["User-Agent"] == "WooCommerce/9.8.1 Hookshot (WordPress/6.8.3)"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-WC-Webhook-Resource"] == "order"
    assert headers["X-WC-Webhook-Event"] == "updated"
    assert len(headers["X-WC-Webhook-Delivery-ID"]) == 32
    assert fx.delivery_id(4, now=1000.2) == fx.delivery_id(4, now=1000.9)
    assert reference_signature_ok(body, headers["X-WC-Webhook-Signature"], SECRET)
