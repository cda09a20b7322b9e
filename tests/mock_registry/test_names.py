import json
import random
import unicodedata
from collections import Counter
from importlib import resources

import pytest

from sim06.mock_registry.ethnicity import ethnic_groups
from sim06.mock_registry.names import (
    PersonName,
    generate_name,
    inherited_family,
    naming_pattern,
    normalize_for_match,
    strip_diacritics,
    to_nfc,
    to_nfd,
)

HMONG_CLANS = {
    "Giàng", "Vàng", "Sùng", "Thào", "Lý", "Hầu", "Mùa", "Hạng", "Lầu", "Cứ", "Chá", "Vừ",
    "Sình", "Tráng", "Hờ", "Lù", "Má", "Ly", "Mã", "Dương",
}  # fmt: skip


def names(ethnicity: str, sex: str, year: int, n: int, seed: int = 1) -> list[PersonName]:
    rng = random.Random(seed)
    return [generate_name(rng, sex, ethnicity, year) for _ in range(n)]


def test_same_seed_same_names():
    def draw(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [
            generate_name(rng, sex, g.code, year).full
            for g in ethnic_groups()
            for sex in ("male", "female")
            for year in (1950, 1995, 2015)
        ]

    assert draw(42) == draw(42)
    assert draw(42) != draw(43)


def test_nguyen_share_among_kinh():
    sample = names("01", "male", 1985, 10_000) + names("01", "female", 2008, 10_000, seed=2)
    share = sum(n.family == "Nguyễn" for n in sample) / len(sample)
    assert share == pytest.approx(0.38, abs=0.02)


def test_kinh_data_size():
    raw = json.loads(
        resources.files("sim06.mock_registry").joinpath("data/names.json").read_text("utf-8")
    )
    kinh = raw["patterns"]["kinh"]
    assert len(kinh["family"]) >= 60
    assert len(kinh["given_male"]) >= 150
    assert len(kinh["given_female"]) >= 150


def test_thi_fades_for_younger_women():
    old = sum(n.middle.startswith("Thị") for n in names("01", "female", 1960, 5000))
    young = sum(n.middle.startswith("Thị") for n in names("01", "female", 2010, 5000))
    assert old > 2500 and young < 1500


def test_long_names_occur():
    words = Counter(n.words for n in names("01", "female", 1995, 20_000))
    assert words[3] > 15_000
    assert words[4] > 200
    royal = PersonName("Tôn Nữ", "Thị Minh", "Hương")
    assert royal.full == "Tôn Nữ Thị Minh Hương" and royal.words == 5


def test_hmong_names_use_a_clan():
    for sex in ("male", "female"):
        sample = names("08", sex, 1990, 2000)
        assert {n.family for n in sample} <= HMONG_CLANS
        assert len({n.family for n in sample}) >= 10
    assert naming_pattern("08") == "hmong"


def test_ede_names_put_the_clan_last():
    rng = random.Random(3)
    man = generate_name(rng, "male", "12", 1980)
    woman = generate_name(rng, "female", "12", 1980)
    assert man.clan_last and man.full == f"Y {man.given} {man.family}"
    assert woman.full == f"H'{woman.given} {woman.family}"
    assert PersonName("Niê Kdăm", "Y", "Ngông", clan_last=True).full == "Y Ngông Niê Kdăm"
    assert PersonName("Niê", "H'", "Hen", clan_last=True).words == 2


def test_jarai_names_put_the_clan_first():
    for n in names("10", "female", 1990, 200):
        assert not n.clan_last and n.full.startswith(n.family + " ")


def test_all_output_is_nfc_with_single_spaces():
    rng = random.Random(9)
    for group in ethnic_groups():
        for sex in ("male", "female"):
            for year in (1940, 1990, 2020):
                for _ in range(20):
                    n = generate_name(rng, sex, group.code, year)
                    for text in (n.full, n.family, n.middle, n.given):
                        assert unicodedata.is_normalized("NFC", text)
                    assert n.full == " ".join(n.full.split())
                    assert n.family and n.given


def test_forced_family_is_nfc_and_follows_sex():
    rng = random.Random(4)
    assert generate_name(rng, "male", "01", 2000, family=to_nfd("Đặng")).family == "Đặng"
    assert generate_name(rng, "female", "01", 2000, family="Tôn Thất").family == "Tôn Nữ"
    assert generate_name(rng, "male", "01", 2000, family="Tôn Nữ").family == "Tôn Thất"
    assert generate_name(rng, "female", "05", 2000, family="Chau").family == "Néang"


def test_inherited_family():
    father = PersonName("Trần", "Văn", "Hùng")
    mother = PersonName("Lê", "Thị", "Hoa")
    assert inherited_family("01", father, mother) == "Trần"
    ede_father = PersonName("Êban", "Y", "Moan", clan_last=True)
    ede_mother = PersonName("Niê", "H'", "Hen", clan_last=True)
    assert inherited_family("12", ede_father, ede_mother) == "Niê"  # matrilineal
    assert inherited_family("10", father, ede_mother) == "Niê"
    royal = PersonName("Tôn Thất", "", "Bình")
    assert inherited_family("01", royal, mother) == "Tôn Thất"


def test_invalid_sex():
    with pytest.raises(ValueError):
        generate_name(random.Random(1), "M", "01", 1990)


def test_normalize_for_match():
    assert normalize_for_match("  nguyễn   văn ĐỨC ") == "NGUYEN VAN DUC"
    assert normalize_for_match(to_nfd("  nguyễn   văn ĐỨC ")) == "NGUYEN VAN DUC"
    assert normalize_for_match("Đặng\tThị\u00a0Ngọc  Ánh\n") == "DANG THI NGOC ANH"
    assert normalize_for_match("H’Hen Niê") == normalize_for_match("H'Hen Niê") == "H'HEN NIE"
    assert normalize_for_match("Trương Ưu Ơn") == "TRUONG UU ON"


def test_nfc_nfd_helpers():
    nfd = to_nfd("Nguyễn")
    assert nfd != "Nguyễn" and len(nfd) > len("Nguyễn")
    assert to_nfc(nfd) == "Nguyễn"
    assert strip_diacritics("Khơ-me Đắk Lắk") == "Kho-me Dak Lak"
