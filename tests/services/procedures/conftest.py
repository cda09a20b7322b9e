"""Procedure fixtures: gateway and identity apps in process, and a runner talking to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from sim06.mock_registry.persona_records import persona_records
from sim06.mock_registry.personas import BY_KEY
from sim06.services.common.settings import Settings
from sim06.services.gateway.agencies import AgencySpec
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.identity import create_app as create_identity
from sim06.services.procedures.agencies import directory, known_agencies
from sim06.services.procedures.catalogue import REPO_DIR, Catalogue
from sim06.services.procedures.runner import Runner

ISSUER = "http://identity.test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue.load(REPO_DIR)


@dataclass
class Apps:
    gateway: FastAPI
    identity: FastAPI
    settings: Settings
    agencies: dict[str, AgencySpec]


@pytest.fixture
def apps(events_settings: Settings) -> Iterator[Apps]:
    """A gateway and an identity provider over a private copy of the seeded database.

    The procedures write (births, deaths, residence, marriages): each test gets its own copy
    (``events_settings``), so the shared session database stays as seeded and no test sees
    another's writes. Building the two apps takes a fraction of a second."""
    s = events_settings.model_copy(
        update={
            "identity_issuer": ISSUER,
            "gateway_admin_token": "procedures-admin-token-01",
            "gateway_audit_durable": False,  # no fsync per exchange: these tests check decisions
        }
    )
    gateway = create_gateway(s, agencies=directory(s))
    identity = create_identity(s)
    yield Apps(gateway, identity, s, known_agencies(s))
    gateway.state.audit.close()
    gateway.state.gateway.registry.service.store.close()  # the in-process registry's file
    identity.state.store.close()


@pytest.fixture
async def runner(apps: Apps) -> AsyncIterator[Runner]:
    gw = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps.gateway), base_url="http://gw")
    idp = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps.identity), base_url=ISSUER)
    async with gw, idp:
        yield Runner(gw, idp, apps.agencies, apps.settings.as_of)


def persona_commune(key: str) -> str:
    """The commune code of a persona's permanent residence (the office where they may file)."""
    pin = BY_KEY[key].pin
    record = next(r for r in persona_records(date(2026, 7, 1)) if r["pin"] == pin)
    code: str = record["permanent_residence"]["commune_code"]
    return code
