"""The demo agencies that run the catalogue, and their registration at a gateway.

``agencies.yaml`` (this package) licenses the catalogue's procedure codes; the gateway's own
agencies file (or its packaged demo, ``examples/agencies.yaml``) supplies the rest (the demo
bank). Against a live gateway that lacks them, :func:`ensure_registered` adds them through the
gateway's admin API (they live in memory until it restarts).
"""

from __future__ import annotations

from importlib import resources

import httpx
import yaml

from sim06.services.common.settings import Settings
from sim06.services.gateway.agencies import (
    AgencyDirectory,
    AgencySpec,
    load_agencies,
    parse_agencies,
)

FILE = "agencies.yaml"


def procedure_agencies() -> list[AgencySpec]:
    """The agencies of ``services/procedures/agencies.yaml``."""
    text = resources.files("sim06.services.procedures").joinpath(FILE).read_text("utf-8")
    return parse_agencies(yaml.safe_load(text))


def known_agencies(settings: Settings) -> dict[str, AgencySpec]:
    """Every agency the runner may act as, by client id (the gateway's file wins)."""
    specs = {a.client_id: a for a in procedure_agencies()}
    specs.update({a.client_id: a for a in load_agencies(settings.gateway_agencies_file)})
    return specs


def directory(settings: Settings) -> AgencyDirectory:
    """A gateway directory with the configured agencies plus the procedure agencies."""
    return AgencyDirectory(list(known_agencies(settings).values()))


async def ensure_registered(gateway: httpx.AsyncClient, admin_token: str) -> list[str]:
    """Register the procedure agencies the gateway lacks; the client ids added."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    r = await gateway.get("/admin/agencies", headers=auth)
    r.raise_for_status()
    present = {a["client_id"] for a in r.json()["data"]}
    added = []
    for spec in procedure_agencies():
        if spec.client_id in present:
            continue
        r = await gateway.post("/admin/agencies", json=spec.model_dump(mode="json"), headers=auth)
        if r.status_code not in (201, 409):
            r.raise_for_status()
        added.append(spec.client_id)
    return added


__all__ = ["directory", "ensure_registered", "known_agencies", "procedure_agencies"]
