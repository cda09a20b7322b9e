"""The chip of an identity card (ICAO 9303 part 10 LDS), built from a citizen record.

Files: EF.COM, DG1 (TD1 MRZ), DG2 (face), DG13 (Vietnam's data group, domain §4.6), DG14 (chip
authentication info), DG15 (active-authentication public key) and EF.SOD (CMS SignedData over
an LDSSecurityObject with the SHA-256 hash of each data group, ICAO 9303 part 10 §4.6.2).

Everything is deterministic: the chip keys derive from the installation's chip master secret and
the PIN, and the SOD is signed with deterministic ECDSA (RFC 6979), so the same record and PKI
always give the same bytes. ``issue(record, pki, defect)`` also makes the realistic bad cards:

    tampered_dg       DG13 altered after signing (the name), hashes no longer match
    untrusted_signer  SOD signed by a forger's DS chained to a look-alike CSCA
    expired_signer    SOD signed by a DS whose certificate expired
    revoked_signer    SOD signed by a DS on the CSCA's CRL
    lost              the citizen's previous card, reported lost and replaced (older issue date)
    moved             a genuine card whose DG13 address predates a move
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from asn1crypto import core  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sim06.mock_registry import card_history, cards, lds
from sim06.mock_registry.face import dg2, face_jpeg
from sim06.mock_registry.mrz import compose_td1
from sim06.mock_registry.pki import Pki, Signer

DEFECTS = ("tampered_dg", "untrusted_signer", "expired_signer", "revoked_signer", "lost", "moved")
FILES = ("com", "dg1", "dg2", "dg13", "dg14", "dg15", "sod")
DG_NUMBERS = (1, 2, 13, 14, 15)
LIFELONG = "Không thời hạn"
OID_AA_PROTOCOL = "2.23.136.1.1.5"  # id-icao-mrtd-security-aaProtocolObject
OID_ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
_MARKS = (
    "Nốt ruồi C:1cm trên sau đuôi mắt phải",
    "Sẹo chấm C:2cm dưới trước cằm",
    "Nốt ruồi C:2cm dưới sau mép trái",
    "Sẹo chấm C:1cm trên trước đầu lông mày trái",
)


@dataclass(frozen=True)
class ChipFiles:
    """The raw files an NFC reader hands to an app."""

    com: bytes
    dg1: bytes
    dg2: bytes | None  # None: a card issued under 6 holds no face (Law 26/2023, domain §4.2)
    dg13: bytes
    dg14: bytes
    dg15: bytes
    sod: bytes

    def data_groups(self) -> dict[int, bytes]:
        """Data-group number → file bytes (no DG2 on a card issued under 6)."""
        groups = {1: self.dg1, 2: self.dg2, 13: self.dg13, 14: self.dg14, 15: self.dg15}
        return {n: data for n, data in groups.items() if data is not None}


class NoCardError(LookupError):
    """The citizen holds no chip card (never issued, or only the old CMND)."""


def has_face(record: dict[str, Any]) -> bool:
    """Whether the citizen's current card carries a face image: none was collected for a card
    issued before the holder turned 6 (Law 26/2023; no photo on the card face either)."""
    dob = record["date_of_birth"]
    # Only a birth year known: take 1 January, the earliest the 6th birthday can be.
    birth = date.fromisoformat(dob) if dob else date(int(record["birth_year"]), 1, 1)
    return card_history.has_biometrics(birth, date.fromisoformat(record["id_card"]["issue_date"]))


def _dmy(day: date | None) -> str:
    return LIFELONG if day is None else day.strftime("%d/%m/%Y")


def legacy_address(place: dict[str, Any]) -> str:
    """An address in pre-July-2025 units as printed on older cards (commune, district, province)."""
    parts = (place.get(k) for k in ("detail", "commune_name", "district_name", "province_name"))
    return ", ".join(p for p in parts if p)


def printed_residence(record: dict[str, Any]) -> str:
    """The residence written on the chip: pre-2025 units for cards issued before the reform."""
    card = record["id_card"]
    legacy = record.get("legacy_permanent_residence")
    if legacy and date.fromisoformat(card["issue_date"]) < date(2025, 7, 1):
        return legacy_address(legacy)
    place = record.get("permanent_residence") or record.get("current_residence") or {}
    return str(place.get("full", ""))


def accepted_residences(record: dict[str, Any]) -> set[str]:
    """Residence texts a genuine current chip may carry: the address now, or the same place in
    pre-reform units (cards keep the old address after the 2025 rearrangement, domain §4.2)."""
    out = {printed_residence(record)}
    for key in ("permanent_residence", "current_residence"):
        place = record.get(key)
        if place:
            out.add(str(place.get("full", "")))
    legacy = record.get("legacy_permanent_residence")
    if legacy:
        out.add(legacy_address(legacy))
    return out


def dg13_items(record: dict[str, Any], residence: str | None = None) -> list[tuple[int, list[str]]]:
    """DG13 entries (tag, values) of a citizen's current card, tags per domain §4.6."""
    card = record["id_card"]
    pin = record["pin"]
    dob = record["date_of_birth"]
    expiry = card["expiry_date"]
    h = hashlib.sha256(f"sim06-marks|{pin}".encode()).digest()
    hometown = record.get("hometown") or record.get("place_of_birth_registration") or {}
    items = [
        (1, [pin]),
        (2, [record["name"]["full"]]),
        (3, [_dmy(date.fromisoformat(dob)) if dob else str(record["birth_year"])]),
        (4, ["Nam" if record["sex"] == "male" else "Nữ"]),
        (5, ["Việt Nam"]),
        (6, [record["ethnicity"].get("name", "")]),
        (7, [record["religion"].get("name", "")]),
        (8, [hometown.get("province_name", "")]),
        (9, [residence if residence is not None else printed_residence(record)]),
        (10, [_MARKS[h[0] % len(_MARKS)]]),
        (11, [_dmy(date.fromisoformat(card["issue_date"]))]),
        (12, [_dmy(date.fromisoformat(expiry) if expiry else None)]),
        (13, [(record.get(k) or {}).get("full_name", "") for k in ("father", "mother")]),
        (14, [(record.get("spouse") or {}).get("full_name", "")]),
    ]
    if record.get("cmnd"):
        items.append((16, [record["cmnd"]]))
    return items


