"""Civil-status event bodies over the personas, shared by the registry and gateway tests."""

from __future__ import annotations

from typing import Any

FATHER = "001090104217"  # Nguyễn Văn An, household head (adult-level2)
MOTHER = "001195208733"  # Trần Thị Bình, his wife (level1-only)
CHILD = "001216531774"  # their son (child-under-14)
CENTENARIAN = "052123497883"  # Lê Thị Bảy, widowed household head
DECEASED = "040050186692"
BA_DINH = "00004"  # Phường Ba Đình, Hà Nội


def birth(given: str = "Anh", **override: Any) -> dict[str, Any]:
    """A birth to the persona couple, registered in Ba Đình with the father's household."""
    body: dict[str, Any] = {
        "child": {
            "name": {"family": "Nguyễn", "middle": "Minh", "given": given},
            "sex": "female",
            "date_of_birth": "2026-11-30",
            "place_of_birth": "Bệnh viện Phụ sản Hà Nội",
        },
        "mother_pin": MOTHER,
        "father_pin": FATHER,
        "registration_commune_code": BA_DINH,
        "residence": {"with_pin": FATHER, "relationship": "child"},
    }
    body.update(override)
    return body


def death(pin: str = FATHER, **override: Any) -> dict[str, Any]:
    """A death registered in Ba Đình."""
    body: dict[str, Any] = {
        "pin": pin,
        "date_of_death": "2026-12-01",
        "place_of_death": "Bệnh viện Bạch Mai, Hà Nội",
        "registration_reference": "KT-00004-2026-0001",
        "registration_commune_code": BA_DINH,
    }
    body.update(override)
    return body
