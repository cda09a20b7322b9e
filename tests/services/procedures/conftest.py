"""Procedure fixtures: gateway and identity apps in process, and a runner talking to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.common.settings import Settings
from services.gateway.agencies import AgencySpec
from services.gateway.app import create_app as create_gateway
from services.identity import create_app as create_identity
from services.procedures.agencies import directory, known_agencies
from services.procedures.catalogue import REPO_DIR, Catalogue
from services.procedures.runner import Runner

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


@pytest.fixture(scope="session")
def apps(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[Apps]:
    """One gateway and one identity provider for the session (key generation is slow)."""
    s = Settings(
        data_dir=tmp_path_factory.mktemp("procedures"),
        db_path=seeded_db,
        identity_issuer=ISSUER,
        gateway_admin_token="procedures-admin-token-01",
        gateway_audit_durable=False,  # no fsync per exchange: these tests check decisions
    )
    gateway = create_gateway(s, agencies=directory(s))
    identity = create_identity(s)
    yield Apps(gateway, identity, s, known_agencies(s))
    gateway.state.audit.close()  # the in-process registry client holds nothing to close
    identity.state.store.close()


@pytest.fixture
async def runner(apps: Apps) -> AsyncIterator[Runner]:
    gw = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps.gateway), base_url="http://gw")
    idp = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps.identity), base_url=ISSUER)
    async with gw, idp:
        yield Runner(gw, idp, apps.agencies, apps.settings.as_of)
