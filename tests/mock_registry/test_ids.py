"""Tests for mock_registry.ids (personal identification numbers and CMND numbers)."""

from __future__ import annotations

import random

import pytest

from sim06.mock_registry import ids
from sim06.mock_registry.ids import (
    BIRTH_REGISTRATION_PROVINCES,
    CMND_AREA_PREFIXES,
    PIN_PREFIX_CODES,
    InvalidPersonalId,
    PersonalId,
    SerialAllocator,
    SerialsExhausted,
    century_sex_digit,
    classify_document_number,
    is_valid_pin,
    make_cmnd,
    make_pin,
    parse_pin,
    post_2025_prefix,
    validate_cmnd,
    validate_pin,
)


def codes(problems: tuple[ids.IdProblem, ...]) -> list[str]:
    return [p.code for p in problems]


# --- tables ---------------------------------------------------------------------------------


def test_prefix_table_has_63_legacy_codes_matching_domain_spot_checks() -> None:
    assert len(BIRTH_REGISTRATION_PROVINCES) == 63
    assert PIN_PREFIX_CODES == frozenset(BIRTH_REGISTRATION_PROVINCES)
    assert all(len(c) == 3 and c.isdigit() and c[0] == "0" for c in PIN_PREFIX_CODES)
    assert BIRTH_REGISTRATION_PROVINCES["001"] == "Hà Nội"
    assert BIRTH_REGISTRATION_PROVINCES["052"] == "Bình Định"
    assert BIRTH_REGISTRATION_PROVINCES["064"] == "Gia Lai"
    assert BIRTH_REGISTRATION_PROVINCES["079"] == "Hồ Chí Minh"
    assert BIRTH_REGISTRATION_PROVINCES["096"] == "Cà Mau"
    assert len(set(BIRTH_REGISTRATION_PROVINCES.values())) == 63


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        BIRTH_REGISTRATION_PROVINCES["003"] = "x"  # type: ignore[index]


@pytest.mark.parametrize("prefix", sorted(BIRTH_REGISTRATION_PROVINCES))
def test_every_legacy_prefix_is_accepted(prefix: str) -> None:
    pin = f"{prefix}090123456"
    assert validate_pin(pin) == ()
    assert is_valid_pin(pin)
    assert parse_pin(pin).province_name == BIRTH_REGISTRATION_PROVINCES[prefix]


# --- century / sex digit --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "sex", "digit"),
    [
        (1900, "male", 0),
        (1999, "female", 1),
        (2000, "male", 2),
        (2099, "female", 3),
        (2100, "male", 4),
        (2199, "female", 5),
        (2200, "male", 6),
        (2250, "female", 7),
        (2300, "male", 8),
        (2399, "female", 9),
    ],
)
def test_century_sex_digit_table(year: int, sex: ids.Sex, digit: int) -> None:
    assert century_sex_digit(year, sex) == digit
    pin = make_pin("001", year, sex, 42)
    parsed = parse_pin(pin, sex=sex, birth_year=year)
    assert parsed == PersonalId(pin, "001", digit, year, sex, "000042")


@pytest.mark.parametrize("year", [1899, 2400, 0, -5])
def test_century_sex_digit_rejects_unencodable_years(year: int) -> None:
    with pytest.raises(ValueError, match="1900–2399"):
        century_sex_digit(year, "male")


def test_century_sex_digit_rejects_unknown_sex() -> None:
    with pytest.raises(ValueError, match="sex"):
        century_sex_digit(2000, "other")  # type: ignore[arg-type]


# --- validation: valid examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "year", "sex"),
    [
        ("001090123456", 1990, "male"),
        ("079185000001", 1985, "female"),
        ("038201999999", 2001, "male"),
        ("064324000000", 2024, "female"),
        ("096400123456", 2100, "male"),
    ],
)
def test_valid_examples_parse_with_strict_checks(pin: str, year: int, sex: ids.Sex) -> None:
    assert validate_pin(pin, sex=sex, birth_year=year, as_of_year=2200) == ()
    parsed = parse_pin(pin, sex=sex, birth_year=year)
    assert (parsed.birth_year, parsed.sex, parsed.serial) == (year, sex, pin[6:])
    assert parsed.province_code == pin[:3]


# --- validation: structural problems ---------------------------------------------------------


