"""Generated SOAP clients against a live gateway on 127.0.0.1 (issue #18): zeep (Python) and the
npm ``soap`` package (Node) each build a client from ``GET <route>?wsdl`` and call
``XacThucThongTinCongDan``, ``TraCuuThongTinCongDan`` and ``XacMinhThongTinNhanThan`` on
``/soap/dancu`` (Bearer and the observed digest scheme) and ``/lgsp/dancu`` (the LGSP JSON
wrapper, through a transport of the client's own), getting the documented answers and faults.

The demo agencies' secrets are public (DEMO-ONLY); the gateway runs over the seeded test file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from zeep import Client
from zeep.exceptions import Fault
from zeep.helpers import serialize_object
from zeep.transports import Transport

from sim06.services.bench import start_uvicorn
from tests.services.gateway.helpers import ADULT, BANK, HOSPITAL, POLICE

pytestmark = pytest.mark.e2e
NODE_CLIENT = Path(__file__).resolve().parents[2] / "node" / "soap-client"
NODE = shutil.which("node")
DAN = "{http://dancuquocgia.bca}"
TON_TAI = "TonTai"


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a generated client, and what it must get: an answer summary or a fault."""

    operation: str
    args: dict[str, Any]
    answer: dict[str, Any] | None = None
    fault: str | None = None
    status: int = 200
    agency: dict[str, str] = field(default_factory=lambda: POLICE)


