"""Request authentication helpers for the admin API."""

from __future__ import annotations

from flask import request

from storeflow.core import accounts
from storeflow.core.errors import Unauthenticated
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Company


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <api key>'", code="missing_credentials")
    return token.strip()


def company_from_api_key(session: Session) -> Company:
    return accounts.company_for_api_key(session, bearer_token())
