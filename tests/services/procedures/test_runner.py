"""Every procedure of the catalogue, for its happy-path persona and each rejection rule."""

from __future__ import annotations

import pytest

from sim06.services.procedures.catalogue import REPO_DIR, Catalogue
from sim06.services.procedures.runner import Runner

pytestmark = pytest.mark.anyio
CASES = [
    pytest.param(p.key, i, id=f"{p.key}-{i}-{c.persona}-{c.expect}")
    for p in Catalogue.load(REPO_DIR).all()
    for i, c in enumerate(p.cases)
]


@pytest.mark.parametrize(("key", "index"), CASES)
async def test_case_decides_as_the_catalogue_says(
    runner: Runner, catalogue: Catalogue, key: str, index: int
) -> None:
    procedure = catalogue.procedures[key]
    case = procedure.cases[index]
    result = await runner.run(procedure, case.persona, case.roles, case.params)
    fired = {r["id"] for r in result.rules}
    detail = [(s.id, s.status, s.detail) for s in result.steps]
    assert result.decision == case.expect, (fired, detail)
    assert set(case.rules) <= fired, (fired, detail)
    if case.expect == "approved":
        assert not fired
        assert all(s.status in ("ok", "skipped") for s in result.steps), detail
