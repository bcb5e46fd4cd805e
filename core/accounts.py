"""Companies, users, memberships and admin API keys.

API keys are shown once and stored as SHA-256 hashes: they are long random
strings, so a fast hash is enough (unlike passwords, which use argon2).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.emails import InvalidAddress, account_email, normalize_email
from storeflow.core.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from storeflow.core.storage.tables import ApiKey, Company, Membership, User

ROLES = ("owner", "admin", "member")
KEY_PREFIX = "sf_live_"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_hasher = PasswordHasher()


def create_company(session: Session, slug: str, name: str) -> Company:
    if not _SLUG.match(slug):
        raise ValidationFailed(
            "a company slug is lower-case letters, digits and dashes",
            details=[{"path": "$.slug", "message": "must match [a-z0-9][a-z0-9-]*"}],
        )
    if session.scalar(select(Company).where(Company.slug == slug)):
        raise Conflict(f"company {slug!r} already exists", code="company_exists")
    company = Company(slug=slug, name=name, settings={})
    session.add(company)
    session.flush()
    return company


def find_company(session: Session, slug: str) -> Company | None:
    return session.scalar(select(Company).where(Company.slug == slug))


def company_by_slug(session: Session, slug: str) -> Company:
    company = find_company(session, slug)
    if company is None:
        raise NotFound(f"no company {slug!r}", code="company_not_found")
    return company


def company_by_id(session: Session, company_id: int) -> Company:
    return session.get_one(Company, company_id)


def memberships(session: Session, user_id: int) -> list[tuple[Company, str]]:
    """The user's companies with the user's role in each, by company name."""
    rows = session.execute(
        select(Company, Membership.role)
        .join(Membership, Membership.company_id == Company.id)
        .where(Membership.user_id == user_id)
        .order_by(Company.name)
    ).all()
    return [(company, role) for company, role in rows]


def role_in(session: Session, user_id: int, company_id: int) -> tuple[str, Company] | None:
    """The user's role in the company and the company; None when not a member."""
    row = session.execute(
        select(Company, Membership.role)
        .join(Membership, Membership.company_id == Company.id)
        .where(Membership.user_id == user_id, Company.id == company_id)
    ).first()
    return (row[1], row[0]) if row else None


def create_user(session: Session, email: str, password: str) -> User:
    try:
        email = account_email(email)
    except InvalidAddress as error:
        raise ValidationFailed(
            f"not an email address: {error}", details=[{"path": "$.email", "message": str(error)}]
        ) from None
    if len(password) < 8:
        raise ValidationFailed(
            "passwords have at least 8 characters",
            details=[{"path": "$.password", "message": "too short"}],
        )
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, password_hash=_hasher.hash(password), session_version=0)
        session.add(user)
        session.flush()
    else:
        set_password(session, user, password)
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """A new password; every page session of the user ends (a thief's copy included)."""
    user.password_hash = _hasher.hash(password)
    end_sessions(session, user)


def end_sessions(session: Session, user: User) -> None:
    """End every page session of ``user``: their cookies carry the old version number.

    Sessions are signed cookies, which cannot be recalled one by one; one counter per
    user is what makes "sign out" and "change password" reach the other browsers too.
    """
    user.session_version = (user.session_version or 0) + 1
    session.flush()


def add_member(session: Session, user: User, company: Company, role: str) -> Membership:
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}")
    membership = session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.company_id == company.id)
    )
    if membership is None:
        membership = Membership(user_id=user.id, company_id=company.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def check_password(session: Session, email: str, password: str) -> User | None:
    user = find_user(session, email)
    if user is None:
        _hasher.hash(password)  # same cost whether or not the user exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(session: Session, company: Company) -> str:
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(company_id=company.id, prefix=token[:12], key_hash=hash_token(token)))
    session.flush()
    return token


def company_for_api_key(session: Session, token: str) -> Company:
    key = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_token(token), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        raise Unauthenticated("unknown or revoked API key", code="invalid_api_key")
    return session.get_one(Company, key.company_id)


def revoke_api_key(session: Session, token: str) -> None:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(token)))
    if key is not None:
        key.revoked_at = clock.now()