def test_empty_string() -> None:
    (problem,) = validate_pin("")
    assert problem.code == "empty"
    assert problem.position is None
    assert not is_valid_pin("")


@pytest.mark.parametrize(("text", "position"), [("00109012345", None), ("0010901234567", 12)])
def test_wrong_length_is_explained(text: str, position: int | None) -> None:
    (problem,) = validate_pin(text)
    assert problem.code == "wrong_length"
    assert problem.position == position
    assert "expected 12 digits" in problem.message
    assert f"got {len(text)}" in problem.message
    assert "12 chữ số" in problem.message_vi
    assert not is_valid_pin(text)


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("00109012345A", 11, "LATIN CAPITAL LETTER A"),
        ("０01090123456", 0, "FULLWIDTH DIGIT ZERO, a non-ASCII digit"),
        ("001090 23456", 6, "SPACE, whitespace"),
        ("00109012345\t", 11, "U+0009 Cc, whitespace"),
        ("٠01090123456", 0, "ARABIC-INDIC DIGIT ZERO"),
    ],
)
def test_non_ascii_digits_are_rejected_with_position(
    text: str, position: int, fragment: str
) -> None:
    assert len(text) == 12
    (problem,) = validate_pin(text)
    assert problem.code == "not_digits"
    assert problem.position == position
    assert fragment in problem.message
    assert f"character {position + 1}" in problem.message
    assert not is_valid_pin(text)


def test_surrounding_whitespace_gives_length_and_digit_problems() -> None:
    problems = validate_pin(" 001090123456 ")
    assert codes(problems) == ["wrong_length", "not_digits"]
    assert problems[1].position == 0
    assert "1 more" in problems[1].message


def test_structural_failure_stops_before_semantic_checks() -> None:
    # Wrong prefix and wrong sex would also be reported if structure were fine.
    problems = validate_pin("00319012345", sex="female", birth_year=1950)
    assert codes(problems) == ["wrong_length"]


# --- validation: prefix, sex, birth year ----------------------------------------------------


@pytest.mark.parametrize("prefix", ["000", "003", "005", "099", "100", "840"])
def test_unknown_prefix_rejected_at_position_0(prefix: str) -> None:
    pin = f"{prefix}090123456"
    (problem,) = validate_pin(pin)
    assert problem.code == "unknown_province_code"
    assert problem.position == 0
    assert repr(prefix) in problem.message
    assert not is_valid_pin(pin)
    with pytest.raises(InvalidPersonalId) as excinfo:
        parse_pin(pin)
    assert codes(excinfo.value.problems) == ["unknown_province_code"]
    assert isinstance(excinfo.value, ValueError)


def test_extra_prefixes_accept_configured_country_codes() -> None:
    pin = "840090123456"
    assert validate_pin(pin, extra_prefixes={"840": "Hoa Kỳ"}) == ()
    parsed = parse_pin(pin, extra_prefixes={"840": "Hoa Kỳ"})
    assert parsed.province_code == "840"
    assert parsed.province_name is None  # abroad: not a province
    assert not is_valid_pin(pin)  # the fast check knows only the 63 legacy codes


def test_sex_mismatch_is_explained() -> None:
    (problem,) = validate_pin("001300123456", sex="male")
    assert problem.code == "sex_mismatch"
    assert problem.position == 3
    assert problem.message == "digit 4 is 3 (female, born 2000–2099) but the declared sex is male"
    assert "nữ" in problem.message_vi and "nam" in problem.message_vi


@pytest.mark.parametrize(
    ("declared", "position"),
    [(1990, 3), (2010, 4), (2005, 5), (1800, 3), (2500, 3)],
)
def test_birth_year_mismatch_points_at_first_wrong_digit(declared: int, position: int) -> None:
    (problem,) = validate_pin("001200123456", birth_year=declared)  # encodes 2000, male
    assert problem.code == "birth_year_mismatch"
    assert problem.position == position
    assert "born in 2000" in problem.message
    assert str(declared) in problem.message
    assert str(declared) in problem.message_vi


def test_birth_year_in_future_only_with_reference_year() -> None:
    pin = "001230123456"  # 2030
    assert validate_pin(pin) == ()
    assert validate_pin(pin, as_of_year=2030) == ()
    (problem,) = validate_pin(pin, as_of_year=2025)
    assert problem.code == "birth_year_in_future"
    assert "2030" in problem.message and "2025" in problem.message


