import random
import unicodedata
from collections import Counter

import pytest

from sim06.mock_registry.ethnicity import (
    census_share,
    ethnic_group,
    ethnic_groups,
    pick_ethnicity,
    pick_religion,
    recode,
    religion,
    religions,
)

# Approximate 2019 census populations (thousands) of the 63 legacy provinces; kept here on
# purpose so this test does not depend on admin_units.
POP_2019_K = {
    "01": 8054, "02": 855, "04": 530, "06": 314, "08": 785, "10": 730, "11": 599, "12": 460,
    "14": 1248, "15": 821, "17": 854, "19": 1287, "20": 782, "22": 1320, "24": 1804,
    "25": 1464, "26": 1154, "27": 1369, "30": 1892, "31": 2029, "33": 1253, "34": 1860,
    "35": 853, "36": 1780, "37": 982, "38": 3640, "40": 3328, "42": 1289, "44": 895,
    "45": 632, "46": 1129, "48": 1134, "49": 1496, "51": 1232, "52": 1487, "54": 873,
    "56": 1231, "58": 590, "60": 1231, "62": 540, "64": 1514, "66": 1869, "67": 622,
    "68": 1297, "70": 995, "72": 1169, "74": 2427, "75": 3097, "77": 1148, "79": 8993,
    "80": 1689, "82": 1764, "83": 1288, "84": 1009, "86": 1023, "87": 1600, "89": 1908,
    "91": 1723, "92": 1235, "93": 733, "94": 1200, "95": 907, "96": 1194,
}  # fmt: skip


def national_sample(n: int, seed: int = 2019) -> Counter[str]:
    rng = random.Random(seed)
    provinces = rng.choices(list(POP_2019_K), weights=list(POP_2019_K.values()), k=n)
    return Counter(pick_ethnicity(rng, p) for p in provinces)


def province_shares(province: str, n: int = 20_000) -> Counter[str]:
    rng = random.Random(province)
    return Counter(pick_ethnicity(rng, province) for _ in range(n))


def test_1979_table_has_54_groups_plus_foreigner_in_order():
    groups = ethnic_groups()
    assert [g.code for g in groups] == [f"{i:02d}" for i in range(1, 56)]
    expected = {"01": "Kinh", "02": "Tày", "04": "Hoa", "05": "Khơ-me", "06": "Mường"}
    expected |= {"08": "HMông", "10": "Gia-rai", "12": "Ê-đê", "53": "Ơ Đu", "54": "Rơ-măm"}
    for code, name in expected.items():
        assert ethnic_group(code).name == name
    assert ethnic_group("55").name == "Người nước ngoài"


def test_2008_table_holds_only_the_verified_codes():
    groups = ethnic_groups("2008")
    assert [g.code for g in groups] == [f"{i:02d}" for i in range(1, 21)]
    assert ethnic_group("04", "2008").name == "Mường"
    assert ethnic_group("06", "2008").name == "Hoa"
    assert ethnic_group("20", "2008").name == "Mnông"
    with pytest.raises(KeyError):
        ethnic_group("21", "2008")


def test_recode_between_tables():
    assert recode("01") == "01"
    assert recode("04") == "06"  # Hoa
    assert recode("06", "2008", "1979") == "04"  # Mường in 2008 → 1979
    assert recode("22") is None  # Xtiêng: 2008 code unknown, not guessed
    with pytest.raises(KeyError):
        recode("99")
    with pytest.raises(ValueError):
        recode("01", to_table="2019")


def test_names_are_nfc_and_ascii_names_are_ascii():
    for group in ethnic_groups():
        assert unicodedata.is_normalized("NFC", group.name)
        assert group.name_ascii.isascii()
    assert ethnic_group("12").name_ascii == "E-de"
    assert ethnic_group("23").name_ascii == "Bru-Van Kieu"


def test_unknown_table_or_code():
    with pytest.raises(ValueError):
        ethnic_groups("1999")
    with pytest.raises(KeyError):
        ethnic_group("56")


def test_census_shares():
    assert census_share("01") == pytest.approx(0.853, abs=0.001)
    assert census_share("02") == pytest.approx(0.0192, abs=0.0005)
    assert census_share("55") == 0.0
    assert sum(census_share(g.code) for g in ethnic_groups()) == pytest.approx(1.0, abs=1e-4)


def test_pick_ethnicity_is_deterministic():
    a = [pick_ethnicity(random.Random(5), p) for p in POP_2019_K]
    b = [pick_ethnicity(random.Random(5), p) for p in POP_2019_K]
    assert a == b


def test_national_shares_match_the_census():
    n = 200_000
    counts = national_sample(n)
    assert counts["01"] / n == pytest.approx(0.85, abs=0.03)
    for code in ("02", "03", "06", "08", "05"):  # each about 1.4–1.9 %
        assert counts[code] / n == pytest.approx(census_share(code), rel=0.25)
    assert "55" not in counts
    assert set(counts) <= {g.code for g in ethnic_groups()}


def test_minorities_are_concentrated_where_they_live():
    assert province_shares("02")["08"] / 20_000 > 0.25  # Hmong in Hà Giang
    assert province_shares("94")["05"] / 20_000 > 0.2  # Khmer in Sóc Trăng
    assert province_shares("66")["12"] / 20_000 > 0.1  # Ê-đê in Đắk Lắk
    assert province_shares("79")["04"] / 20_000 > 0.02  # Hoa in HCMC
    assert province_shares("94")["08"] == 0  # no Hmong in the Mekong delta
    assert province_shares("34")["01"] / 20_000 > 0.98  # Thái Bình: Kinh


def test_pin_prefix_form_is_accepted():
    assert pick_ethnicity(random.Random(1), "002") == pick_ethnicity(random.Random(1), "02")


def test_religion_codes():
    codes = [r.code for r in religions()]
    assert codes[0] == "00" and religion("00").name == "Không"
    assert codes == sorted(set(codes)) and all(len(c) == 2 and c.isdigit() for c in codes)
    assert religion("02").name == "Công giáo"
    with pytest.raises(KeyError):
        religion("98")


def test_religion_correlates_with_ethnicity():
    rng = random.Random(6)
    n = 20_000
    khmer = Counter(pick_religion(rng, "05") for _ in range(n))
    kinh = Counter(pick_religion(rng, "01") for _ in range(n))
    hmong = Counter(pick_religion(rng, "08") for _ in range(n))
    assert khmer["01"] / n > 0.7  # Theravada Buddhist
    assert kinh["00"] / n > 0.8 and kinh["02"] > kinh["03"]
    assert hmong["03"] / n > 0.1  # Protestant
    assert pick_religion(random.Random(1), "55") in {r.code for r in religions()}


def test_national_religion_shares():
    rng = random.Random(86)
    n = 100_000
    counts = national_sample(n)
    people = [code for code, k in counts.items() for _ in range(k)]
    religion_counts = Counter(pick_religion(rng, e) for e in people)
    assert religion_counts["00"] / n == pytest.approx(0.863, abs=0.02)
    assert religion_counts["02"] / n == pytest.approx(0.061, abs=0.01)
    assert religion_counts["01"] / n == pytest.approx(0.048, abs=0.01)
