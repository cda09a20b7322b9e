"""``sim06 up --replicas N`` runs N gateway processes when the audit log is in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sim06.services.common.settings import Settings
from sim06.services.serve_replicas import replica_commands


def workers(command: list[str]) -> int:
    return int(command[command.index("--workers") + 1])


def test_gateway_scales_with_the_audit_log_in_postgres(tmp_path: Path) -> None:
    commands = replica_commands(Settings(data_dir=tmp_path), 3)
    assert {name: workers(cmd) for name, cmd in commands.items()} == {
        "registry": 3,
        "identity": 3,
        "gateway": 3,
    }
    assert "sim06.services.asgi:gateway" in commands["gateway"]


def test_one_gateway_process_with_a_sqlite_audit_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, gateway_audit_path=tmp_path / "audit.db")
    assert workers(replica_commands(settings, 3)["gateway"]) == 1
