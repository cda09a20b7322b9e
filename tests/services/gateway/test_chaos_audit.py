"""Chaos: the audit log's disk fills up or turns read-only under the gateway.

The gateway answers an exchange only once its audit record is committed (durable by default),
so when the record cannot be written it must fail closed: 503 ``GATEWAY_AUDIT_UNAVAILABLE``
with Retry-After, and nothing in the answer. SQLite is made to fail for real: ``max_page_count``
at the file's current size gives SQLITE_FULL ("database or disk is full") on the next write,
``query_only`` gives SQLITE_READONLY, on the log's own connection. Once the disk is back, the
chain continues where it stopped, and ``verify`` finds it intact with exactly the records of
the exchanges that were answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from tests.services.gateway.helpers import COMMUNE, assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.chaos]

PIN = "001090104217"
LOOKUP = f"/v1/registry/citizens/{PIN}"


def _fill_the_disk(app: FastAPI) -> Callable[[], None]:
    conn = app.state.audit._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    return lambda: conn.execute("PRAGMA max_page_count = 1073741823")


def _make_read_only(app: FastAPI) -> Callable[[], None]:
    conn = app.state.audit._conn
    conn.execute("PRAGMA query_only = ON")
    return lambda: conn.execute("PRAGMA query_only = OFF")


@pytest.mark.parametrize("break_disk", [_fill_the_disk, _make_read_only])
async def test_an_audit_disk_that_cannot_be_written_fails_closed_and_loses_nothing(
    app: FastAPI, call: Callable[..., Any], break_disk: Callable[[FastAPI], Callable[[], None]]
) -> None:
    answered = 0
    for _ in range(3):
        r = await call(COMMUNE, "GET", LOOKUP)
        assert r.status_code == 200, r.text
        answered += 1
    before = app.state.audit.count()

    repair = break_disk(app)
    statuses = []
    try:
        # A full disk still takes what fits in the file's free space; then nothing more.
        for _ in range(300):
            r = await call(COMMUNE, "GET", LOOKUP)
            statuses.append(r.status_code)
            if r.status_code == 200:
                continue
            assert_problem(r, 503, "GATEWAY_AUDIT_UNAVAILABLE", source=None)
            assert r.headers["retry-after"] == "1"
            assert "full_name" not in r.text and PIN not in r.text.replace(LOOKUP, "")
            if statuses.count(503) == 10:
                break
        health = await call(COMMUNE, "GET", "/healthz")
        assert health.status_code == 200
    finally:
        repair()
    kept = statuses.count(200)
    assert statuses == [200] * kept + [503] * 10, statuses
    answered += kept
    before += kept
    assert app.state.audit.count() == before  # nothing of the refused exchanges was kept

    r = await call(COMMUNE, "GET", LOOKUP)
    assert r.status_code == 200, r.text
    answered += 1
    report = app.state.audit.verify()
    assert report.records == answered == app.state.audit.count()