def _calls(tag: str) -> list[Call]:
    """Every operation, its answers and each documented fault, with MaYeuCau unique by ``tag``."""
    p, h = POLICE, HOSPITAL

    def xac_thuc(rid: str, pin: str = ADULT, name: str = "NGUYEN VAN AN") -> dict[str, Any]:
        return {"MaYeuCau": f"{tag}-{rid}", "MaDichVu": "033", "MaCanBo": p["officer"],
                "SoDinhDanh": pin, "SoCMND": "", "HoVaTen": name}  # fmt: skip

    def tra_cuu(rid: str, **change: Any) -> dict[str, Any]:
        return {
            "MaYeuCau": f"{tag}-{rid}",
            "MaDVC": p["procedure"],
            "MaTichHop": "037",
            "MaCanBo": p["officer"],
            "MaDonVi": p["code"],
            "SoDinhDanh": ADULT,
            "HoVaTen": "NGUYEN VAN AN",
            "NgayThangNamSinh": {"Nam": "1990"},
            **change,
        }

    def xac_minh(rid: str, agency: dict[str, str] = p, **change: Any) -> dict[str, Any]:
        return {"MaYeuCau": f"{tag}-{rid}", "MaDVC": agency["procedure"], "MaTichHop": "038",
                "MaDonVi": agency["code"], "MaCanBo": agency["officer"], "SoDinhDanh": ADULT,
                "SoCMND": "", "HoVaTen": "Nguyễn Văn An", "NgayThangNamSinh": "19900512",
                **change}  # fmt: skip

    identity = ["HoVaTen", "NgayThangNamSinh", "SoDinhDanh"]  # the hospital: no CMND, no parents
    return [
        Call("XacThucThongTinCongDan", xac_thuc("1"), answer={TON_TAI: True}),
        Call("XacThucThongTinCongDan", xac_thuc("2", name="TRAN THI BINH"),
             answer={TON_TAI: False}),
        Call("TraCuuThongTinCongDan", tra_cuu("3"), answer={"SoCongDan": 1, "pin": ADULT}),
        Call("TraCuuThongTinCongDan", tra_cuu("4", NgayThangNamSinh={"Nam": "1991"}),
             answer={"SoCongDan": 0}),
        Call("XacMinhThongTinNhanThan", xac_minh("5"), answer={"SoCongDan": 1, "pin": ADULT}),
        Call("XacMinhThongTinNhanThan", xac_minh("6", h), agency=h,
             answer={"SoCongDan": 1, "pin": ADULT, "fields": identity}),
        Call("XacMinhThongTinNhanThan", xac_minh("7", NgayThangNamSinh="19900513"),
             answer={"SoCongDan": 0}),
        # The documented faults (detail/MaLoi) and their HTTP statuses.
        Call("TraCuuThongTinCongDan", tra_cuu("8", MaDVC="X.1"), fault="004", status=403),
        Call("TraCuuThongTinCongDan", tra_cuu("9", MaCanBo="CB.NOBODY"), fault="005", status=403),
        Call("XacThucThongTinCongDan", xac_thuc("1"), fault="GATEWAY_REQUEST_REPLAYED",
             status=409),
        Call("XacMinhThongTinNhanThan", xac_minh("10", MaDonVi=h["code"]),
             fault="GATEWAY_CLIENT_MISMATCH", status=403),
        Call("XacThucThongTinCongDan", xac_thuc("11", pin="999090104217"), fault="INVALID_PIN",
             status=422),
        Call("TraCuuThongTinCongDan", tra_cuu("12", NgayThangNamSinh={"Nam": "19x0"}),
             fault="GATEWAY_SOAP_INVALID", status=400),
        Call("XacMinhThongTinNhanThan", xac_minh("13", SoDinhDanh="", SoCMND="131524689"),
             fault="GATEWAY_SOAP_FAULT", status=400),
        Call("XacMinhThongTinNhanThan", xac_minh("14", BANK), agency=BANK,
             fault="GATEWAY_PURPOSE_NOT_ALLOWED", status=403),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def gateway(seeded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"SIM06_DB_PATH": str(seeded_db),
           "SIM06_DATA_DIR": str(tmp_path_factory.mktemp("soap-live")),
           "SIM06_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24)}  # fmt: skip
    with start_uvicorn(
        "sim06.services.asgi:gateway", factory=True, env=env, health_path="/healthz"
    ) as s:
        yield s.url


def _token(base: str, agency: dict[str, str]) -> str:
    r = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                   auth=(agency["client_id"], agency["secret"]))  # fmt: skip
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def _lgsp_auth(base: str, agency: dict[str, str]) -> dict[str, str]:
    """The LGSP wrapper's credentials, derived as the README documents them (DEMO-ONLY)."""
    account = {
        "AccessKey": agency["client_id"],
        "SecretKey": agency["secret"],
        "AppName": "zeep",
        "PartnerCode": agency["code"],
        "PartnerCodeCus": agency["code"],
    }
    context = b"sim06/lgsp-officer/v1|" + agency["officer"].encode()
    key = hmac.new(agency["secret"].encode(), context, hashlib.sha256).hexdigest()[:32]
    return {
        "token": _token(base, agency),
        "lgspaccesstoken": base64.b64encode(json.dumps(account).encode()).decode(),
        "authHash": base64.b64encode(f"{agency['officer']}:{key}".encode()).decode(),
    }


class RecordingTransport(Transport):
    """zeep's transport, keeping the HTTP status of the last POST (a Fault does not carry it)."""

    last_status = 0

    def prepare(
        self, address: str, message: bytes, headers: dict[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers to send (subclasses add their authentication)."""
        del address
        return message, headers

    def post(self, address: str, message: Any, headers: dict[str, str]) -> Any:
        body, headers = self.prepare(address, message, headers)
        response = super().post(address, body, headers)
        self.last_status = response.status_code
        return response


class DigestTransport(RecordingTransport):
    """The observed direct scheme: fresh Timestamp and Basic digest on every POST."""

    def __init__(self, agency: dict[str, str]) -> None:
        super().__init__()
        self.agency = agency

    def prepare(
        self, address: str, message: bytes, headers: dict[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        stamp = str(int(time.time() * 1000))
        user, secret = self.agency["client_id"], self.agency["secret"]
        digest = hashlib.sha256(f"{address}{user}{stamp}{secret}".encode()).hexdigest()
        basic = base64.b64encode(f"{user}:{digest}".encode()).decode()
        return message, {**headers, "Timestamp": stamp, "Authorization": f"Basic {basic}"}


class LgspTransport(RecordingTransport):
    """Posts the envelope zeep built as the ``data`` of the LGSP JSON wrapper."""

    def __init__(self, auth: dict[str, str]) -> None:
        super().__init__()
        self.auth = auth

    def prepare(
        self, address: str, message: bytes, headers: dict[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        del address  # the LGSP route's address, from the WSDL
        body = json.dumps(
            {
                "accessToken": f"Bearer {self.auth['token']}",
                "lgspAccessToken": self.auth["lgspaccesstoken"],
                "AuthHash": self.auth["authHash"],
                "data": message.decode(),
            }
        )
        headers = {**headers, "Content-Type": "application/json",
                   "lgspaccesstoken": self.auth["lgspaccesstoken"]}  # fmt: skip
        return body.encode(), headers


def _zeep(base: str, route: str, agency: dict[str, str], scheme: str) -> Client:
    if scheme == "lgsp":
        transport: RecordingTransport = LgspTransport(_lgsp_auth(base, agency))
    elif scheme == "digest":
        transport = DigestTransport(agency)
    else:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {_token(base, agency)}"
        transport = RecordingTransport(session=session)
    return Client(f"{base}{route}?wsdl", transport=transport)


def _summary(operation: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The part of an answer the calls check, from zeep's or node soap's object."""
    if operation == "XacThucThongTinCongDan":
        value = answer[TON_TAI]
        return {TON_TAI: value if isinstance(value, bool) else value == "true"}
    collection = answer.get("CongdanCollection", answer)
    attributes = collection.get("attributes", collection)
    citizens = collection.get("CongDan") or []
    citizens = citizens if isinstance(citizens, list) else [citizens]
    out: dict[str, Any] = {"SoCongDan": int(attributes["SoCongDan"])}
    if citizens:
        out["pin"] = citizens[0]["SoDinhDanh"]
        out["fields"] = sorted(k for k, v in citizens[0].items() if v is not None)
    return out


def _check(call: Call, status: int, summary: dict[str, Any] | None, code: str | None) -> None:
    assert status == call.status, (call, summary, code)
    if call.fault is not None:
        assert code == call.fault, (call, code)
        return
    assert summary is not None and call.answer is not None
    for key, value in call.answer.items():
        assert summary.get(key) == value, (call, summary)
    if call.operation == "XacMinhThongTinNhanThan" and summary["SoCongDan"]:
        assert not {"ThuongTru", "DanToc", "ChuHo"} & set(summary["fields"]), summary


@pytest.mark.parametrize("route", ["/soap/dancu", "/lgsp/dancu"])
def test_zeep_client_from_the_served_wsdl(gateway: str, route: str) -> None:
    scheme = "lgsp" if route == "/lgsp/dancu" else "bearer"
    clients: dict[str, Client] = {}
    for call in _calls(f"zeep{route[1:5]}"):
        name = call.agency["client_id"]
        if name not in clients:
            clients[name] = _zeep(gateway, route, call.agency, scheme)
        operation = getattr(clients[name].service, call.operation)
        try:
            answer = serialize_object(operation(**call.args), dict)
        except Fault as fault:
            assert fault.code == "soap:Client", fault.code
            assert fault.detail is not None and " / " in (fault.message or ""), fault.message
            status = clients[name].transport.last_status
            _check(call, status, None, fault.detail.findtext(f"{DAN}MaLoi"))
            continue
        _check(call, clients[name].transport.last_status, _summary(call.operation, answer), None)


def test_zeep_client_with_the_observed_digest_scheme(gateway: str) -> None:
    client = _zeep(gateway, "/soap/dancu", POLICE, "digest")
    answer = client.service.XacThucThongTinCongDan(
        MaYeuCau=f"digest-{secrets.token_hex(4)}", MaDichVu="033", MaCanBo=POLICE["officer"],
        SoDinhDanh=ADULT, SoCMND="", HoVaTen="NGUYEN VAN AN",
    )  # fmt: skip
    assert answer.TonTai is True
    wrong = _zeep(gateway, "/soap/dancu", {**POLICE, "secret": "not-the-secret"}, "digest")
    with pytest.raises(Fault) as raised:
        wrong.service.XacThucThongTinCongDan(
            MaYeuCau="digest-x", MaDichVu="033", MaCanBo=POLICE["officer"], SoDinhDanh=ADULT,
        )  # fmt: skip
    assert raised.value.detail.findtext(f"{DAN}MaLoi") == "GATEWAY_UNAUTHENTICATED"


def test_zeep_bad_token_is_an_unauthenticated_fault(gateway: str) -> None:
    session = requests.Session()
    session.headers["Authorization"] = "Bearer not-a-token"
    client = Client(f"{gateway}/soap/dancu?wsdl", transport=RecordingTransport(session=session))
    with pytest.raises(Fault) as raised:
        client.service.XacThucThongTinCongDan(
            MaYeuCau="bad-token", MaDichVu="033", MaCanBo=POLICE["officer"], SoDinhDanh=ADULT,
        )  # fmt: skip
    assert raised.value.detail.findtext(f"{DAN}MaLoi") == "GATEWAY_UNAUTHENTICATED"


def _node_modules() -> None:
    # Installed by `make test` (npm ci of the locked versions), never from a test: tests talk
    # to 127.0.0.1 only.
    assert (NODE_CLIENT / "node_modules" / "soap").is_dir(), (
        f"the Node client's dependencies are not installed: run `make test`, or `npm ci` in "
        f"{NODE_CLIENT}"
    )


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("route", ["/soap/dancu", "/lgsp/dancu"])
def test_node_soap_client_from_the_served_wsdl(gateway: str, route: str, tmp_path: Path) -> None:
    assert NODE is not None
    _node_modules()
    calls = _calls(f"node{route[1:5]}")
    by_agency: dict[str, list[Call]] = {}
    for call in calls:
        by_agency.setdefault(call.agency["client_id"], []).append(call)
    schemes = ["lgsp"] if route == "/lgsp/dancu" else ["bearer", "digest"]
    for scheme in schemes:
        for agency_calls in by_agency.values():
            agency = agency_calls[0].agency
            if scheme == "lgsp":
                auth: dict[str, str] = {"kind": "lgsp", **_lgsp_auth(gateway, agency)}
            elif scheme == "digest":
                auth = {"kind": "digest", "client_id": agency["client_id"],
                        "secret": agency["secret"]}  # fmt: skip
            else:
                auth = {"kind": "bearer", "token": _token(gateway, agency)}
            if scheme == "digest":  # fresh request ids: the bearer run used these
                agency_calls = [Call(c.operation, {**c.args, "MaYeuCau": c.args["MaYeuCau"] + "d"},
                                     c.answer, c.fault, c.status, c.agency)
                                for c in agency_calls]  # fmt: skip
            plan = {
                "wsdl": f"{gateway}{route}?wsdl",
                "auth": auth,
                "calls": [{"operation": c.operation, "args": c.args} for c in agency_calls],
            }
            path = tmp_path / f"plan-{scheme}-{agency['client_id']}.json"
            path.write_text(json.dumps(plan), "utf-8")
            run = subprocess.run([NODE, "client.js", str(path)], cwd=NODE_CLIENT,
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
            assert run.returncode == 0, run.stderr
            output = json.loads(run.stdout)
            assert output["operations"] == sorted(
                ["TraCuuThongTinCongDan", "XacMinhThongTinNhanThan", "XacThucThongTinCongDan"]
            )
            for call, result in zip(agency_calls, output["results"], strict=True):
                if "fault" in result:
                    fault = result["fault"]
                    assert fault["faultcode"] == "soap:Client", fault
                    assert call.fault is None or call.fault in json.dumps(fault["detail"])
                    _check(call, result["status"], None, fault["detail"]["MaLoi"])
                else:
                    _check(call, result["status"], _summary(call.operation, result["result"]),
                           None)  # fmt: skip
