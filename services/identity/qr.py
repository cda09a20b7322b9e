"""QR login with the VNeID app (domain §5.6 item 4): one-time transactions, approve or deny.

The login page shows a QR code for a transaction; the citizen scans it with the VNeID app
(here: the app simulator page, or the CI endpoint), which shows the service and the data it
asks for; a level-2 account approves or denies. The browser polls until the decision, then
the authorization completes (code to the client, ``acr`` level 2, ``amr`` :data:`APP_AMR`)
or ends (``access_denied`` to the client; an expired QR shows a page).

State (:class:`StateStore`, so replicas behind Redis share it):

    qr:{txn}           the authorization request, the browser binding, the deadline
    qr_decision:{txn}  the app's decision: written once (``add``), so approve and deny race safely
    qr_used:{txn}      a completed transaction (its reuse is refused, and said so)

The QR carries only the transaction id (in the app simulator's URL); polling also needs the
browser's secret cookie, so whoever sees the QR cannot collect the code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim06.services.identity.accounts import Account, LoginRefused, check_level
from sim06.services.identity.provider import Provider

__all__ = ["APP_AMR", "QrError", "QrLogins", "QrStatus"]

# RFC 8176: "swk" (proof of possession of the app's software key), plus "app", a sim06 value
# (RFC 8176 §2 allows others) saying the citizen approved in the VNeID app.
APP_AMR = ["app", "swk"]
GRACE = 600  # an expired transaction is remembered this long to say "expired", not "unknown"


class QrError(Exception):
    """A decision that cannot be taken; ``code`` is the problem code (errors.yaml)."""

    def __init__(self, code: str, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_vi = message_vi


@dataclass(frozen=True, slots=True)
class QrStatus:
    """What the polling browser sees: pending, approved, denied, expired, used or unknown."""

    status: str
    record: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class QrLogins:
    """QR login transactions over the provider's state store."""

    def __init__(self, provider: Provider, clock: Callable[[], float] = time.time) -> None:
        self.provider = provider
        self.state = provider.state
        self.ttl = provider.settings.identity_qr_ttl
        self.clock = clock

    def start(self, params: dict[str, str]) -> tuple[str, str]:
        """A new transaction for the authorization request ``params``: ``(txn, browser)``.

        ``browser`` is the secret the starting browser keeps in a cookie to poll."""
        txn, browser = secrets.token_urlsafe(18), secrets.token_urlsafe(24)
        record = {"params": params, "browser": _hash(browser), "expires": self.clock() + self.ttl}
        self.state.put(f"qr:{txn}", record, self.ttl + GRACE)
        return txn, browser

    def pending(self, txn: str) -> dict[str, Any]:
        """The live undecided transaction ``txn`` (for the app), or :class:`QrError`."""
        record = self.state.get(f"qr:{txn}") if txn else None
        if record is None:
            if txn and self.state.get(f"qr_used:{txn}") is not None:
                raise QrError("IDENTITY_QR_USED", "This QR code was already used.",
                              "Mã QR này đã được sử dụng.")  # fmt: skip
            raise QrError("IDENTITY_QR_NOT_FOUND", "No such QR login transaction.",
                          "Không có giao dịch đăng nhập QR này.")  # fmt: skip
        if record["expires"] <= self.clock():
            raise QrError("IDENTITY_QR_EXPIRED", "This QR code has expired.",
                          "Mã QR đã hết hạn.")  # fmt: skip
        if self.state.get(f"qr_decision:{txn}") is not None:
            raise QrError("IDENTITY_QR_USED", "This QR code was already answered.",
                          "Mã QR này đã được trả lời.")  # fmt: skip
        return record

    def decide(self, txn: str, pin: str, *, approve: bool) -> Account:
        """The app's answer by the citizen ``pin``: only a level-2 account may answer."""
        self.pending(txn)
        try:
            account = self.provider.accounts.find(pin)
            check_level(account, 2)
        except LoginRefused as exc:
            raise QrError("IDENTITY_QR_ACCOUNT_REFUSED", exc.message, exc.message_vi) from None
        decision = {"approve": approve, "pin": account.pin, "at": int(self.clock())}
        if not self.state.add(f"qr_decision:{txn}", decision, self.ttl + GRACE):
            raise QrError("IDENTITY_QR_USED", "This QR code was already answered.",
                          "Mã QR này đã được trả lời.")  # fmt: skip
        return account

    def poll(self, txn: str, browser: str | None) -> QrStatus:
        """The state of ``txn`` for the browser holding ``browser``; a decision is taken
        (single use): the first poll after it gets ``approved``/``denied``, later ones ``used``."""
        record = self.state.get(f"qr:{txn}") if txn else None
        if record is None:
            used = txn and self.state.get(f"qr_used:{txn}") is not None
            return QrStatus("used" if used else "unknown")
        if browser is None or not hmac.compare_digest(_hash(browser), record["browser"]):
            return QrStatus("unknown")  # another browser: it learns nothing
        decision = self.state.get(f"qr_decision:{txn}")
        if decision is None:
            if record["expires"] <= self.clock():
                return QrStatus("expired", record)
            return QrStatus("pending", record)
        if self.state.take(f"qr:{txn}") is None:  # another poll completed it first
            return QrStatus("used")
        self.state.put(f"qr_used:{txn}", {"at": int(self.clock())}, self.ttl + GRACE)
        return QrStatus("approved" if decision["approve"] else "denied", record, decision)
