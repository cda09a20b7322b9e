"""Documents the registry derives from citizen records: household, residence confirmation."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any


def member(record: dict[str, Any]) -> dict[str, Any]:
    """The household-book line of one citizen."""
    household = record["household"] or {}
    return {
        "pin": record["pin"],
        "full_name": record["name"]["full"],
        "relationship": household.get("relationship", "other"),
        "relationship_vi": household.get("relationship_vi", "Khác"),
        "date_of_birth": record["date_of_birth"],
        "birth_year": record["birth_year"],
        "sex": record["sex"],
        "status": record["status"],
    }


def household(subject: dict[str, Any], members: list[dict[str, Any]]) -> dict[str, Any]:
    """Household view: the data that replaces the household book (sổ hộ khẩu)."""
    ref = subject["household"]
    head = next((m for m in members if m["pin"] == ref["head_pin"]), subject)
    return {
        "household_id": ref["id"],
        "residence_file_number": subject["residence_file_number"],
        "address": head["permanent_residence"],
        "head_pin": ref["head_pin"],
        "head_name": ref["head_name"],
        "count": len(members),
        "members": [member(m) for m in members],
    }


def residence_confirmation(
    record: dict[str, Any], household_view: dict[str, Any] | None, as_of: date, validity_days: int
) -> dict[str, Any]:
    """CT07 (Circular 66/2023/TT-BCA) content for a living citizen."""
    current = record["current_residence"] or record["permanent_residence"] or {}
    commune = current.get("commune_name") or "nơi cư trú"
    digest = hashlib.sha256(f"{record['pin']}|{as_of.isoformat()}".encode()).hexdigest()
    return {
        "document": {
            "form": "CT07",
            "title_vi": "Xác nhận thông tin về cư trú",
            "title": "Confirmation of residence information",
            "number": f"CT07-{as_of:%Y%m%d}-{digest[:10].upper()}",
            "issued_on": as_of.isoformat(),
            "valid_until": (as_of + timedelta(days=validity_days)).isoformat(),
            "issuing_authority": f"Công an {commune}",
            "legal_basis": "Luật Cư trú 2020; Thông tư 66/2023/TT-BCA (mẫu CT07)",
        },
        "citizen": {
            "pin": record["pin"],
            "cmnd": record["cmnd"],
            "full_name": record["name"]["full"],
            "date_of_birth": record["date_of_birth"],
            "birth_year": record["birth_year"],
            "sex": record["sex"],
            "ethnicity": record["ethnicity"],
            "religion": record["religion"],
            "nationality": record["nationality"],
            "hometown": record["hometown"],
        },
        "permanent_residence": record["permanent_residence"],
        "temporary_residence": record["temporary_residence"],
        "current_residence": record["current_residence"],
        "residence_since": record["residence_since"],
        "household": household_view,
    }
