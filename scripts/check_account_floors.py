"""Issue 16's account floors over a seeded population (default: 100,000 as of 2026-07-01).

    .venv/bin/python scripts/check_account_floors.py [--size 100000] [--seed 6]
        [--as-of 2026-07-01] [--db PATH]

Seeds a fresh SQLite database (or reads ``--db``), then measures:

1. every child account (under 14) with a representative holding a level-2 account, and every
   deceased citizen's account locked (``mock_registry.account_floors``);
2. every level-1 account that can log in tries a login at level 2 through the identity provider
   in process (authorization request with ``acr_values=LoA2``, as the procedure runner sends for
   the procedures that require level 2): the number of logins accepted must be zero; a sample
   of the same accounts at level 1 shows they can log in otherwise;
3. the procedures whose VNeID login requires level 2 (the catalogue).

Exits 1 when a floor fails. Prints the figures; nothing is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import secrets
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from sim06.mock_registry.account_floors import measure_accounts
from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.common.settings import Settings
from sim06.services.procedures.catalogue import Catalogue, catalogue_dir

REDIRECT = "http://127.0.0.1:9/callback"


async def _logins(
    settings: Settings, store: SQLiteCitizenStore, pins: list[str], acr: str
) -> Counter[str]:
    """Outcomes of logins of ``pins`` when the client asks for ``acr``: ``code`` (accepted) or
    the OAuth error the provider sent back to the client."""
    from sim06.services.identity.app import create_app

    app = create_app(settings, store)
    transport = httpx.ASGITransport(app=app)
    outcomes: Counter[str] = Counter()
    issuer = settings.identity_issuer or "http://identity.in-process"
    async with httpx.AsyncClient(transport=transport, base_url=issuer) as c:
        r = await c.post("/register", json={"client_name": "account floors",
                                            "redirect_uris": [REDIRECT]})  # fmt: skip
        r.raise_for_status()
        client_id = r.json()["client_id"]
        for pin in pins:
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            r = await c.get(
                "/authorize",
                params={"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                        "scope": "openid", "state": "s", "login_hint": pin, "acr_values": acr,
                        "code_challenge": challenge.rstrip(b"=").decode(),
                        "code_challenge_method": "S256"},
                headers={"X-Sim-Auto-Login": "true"},
            )  # fmt: skip
            query = parse_qs(urlsplit(r.headers.get("location", "")).query)
            outcomes[
                "code" if "code" in query else query.get("error", [f"http {r.status_code}"])[0]
            ] += 1
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 7, 1))
    parser.add_argument("--db", type=Path, help="an existing seeded database (read only)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "population.sqlite3"
        if args.db is None:
            seeding = SQLiteCitizenStore(db)
            seed_store(seeding, seed=args.seed, size=args.size, as_of=args.as_of)
            seeding.close()
        store = SQLiteCitizenStore(db)
        as_of = date.fromisoformat(store.get_meta("as_of") or args.as_of.isoformat())
        figures = measure_accounts((orjson.loads(r) for r in store.records()), as_of)
        kinds = Counter(orjson.loads(r)["record_type"] for r in store.accounts())
        generated = int(store.get_meta("size") or 0)
        # Admission control off: one client in a loop is not an overload to shed.
        settings = Settings(data_dir=Path(tmp) / "data", db_path=db, as_of=as_of,
                            identity_issuer="http://identity.in-process",
                            admission=False)  # fmt: skip
        at_2 = asyncio.run(_logins(settings, store, figures.level1_active, "LoA2"))
        sample = figures.level1_active[:200]
        at_1 = asyncio.run(_logins(settings, store, sample, "LoA1"))
        store.close()
    procedures = Catalogue.load(catalogue_dir(settings)).all()
    logins = [(p.key, s.level) for p in procedures for s in p.steps() if s.kind == "vneid-login"]
    level2 = sorted(k for k, level in logins if level == 2)
    below = sorted(k for k, level in logins if level < 2)
    print(f"records {figures.records:,} (as of {as_of}), accounts {figures.accounts:,}, "
          f"level 2 {figures.level2:,}")  # fmt: skip
    print(f"child accounts (<14): {figures.child_accounts}, with a level-2 representative: "
          f"{figures.child_accounts_with_level2_representative}")  # fmt: skip
    print(f"deceased citizens' accounts: {figures.deceased_accounts}, locked: "
          f"{figures.deceased_accounts_locked}")  # fmt: skip
    print(f"e-ID accounts outside the population database: foreigners {kinds['foreigner']} "
          f"({kinds['foreigner'] / max(1, generated):.2%} of {generated:,} generated citizens), "
          f"organisations {kinds['organisation']} "
          f"({kinds['organisation'] / max(1, generated):.2%})")  # fmt: skip
    print(f"identity certificates: {figures.identity_certificates}, cancelled PINs: "
          f"{figures.cancelled_pins}")  # fmt: skip
    print(
        f"level-1 accounts that can log in: {len(figures.level1_active):,}; asked for LoA2: "
        f"{dict(at_2)}; asked for LoA1 (sample of {len(sample)}): {dict(at_1)}"
    )
    print(f"procedures requiring level 2 ({len(level2)}): {', '.join(level2)}")
    print(f"procedures with a level-1 login: {', '.join(below) or 'none'}")
    floors = {
        **figures.floors,
        "zero level-1 logins accepted at level 2 (each refused as unmet_authentication_"
        "requirements)": at_2["unmet_authentication_requirements"] == len(figures.level1_active),
        "the same accounts log in at level 1": at_1["code"] == len(sample),
    }
    for name, ok in floors.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    for fault in figures.faults:
        print("  fault:", fault)
    return 0 if all(floors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