def encode_dg13(items: list[tuple[int, list[str]]]) -> bytes:
    """DG13: ``6D`` wrapping a SEQUENCE of ``SEQUENCE { INTEGER tag, UTF8String value... }``."""
    body = b"".join(
        lds.tlv(0x30, core.Integer(tag).dump() + b"".join(core.UTF8String(v).dump() for v in vals))
        for tag, vals in items
    )
    return lds.tlv(lds.DG_TAGS[13], lds.tlv(0x30, body))


def decode_dg13(data: bytes) -> dict[int, list[str]]:
    """Tag → values of a DG13 file (raises ``lds.TLVError``/``ValueError`` when malformed)."""
    out: dict[int, list[str]] = {}
    for tag, item in lds.read_children(lds.unwrap(lds.unwrap(data, lds.DG_TAGS[13]), 0x30)):
        if tag != 0x30:
            raise lds.TLVError("a DG13 entry is not a SEQUENCE")
        parts = lds.read_children(item)
        if not parts or parts[0][0] != 0x02:
            raise lds.TLVError("a DG13 entry does not start with an INTEGER")
        number = int.from_bytes(parts[0][1], "big", signed=True)
        out[number] = [v.decode("utf-8") for t, v in parts[1:] if t == 0x0C]
    return out


def chip_key(master: bytes, pin: str, purpose: str) -> ec.EllipticCurvePrivateKey:
    """A per-card P-256 key derived from the installation secret (HMAC-SHA256), so re-reading a
    card gives the same DG14/DG15."""
    digest = hmac.new(master, f"{purpose}|{pin}".encode(), hashlib.sha256).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def dg14(ca_key: ec.EllipticCurvePrivateKey) -> bytes:
    """DG14 SecurityInfos: chip authentication (ECDH) key and protocol, AA signature algorithm
    (ICAO 9303 part 11 §9.2: ``SecurityInfo ::= SEQUENCE { protocol, requiredData, ... }``)."""
    one = b"\x02\x01\x01"
    infos = (
        _seq(_oid(lds.OID_PK_ECDH), _spki(ca_key)),
        _seq(_oid(lds.OID_CA_ECDH_AES_CBC_CMAC_128), one),
        _seq(_oid(OID_AA_PROTOCOL), one, _oid(OID_ECDSA_PLAIN_SHA256)),
    )
    return lds.tlv(lds.DG_TAGS[14], _set_of(*infos))


