"""Email addresses as storeflow stores, compares and sends to them.

Every address that comes in (store data, sign-up, a step's ``from``) is checked with
``email-validator`` (RFC 5321/5322/6531 syntax, no DNS look-up) and stored in one
normal form: the domain IDNA-normalised to Unicode (``a@xn--bcher-kva.de`` and
``A@BÜCHER.de`` are both ``a@bücher.de``) and, as storeflow always did, the whole
address lower-cased. Subscribers are one per company and email, users one per email,
and every lookup by email (admin filters, sign-in) goes through
:func:`normalize_email` first, so the same person typed two ways is one row.

Which addresses are accepted where:

- :func:`usable_email` (store data): globally deliverable addresses only; a
  ``.test`` or ``localhost`` buyer address, or ``a,b@example.com``, is not one;
- :func:`account_email` (sign-up): also private names (``admin@intranet``,
  ``owner@demo.test``), since operators sign in with whatever their company uses;
- :func:`parse_sender` (``from`` of a step, ``STOREFLOW_MAIL_FROM``): one address,
  optionally with a display name (``Shop <shop@example.com>``), never a list and
  never a line break; ``localhost`` is allowed for a local relay.

:func:`envelope_address` is the form an SMTP envelope and the address headers use:
the ASCII (punycode) domain, so no SMTPUTF8 is needed unless the local part itself is
not ASCII.
"""

from __future__ import annotations

from functools import lru_cache

import attrs
from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """Not one valid email address; the message says why."""


@attrs.frozen
class Address:
    address: str  # the normal form (Unicode domain, lower-cased)
    display_name: str = ""

    @property
    def envelope(self) -> str:
        return envelope_address(self.address)


@lru_cache(maxsize=65536)
def _validated(value: str, private: bool) -> str:
    try:
        found = validate_email(
            value,
            check_deliverability=False,
            globally_deliverable=not private,
            test_environment=private,
        )
    except EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None
    return str(found.normalized).lower()


def normalize_email(email: str) -> str:
    """The stored form of ``email``; never raises (lookups pass whatever they were given)."""
    text = email.strip()
    lowered = text.lower()
    if text.isascii() and "xn--" not in lowered:
        return lowered  # what the validator would give (the hot path of every sync)
    try:
        return _validated(text, True)
    except InvalidAddress:
        return lowered


def usable_email(value: str | None) -> str | None:
    """The normalized email, or None when ``value`` is empty or not a deliverable address."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return _validated(text, False)
    except InvalidAddress:
        return None


def check_email(value: str) -> str:
    """Like :func:`usable_email`, raising :class:`InvalidAddress` with the reason."""
    return _validated(value.strip(), False)


def account_email(value: str) -> str:
    """A user's sign-in address (private domains allowed); raises :class:`InvalidAddress`."""
    return _validated(value.strip(), True)


def parse_sender(value: str) -> Address:
    """One sender address, ``shop@example.com`` or ``Shop <shop@example.com>``."""
    if any(c in value for c in "\r\n\0"):
        raise InvalidAddress("a sender address cannot contain a line break")
    text = value.strip()
    if not text:
        raise InvalidAddress("a sender address cannot be empty")
    try:
        found = validate_email(
            text,
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
            allow_display_name=True,
        )
        return Address(str(found.normalized).lower(), str(found.display_name or ""))
    except EmailNotValidError as error:
        local, at, domain = text.rpartition("@")
        # A local relay's own name: what email-validator refuses as special-use.
        if at and domain.rstrip(">").strip().lower() == "localhost" and "," not in text:
            probe = parse_sender(f"{local}@localhost.test{'>' if text.endswith('>') else ''}")
            address = probe.address.removesuffix(".test")
            return Address(address, probe.display_name)
        raise InvalidAddress(str(error)) from None


def envelope_address(address: str) -> str:
    """``a@bücher.de`` -> ``a@xn--bcher-kva.de``; a non-ASCII local part stays as it is."""
    if address.isascii():
        return address
    try:
        found = validate_email(
            address, check_deliverability=False, globally_deliverable=False, test_environment=True
        )
    except EmailNotValidError:
        return address
    return str(found.ascii_email or address)
