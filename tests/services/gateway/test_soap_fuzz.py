"""Fuzz both SOAP routes with 10,000 mutated envelopes (issues #17 and #18): none is a 5xx,
and nothing that is not a well-formed, schema-shaped request is answered as valid."""

from __future__ import annotations

import random
from collections import Counter

import httpx
import orjson
import pytest
from fastapi import FastAPI
from lxml import etree

from sim06.services.gateway.lgsp import auth_hash, lgsp_access_token
from tests.services.gateway.helpers import ADULT, HOSPITAL, POLICE, get_token
from tests.services.gateway.soap_envelopes import (
    DAN,
    QLDC,
    SOAP,
    envelope,
    tra_cuu_body,
    xac_minh_body,
    xac_thuc_body,
)
from tests.services.gateway.soap_mutations import mutate

pytestmark = pytest.mark.anyio
CASES_PER_ROUTE = 5_000
_OPERATIONS = {
    *(f"{{{DAN}}}{name}" for name in ("XacThucThongTinCongDanRequest", "XacThucThongTinCongDan",
                                      "TraCuuThongTinCongDan", "TraCuuThongTinCongDanRequest")),
    *(f"{{{QLDC}}}{name}" for name in ("XacMinhThongTinNhanThanRequest",
                                       "XacMinhThongTinNhanThan")),
}  # fmt: skip


def _seeds(tag: str) -> list[bytes]:
    return [
        envelope(xac_thuc_body(tag, POLICE["officer"], ADULT, "NGUYEN VAN AN")),
        envelope(tra_cuu_body(tag, POLICE, ADULT, "1990")),
        envelope(xac_minh_body(tag, POLICE, ADULT, "NGUYEN VAN AN", "19900512")),
    ]


def _shaped_like_a_request(document: bytes) -> bool:
    """An oracle independent of the gateway's code: a well-formed SOAP 1.1 envelope (a fresh
    strict libxml2 parser: expat is stricter on XML 1.0 5th-edition name characters) whose
    single Body holds one known request with no repeated and no foreign-namespace children."""
    try:
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return False
    if root.getroottree().docinfo.doctype:
        return False
    bodies = root.findall(f"{{{SOAP}}}Body")
    if root.tag != f"{{{SOAP}}}Envelope" or len(bodies) != 1 or len(bodies[0]) != 1:
        return False
    request = bodies[0][0]
    namespace = str(request.tag).split("}")[0] + "}"
    children = [str(child.tag) for child in request]
    return (
        request.tag in _OPERATIONS
        and len(children) == len(set(children))
        and all(tag.startswith(namespace) for tag in children)
    )


def _data(raw: bytes) -> bytes:
    """The envelope the gateway will read from an LGSP wrapper (b"" if it has none)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return b""
    data = body.get("data") if isinstance(body, dict) else None
    return data.encode("utf-8") if isinstance(data, str) else b""


async def _check(
    client: httpx.AsyncClient,
    route: str,
    send: list[tuple[bytes, dict[str, str], bytes]],
    outcomes: Counter[int],
) -> None:
    for document, headers, content in send:
        r = await client.post(route, content=content, headers=headers)
        outcomes[r.status_code] += 1
        assert r.status_code < 500, (document, r.text)
        assert r.headers["content-type"].startswith("text/xml"), (document, r.text)
        if r.status_code == 200:
            assert _shaped_like_a_request(document), (document, r.text)
            assert b"Fault>" not in r.content


@pytest.mark.parametrize("route", ["/soap/dancu", "/lgsp/dancu"])
async def test_mutated_envelopes_never_get_a_5xx_nor_a_valid_answer(
    app: FastAPI, client: httpx.AsyncClient, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(f"sim06-soap-fuzz-{route}")
    agency = HOSPITAL if route == "/lgsp/dancu" else POLICE
    # No quota, so that requests that stay valid are answered (and checked), not rate-limited.
    monkeypatch.setattr(app.state.gateway.quota, "take", lambda *_: None)
    token = await get_token(client, agency)
    spec = app.state.gateway.agencies.by_client(agency["client_id"]).spec
    lgsp = lgsp_access_token(spec)
    batch: list[tuple[bytes, dict[str, str], bytes]] = []
    for i in range(CASES_PER_ROUTE):
        seed = rng.choice(_seeds(f"fz-{i}")).replace(POLICE["officer"].encode(), b"OFFICER")
        seed = seed.replace(b"OFFICER", agency["officer"].encode())
        for key in ("procedure", "code"):
            seed = seed.replace(POLICE[key].encode(), agency[key].encode())
        document = mutate(rng, seed)
        if route == "/soap/dancu":
            headers = {"authorization": f"Bearer {token}", "content-type": "text/xml"}
            batch.append((document, headers, document))
        else:
            wrapper = {"accessToken": f"Bearer {token}", "lgspAccessToken": lgsp,
                       "AuthHash": auth_hash(spec, agency["officer"]),
                       "data": document.decode("utf-8", "replace")}  # fmt: skip
            raw = orjson.dumps(wrapper)
            if rng.random() < 0.05:  # the wrapper itself damaged
                raw = mutate(rng, raw)
            headers = {"lgspaccesstoken": lgsp, "content-type": "application/json"}
            batch.append((_data(raw), headers, raw))
    outcomes: Counter[int] = Counter()
    await _check(client, route, batch, outcomes)
    assert sum(outcomes.values()) == CASES_PER_ROUTE
    assert outcomes[400] > CASES_PER_ROUTE // 2, outcomes  # most mutants are malformed
    assert outcomes[200] > 0, outcomes  # and some stay valid (the oracle is exercised)
