"""Matching what a citizen declared against the population database record.

Real lookups compare names upper-cased without diacritics (domain §6.3 [P]); the key is the PIN
or the old CMND, and the date of birth may be a full date or a year only. The outcome per field
is one of ``match``, ``match_year_only``, ``mismatch`` and ``not_provided``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sim06.mock_registry.names import normalize_for_match

MATCH = "match"
MATCH_YEAR_ONLY = "match_year_only"  # the record or the declaration has only the birth year
MISMATCH = "mismatch"
NOT_PROVIDED = "not_provided"
POSITIVE = frozenset({MATCH, MATCH_YEAR_ONLY, NOT_PROVIDED})


@dataclass(frozen=True, slots=True)
class Declaration:
    """What the caller says about the citizen (from a form, a card, a QR code...)."""

    pin: str | None = None
    cmnd: str | None = None
    full_name: str | None = None
    date_of_birth: date | None = None
    birth_year: int | None = None
    sex: str | None = None


def compare(declared: Declaration, record: dict[str, Any]) -> dict[str, str]:
    """Per-field outcome of comparing ``declared`` with a citizen ``record``."""
    fields: dict[str, str] = {}
    fields["pin"] = NOT_PROVIDED if declared.pin is None else _eq(declared.pin, record["pin"])
    fields["cmnd"] = NOT_PROVIDED if declared.cmnd is None else _eq(declared.cmnd, record["cmnd"])
    if declared.full_name is None:
        fields["full_name"] = NOT_PROVIDED
    else:
        same = normalize_for_match(declared.full_name) == normalize_for_match(
            record["name"]["full"]
        )
        fields["full_name"] = MATCH if same else MISMATCH
    fields["date_of_birth"] = _birth(declared, record)
    fields["sex"] = NOT_PROVIDED if declared.sex is None else _eq(declared.sex, record["sex"])
    return fields


def verdict(fields: dict[str, str]) -> str:
    """``match`` when every provided field matches, else ``mismatch``."""
    return MATCH if all(v in POSITIVE for v in fields.values()) else MISMATCH


def _eq(a: object, b: object) -> str:
    return MATCH if a == b else MISMATCH


def _birth(declared: Declaration, record: dict[str, Any]) -> str:
    recorded: str | None = record["date_of_birth"]
    year: int = record["birth_year"]
    if declared.date_of_birth is not None:
        if recorded is None:
            return MATCH_YEAR_ONLY if declared.date_of_birth.year == year else MISMATCH
        return _eq(declared.date_of_birth.isoformat(), recorded)
    if declared.birth_year is not None:
        if declared.birth_year != year:
            return MISMATCH
        return MATCH_YEAR_ONLY if recorded is not None else MATCH
    return NOT_PROVIDED
