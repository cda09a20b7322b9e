"""A civil-status write through the gateway: its audit record keeps the digests of the records
it changed (hash-chained, verified), and the citizen's access log says what was written."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from sim06.services.audit.commands import audit_path, audit_verify
from sim06.services.common.settings import Settings
from sim06.services.gateway.access_log import ACTIONS, AccessLog, action_labels
from sim06.services.gateway.policy import OPERATIONS
from tests.event_requests import FATHER, MOTHER, birth
from tests.services.gateway.helpers import ADMIN, BIRTH_OFFICE, COMMUNE, SOCIAL_SECURITY

pytestmark = pytest.mark.anyio
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
BA_DINH_EN = "People's Committee of Ba Dinh ward, Ha Noi"
BA_DINH_VI = "UBND phường Ba Đình, thành phố Hà Nội"


@pytest.fixture
def gw_settings(gw_events_settings: Settings) -> Settings:
    return gw_events_settings  # events write: a private copy of the database


def audit_rows(settings: Settings) -> list[dict[str, Any]]:
    conn = sqlite3.connect(audit_path(settings))
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
    conn.close()
    return rows


async def register_birth(call: Callable[..., Any]) -> dict[str, Any]:
    r = await call(BIRTH_OFFICE, "POST", "/v1/registry/births", birth())
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def test_a_birth_is_audited_with_the_digests_of_its_records(
    app: FastAPI,
    call: Callable[..., Any],
    gw_events_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await call(COMMUNE, "GET", f"/v1/registry/citizens/{FATHER}")  # a read: no digests
    answer = await register_birth(call)
    app.state.audit.flush()
    read, written = audit_rows(gw_events_settings)
    assert read["operation"] == "lookup" and read["digests"] is None
    assert written["operation"] == "register-birth" and written["status"] == 201
    # The digests are the registry's: each record before (null: the child's new PIN) and after.
    records = answer["records"]
    assert orjson.loads(written["digests"]) == records
    assert {r["pin"] for r in records} >= {answer["pin"], MOTHER}
    assert next(r for r in records if r["pin"] == answer["pin"])["before"] is None
    assert all(len(r["after"]) == 64 for r in records)
    assert orjson.loads(written["pins"]) == [r["pin"] for r in records]
    # sim06 audit verify: intact, then broken at the write once a digest is edited.
    assert audit_verify(gw_events_settings) == 0
    assert "intact: 2 records" in capsys.readouterr().out
    forged = [{**r, "after": "0" * 64} if r["pin"] == MOTHER else r for r in records]
    conn = sqlite3.connect(audit_path(gw_events_settings))
    with conn:
        conn.execute(
            "UPDATE audit SET digests = ? WHERE seq = ?",
            (orjson.dumps(forged).decode(), written["seq"]),
        )
    conn.close()
    assert audit_verify(gw_events_settings) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at record {written['seq']}: record {written['seq']} was altered" in out


async def test_the_mothers_access_log_shows_the_birth_registration(
    client: httpx.AsyncClient, call: Callable[..., Any]
) -> None:
    await call(COMMUNE, "GET", f"/v1/registry/citizens/{MOTHER}")
    answer = await register_birth(call)
    r = await client.get(f"/v1/citizens/{MOTHER}/access-log", headers=ADMIN_HEADERS)
    assert r.status_code == 200, r.text
    body = r.json()
    AccessLog.model_validate(body)  # the published response model
    lookup, registered = body["accesses"]
    code = COMMUNE["code"]
    assert lookup["action"] == f"record looked up by {BA_DINH_EN} ({code})"
    assert lookup["action_vi"] == f"Tra cứu thông tin công dân do {BA_DINH_VI} ({code}) thực hiện"
    assert registered["operation"] == "register-birth"
    assert registered["action"] == f"birth registered by {BA_DINH_EN} ({code})"
    assert registered["action_vi"] == f"Đăng ký khai sinh do {BA_DINH_VI} ({code}) thực hiện"
    assert registered["purpose"] == "birth-registration"
    # Data minimisation: the digests stay in the audit log.
    assert "digests" not in registered
    for record in answer["records"]:
        assert record["after"] not in r.text
    # The child's log has the birth too, then the change feed read by Social Security.
    assert (await call(SOCIAL_SECURITY, "GET", "/v1/registry/changes")).status_code == 200
    child = await client.get(f"/v1/citizens/{answer['pin']}/access-log", headers=ADMIN_HEADERS)
    actions = [a["action"] for a in child.json()["accesses"]]
    assert actions[0] == f"birth registered by {BA_DINH_EN} ({code})"
    assert actions[1].startswith("change feed read by ") and SOCIAL_SECURITY["code"] in actions[1]
    assert child.json()["accesses"][1]["action_vi"].startswith("Đọc danh sách thay đổi do ")


def test_every_operation_has_a_label() -> None:
    assert set(ACTIONS) == set(OPERATIONS)
    labels = {op: action_labels(op, "X.01", "Agency", "Cơ quan") for op in OPERATIONS}
    assert labels["register-death"] == (
        "death registered by Agency (X.01)", "Đăng ký khai tử do Cơ quan (X.01) thực hiện"
    )  # fmt: skip
    assert labels["register-residence"][0].startswith("residence registered by")
    assert labels["register-marriage"][1].startswith("Đăng ký kết hôn do")
    assert labels["register-divorce"] == (
        "divorce recorded by Agency (X.01)", "Ghi chú ly hôn do Cơ quan (X.01) thực hiện"
    )  # fmt: skip
    assert labels["register-correction"][0] == "civil-status correction by Agency (X.01)"
    assert labels["register-correction"][1].startswith("Cải chính hộ tịch do")
    # An agency no longer registered: its code; an unknown operation: a neutral label.
    assert action_labels("lookup", "X.02", None, None) == (
        "record looked up by X.02", "Tra cứu thông tin công dân do X.02 thực hiện"
    )  # fmt: skip
    assert action_labels("soap", "X.02", "A", None)[0] == "data accessed by A (X.02)"
