"""Passive authentication of chip files and their match against the population database.

Passive authentication follows ICAO 9303 part 11 §5.1: the SOD's CMS signature verifies with
the document signer (DS) certificate it carries, the DS chains to a trusted CSCA, is inside its
validity period and not on the CSCA's CRL, and every data group hashes to the value in the
LDSSecurityObject. EF.COM is not covered by the SOD, so when a reader sends it, it must parse
and list exactly the data groups read and signed (``ef_com``). The registry checks model the
"C06 verification" of domain §4.7 ([I]): the card is the citizen's current one, not reported
lost, revoked or expired, and DG13 still says what the database says (a citizen who moved
keeps a chip with the old address).

Each failed check carries one stable reason code (``REASONS``); the verdict lists every failed
check (``failed``) and its ``reason`` is the first in check order. A check is skipped only when
its inputs are missing (an unparseable SOD, an MRZ naming someone else), never because an
unrelated check failed, so one read reports every defect of the card.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from sim06.mock_registry import lds, sod
from sim06.mock_registry.chip import accepted_residences, decode_dg13
from sim06.mock_registry.mrz import TD1, MRZError, parse_td1
from sim06.mock_registry.sod import CheckFailed

REASONS = {
    "MALFORMED_FILE": "A chip file is not valid BER-TLV/DER of the expected structure.",
    "SOD_SIGNATURE_INVALID": "The SOD's CMS signature does not verify with its DS certificate.",
    "SIGNER_UNTRUSTED": "The document signer does not chain to a trusted CSCA.",
    "SIGNER_EXPIRED": "The document signer certificate is outside its validity period.",
    "SIGNER_REVOKED": "The document signer certificate is on the CSCA's revocation list.",
    "DG_HASH_MISSING": "A data group read from the chip has no hash in the SOD.",
    "DG_HASH_MISMATCH": "A data group does not hash to the value signed in the SOD.",
    "COM_MISMATCH": "EF.COM's tag list disagrees with the data groups read or signed in the SOD.",
    "MRZ_INVALID": "The DG1 MRZ is malformed or a check digit is wrong.",
    "ID_NUMBER_MISMATCH": "The PIN sent, the MRZ and DG13 do not name the same citizen.",
    "CITIZEN_NOT_FOUND": "No citizen with this PIN is in the population database.",
    "CARD_NOT_ISSUED": "The population database records no chip card for this citizen.",
    "CARD_LOST": "The card was reported lost (and possibly replaced by a newer card).",
    "CARD_REVOKED": "The card was revoked (thu hồi).",
    "CARD_EXPIRED": "The card is past its expiry date.",
    "DATA_MISMATCH": "DG13 personal data differ from the population database.",
    "RESIDENCE_CHANGED": "DG13 residence differs from the database: the citizen moved.",
    "CITIZEN_NOT_ALIVE": "The citizen is recorded as deceased or missing.",
}
CHECKS = (
    "files",
    "sod_signature",
    "signer_chain",
    "signer_validity",
    "signer_revocation",
    "dg_hashes",
    "ef_com",
    "mrz",
    "id_number",
    "registry_record",
    "card_status",
    "registry_data",
    "registry_residence",
    "citizen_status",
)


@dataclass(frozen=True)
class TrustAnchors:
    """What a relying party trusts: CSCA certificates and their CRLs.

    Path results are cached per DS certificate (a country has a handful of signers): the
    CSCA's signature on a DS certificate and on a CRL never changes, only the date does.
    """

    cscas: list[x509.Certificate]
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    _issuers: dict[bytes, x509.Certificate | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    _crls: dict[bytes, list[x509.CertificateRevocationList]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def issuer_of(self, ds: x509.Certificate) -> x509.Certificate | None:
        """The trusted CSCA whose key signed ``ds``, or None."""
        der = ds.tbs_certificate_bytes + ds.signature
        if der not in self._issuers:
            self._issuers[der] = next((c for c in self.cscas if _issued_by(ds, c)), None)
        return self._issuers[der]

    def crls_of(self, csca: x509.Certificate) -> list[x509.CertificateRevocationList]:
        """The CRLs of ``csca`` whose signature verifies."""
        key = csca.fingerprint(hashes.SHA256())
        if key not in self._crls:
            self._crls[key] = [
                c
                for c in self.crls
                if c.issuer == csca.subject and c.is_signature_valid(csca.public_key())  # type: ignore[arg-type]
            ]
        return self._crls[key]


def _issued_by(ds: x509.Certificate, csca: x509.Certificate) -> bool:
    try:
        ds.verify_directly_issued_by(csca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


@dataclass(frozen=True)
class Check:
    """The outcome of one check: passed, failed (with a reason) or skipped (passed is None)."""

    name: str
    passed: bool | None
    reason: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {"passed": self.passed, "reason": self.reason, "detail": self.detail}


@dataclass
class Verdict:
    """Every check in order; valid only if none failed and none was skipped."""

    checks: list[Check]
    signer_subject: str | None = None

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        """Every failed check, in check order."""
        return [c for c in self.checks if c.passed is False]

    @property
    def reason(self) -> str | None:
        return next((c.reason for c in self.failed), None)


def _chain(ds: x509.Certificate, anchors: TrustAnchors) -> x509.Certificate:
    csca = anchors.issuer_of(ds)
    if csca is not None:
        return csca
    raise CheckFailed(
        "SIGNER_UNTRUSTED", f"'{ds.issuer.rfc4514_string()}' is not a trusted CSCA key"
    )


def _revocation(
    ds: x509.Certificate, csca: x509.Certificate, anchors: TrustAnchors, at: datetime
) -> str:
    valid = anchors.crls_of(csca)
    if not valid:
        raise CheckFailed("SIGNER_REVOKED", "no valid CRL of the CSCA is available")
    for crl in valid:
        entry = crl.get_revoked_certificate_by_serial_number(ds.serial_number)
        if entry is not None and entry.revocation_date_utc <= at:
            raise CheckFailed("SIGNER_REVOKED", f"revoked on {entry.revocation_date_utc:%Y-%m-%d}")
    return "not on the CSCA's CRL"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().casefold()


def _dmy(iso: str | None) -> str | None:
    return None if iso is None else date.fromisoformat(iso).strftime("%d/%m/%Y")


def _mrz_date(yymmdd: str, after: date) -> date | None:
    if not yymmdd.isdigit():
        return None
    year = 2000 + int(yymmdd[:2])
    return date(year if year >= after.year - 50 else year + 100, int(yymmdd[2:4]), int(yymmdd[4:]))


@dataclass
class _Run:
    """Runs checks in order; a check whose inputs are missing is skipped."""

    checks: list[Check] = field(default_factory=list)

    def run(self, name: str, fn: Callable[[], str] | None) -> bool:
        if fn is None:
            self.checks.append(
                Check(
                    name,
                    None,
                    None,
                    "skipped: its inputs are missing (see the failed check before it)",
                )
            )
            return False
        try:
            detail = fn()
        except CheckFailed as fail:
            self.checks.append(Check(name, False, fail.reason, fail.detail))
            return False
        self.checks.append(Check(name, True, None, detail))
        return True


def verify(
    files: dict[str, bytes],
    id_number: str,
    anchors: TrustAnchors,
    lookup: Callable[[str], dict[str, Any] | None],
    at: datetime,
) -> Verdict:
    """Passive authentication of ``files`` (keys ``dg1``... ``sod``) then the registry match of
    the citizen ``id_number`` (``lookup`` returns the record or None), as of ``at``."""
    run = _Run()
    dgs: dict[int, bytes] = {}
    state: dict[str, Any] = {}

    def parse() -> str:
        try:
            for number, tag in lds.DG_TAGS.items():
                data = files.get(f"dg{number}")
                if data is not None:
                    lds.read_tlv(data)
                    if data[0] != tag:
                        raise CheckFailed(
                            "MALFORMED_FILE", f"DG{number} does not start with {tag:#x}"
                        )
                    dgs[number] = data
            for required in (1, 13):
                if required not in dgs:
                    raise CheckFailed("MALFORMED_FILE", f"DG{required} is required")
            state["dg13"] = decode_dg13(dgs[13])
            state["mrz_text"] = lds.child(lds.unwrap(dgs[1], lds.DG_TAGS[1]), 0x5F1F).decode()
        except (lds.TLVError, ValueError, IndexError) as exc:
            raise CheckFailed("MALFORMED_FILE", str(exc)) from exc
        return f"DG{', DG'.join(map(str, sorted(dgs)))} and EF.SOD read"

    parsed = run.run("files", parse)

    def parse_sod() -> str:
        state["sod"] = sod.parse(files.get("sod", b""))
        return sod.verify_signature(state["sod"])

    run.run("sod_signature", parse_sod if parsed else None)
    # A SOD that parses names its signer and hashes even when its signature fails: check them too.
    signed_sod: sod.SignedSOD | None = state.get("sod")
    ds = signed_sod.signer if signed_sod is not None else None

    def chain() -> str:
        assert ds is not None
        state["csca"] = _chain(ds, anchors)
        return f"issued by {state['csca'].subject.rfc4514_string()}"

    chained = run.run("signer_chain", chain if ds else None)

    def validity() -> str:
        assert ds is not None
        start, end = ds.not_valid_before_utc, ds.not_valid_after_utc
        if not start <= at <= end:
            raise CheckFailed("SIGNER_EXPIRED", f"valid {start:%Y-%m-%d} to {end:%Y-%m-%d}")
        return f"valid until {end:%Y-%m-%d}"

    run.run("signer_validity", validity if ds else None)
    run.run(
        "signer_revocation",
        (lambda: _revocation(ds, state["csca"], anchors, at)) if chained and ds else None,
    )
    run.run("dg_hashes", (lambda: sod.dg_hashes(signed_sod.content, dgs)) if signed_sod else None)
    run.run("ef_com", (lambda: _ef_com(files.get("com"), dgs, signed_sod)) if parsed else None)

    def mrz() -> str:
        try:
            state["td1"] = parse_td1(
                "\n".join(state["mrz_text"][i : i + 30] for i in range(0, 90, 30))
            )
        except MRZError as exc:
            raise CheckFailed("MRZ_INVALID", str(exc)) from exc
        return "TD1 check digits valid"

    mrz_ok = run.run("mrz", mrz if parsed else None)

    def id_match() -> str:
        td1: TD1 = state["td1"]
        chip_pin = state["dg13"].get(1, [""])[0]
        if not (id_number == td1.pin == chip_pin and td1.document_number == id_number[-9:]):
            raise CheckFailed("ID_NUMBER_MISMATCH", "the PIN sent differs from the chip's")
        return "PIN, MRZ and DG13 agree"

    same = run.run("id_number", id_match if mrz_ok else None)
    record = lookup(id_number) if same else None

    def found() -> str:
        if record is None:
            raise CheckFailed("CITIZEN_NOT_FOUND", f"no citizen {id_number}")
        return "citizen found"

    known = run.run("registry_record", found if same else None)
    run.run("card_status", (lambda: _card_status(record, state, at)) if known else None)
    run.run("registry_data", (lambda: _registry_data(record, state["dg13"])) if known else None)
    run.run("registry_residence", (lambda: _residence(record, state["dg13"])) if known else None)
    run.run("citizen_status", (lambda: _citizen_status(record)) if known else None)
    return Verdict(run.checks, ds.subject.rfc4514_string() if ds is not None else None)


def _ef_com(com: bytes | None, dgs: dict[int, bytes], signed: sod.SignedSOD | None) -> str:
    """EF.COM is not hashed in the SOD, so a reader must not trust it blindly: when sent it must
    be well formed, list every data group read, and name exactly the groups the SOD signs."""
    if com is None:
        return "EF.COM not read (optional)"
    try:
        listed = lds.com_tags(com)
    except (lds.TLVError, IndexError) as exc:
        raise CheckFailed("MALFORMED_FILE", f"EF.COM: {exc}") from exc
    problems = []
    unlisted = sorted(set(dgs) - set(listed))
    if unlisted:
        problems.append(f"{_groups(unlisted)} read but not listed")
    if signed is not None:
        try:
            in_sod = sod.signed_groups(signed.content)
        except ValueError:
            in_sod = None  # dg_hashes reports the malformed security object
        if in_sod is not None and in_sod != set(listed):
            problems.append(f"lists {_groups(listed)} but the SOD signs {_groups(in_sod)}")
    if problems:
        raise CheckFailed("COM_MISMATCH", "EF.COM " + "; ".join(problems))
    return f"lists {_groups(listed)}, as read and signed"


def _groups(numbers: Iterable[int]) -> str:
    return ", ".join(f"DG{n}" for n in sorted(numbers)) or "no data group"


def _card_status(record: dict[str, Any] | None, state: dict[str, Any], at: datetime) -> str:
    assert record is not None
    card = record.get("id_card")
    if not card:
        raise CheckFailed("CARD_NOT_ISSUED", "the database records no chip card")
    chip_issued = state["dg13"].get(11, [""])[0]
    if chip_issued != _dmy(card["issue_date"]):
        raise CheckFailed(
            "CARD_LOST",
            f"this card (issued {chip_issued}) was reported lost and replaced by the card "
            f"issued {_dmy(card['issue_date'])}",
        )
    status = card["status"]
    if status in ("lost", "revoked", "expired"):
        raise CheckFailed(f"CARD_{status.upper()}", f"the database records the card as {status}")
    expiry = _mrz_date(state["td1"].expiry, at.date())
    if expiry is not None and expiry < at.date():
        raise CheckFailed("CARD_EXPIRED", f"expired on {expiry:%d/%m/%Y}")
    return "current card, valid"


def _registry_data(record: dict[str, Any] | None, dg13: dict[int, list[str]]) -> str:
    assert record is not None
    first = {tag: values[0] if values else "" for tag, values in dg13.items()}
    dob = record["date_of_birth"]
    expected = {
        2: record["name"]["full"],
        3: _dmy(dob) if dob else str(record["birth_year"]),
        4: "Nam" if record["sex"] == "male" else "Nữ",
    }
    differ = [t for t, v in expected.items() if _nfc(first.get(t, "")) != _nfc(v or "")]
    if differ:
        raise CheckFailed("DATA_MISMATCH", f"DG13 tags {differ} differ from the database")
    return "name, date of birth and sex match"


def _residence(record: dict[str, Any] | None, dg13: dict[int, list[str]]) -> str:
    assert record is not None
    residence = (dg13.get(9) or [""])[0]
    if _nfc(residence) not in {_nfc(a) for a in accepted_residences(record)}:
        raise CheckFailed(
            "RESIDENCE_CHANGED", "the chip's residence is not the citizen's current one"
        )
    return "permanent residence matches"


def _citizen_status(record: dict[str, Any] | None) -> str:
    assert record is not None
    if record["status"] != "alive":
        raise CheckFailed("CITIZEN_NOT_ALIVE", f"the citizen is recorded as {record['status']}")
    return "alive"