def test_lenient_mode_ignores_sex_and_year() -> None:
    assert validate_pin("001300123456") == ()


def test_all_problems_reported_together() -> None:
    problems = validate_pin("003330123456", sex="male", birth_year=1933, as_of_year=2025)
    assert codes(problems) == [
        "unknown_province_code",
        "sex_mismatch",
        "birth_year_mismatch",
        "birth_year_in_future",
    ]
    assert [p.position for p in problems] == [0, 3, 3, 3]
    with pytest.raises(InvalidPersonalId) as excinfo:
        parse_pin("003330123456", sex="male", birth_year=1933, as_of_year=2025)
    assert len(excinfo.value.problems) == 4
    assert "declared sex is male" in str(excinfo.value)


# --- make_pin / parse_pin ---------------------------------------------------------------------


def test_make_pin_round_trips_through_parse_pin() -> None:
    rng = random.Random(20240701)
    prefixes = sorted(PIN_PREFIX_CODES)
    sexes: tuple[ids.Sex, ids.Sex] = ("male", "female")
    for _ in range(2000):
        prefix = rng.choice(prefixes)
        year = rng.randint(1900, 2399)
        sex = rng.choice(sexes)
        serial = rng.randrange(1_000_000)
        pin = make_pin(prefix, year, sex, serial)
        assert is_valid_pin(pin)
        parsed = parse_pin(pin, sex=sex, birth_year=year)
        assert parsed.value == pin
        assert (parsed.province_code, parsed.birth_year, parsed.sex) == (prefix, year, sex)
        assert int(parsed.serial) == serial


def test_make_pin_pads_year_and_serial() -> None:
    assert make_pin("001", 2005, "female", 7) == "001305000007"
    assert make_pin("096", 1900, "male", 999_999) == "096000999999"


# --- post-2025 prefix policy --------------------------------------------------------------------


def test_post_2025_prefix_default_policy_and_trap() -> None:
    # New Gia Lai (52) yields 052, which in the legacy table is Bình Định, not old Gia Lai (064).
    assert post_2025_prefix("52") == "052"
    assert BIRTH_REGISTRATION_PROVINCES[post_2025_prefix("52")] == "Bình Định"
    assert post_2025_prefix("79") == "079"
    assert post_2025_prefix("01") == "001"


@pytest.mark.parametrize("code", ["64", "2", "052", "", "99"])
def test_post_2025_prefix_rejects_non_2025_codes(code: str) -> None:
    with pytest.raises(ValueError, match="34 province codes"):
        post_2025_prefix(code)


# --- SerialAllocator --------------------------------------------------------------------------


def test_allocator_never_repeats_in_heavy_buckets_and_skips_reserved() -> None:
    reserved_alloc = SerialAllocator(seed=7)
    # Reserve PINs that the allocator *would* produce early on, so the skip is exercised.
    reserved = {reserved_alloc.allocate("001", 1990, "male") for _ in range(50)}
    reserved |= {reserved_alloc.allocate("079", 2001, "female") for _ in range(50)}
    alloc = SerialAllocator(seed=7, reserved=reserved)
    seen: set[str] = set()
    buckets: list[tuple[str, int, ids.Sex]] = [
        ("001", 1990, "male"),
        ("079", 2001, "female"),
        ("079", 1901, "female"),  # same prefix+YY as 2001 female but another century digit
    ]
    for i in range(200_000):
        prefix, year, sex = buckets[i % 3]
        pin = alloc.allocate(prefix, year, sex)
        assert pin[:6] == make_pin(prefix, year, sex, 0)[:6]
        seen.add(pin)
    assert len(seen) == 200_000
    assert seen.isdisjoint(reserved)


def test_allocator_is_deterministic_per_seed() -> None:
    def run(seed: int) -> list[str]:
        alloc = SerialAllocator(seed)
        return [alloc.allocate("001", 1990 + i % 3, "female") for i in range(300)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_allocator_output_per_bucket_is_independent_of_other_buckets() -> None:
    a = SerialAllocator(5)
    b = SerialAllocator(5)
    b.allocate("024", 1970, "male")
    assert [a.allocate("001", 1990, "male") for _ in range(10)] == [
        b.allocate("001", 1990, "male") for _ in range(10)
    ]


def test_allocator_serials_look_random() -> None:
    alloc = SerialAllocator(3)
    serials = [int(alloc.allocate("001", 1990, "male")[6:]) for _ in range(1000)]
    diffs = {b - a for a, b in zip(serials, serials[1:], strict=False)}
    assert len(diffs) > 900  # not an arithmetic progression
    assert min(serials) < 100_000 and max(serials) > 900_000


def test_allocator_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="12 digits"):
        SerialAllocator(1, reserved=["123"])
    alloc = SerialAllocator(1)
    with pytest.raises(ValueError, match="3 ASCII digits"):
        alloc.allocate("01", 1990, "male")
    with pytest.raises(ValueError, match="1900–2399"):
        alloc.allocate("001", 1850, "male")