def dg15(aa_key: ec.EllipticCurvePrivateKey) -> bytes:
    """DG15: the active-authentication public key (SubjectPublicKeyInfo)."""
    return lds.tlv(lds.DG_TAGS[15], _spki(aa_key))


def _oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def _seq(*parts: bytes) -> bytes:
    return lds.tlv(0x30, b"".join(parts))


def _set_of(*parts: bytes) -> bytes:
    # DER orders the members of a SET OF by their encodings (X.690 §11.6).
    return lds.tlv(0x31, b"".join(sorted(parts)))


_SHA256 = _seq(_oid(OID_SHA256), b"\x05\x00")


def security_object(dgs: dict[int, bytes]) -> bytes:
    """The DER LDSSecurityObject (v0, SHA-256) over ``dgs`` (ICAO 9303 part 10 §4.6.2.2).

    The CMS structures are written directly as DER: asn1crypto's object model costs about a
    millisecond per card, a tenth of that by hand; the tests read them back with asn1crypto."""
    hashes_ = b"".join(
        _seq(core.Integer(n).dump(), lds.tlv(0x04, hashlib.sha256(d).digest()))
        for n, d in sorted(dgs.items())
    )
    return _seq(b"\x02\x01\x00", _SHA256, lds.tlv(0x30, hashes_))


