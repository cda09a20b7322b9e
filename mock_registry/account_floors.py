"""The account floors of issue 16 over a population's records (as served or exported).

- every child account (under 14) hangs from a representative with a level-2 account;
- every deceased citizen's account is locked;
- the level-1 accounts that could log in, which procedures requiring level 2 must refuse (the
  refusal itself is measured through the identity provider: ``scripts/check_account_floors.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sim06.mock_registry.accounts import CHILD_ACCOUNT_AGE, account_faults, age_on

__all__ = ["AccountFigures", "measure_accounts"]


@dataclass
class AccountFigures:
    """Counts over the records; ``faults`` holds a few examples of broken rules."""

    records: int = 0
    accounts: int = 0
    level2: int = 0
    child_accounts: int = 0
    child_accounts_with_level2_representative: int = 0
    deceased_accounts: int = 0
    deceased_accounts_locked: int = 0
    identity_certificates: int = 0
    cancelled_pins: int = 0
    # PINs that can log in at level 1 (alive, account active, card not revoked).
    level1_active: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    @property
    def floors(self) -> dict[str, bool]:
        """Each floor and whether it holds."""
        return {
            "every child account has a level-2 representative": (
                self.child_accounts == self.child_accounts_with_level2_representative
            ),
            "every deceased citizen's account is locked": (
                self.deceased_accounts == self.deceased_accounts_locked
            ),
        }


def measure_accounts(records: Iterable[dict[str, Any]], as_of: date) -> AccountFigures:
    """The account figures of ``records`` (all of them: representatives are looked up)."""
    by_pin = {r["pin"]: r for r in records}
    out = AccountFigures(records=len(by_pin))
    for r in by_pin.values():
        if r.get("record_type") == "identity_certificate":
            out.identity_certificates += 1
        if r["status"] == "cancelled":
            out.cancelled_pins += 1
            continue  # a tombstone: the account lives on the new number
        eid = r["eid"]
        if not eid["level"]:
            continue
        out.accounts += 1
        out.level2 += eid["level"] == 2
        birth = date.fromisoformat(r["date_of_birth"] or f"{r['birth_year']}-01-01")
        if age_on(birth, as_of) < CHILD_ACCOUNT_AGE:
            out.child_accounts += 1
            rep = (eid.get("representative") or {}).get("pin")
            out.child_accounts_with_level2_representative += (
                rep in by_pin and by_pin[rep]["eid"]["level"] == 2
            )
        if r["status"] == "deceased":
            out.deceased_accounts += 1
            out.deceased_accounts_locked += eid["status"] == "locked"
        revoked = (r["id_card"] or {}).get("status") == "revoked"  # the account cannot be used
        if eid["level"] == 1 and eid["status"] == "active" and r["status"] == "alive":
            if not revoked:
                out.level1_active.append(r["pin"])
        faults = account_faults(r, by_pin, as_of)
        if faults and len(out.faults) < 20:
            out.faults.append(f"{r['pin']}: {'; '.join(faults)}")
    return out