@pytest.mark.slow
def test_allocator_covers_whole_bucket_then_reports_exhaustion() -> None:
    reserved = ["001090000000", "001090999999", "001090123456"]
    alloc = SerialAllocator(11, reserved=reserved)
    pins = {alloc.allocate("001", 1990, "male") for _ in range(1_000_000 - len(reserved))}
    assert len(pins) == 1_000_000 - len(reserved)
    assert pins.isdisjoint(reserved)
    with pytest.raises(SerialsExhausted, match="prefix 001, birth year 1990, male"):
        alloc.allocate("001", 1990, "male")
    assert alloc.allocate("001", 1990, "female").startswith("001190")


# --- CMND -----------------------------------------------------------------------------------


def test_validate_cmnd_accepts_nine_ascii_digits() -> None:
    assert validate_cmnd("012345678") == ()
    assert validate_cmnd("271450001") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["empty"]),
        ("01234567", ["wrong_length"]),
        ("0123456789", ["wrong_length"]),
        ("01234567８", ["not_digits"]),
        ("01234567 ", ["not_digits"]),
        ("O12345678", ["not_digits"]),
        ("012-34", ["wrong_length", "not_digits"]),
    ],
)
def test_validate_cmnd_problems(text: str, expected: list[str]) -> None:
    assert codes(validate_cmnd(text)) == expected


def test_validate_cmnd_points_twelve_digit_numbers_to_pin_validation() -> None:
    (problem,) = validate_cmnd("001090123456")
    assert problem.code == "wrong_length"
    assert "validate_pin" in problem.message


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("012345678", "cmnd9"),
        ("001090123456", "cmnd12_or_pin"),  # born 1990: could hold a CMND12 (2012-2016)
        ("001202123456", "cmnd12_or_pin"),  # born 2002: aged 14 in 2016
        ("001203123456", "pin"),  # born 2003: too young for a CMND12
        ("001310123456", "pin"),
        ("003090123456", "invalid"),
        ("01234567", "invalid"),
        ("０12345678", "invalid"),
        ("", "invalid"),
    ],
)
def test_classify_document_number(text: str, kind: str) -> None:
    assert classify_document_number(text) == kind


def test_cmnd_area_prefixes_shape() -> None:
    for area, prefixes in CMND_AREA_PREFIXES.items():
        assert prefixes, area
        assert all(p.isdigit() and len(p) in (2, 3) for p in prefixes), area
    assert CMND_AREA_PREFIXES["Hà Nội"] == ("01",)
    assert CMND_AREA_PREFIXES["Hồ Chí Minh"] == ("02",)


@pytest.mark.parametrize("area", sorted(CMND_AREA_PREFIXES))
def test_make_cmnd_for_each_known_area(area: str) -> None:
    rng = random.Random(area)
    for _ in range(20):
        number = make_cmnd(rng, area)
        assert validate_cmnd(number) == ()
        assert number.startswith(CMND_AREA_PREFIXES[area])
        assert classify_document_number(number) == "cmnd9"


def test_make_cmnd_explicit_prefix_and_determinism() -> None:
    first = [make_cmnd(random.Random(9), "095") for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same number
    assert first[0].startswith("095") and len(first[0]) == 9
    rng = random.Random(9)
    assert len({make_cmnd(rng, "01") for _ in range(100)}) == 100


@pytest.mark.parametrize("area", ["Atlantis", "1", "0123", "０1", ""])
def test_make_cmnd_rejects_unknown_area(area: str) -> None:
    with pytest.raises(ValueError, match="CMND_AREA_PREFIXES"):
        make_cmnd(random.Random(0), area)


def test_public_surface() -> None:
    assert set(ids.__all__) <= set(dir(ids))
    assert "SerialAllocator" in ids.__all__
