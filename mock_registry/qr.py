"""The QR code on the card: one UTF-8 line of ``|``-separated fields (domain §4.5).

    CCCD with chip (2021 - 30 Jun 2024), 7 fields [P, many independent parsers agree]:
        PIN | CMND (9 digits or empty) | full name | DOB ddmmyyyy | Nam/Nữ | permanent address |
        issue date ddmmyyyy
    Thẻ căn cước (from 1 Jul 2024), 10 fields — the serialization is [U]; sim06 appends:
        ... | cancelled PINs (comma-separated) | father's name | mother's name

The QR is not signed: it is an input convenience, never a verification factor. A birth year
without day and month is written as the 4-digit year.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sim06.mock_registry.cards import KIND_CAN_CUOC
from sim06.mock_registry.chip import printed_residence

LEGACY = "cccd_7_field"
EXTENDED = "can_cuoc_extended"
LAYOUTS = {LEGACY: 7, EXTENDED: 10}
_DATE = re.compile(r"^(\d{8}|\d{4})$")


class QRError(ValueError):
    """The QR text is not a card QR; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _ddmmyyyy(iso: str | None, year: int) -> str:
    return date.fromisoformat(iso).strftime("%d%m%Y") if iso else str(year)


def layout_of(record: dict[str, Any]) -> str:
    """The QR layout printed on the citizen's card kind."""
    return EXTENDED if record["id_card"]["kind"] == KIND_CAN_CUOC else LEGACY


def encode(record: dict[str, Any], layout: str | None = None) -> str:
    """The QR text of the citizen's card (``layout`` defaults to the one of the card's kind)."""
    layout = layout or layout_of(record)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown QR layout {layout!r}")
    card = record["id_card"]
    fields = [
        record["pin"],
        record.get("cmnd") or "",
        record["name"]["full"],
        _ddmmyyyy(record["date_of_birth"], record["birth_year"]),
        "Nam" if record["sex"] == "male" else "Nữ",
        printed_residence(record),
        _ddmmyyyy(card["issue_date"], 0),
    ]
    if layout == EXTENDED:
        fields += [
            "",  # cancelled PINs: sim06 never re-establishes a PIN
            (record.get("father") or {}).get("full_name", ""),
            (record.get("mother") or {}).get("full_name", ""),
        ]
    return "|".join(f.replace("|", " ") for f in fields)


@dataclass(frozen=True)
class CardQR:
    """The fields read from a card QR."""

    layout: str
    pin: str
    cmnd: str | None
    full_name: str
    date_of_birth: str  # ddmmyyyy, or yyyy when only the year is known
    sex: str
    address: str
    issue_date: str
    cancelled_pins: tuple[str, ...] = ()
    father: str | None = None
    mother: str | None = None


def decode(text: str) -> CardQR:
    """Parse QR text of either layout; ``QRError`` names the first malformed field."""
    fields = text.strip("\r\n").split("|")
    layout = next((name for name, n in LAYOUTS.items() if n == len(fields)), None)
    if layout is None:
        raise QRError("text", f"{len(fields)} fields; a card QR has 7 or 10")
    pin, cmnd, name, dob, sex, address, issued = fields[:7]
    if not re.fullmatch(r"\d{12}", pin):
        raise QRError("pin", "the first field must be the 12-digit PIN")
    if cmnd and not re.fullmatch(r"\d{9}", cmnd):
        raise QRError("cmnd", "the second field must be a 9-digit CMND number or empty")
    if not name.strip():
        raise QRError("full_name", "the full name is empty")
    for field, value in (("date_of_birth", dob), ("issue_date", issued)):
        if not _DATE.fullmatch(value):
            raise QRError(field, f"{field} must be ddmmyyyy")
    if sex not in ("Nam", "Nữ"):
        raise QRError("sex", "sex must be 'Nam' or 'Nữ'")
    extra: dict[str, Any] = {}
    if layout == EXTENDED:
        cancelled = tuple(p for p in fields[7].split(",") if p)
        if any(not re.fullmatch(r"\d{12}", p) for p in cancelled):
            raise QRError("cancelled_pins", "cancelled PINs must be 12-digit numbers")
        extra = {
            "cancelled_pins": cancelled,
            "father": fields[8] or None,
            "mother": fields[9] or None,
        }
    return CardQR(layout, pin, cmnd or None, name, dob, sex, address, issued, **extra)


def compare(qr: CardQR, record: dict[str, Any]) -> list[str]:
    """The fields of ``qr`` that differ from the database record (empty: all match)."""
    card = record.get("id_card") or {}
    expected = encode(record, qr.layout).split("|") if card else []
    if not expected:
        return ["issue_date"]
    names = ("pin", "cmnd", "full_name", "date_of_birth", "sex", "address", "issue_date")
    got = (qr.pin, qr.cmnd or "", qr.full_name, qr.date_of_birth, qr.sex, qr.address, qr.issue_date)
    return [n for n, g, e in zip(names, got, expected, strict=False) if _norm(g) != _norm(e)]


def _norm(text: str) -> str:
    # Readers hand over NFD as often as NFC (domain persona nfd-name): compare in NFC.
    return unicodedata.normalize("NFC", text).strip()
