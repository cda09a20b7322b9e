"""Released contracts: frozen, never rewritten, and CI's check against the newest one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sim06.services.cli import main
from sim06.services.contract.release import compat, release, releases, version_key
from tests.services.contract.test_diff import contract

ROOT = Path(__file__).resolve().parents[3]


def _write(directory: Path, spec: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "people.yaml").write_text(yaml.safe_dump(spec), "utf-8")


def test_releases_sort_by_version_not_by_name(tmp_path: Path) -> None:
    for name in ("1.10.0", "1.2.0", "v1.9.3", "notes", "2.0"):
        (tmp_path / name).mkdir()
    assert [p.name for p in releases(tmp_path)] == ["1.2.0", "v1.9.3", "1.10.0"]
    assert version_key("2.0") is None
    assert releases(tmp_path / "absent") == []


def test_release_copies_and_never_overwrites(tmp_path: Path) -> None:
    current, root = tmp_path / "openapi", tmp_path / "released"
    _write(current, contract())
    assert release("1.0.0", current, root).status == 0
    assert (root / "1.0.0" / "people.yaml").read_text() == (current / "people.yaml").read_text()
    again = release("1.0.0", current, root)
    assert again.status == 2 and "never rewritten" in again.text
    assert release("latest", current, root).status == 2
    assert release("1.0.1", tmp_path / "empty", root).status == 2


def test_compat_fails_on_a_removed_field_and_passes_an_added_optional_one(
    tmp_path: Path,
) -> None:
    current, root = tmp_path / "openapi", tmp_path / "released"
    _write(current, contract())
    release("1.0.0", current, root)
    assert compat(current, root).status == 0

    added = contract()
    added["components"]["schemas"]["Person"]["properties"]["nickname"] = {"type": "string"}
    _write(current, added)
    assert compat(current, root).status == 0

    removed = contract()
    del removed["components"]["schemas"]["Person"]["properties"]["name"]
    _write(current, removed)
    outcome = compat(current, root)
    assert outcome.status == 1 and "breaking" in outcome.text and "1.0.0" in outcome.text

    # A newer release is the new baseline.
    release("1.1.0", current, root)
    assert compat(current, root).status == 0


def test_compat_without_a_release_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "openapi", contract())
    assert compat(tmp_path / "openapi", tmp_path / "released").status == 2


def test_the_published_contracts_keep_the_newest_release(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What CI checks: no breaking change since the last released contract."""
    assert releases(ROOT / "contracts" / "released"), "no released contracts committed"
    monkeypatch.chdir(ROOT)
    status = main(["contract", "compat"])
    assert status == 0, capsys.readouterr().out


def test_the_cli_flags_a_breaking_change_against_a_copy_of_the_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [*_, latest] = releases(ROOT / "contracts" / "released")
    root = tmp_path / "released"
    shutil.copytree(latest, root / latest.name)
    current = tmp_path / "openapi"
    shutil.copytree(ROOT / "contracts" / "openapi", current)
    registry = yaml.safe_load((current / "registry.yaml").read_text("utf-8"))
    del registry["paths"]["/v1/citizens/{pin}"]
    (current / "registry.yaml").write_text(yaml.safe_dump(registry), "utf-8")
    args = ["contract", "compat", "--dir", str(current), "--released", str(root)]
    assert main(args) == 1
    assert "breaking" in capsys.readouterr().out
