"""The personas' store rows, with the records of the 2024 law's other subjects.

Most personas are plain citizens (``record_of``). Two kinds of record differ, seeded in the base
population so that an agency can test them without writing an event first:

- a **cancelled PIN** (số định danh cá nhân đã hủy): the record a correction leaves behind
  (``mock_registry.events.corrections``): ``status: cancelled``, ``replaced_by`` the new PIN,
  ``pin_cancelled_on``; the replacement's record lists the old number in ``pin_history``;
- a holder of an **identity certificate** (giấy chứng nhận căn cước, Law on Identification 2023
  art. 30): a person of Vietnamese origin whose nationality is undetermined, living in Viet Nam.
  The law has a personal identification number established for them (C06, "Cấp Giấy chứng
  nhận căn cước cho người gốc Việt Nam chưa xác định quốc tịch từ ngày 01/7/2024",
  canhsatquanlyhanhchinh.gov.vn);
  its structure is not published (domain §2.4 [U]): sim06 gives it the citizens' 12-digit
  structure (place of registration, century/sex, year, serial) [I], so number validators accept
  it, and the certificate's number is that number, as a card's number is the PIN. The record says
  ``record_type: identity_certificate``, ``nationality: "XX"`` (undetermined: the ISO 3166
  user-assigned code commonly used for "unknown") and carries ``identity_certificate`` instead of
  ``id_card``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from sim06.mock_registry import personas
from sim06.mock_registry.citizen import Person, record_of, row_of
from sim06.mock_registry.store.base import CitizenRow

__all__ = ["NATIONALITY_UNDETERMINED", "identity_certificate", "persona_records", "persona_rows"]

NATIONALITY_UNDETERMINED = "XX"
# Issued by the police of the province of residence [I: the issuing level is not in the domain
# file].
CERTIFICATE_AUTHORITY = "Công an tỉnh {province}"


def identity_certificate(record: dict[str, Any], issued: date) -> dict[str, Any]:
    """The identity-certificate part of a holder's record (its number is the holder's)."""
    province = (record["permanent_residence"] or {}).get("province_name") or ""
    province = province.removeprefix("Tỉnh ").removeprefix("Thành phố ")
    return {
        "number": record["pin"],
        "issue_date": issued.isoformat(),
        "expiry_date": None,  # validity rule [U]: not in the domain file
        "issuing_authority": CERTIFICATE_AUTHORITY.format(province=province).strip(),
        "status": "valid",
    }


def persona_records(as_of: date) -> list[dict[str, Any]]:
    """Every persona's wire record as of ``as_of``, in persona order."""
    return _built(as_of)[1]


def _built(as_of: date) -> tuple[list[Person], list[dict[str, Any]]]:
    data_as_of = f"{as_of.isoformat()}T00:00:00+07:00"
    people = personas.build(as_of)
    records = [record_of(person, data_as_of) for person in people]
    by_key = {p.key: r for p, r in zip(personas.PERSONAS, records, strict=True)}
    for p in personas.PERSONAS:
        record = by_key[p.key]
        if p.record_type == "identity_certificate":
            record["record_type"] = "identity_certificate"
            record["nationality"] = NATIONALITY_UNDETERMINED
            record["id_card"] = None
            record["identity_certificate"] = identity_certificate(record, p.card_issued)
        if p.replaced_by is not None:
            assert p.event_date is not None, p.key
            new = by_key[p.replaced_by]
            cancelled_on = p.event_date.isoformat()
            record.update(
                {"replaced_by": new["pin"], "pin_cancelled_on": cancelled_on, "cmnd": None}
            )
            new["pin_history"] = [
                {"pin": p.pin, "cancelled_on": cancelled_on, "reason": p.event_reason}
            ]
    return people, records


def persona_rows(as_of: date) -> list[CitizenRow]:
    """The personas' store rows as of ``as_of``."""
    people, records = _built(as_of)
    return [row_of(p, orjson.dumps(r)) for p, r in zip(people, records, strict=True)]
