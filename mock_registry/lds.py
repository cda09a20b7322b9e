"""Logical Data Structure of the chip (ICAO 9303 part 10): BER-TLV files and their ASN.1 parts.

Each elementary file is one TLV whose tag names it (``0x60`` EF.COM, ``0x61`` DG1, ``0x75`` DG2,
``0x6D`` DG13, ``0x6E`` DG14, ``0x6F`` DG15, ``0x77`` EF.SOD). Inside, the ICAO application tags
(``5F1F`` MRZ, ``7F61`` biometric group, ...) are plain BER-TLV; the DER structures (DG13 items,
SecurityInfos, SubjectPublicKeyInfo, the SOD's CMS) are built with asn1crypto.
"""

from __future__ import annotations

from asn1crypto import core  # type: ignore[import-untyped]

# File tags (ICAO 9303 part 10 §4.6, table 34) and the data-group numbers they carry.
TAG_COM = 0x60
TAG_SOD = 0x77
DG_TAGS = {1: 0x61, 2: 0x75, 13: 0x6D, 14: 0x6E, 15: 0x6F}
# Every data group of the LDS (a card's EF.COM may list groups this simulator never writes).
ICAO_DG_TAGS = {
    1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68,
    9: 0x69, 10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70,
}  # fmt: skip
LDS_VERSION = b"0107"  # LDS 1.7
UNICODE_VERSION = b"040000"

# ICAO OIDs (part 10 §4.6.2.2; part 11 §9.2 for the chip-authentication infos).
OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"  # id-PK-ECDH
OID_CA_ECDH_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.3.2.2"  # id-CA-ECDH-AES-CBC-CMAC-128


class TLVError(ValueError):
    """A file is not well-formed BER-TLV."""


def _tag_bytes(tag: int) -> bytes:
    return tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, value: bytes) -> bytes:
    """Encode one TLV (definite length, DER-style minimal length octets)."""
    return _tag_bytes(tag) + _length(len(value)) + value


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """Read the TLV at ``offset``: ``(tag, value, offset after it)``."""
    try:
        start = offset
        first = data[offset]
        offset += 1
        if first & 0x1F == 0x1F:  # multi-byte tag: continuation bytes have bit 8 set
            while data[offset] & 0x80:
                offset += 1
            offset += 1
        tag = int.from_bytes(data[start:offset], "big")
        length = data[offset]
        offset += 1
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4:
                raise TLVError("indefinite or oversized length")
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
    except IndexError as exc:
        raise TLVError("truncated TLV header") from exc
    end = offset + length
    if end > len(data):
        raise TLVError("TLV value runs past the end of the file")
    return tag, data[offset:end], end


def read_children(value: bytes) -> list[tuple[int, bytes]]:
    """The TLVs packed one after the other in ``value``."""
    out: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(value):
        tag, inner, offset = read_tlv(value, offset)
        out.append((tag, inner))
    return out


def unwrap(data: bytes, tag: int) -> bytes:
    """The value of a file whose outer tag must be ``tag`` (and nothing may follow it)."""
    got, value, end = read_tlv(data)
    if got != tag or end != len(data):
        raise TLVError(f"expected one TLV with tag {tag:#x}, got {got:#x}")
    return value


def child(value: bytes, tag: int) -> bytes:
    """The value of the first child TLV with ``tag``."""
    for got, inner in read_children(value):
        if got == tag:
            return inner
    raise TLVError(f"no TLV with tag {tag:#x}")


def ef_com(dg_numbers: list[int]) -> bytes:
    """EF.COM: LDS version, Unicode version and the tag list of the data groups present."""
    tags = bytes(DG_TAGS[n] for n in dg_numbers)
    return tlv(
        TAG_COM,
        tlv(0x5F01, LDS_VERSION) + tlv(0x5F36, UNICODE_VERSION) + tlv(0x5C, tags),
    )


def com_tags(data: bytes) -> list[int]:
    """The data-group numbers listed by an EF.COM (TLVError unless it is well formed).

    Well formed (part 10 §4.6.1): one ``0x60`` TLV holding the LDS version ``5F01`` (four
    digits), the Unicode version ``5F36`` (six digits) and the tag list ``5C``, whose every
    byte is the tag of an ICAO data group, each at most once.
    """
    children = read_children(unwrap(data, TAG_COM))
    if [tag for tag, _ in children] != [0x5F01, 0x5F36, 0x5C]:
        raise TLVError("EF.COM must hold 5F01, 5F36 and 5C, in that order")
    lds_version, unicode_version, tag_list = (value for _, value in children)
    if len(lds_version) != 4 or not lds_version.isdigit():
        raise TLVError(f"EF.COM LDS version {lds_version!r} is not four digits")
    if len(unicode_version) != 6 or not unicode_version.isdigit():
        raise TLVError(f"EF.COM Unicode version {unicode_version!r} is not six digits")
    by_tag = {t: n for n, t in ICAO_DG_TAGS.items()}
    unknown = [t for t in tag_list if t not in by_tag]
    if unknown:
        raise TLVError(f"EF.COM tag list holds {unknown[0]:#x}, no data group's tag")
    numbers = [by_tag[t] for t in tag_list]
    if len(set(numbers)) != len(numbers):
        raise TLVError("EF.COM tag list names a data group twice")
    return numbers


# --- ASN.1 of the security object and DG14 (ICAO 9303 part 10 §4.6.2, part 11 §9.2) ---


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class DigestAlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class LDSSecurityObject(core.Sequence):  # type: ignore[misc]
    """``LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues }``."""

    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", DigestAlgorithmIdentifier),
        ("data_group_hash_values", DataGroupHashValues),
    ]


class SecurityInfo(core.Sequence):  # type: ignore[misc]
    """``SecurityInfo ::= SEQUENCE { protocol OID, requiredData ANY, optionalData ANY OPT }``."""

    _fields = [
        ("protocol", core.ObjectIdentifier),
        ("required_data", core.Any),
        ("optional_data", core.Any, {"optional": True}),
    ]


class SecurityInfos(core.SetOf):  # type: ignore[misc]
    _child_spec = SecurityInfo
