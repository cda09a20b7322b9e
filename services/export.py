"""Export of every citizen, sorted by PIN, for agencies' own test databases."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO, Any

import orjson

from sim06.mock_registry.store import SQLiteCitizenStore

CSV_COLUMNS = (
    "pin", "cmnd", "family_name", "middle_name", "given_name", "full_name", "date_of_birth",
    "birth_year", "sex", "ethnicity_code", "religion_code", "birth_registration_code",
    "permanent_province_code", "permanent_commune_code", "permanent_address",
    "temporary_commune_code", "household_id", "relationship", "card_kind", "card_issue_date",
    "card_expiry_date", "card_status", "eid_level", "eid_status", "marital_status", "status",
    "date_of_death", "father_pin", "mother_pin", "spouse_pin", "phone", "email",
)  # fmt: skip


def _csv_row(r: dict[str, Any]) -> list[Any]:
    perm = r["permanent_residence"] or {}
    temp = r["temporary_residence"] or {}
    card = r["id_card"] or {}
    hh = r["household"] or {}
    return [
        r["pin"], r["cmnd"], r["name"]["family"], r["name"]["middle"], r["name"]["given"],
        r["name"]["full"], r["date_of_birth"], r["birth_year"], r["sex"], r["ethnicity"]["code"],
        r["religion"]["code"], r["place_of_birth_registration"]["pin_code"],
        perm.get("province_code"), perm.get("commune_code"), perm.get("full"),
        temp.get("commune_code"), hh.get("id"), hh.get("relationship"), card.get("kind"),
        card.get("issue_date"), card.get("expiry_date"), card.get("status"), r["eid"]["level"],
        r["eid"]["status"], r["marital_status"], r["status"], r["date_of_death"],
        (r["father"] or {}).get("pin"), (r["mother"] or {}).get("pin"),
        (r["spouse"] or {}).get("pin"), r["phone"], r["email"],
    ]  # fmt: skip


def export(db: Path, out: IO[bytes], fmt: str = "jsonl") -> int:
    """Write every citizen of ``db`` to ``out`` in PIN order; returns the count."""
    store = SQLiteCitizenStore(db, readonly=True)
    count = 0
    try:
        if fmt == "jsonl":
            for record in store.records():
                out.write(record)
                out.write(b"\n")
                count += 1
            return count
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for record in store.records():
            writer.writerow(_csv_row(orjson.loads(record)))
            count += 1
        text.detach()
        return count
    finally:
        store.close()
