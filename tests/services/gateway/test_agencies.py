"""The demo agencies file and policy compilation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim06.services.gateway.agencies import AgencyDirectory, load_agencies, parse_agencies
from sim06.services.gateway.policy import compile_grant

ROOT = Path(__file__).resolve().parents[3]


def test_packaged_demo_agencies_equal_the_example() -> None:
    example = (ROOT / "examples" / "agencies.yaml").read_bytes()
    packaged = (ROOT / "services" / "gateway" / "demo_agencies.yaml").read_bytes()
    assert example == packaged


def test_demo_agencies_cover_the_four_kinds_with_demo_only_secrets() -> None:
    specs = load_agencies(None)
    assert {s.kind for s in specs} >= {"commune", "police", "hospital", "bank"}
    text = (ROOT / "examples" / "agencies.yaml").read_text("utf-8")
    assert "DEMO-ONLY" in text
    assert all(s.client_secret and s.client_secret.startswith("demo-only-") for s in specs)


def test_bank_may_only_verify() -> None:
    bank = AgencyDirectory(load_agencies(None)).by_client("demo-bank")
    assert bank is not None
    assert {op for (_, _, op) in bank.grants} == {"verify", "verify-batch"}
    assert bank.scopes == {"registry:verify"}


def test_file_path_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "agencies.yaml"
    path.write_text(yaml.safe_dump({"agencies": []}), "utf-8")
    assert load_agencies(path) == []
    with pytest.raises(ValueError):
        parse_agencies({"agency": []})


def test_grant_filters_top_level_fields() -> None:
    grant = compile_grant("lookup", ["pin", "name"])
    assert grant.filter({"pin": "1", "name": "A", "phone": "x"}) == {"pin": "1", "name": "A"}
    assert grant.allows(frozenset({"pin"})) and not grant.allows(frozenset({"phone"}))
    assert compile_grant("lookup", "*").filter({"phone": "x"}) == {"phone": "x"}
