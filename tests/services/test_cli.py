"""The ``sim06`` command: seeding, byte-identical export, personas, and ``up`` end to end."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sim06.services.bench import free_port
from sim06.services.cli import main

SIM06 = str(Path(sys.executable).parent / "sim06")


def seed(db: Path, seed: int = 3, size: int = 1500) -> None:
    args = ["seed", "--size", str(size), "--seed", str(seed), "--db", str(db), "--quiet"]
    assert main(args) == 0


def test_same_seed_gives_byte_identical_exports(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    seed(a)
    seed(b)
    seed(c, seed=4)
    out = {}
    for db in (a, b, c):
        target = tmp_path / f"{db.stem}.jsonl"
        assert main(["export", "--db", str(db), "-o", str(target)]) == 0
        out[db.stem] = target.read_bytes()
    assert out["a"] == out["b"]
    assert out["a"] != out["c"]
    lines = out["a"].splitlines()
    # generated + persona records (listed, household members, the cancelled PIN's record)
    assert len(lines) == 1500 + 48
    pins = [json.loads(line)["pin"] for line in lines]
    assert pins == sorted(pins)
    assert "001090104217" in pins


def test_csv_export(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    seed(db, size=200)
    target = tmp_path / "p.csv"
    assert main(["export", "--db", str(db), "--format", "csv", "-o", str(target)]) == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8"))))
    assert len(rows) == 248
    adult = next(r for r in rows if r["pin"] == "001090104217")
    assert adult["full_name"] == "Nguyễn Văn An" and adult["eid_level"] == "2"


def test_seed_refuses_to_overwrite(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    seed(db, size=50)
    assert main(["seed", "--size", "50", "--db", str(db), "--quiet"]) == 2
    assert main(["seed", "--size", "60", "--db", str(db), "--quiet", "--force"]) == 0


def test_personas_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["personas", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) >= 25
    assert {"pin", "key", "description"} <= set(rows[0])


@pytest.mark.e2e
def test_up_seeds_and_serves_every_service(tmp_path: Path) -> None:
    names = ("registry", "identity", "gateway", "procedures", "admin", "gateway_tls")
    ports = {name: free_port() for name in names}
    env = {
        **os.environ,
        "SIM06_DATA_DIR": str(tmp_path / "data"),
        "SIM06_POPULATION_SIZE": "300",
        "SIM06_REGISTRY_PORT": str(ports["registry"]),
        "SIM06_IDENTITY_PORT": str(ports["identity"]),
        "SIM06_GATEWAY_PORT": str(ports["gateway"]),
        "SIM06_PROCEDURES_PORT": str(ports["procedures"]),
        "SIM06_ADMIN_PORT": str(ports["admin"]),
        "SIM06_GATEWAY_TLS_PORT": str(ports["gateway_tls"]),
    }
    log = tmp_path / "up.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([SIM06, "up"], env=env, stdout=sink, stderr=sink, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{ports['registry']}/v1/citizens/001090104217"
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "sim06 up did not serve in 60 s"
                time.sleep(0.3)
        assert response.status_code == 200
        assert response.json()["name"]["full"] == "Nguyễn Văn An"
        discovery = httpx.get(
            f"http://127.0.0.1:{ports['identity']}/.well-known/openid-configuration", timeout=5
        )
        assert discovery.status_code == 200
        assert discovery.json()["issuer"] == f"http://127.0.0.1:{ports['identity']}"
        console = httpx.get(f"http://127.0.0.1:{ports['admin']}/", timeout=5)
        assert console.status_code == 200 and "sim06" in console.text
        listing = httpx.get(f"http://127.0.0.1:{ports['procedures']}/v1/procedures", timeout=5)
        assert listing.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_reset_and_snapshots_of_the_events(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sim06.mock_registry.events import Death, EventContext
    from sim06.mock_registry.store import SQLiteCitizenStore

    db = tmp_path / "p.db"
    seed(db)
    fresh = tmp_path / "fresh.jsonl"
    assert main(["export", "--db", str(db), "-o", str(fresh)]) == 0
    store = SQLiteCitizenStore(db)
    ctx = EventContext(seed=3, now=datetime(2026, 12, 7, tzinfo=UTC), actor="test")
    death = Death("052123497883", datetime(2026, 12, 1).date(), "Hà Nội", "KT-1")
    store.commit_event("k1", "f1", death, ctx)
    store.close()
    after = tmp_path / "after.jsonl"
    assert main(["export", "--db", str(db), "-o", str(after)]) == 0
    assert after.read_bytes() != fresh.read_bytes()
    assert b'"status":"deceased"' in after.read_bytes()
    assert main(["snapshot", "one-death", "--db", str(db)]) == 0
    assert main(["reset", "--db", str(db)]) == 0
    again = tmp_path / "again.jsonl"
    assert main(["export", "--db", str(db), "-o", str(again)]) == 0
    assert again.read_bytes() == fresh.read_bytes()
    assert main(["reset", "--to", "one-death", "--db", str(db)]) == 0
    assert main(["export", "--db", str(db), "-o", str(again)]) == 0
    assert again.read_bytes() == after.read_bytes()
    assert main(["reset", "--to", "never", "--db", str(db)]) == 1
    assert main(["snapshot", "bad name", "--db", str(db)]) == 2


def test_the_seed_message_counts_the_listed_personas_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim06.mock_registry.personas import listed

    seed(tmp_path / "p.db", size=10)
    message = capsys.readouterr().err
    found = re.search(r"\((\d+) persona records, (\d+) listed by 'sim06 personas'\)", message)
    assert found is not None, message
    assert int(found[2]) == len(listed()) < int(found[1])  # relatives are records, not listed