def sign_sod(dgs: dict[int, bytes], signer: Signer, signing_time: datetime) -> bytes:
    """EF.SOD: ``77`` wrapping ContentInfo(SignedData) signed by ``signer`` (RFC 5652 §5)."""
    content = security_object(dgs)
    attrs = [
        _seq(_oid("1.2.840.113549.1.9.3"), _set_of(_oid(lds.OID_LDS_SECURITY_OBJECT))),
        _seq(_oid("1.2.840.113549.1.9.5"), _set_of(core.UTCTime(signing_time).dump())),
        _seq(
            _oid("1.2.840.113549.1.9.4"),
            _set_of(lds.tlv(0x04, hashlib.sha256(content).digest())),
        ),
    ]
    signed_attrs = _set_of(*attrs)
    # The signature covers the attributes as a SET (RFC 5652 §5.4); they travel as [0].
    signature = signer.key.sign(signed_attrs, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    cert = signer.certificate
    signer_info = _seq(
        b"\x02\x01\x01",
        _seq(cert.issuer.public_bytes(), core.Integer(cert.serial_number).dump()),
        _SHA256,
        b"\xa0" + signed_attrs[1:],
        _seq(_oid(OID_ECDSA_WITH_SHA256)),
        lds.tlv(0x04, signature),
    )
    signed_data = _seq(
        b"\x02\x01\x03",
        _set_of(_SHA256),
        _seq(_oid(lds.OID_LDS_SECURITY_OBJECT), lds.tlv(0xA0, lds.tlv(0x04, content))),
        lds.tlv(0xA0, cert.public_bytes(serialization.Encoding.DER)),
        _set_of(signer_info),
    )
    info = _seq(_oid(OID_SIGNED_DATA), lds.tlv(0xA0, signed_data))
    return lds.tlv(lds.TAG_SOD, info)


def _previous_card(record: dict[str, Any]) -> dict[str, Any]:
    """The card the citizen reported lost: issued 90 days before the current one."""
    card = dict(record["id_card"])
    issued = date.fromisoformat(card["issue_date"]) - timedelta(days=90)
    birth = date.fromisoformat(record["date_of_birth"] or f"{record['birth_year']}-07-01")
    expiry = cards.card_expiry(birth, issued)
    card.update(issue_date=issued.isoformat(), expiry_date=expiry and expiry.isoformat())
    return {**record, "id_card": card}


def _moved_from(record: dict[str, Any]) -> str:
    h = int.from_bytes(hashlib.sha256(f"sim06-moved|{record['pin']}".encode()).digest()[:4], "big")
    town = (record.get("hometown") or {}).get("province_name", "Thành phố Hà Nội")
    return f"Số {h % 200 + 1}, Tổ {h % 30 + 1}, Phường Quang Trung, {town}"


def issue(
    record: dict[str, Any], pki: Pki, defect: str | None = None, lifelong: str = "sentinel"
) -> ChipFiles:
    """The chip files of a citizen's card (optionally a realistic bad card, see module doc);
    ``lifelong``: the MRZ encoding of a card without expiry (``mrz.LIFELONG_EXPIRY``)."""
    if not record.get("id_card"):
        raise NoCardError(record["pin"])
    if defect is not None and defect not in DEFECTS:
        raise ValueError(f"unknown defect {defect!r}; use one of {DEFECTS}")
    if defect == "lost":
        record = _previous_card(record)
    card = record["id_card"]
    pin = record["pin"]
    dob = record["date_of_birth"]
    birth: date | int = date.fromisoformat(dob) if dob else int(record["birth_year"])
    expiry = date.fromisoformat(card["expiry_date"]) if card["expiry_date"] else None
    name = record["name"]
    given = f"{name['middle']} {name['given']}"
    mrz = compose_td1(pin, name["family"], given, birth, record["sex"], expiry, lifelong)
    residence = _moved_from(record) if defect == "moved" else None
    dgs = {
        1: lds.tlv(lds.DG_TAGS[1], lds.tlv(0x5F1F, mrz.replace("\n", "").encode("ascii"))),
        13: encode_dg13(dg13_items(record, residence)),
        14: dg14(chip_key(pki.chip_master, pin, "chip-authentication")),
        15: dg15(chip_key(pki.chip_master, pin, "active-authentication")),
    }
    if has_face(record):  # otherwise no DG2: not written, not signed, not listed in EF.COM
        dgs[2] = dg2(face_jpeg(pin), record["sex"])
    signer_name = {
        "untrusted_signer": "untrusted",
        "expired_signer": "expired",
        "revoked_signer": "revoked",
    }.get(defect or "", "current")
    issued = date.fromisoformat(card["issue_date"])
    signed_at = datetime(issued.year, issued.month, issued.day, 1, 0, tzinfo=UTC)
    if signer_name == "expired":
        signed_at = datetime(2020, 12, 1, tzinfo=UTC)  # while that signer was still valid
    sod = sign_sod(dgs, pki.signer(signer_name), signed_at)
    files = ChipFiles(
        com=lds.ef_com(sorted(dgs)),
        dg1=dgs[1],
        dg2=dgs.get(2),
        dg13=dgs[13],
        dg14=dgs[14],
        dg15=dgs[15],
        sod=sod,
    )
    if defect == "tampered_dg":
        items = dict(decode_dg13(files.dg13))
        items[2] = [record["name"]["family"] + " Văn Giả"]  # a forger's edit after signing
        files = replace(files, dg13=encode_dg13(sorted(items.items())))
    return files
