"""The runner, as a relying party, checks the level the login reached (the ID token's acr)."""

from __future__ import annotations

import base64

import orjson
import pytest

from sim06.services.procedures.runner import _acr_level


def token(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


@pytest.mark.parametrize(
    ("id_token", "level"),
    [
        (token({"acr": "LoA2"}), 2),
        (token({"acr": "2"}), 2),
        (token({"acr": "LoA1"}), 1),
        (token({"acr": "1"}), 1),
        (token({}), 0),  # no acr: no level was asserted
        ("not-a-jwt", 0),
        ("a.!!!.c", 0),
        (None, 0),
    ],
)
def test_acr_level(id_token: str | None, level: int) -> None:
    assert _acr_level(id_token) == level
