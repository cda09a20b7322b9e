"""Refusals of civil-status events: a stable code (contracts/errors.yaml) and what was wrong."""

from __future__ import annotations

from typing import Any


class EventRefused(Exception):
    """The event cannot be applied; nothing was written.

    ``code`` is a key of ``contracts/errors.yaml``; ``errors`` lists ``{pointer, rule, reason}``
    items; ``extra`` adds members to the problem (e.g. the PIN already issued for a duplicate).
    """

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        pointer: str | None = None,
        rule: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = (
            [{"pointer": pointer, "rule": rule or code.lower(), "reason": detail}]
            if pointer is not None
            else None
        )
        self.extra = extra
