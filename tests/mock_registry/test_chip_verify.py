"""Passive authentication and registry match: genuine cards pass, each bad card has its reason."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from sim06.mock_registry import chip, lds, personas
from sim06.mock_registry.passive_auth import CHECKS, REASONS, TrustAnchors, Verdict, verify
from sim06.mock_registry.pki import Pki
from sim06.mock_registry.store import SQLiteCitizenStore

ADULT = "001090104217"
AT = datetime(2026, 7, 1, 5, tzinfo=UTC)
# Personas whose card the registry records as not valid, and the reason verification gives.
CARD_REASONS = {
    "expired-card": "CARD_EXPIRED",
    "lost-card": "CARD_LOST",
    "revoked-card": "CARD_REVOKED",
    "deceased": "CARD_REVOKED",
    "cancelled-pin": "CARD_REVOKED",  # the card carried the number the correction cancelled
}
DEFECT_REASONS = {
    "tampered_dg": "DG_HASH_MISMATCH",
    "untrusted_signer": "SIGNER_UNTRUSTED",
    "expired_signer": "SIGNER_EXPIRED",
    "revoked_signer": "SIGNER_REVOKED",
    "lost": "CARD_LOST",
    "moved": "RESIDENCE_CHANGED",
}


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


def run(store: SQLiteCitizenStore, pki: Pki, files: dict[str, bytes], pin: str) -> Verdict:
    def lookup(p: str) -> dict[str, Any] | None:
        raw = store.get(p)
        return None if raw is None else orjson.loads(raw)

    return verify(files, pin, TrustAnchors([pki.csca], [pki.crl]), lookup, AT)


def files_of(
    store: SQLiteCitizenStore, pki: Pki, pin: str, defect: str | None = None
) -> dict[str, bytes]:
    raw = store.get(pin)
    assert raw is not None
    return dataclasses.asdict(chip.issue(orjson.loads(raw), pki, defect))


def test_every_persona_with_a_card_is_authentic(store: SQLiteCitizenStore, pki: Pki) -> None:
    seen = 0
    for persona in personas.listed():
        record = orjson.loads(store.get(persona.pin) or b"{}")
        if not record["id_card"]:
            continue
        verdict = run(store, pki, files_of(store, pki, persona.pin), persona.pin)
        names = [c.name for c in verdict.checks]
        assert names == list(CHECKS)
        # Passive authentication always passes for a genuine card ...
        for check in verdict.checks[:8]:
            assert check.passed, (persona.key, check)
        # ... and the verdict is the registry's status of the card.
        status = record["id_card"]["status"]
        expected = CARD_REASONS.get(persona.key, None if status == "valid" else "CARD_EXPIRED")
        assert verdict.reason == expected, (persona.key, verdict.checks)
        assert verdict.valid is (expected is None)
        seen += 1
    assert seen >= 20


@pytest.mark.parametrize("defect", sorted(DEFECT_REASONS))
def test_each_bad_card_is_refused_with_its_reason(
    store: SQLiteCitizenStore, pki: Pki, defect: str
) -> None:
    verdict = run(store, pki, files_of(store, pki, ADULT, defect), ADULT)
    assert not verdict.valid
    assert verdict.reason == DEFECT_REASONS[defect]
    assert verdict.reason in REASONS


def test_genuine_adult_card_is_valid(store: SQLiteCitizenStore, pki: Pki) -> None:
    verdict = run(store, pki, files_of(store, pki, ADULT), ADULT)
    assert verdict.valid and verdict.reason is None
    assert verdict.signer_subject and "Document Signer current" in verdict.signer_subject


def test_id_number_must_name_the_card_holder(store: SQLiteCitizenStore, pki: Pki) -> None:
    verdict = run(store, pki, files_of(store, pki, ADULT), "079078315062")
    assert verdict.reason == "ID_NUMBER_MISMATCH"


def test_another_cards_data_group_breaks_the_hashes(store: SQLiteCitizenStore, pki: Pki) -> None:
    files = files_of(store, pki, ADULT)
    files["dg2"] = files_of(store, pki, "079078315062")["dg2"]  # photo swapped
    assert run(store, pki, files, ADULT).reason == "DG_HASH_MISMATCH"


def test_sod_from_a_stranger_pki_is_untrusted(store: SQLiteCitizenStore, tmp_path: Path) -> None:
    mine, theirs = Pki(tmp_path / "mine"), Pki(tmp_path / "theirs")
    files = files_of(store, theirs, ADULT)
    assert run(store, mine, files, ADULT).reason == "SIGNER_UNTRUSTED"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sod", b"\x77\x03\x30\x01\x00"),
        ("sod", b""),
        ("dg1", b"\x61\x05\x5f\x1f\x02AB"),
        ("dg13", b"\x6d\x02\x04\x00"),
        ("dg13", b"\x6d\xff"),
        ("dg2", b"\x01\x00"),
    ],
)
def test_malformed_files_give_a_verdict_not_an_exception(
    store: SQLiteCitizenStore, pki: Pki, name: str, value: bytes
) -> None:
    files = files_of(store, pki, ADULT)
    files[name] = value
    verdict = run(store, pki, files, ADULT)
    assert not verdict.valid
    assert verdict.reason in {"MALFORMED_FILE", "MRZ_INVALID", "DG_HASH_MISMATCH"}


def test_a_data_group_the_sod_does_not_cover(store: SQLiteCitizenStore, pki: Pki) -> None:
    files = files_of(store, pki, ADULT)
    genuine = chip.issue(orjson.loads(store.get(ADULT) or b"{}"), pki)
    dgs = {n: d for n, d in genuine.data_groups().items() if n != 15}
    files["sod"] = chip.sign_sod(dgs, pki.signer(), AT)
    assert run(store, pki, files, ADULT).reason == "DG_HASH_MISSING"


def test_file_must_carry_its_own_tag(store: SQLiteCitizenStore, pki: Pki) -> None:
    files = files_of(store, pki, ADULT)
    files["dg1"] = lds.tlv(0x6D, b"")
    assert run(store, pki, files, ADULT).reason == "MALFORMED_FILE"


def reasons(verdict: Verdict) -> list[str]:
    return [c.reason or "" for c in verdict.failed]


def test_every_failed_check_is_listed(store: SQLiteCitizenStore, pki: Pki) -> None:
    expired = next(p.pin for p in personas.listed() if p.key == "expired-card")
    # A forged signer on an expired card: both the PKI and the registry say no.
    verdict = run(store, pki, files_of(store, pki, expired, "untrusted_signer"), expired)
    assert reasons(verdict) == ["SIGNER_UNTRUSTED", "CARD_EXPIRED"]
    assert verdict.reason == "SIGNER_UNTRUSTED"
    # A tampered name on a card whose residence is out of date: three findings.
    files = files_of(store, pki, ADULT, "moved")
    tampered = files_of(store, pki, ADULT, "tampered_dg")
    items = dict(chip.decode_dg13(files["dg13"]))
    items[2] = chip.decode_dg13(tampered["dg13"])[2]
    files["dg13"] = chip.encode_dg13(sorted(items.items()))
    verdict = run(store, pki, files, ADULT)
    assert reasons(verdict) == ["DG_HASH_MISMATCH", "DATA_MISMATCH", "RESIDENCE_CHANGED"]
    assert [c.name for c in verdict.failed] == ["dg_hashes", "registry_data", "registry_residence"]


def test_a_bad_signature_still_reports_chain_and_hashes(
    store: SQLiteCitizenStore, pki: Pki
) -> None:
    files = files_of(store, pki, ADULT, "tampered_dg")
    sod = bytearray(files["sod"])
    sod[-10] ^= 0x01  # inside the ECDSA signature value
    files["sod"] = bytes(sod)
    verdict = run(store, pki, files, ADULT)
    assert reasons(verdict) == ["SOD_SIGNATURE_INVALID", "DG_HASH_MISMATCH", "DATA_MISMATCH"]
    checks = {c.name: c for c in verdict.checks}
    assert checks["signer_chain"].passed and checks["signer_revocation"].passed
    assert verdict.signer_subject is not None


def _com(tag_list: bytes, lds_version: bytes = b"0107") -> bytes:
    return lds.tlv(
        lds.TAG_COM,
        lds.tlv(0x5F01, lds_version) + lds.tlv(0x5F36, b"040000") + lds.tlv(0x5C, tag_list),
    )


@pytest.mark.parametrize(
    ("com", "reason"),
    [
        (b"\x60\x05\x5f\x01", "MALFORMED_FILE"),  # truncated
        (b"\x61\x00", "MALFORMED_FILE"),  # not EF.COM's tag
        (_com(b"\x61\x75\x6d\x6e\x6f", lds_version=b"01x7"), "MALFORMED_FILE"),
        (_com(b"\x61\x75\x6d\x6e\x99"), "MALFORMED_FILE"),  # no data group's tag
        (_com(b"\x61\x61\x75\x6d\x6e\x6f"), "MALFORMED_FILE"),  # DG1 twice
        (_com(b"\x61\x6d\x6e\x6f"), "COM_MISMATCH"),  # DG2 read, not listed, signed
        (_com(b"\x61\x75\x63\x6d\x6e\x6f"), "COM_MISMATCH"),  # lists DG3, which is not signed
    ],
)
def test_a_corrupt_or_inconsistent_ef_com_is_refused(
    store: SQLiteCitizenStore, pki: Pki, com: bytes, reason: str
) -> None:
    files = files_of(store, pki, ADULT)
    assert lds.com_tags(files["com"]) == [1, 2, 13, 14, 15]
    verdict = run(store, pki, {**files, "com": com}, ADULT)
    assert not verdict.valid
    assert [(c.name, c.reason) for c in verdict.failed] == [("ef_com", reason)]
    # The other checks still ran: one read reports every defect.
    assert all(c.passed for c in verdict.checks if c.name != "ef_com")


def test_ef_com_may_be_left_out_but_never_contradicts_the_sod(
    store: SQLiteCitizenStore, pki: Pki
) -> None:
    files = files_of(store, pki, ADULT)
    without = {k: v for k, v in files.items() if k != "com"}
    checks = {c.name: c for c in run(store, pki, without, ADULT).checks}
    assert checks["ef_com"].passed and "not read" in checks["ef_com"].detail
    # DG2 left out by the reader: EF.COM may still list it (it is on the chip and signed).
    no_face = {k: v for k, v in files.items() if k != "dg2"}
    assert run(store, pki, no_face, ADULT).valid
