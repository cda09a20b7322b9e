"""VNeID accounts as the population database records them, and the assurance levels.

Level 1 (mức độ 1): self-registered in the app; level 2 (mức độ 2): verified in person with face
and fingerprints (Decree 69/2024/NĐ-CP art. 7-9, domain §5.1-5.2). ``acr`` values accepted:
``"1"``/``"2"`` (the Keycloak-style value seen in the real access tokens) and ``LoA1``/``LoA2``
(seen in ``acr_values`` of the portal SSO, domain §5.6 [P]). The token answers in the style the
client asked in.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from sim06.mock_registry.eid_subjects import BY_KEY as SUBJECT_PERSONAS, kind_of_identifier
from sim06.mock_registry.ids import is_valid_pin
from sim06.mock_registry.personas import BY_KEY
from sim06.mock_registry.store import CitizenStore

__all__ = [
    "ACR_VALUES",
    "Account",
    "Accounts",
    "LoginRefused",
    "account_of",
    "acr_for",
    "find_account",
    "parse_acr_values",
    "resolve_pin",
]

ACR_VALUES = ("1", "2", "LoA1", "LoA2")
_LEVEL_OF = {"1": 1, "2": 2, "LoA1": 1, "LoA2": 2}
# RFC 8176 authentication method references: passcode, then the simulated face match.
AMR = {1: ["pwd"], 2: ["pwd", "face"]}


class LoginRefused(Exception):
    """The citizen cannot log in; ``error`` is the OAuth code, messages in both languages."""

    def __init__(self, error: str, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.message_vi = message_vi


@dataclass(frozen=True, slots=True)
class Account:
    """A citizen's eID account as needed to log in and to fill claims."""

    pin: str
    level: int
    record: dict[str, Any]

    @property
    def full_name(self) -> str:
        name: str = self.record["name"]["full"]
        return name


def resolve_pin(hint: str) -> str | None:
    """The account's identifier from a ``login_hint``: a PIN, a foreigner's identification
    number, an organisation's tax code, or a persona key."""
    hint = hint.strip()
    if is_valid_pin(hint) or kind_of_identifier(hint) is not None:
        return hint
    persona = BY_KEY.get(hint)
    if persona is not None:
        return persona.pin
    subject = SUBJECT_PERSONAS.get(hint)
    return subject.identifier if subject is not None else None


def _read(store: CitizenStore, identifier: str) -> bytes | None:
    # Citizens are in the population database; foreigners and organisations only in the e-ID
    # system's own accounts (mock_registry.eid_subjects).
    if is_valid_pin(identifier):
        return store.get(identifier)
    if kind_of_identifier(identifier) is not None:
        return store.get_account(identifier)
    return None


def find_account(store: CitizenStore, pin: str) -> Account:
    """The active account of ``pin``, or :class:`LoginRefused` saying why not."""
    raw = _read(store, pin)
    return account_of(pin, None if raw is None else orjson.loads(raw))


def account_of(pin: str, record: dict[str, Any] | None) -> Account:
    """The active account in ``record`` (None: no such citizen), or :class:`LoginRefused`."""
    if record is None:
        raise LoginRefused(
            "access_denied",
            "No citizen has this personal identification number.",
            "Không tìm thấy công dân có số định danh này.",
        )
    if record["status"] == "cancelled":
        raise LoginRefused(
            "access_denied",
            f"This personal identification number was cancelled; the citizen's number is now "
            f"{record.get('replaced_by')}.",
            f"Số định danh cá nhân này đã bị hủy; số mới là {record.get('replaced_by')}.",
        )
    if record.get("record_type") == "organisation":
        if record["status"] != "operating":
            raise LoginRefused(
                "access_denied",
                "The organisation is no longer operating; its account cannot be used.",
                "Tổ chức đã chấm dứt hoạt động; tài khoản không được sử dụng.",
            )
    elif record["status"] != "alive":
        state = "deceased" if record["status"] == "deceased" else "declared missing"
        raise LoginRefused(
            "access_denied",
            f"The citizen is recorded as {state}; the account cannot be used.",
            "Công dân đã chết hoặc mất tích; tài khoản không được sử dụng.",
        )
    eid = record["eid"]
    if not eid["level"]:
        raise LoginRefused(
            "access_denied",
            "This citizen has no VNeID electronic identification account.",
            "Công dân chưa có tài khoản định danh điện tử VNeID.",
        )
    if eid["status"] == "locked":
        raise LoginRefused(
            "access_denied",
            "The VNeID account is locked.",
            "Tài khoản định danh điện tử đang bị khóa.",
        )
    card = record.get("id_card")
    if card is not None and card.get("status") == "revoked":
        raise LoginRefused(
            "access_denied",
            "The identity card of this citizen was revoked; the account cannot be used.",
            "Thẻ căn cước của công dân đã bị thu hồi; tài khoản không được sử dụng.",
        )
    return Account(pin=pin, level=int(eid["level"]), record=record)


class Accounts:
    """:func:`find_account` over a small cache of citizen records.

    A flow reads its citizen at /authorize and again at /userinfo; the record is read from the
    database and parsed once per ``ttl`` seconds instead. The account checks (status, lock,
    card) run on every call. A civil-status event (a death locks the account) empties the cache
    at once: the change feed's head is read on every call (one index probe); other changes to
    the database show within ``ttl`` seconds.
    """

    def __init__(
        self,
        store: CitizenStore,
        ttl: float = 2.0,
        size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._records: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()
        self._head = -1  # the feed cursor the cached records were read at

    def find(self, pin: str) -> Account:
        """The active account of ``pin``, or :class:`LoginRefused`."""
        if not is_valid_pin(pin) and kind_of_identifier(pin) is None:
            return account_of(pin, None)
        now = self._clock()
        head = self._store.feed_head()
        if head != self._head:
            self._records.clear()
            self._head = head
        cached = self._records.get(pin)
        if cached is not None and cached[0] > now:
            return account_of(pin, cached[1])
        raw = _read(self._store, pin)
        record = None if raw is None else orjson.loads(raw)
        self._records[pin] = (now + self._ttl, record)
        self._records.move_to_end(pin)
        if len(self._records) > self._size:
            self._records.popitem(last=False)
        return account_of(pin, record)


def parse_acr_values(value: str | None) -> tuple[int | None, bool]:
    """``(minimum level requested, LoA style?)`` from ``acr_values``; unknown values ignored."""
    if not value:
        return None, False
    known = [v for v in value.split() if v in _LEVEL_OF]
    if not known:
        return None, False
    return min(_LEVEL_OF[v] for v in known), known[0].startswith("LoA")


def acr_for(level: int, loa_style: bool) -> str:
    """The ``acr`` value for an achieved level."""
    return f"LoA{level}" if loa_style else str(level)


def check_level(account: Account, required: int) -> None:
    """Refuse a level-1 account when level 2 is required (OIDC Unmet Authentication Req. 1.0)."""
    if account.level < required:
        raise LoginRefused(
            "unmet_authentication_requirements",
            "Level 2 is required but this VNeID account is level 1; verify it in person "
            "at a police office to reach level 2.",
            "Yêu cầu tài khoản định danh điện tử mức độ 2; tài khoản này mới ở mức độ 1.",
        )
