"""Chip files: real ASN.1/DER read back with asn1crypto, cryptography and Pillow (not our code)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from asn1crypto import cms, core, parser  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from sim06.mock_registry import chip, lds
from sim06.mock_registry.face import jpeg_of_dg2
from sim06.mock_registry.pki import Pki
from sim06.mock_registry.store import SQLiteCitizenStore

ADULT = "001090104217"
CHILD = "001216531774"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


def record(store: SQLiteCitizenStore, pin: str) -> dict[str, Any]:
    raw = store.get(pin)
    assert raw is not None
    parsed: dict[str, Any] = orjson.loads(raw)
    return parsed


def outer(data: bytes) -> tuple[int, bytes]:
    """Tag and value of a one-byte-tag file, parsed by asn1crypto's BER parser."""
    class_, _method, _tag, header, contents, _trailer = parser.parse(data, strict=True)
    assert class_ == 1  # application class, as ICAO 9303 part 10 tags the files
    return header[0], contents


def test_same_record_same_bytes(store: SQLiteCitizenStore, pki: Pki) -> None:
    assert chip.issue(record(store, ADULT), pki) == chip.issue(record(store, ADULT), pki)
    other = chip.issue(record(store, "079078315062"), pki)
    assert other.dg2 != chip.issue(record(store, ADULT), pki).dg2


def test_sod_is_cms_signed_data_whose_hashes_match(store: SQLiteCitizenStore, pki: Pki) -> None:
    files = chip.issue(record(store, ADULT), pki)
    tag, body = outer(files.sod)
    assert tag == 0x77
    info = cms.ContentInfo.load(body)
    assert info["content_type"].native == "signed_data"
    signed = info["content"]
    encap = signed["encap_content_info"]
    assert encap["content_type"].dotted == "2.23.136.1.1.1"

    # LDSSecurityObject parsed with a spec written here, independently of mock_registry.lds.
    class DGHash(core.Sequence):  # type: ignore[misc]
        _fields = [("n", core.Integer), ("h", core.OctetString)]

    class LDSSO(core.Sequence):  # type: ignore[misc]
        _fields = [
            ("version", core.Integer),
            ("alg", core.Sequence),
            ("hashes", core.SequenceOf, {"spec": DGHash}),
        ]

    sec = LDSSO.load(encap["content"].contents)
    assert sec["version"].native == 0
    signed_hashes = {h["n"].native: h["h"].native for h in sec["hashes"]}
    for number, data in files.data_groups().items():
        assert signed_hashes[number] == hashlib.sha256(data).digest(), number
    # The signature verifies with the DS certificate carried in the SOD.
    signer = signed["signer_infos"][0]
    ds = x509.load_der_x509_certificate(signed["certificates"][0].chosen.dump())
    assert ds == pki.signer("current").certificate
    attrs = b"\x31" + signer["signed_attrs"].dump()[1:]
    key = ds.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(signer["signature"].native, attrs, ec.ECDSA(hashes.SHA256()))
    digest = next(a for a in signer["signed_attrs"] if a["type"].native == "message_digest")
    assert digest["values"][0].native == hashlib.sha256(encap["content"].contents).digest()


def test_com_dg1_dg2(store: SQLiteCitizenStore, pki: Pki) -> None:
    files = chip.issue(record(store, ADULT), pki)
    tag, com = outer(files.com)
    assert tag == 0x60 and com.endswith(bytes([0x5C, 5, 0x61, 0x75, 0x6D, 0x6E, 0x6F]))
    tag, dg1 = outer(files.dg1)
    assert tag == 0x61 and dg1[:3] == b"\x5f\x1f\x5a"  # 5F1F, 90 characters
    assert dg1[3:].decode("ascii").startswith("IDVNM090104217")
    assert files.dg2 is not None  # an adult's card carries the face
    image = Image.open(io.BytesIO(jpeg_of_dg2(files.dg2)))
    assert image.format == "JPEG" and image.size == (120, 160)


def test_dg13_items_follow_the_domain_tags(store: SQLiteCitizenStore, pki: Pki) -> None:
    files = chip.issue(record(store, ADULT), pki)
    tag, body = outer(files.dg13)
    assert tag == 0x6D
    items = core.Sequence.load(body)  # the SEQUENCE of items parses as generic DER
    assert len(items.contents) > 0
    dg13 = chip.decode_dg13(files.dg13)
    assert dg13[1] == [ADULT]
    assert dg13[2] == ["Nguyễn Văn An"]
    assert dg13[3] == ["12/05/1990"]
    assert dg13[4] == ["Nam"]
    assert dg13[11] == ["15/06/2021"] and dg13[12] == ["12/05/2030"]
    assert len(dg13[13]) == 2 and dg13[14] == ["Trần Thị Bình"]


