"""Optional login: ``CARDIOAGENT_AUTH=user:pass`` (several pairs separated by commas)."""

from __future__ import annotations

from cardioagent.agent import InputError

AUTH_FORMAT = "'user:password', several separated by commas, e.g. 'alice:s3cret,bob:pa55'"


def parse_auth(value: str | None) -> list[tuple[str, str]]:
    """The (user, password) pairs in ``value``; empty when no login is wanted."""
    if value is None or not value.strip():
        return []
    pairs = []
    for item in value.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user.strip() or not password:
            shown = item.strip().partition(":")[0] or "(empty)"
            raise InputError(
                "CARDIOAGENT_AUTH", f"entry for user {shown!r} is not user:password", AUTH_FORMAT
            )
        pairs.append((user.strip(), password))
    return pairs


def owner_of(username: str | None) -> str:
    """The key conversations are filed under: the logged-in user, or 'local' when there is no login."""
    return username or "local"
