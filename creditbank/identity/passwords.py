"""Passwords: argon2id hashes and the password rules."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from creditbank.config import Settings
from creditbank.errors import BadRequest


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher_for(settings: Settings) -> PasswordHasher:
    """argon2id with RFC 9106's low-memory profile (t=3, 64 MiB, p=4); ``env=test`` uses a
    cheap profile so test suites are not dominated by hashing (the hash records its cost)."""
    cfg = settings.identity
    if cfg.argon2_memory_kib is not None:
        return _hasher(cfg.argon2_time_cost, cfg.argon2_memory_kib, 4)
    if settings.env == "test":
        return _hasher(1, 1024, 1)
    return _hasher(3, 65536, 4)


@lru_cache(maxsize=4)
def _dummy(hasher: PasswordHasher) -> str:
    return hasher.hash("creditbank-timing-equaliser")


COMMON = frozenset(
    {
        "password",
        "password1",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "11111111",
        "iloveyou",
        "admin123",
        "abc12345",
        "creditbank",
        "woaini1314",
        "a12345678",
    }
)


def hash_password(settings: Settings, password: str) -> str:
    return hasher_for(settings).hash(password)


def verify_password(settings: Settings, password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user has a hash."""
    hasher = hasher_for(settings)
    try:
        return hasher.verify(password_hash or _dummy(hasher), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str, *, min_length: int, username: str | None = None) -> None:
    """At least ``min_length`` characters, letters and digits, not common, not the username."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"at least {min_length} characters / 至少{min_length}个字符")
    if len(password) > 256:
        problems.append("at most 256 characters / 最多256个字符")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        problems.append("letters and digits / 需同时包含字母和数字")
    if password.lower() in COMMON or (username and username.lower() in password.lower()):
        problems.append("not a common password or the user name / 不能是常见密码或用户名")
    if problems:
        raise BadRequest(
            "password does not meet the rules / 密码不符合要求: " + "; ".join(problems),
            code="weak_password",
        )
