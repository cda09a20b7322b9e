"""Coded claims: the observed code lists beside the words released in 1.0.0 (domain §3.4)."""

from __future__ import annotations

from datetime import date

from sim06.mock_registry import personas
from sim06.mock_registry.citizen import record_of
from sim06.services.identity.claims import release

CODED = ["MaDanToc", "MaTonGiao", "MaTinhTrangHonNhan", "MaNhomMau"]
WORDS = ["DanToc", "TonGiao", "TinhTrangHonNhan", "NhomMau"]


def test_codes_follow_the_observed_code_lists_and_the_words_stay() -> None:
    records = [record_of(p, "2026-07-01T00:00:00+07:00") for p in personas.build(date(2026, 7, 1))]
    adult = next(r for r in records if r["pin"] == "001090104217")
    out = release(adult, CODED + WORDS, sub="s", level=2)
    assert out["MaDanToc"] == adult["ethnicity"]["code"] == "01"
    assert out["DanToc"] == "Kinh"  # the 1.0.0 value is unchanged
    assert out["MaTinhTrangHonNhan"] == "2" and out["TinhTrangHonNhan"] == "married"
    assert out["MaTonGiao"] == adult["religion"]["code"]
    seen = set()
    for r in records:
        if r.get("record_type", "citizen") != "citizen":
            continue
        coded = release(r, CODED, sub="s", level=2)
        assert coded["MaTinhTrangHonNhan"] in {"1", "2", "3"}
        assert (
            coded["MaNhomMau"]
            == {None: "00", "A": "01", "B": "02", "AB": "03", "O": "04"}[r["blood_group"]]
        )
        seen.add(coded["MaTinhTrangHonNhan"])
    assert seen == {"1", "2", "3"}