def test_dg14_and_dg15_carry_p256_public_keys(store: SQLiteCitizenStore, pki: Pki) -> None:
    files = chip.issue(record(store, ADULT), pki)
    tag, spki = outer(files.dg15)
    assert tag == 0x6F
    aa = serialization.load_der_public_key(spki)
    assert isinstance(aa, ec.EllipticCurvePublicKey) and aa.curve.name == "secp256r1"
    tag, infos = outer(files.dg14)
    assert tag == 0x6E
    security_infos = core.SetOf.load(infos, spec=core.Sequence)
    protocols = {
        core.ObjectIdentifier.load(i.contents[: i.contents[1] + 2]).dotted for i in security_infos
    }
    assert "0.4.0.127.0.7.2.2.1.2" in protocols  # id-PK-ECDH: the chip-authentication key


def test_no_card_no_chip(store: SQLiteCitizenStore, pki: Pki) -> None:
    with pytest.raises(chip.NoCardError):
        chip.issue(record(store, CHILD), pki)
    with pytest.raises(ValueError):
        chip.issue(record(store, ADULT), pki, "bent")


def test_defects_change_what_they_say(store: SQLiteCitizenStore, pki: Pki) -> None:
    genuine = chip.issue(record(store, ADULT), pki)
    tampered = chip.issue(record(store, ADULT), pki, "tampered_dg")
    assert tampered.sod == genuine.sod and tampered.dg13 != genuine.dg13
    moved = chip.issue(record(store, ADULT), pki, "moved")
    assert chip.decode_dg13(moved.dg13)[9] != chip.decode_dg13(genuine.dg13)[9]
    lost = chip.issue(record(store, ADULT), pki, "lost")
    assert chip.decode_dg13(lost.dg13)[11] != chip.decode_dg13(genuine.dg13)[11]
    for defect, signer in (("untrusted_signer", "untrusted"), ("revoked_signer", "revoked")):
        sod = cms.ContentInfo.load(outer(chip.issue(record(store, ADULT), pki, defect).sod)[1])
        cert = x509.load_der_x509_certificate(sod["content"]["certificates"][0].chosen.dump())
        assert cert == pki.signer(signer).certificate


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize(("defect", "ok"), [(None, True), ("untrusted_signer", False)])
def test_openssl_verifies_the_sod_against_the_csca(
    store: SQLiteCitizenStore, pki: Pki, tmp_path: Path, defect: str | None, ok: bool
) -> None:
    """OpenSSL's CMS verifier (ordinary tooling) chains the SOD's signer to the CSCA."""
    sod = outer(chip.issue(record(store, ADULT), pki, defect).sod)[1]
    (tmp_path / "sod.der").write_bytes(sod)
    (tmp_path / "csca.pem").write_bytes(pki.csca.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "sod.der"),
         "-CAfile", str(tmp_path / "csca.pem"), "-purpose", "any", "-binary", "-out", os.devnull],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert (result.returncode == 0) is ok, result.stderr


def _card_issued_under_six(store: SQLiteCitizenStore) -> dict[str, Any]:
    for raw in store.records():
        r: dict[str, Any] = orjson.loads(raw)
        if r["id_card"] and not chip.has_face(r):
            return r
    raise AssertionError("the seeded population has no card issued under 6")


def test_a_card_issued_under_six_has_no_face(store: SQLiteCitizenStore, pki: Pki) -> None:
    young = _card_issued_under_six(store)
    files = chip.issue(young, pki)
    assert files.dg2 is None
    assert sorted(files.data_groups()) == [1, 13, 14, 15]
    assert lds.com_tags(files.com) == [1, 13, 14, 15]
    encap = cms.ContentInfo.load(outer(files.sod)[1])["content"]["encap_content_info"]
    security = lds.LDSSecurityObject.load(encap["content"].contents)
    assert [h["data_group_number"].native for h in security["data_group_hash_values"]] == [
        1, 13, 14, 15,
    ]  # fmt: skip
    assert chip.issue(record(store, ADULT), pki).dg2 is not None
