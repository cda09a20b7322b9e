"""Rendering of the personas for ``sim06 personas``."""

from __future__ import annotations

from typing import Any

import orjson

from sim06.mock_registry import eid_subjects, personas
from sim06.mock_registry.cards import card_expiry


def persona_rows() -> list[dict[str, Any]]:
    """One dict per documented persona."""
    rows = []
    for p in personas.listed():
        expiry = card_expiry(p.birth, p.card_issued) if p.card != "none" else None
        rows.append(
            {
                "key": p.key,
                "pin": p.pin,
                "full_name": p.name.full,
                "sex": p.sex,
                "date_of_birth": None if p.birth_year_only else p.birth.isoformat(),
                "birth_year": p.birth.year,
                "status": p.status,
                "eid_level": p.eid_level,
                "eid_status": p.eid_status if p.eid_level else None,
                "card": p.card,
                "card_expiry": None if expiry is None else expiry.isoformat(),
                "cmnd": p.cmnd,
                "description": p.description,
            }
        )
    for subject in eid_subjects.PERSONAS:  # e-ID accounts outside the population database
        rows.append(
            {
                "key": subject.key,
                "pin": subject.identifier,
                "full_name": subject.name,
                "sex": None,
                "date_of_birth": None,
                "birth_year": None,
                "status": subject.kind,
                "eid_level": 2,
                "eid_status": "active",
                "card": "none",
                "card_expiry": None,
                "cmnd": None,
                "description": subject.description,
            }
        )
    return rows


def personas_json() -> str:
    """The personas as a JSON array."""
    return orjson.dumps(persona_rows(), option=orjson.OPT_INDENT_2).decode()


def personas_table() -> str:
    """The personas as a fixed-width text table."""
    rows = persona_rows()
    cols = ("key", "pin", "full_name", "eid_level", "status", "description")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols[:-1]}
    lines = ["  ".join(c.upper().ljust(widths.get(c, 0)) for c in cols).rstrip()]
    for r in rows:
        cells = [str(r[c]).ljust(widths[c]) for c in cols[:-1]] + [r["description"]]
        lines.append("  ".join(cells))
    return "\n".join(lines)
