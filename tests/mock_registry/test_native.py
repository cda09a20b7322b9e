"""The compiled generator (mypyc, issue #20): never stale, never different from the sources."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from sim06.mock_registry import compiled

ROOT = Path(__file__).resolve().parents[2]
EXT = EXTENSION_SUFFIXES[0]


def fake_package(tmp_path: Path, *, extensions: tuple[str, ...] = compiled.MODULES) -> Path:
    """A copy of the compiled modules' sources, with stand-in extensions beside them."""
    for name in compiled.MODULES:
        shutil.copy(compiled.HERE / f"{name}.py", tmp_path / f"{name}.py")
    for name in extensions:
        (tmp_path / f"{name}{EXT}").write_bytes(b"not loaded")
    return tmp_path


def test_the_makefile_compiles_the_same_modules() -> None:
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^NATIVE_MODULES := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert listed is not None
    assert tuple(listed.group(1).replace("\\\n", " ").split()) == compiled.MODULES


def test_no_extension_is_pure_and_not_stale(tmp_path: Path) -> None:
    build = compiled.inspect(fake_package(tmp_path, extensions=()))
    assert build == compiled.Build((), ()) and not build.usable


def test_a_matching_manifest_makes_the_build_usable(tmp_path: Path) -> None:
    directory = fake_package(tmp_path)
    compiled.write_manifest(compiled.source_digests(directory), directory)
    assert compiled.inspect(directory).usable


def test_an_edited_source_makes_the_build_stale(tmp_path: Path) -> None:
    directory = fake_package(tmp_path)
    compiled.write_manifest(compiled.source_digests(directory), directory)
    with (directory / "ids.py").open("a") as source:
        source.write("# edited after the build\n")
    build = compiled.inspect(directory)
    assert build.stale == ("ids",) and not build.usable


@pytest.mark.parametrize(
    "manifest", [None, "{", '{"modules": {}}', '{"python": "x", "modules": {}}']
)
def test_an_unknown_build_is_stale(tmp_path: Path, manifest: str | None) -> None:
    directory = fake_package(tmp_path)
    if manifest is not None:
        (directory / compiled.MANIFEST).write_text(manifest)
    assert compiled.inspect(directory).stale == compiled.MODULES


def test_a_missing_extension_makes_the_build_unusable(tmp_path: Path) -> None:
    directory = fake_package(tmp_path, extensions=compiled.MODULES[1:])
    compiled.write_manifest(compiled.source_digests(directory), directory)
    build = compiled.inspect(directory)
    assert not build.stale and not build.usable


def test_an_extension_outside_the_build_makes_it_unusable(tmp_path: Path) -> None:
    directory = fake_package(tmp_path)
    compiled.write_manifest(compiled.source_digests(directory), directory)
    (directory / "seed.py").write_text("")
    (directory / f"seed{EXT}").write_bytes(b"not loaded")
    build = compiled.inspect(directory)
    assert build.strays == ("seed",) and not build.stale and not build.usable
    assert directory / f"seed{EXT}" in compiled.outputs(directory)


@pytest.mark.parametrize("forced", [False, True])
def test_a_stale_build_imports_the_sources(
    tmp_path: Path, forced: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    directory = fake_package(tmp_path)
    compiled.write_manifest(compiled.source_digests(directory), directory)
    (directory / "names.py").write_text("# edited after the build\n")
    if forced:
        monkeypatch.setenv(compiled.PURE_ENV, "1")
    finders = list(sys.meta_path)
    try:
        assert compiled.activate(directory) is False
        (finder,) = [f for f in sys.meta_path if f not in finders]
        spec = finder.find_spec("sim06.mock_registry.names", None)
    finally:
        sys.meta_path[:] = finders
    assert spec is not None and spec.origin == str(directory / "names.py")
    warned = [r.getMessage() for r in caplog.records]
    if forced:
        assert warned == []  # asked for: nothing to warn about
    else:
        assert len(warned) == 1 and "changed since the build: names" in warned[0]
        assert "run `make`" in warned[0]


def test_the_compiled_build_is_not_stale() -> None:
    build = compiled.inspect()
    if not build.compiled:
        pytest.skip("the generator is not compiled here (pure Python)")
    assert not build.stale, f"compiled modules older than their sources: {build.stale}; run `make`"
    assert build.usable, f"compiled modules missing: {set(compiled.MODULES) - set(build.compiled)}"


# A 3,000-citizen seed in three shards and two worker processes: the export's digest and the
# files the generator's modules were loaded from.
DIGEST = """
import hashlib, json, sys, tempfile
from datetime import date
from pathlib import Path
import sim06.mock_registry as package
from sim06.mock_registry import compiled
from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore

if __name__ == "__main__":  # the workers import this file again
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteCitizenStore(Path(tmp) / "p.db")
        seed_store(store, seed=7, size=3000, as_of=date(2026, 7, 1), workers=2, shard_size=1000)
        h = hashlib.sha256()
        for record in [*store.records(), *store.accounts()]:
            h.update(record)
        store.close()
    files = [sys.modules[f"sim06.mock_registry.{m}"].__file__ for m in compiled.MODULES]
    print(json.dumps({"native": package.NATIVE, "digest": h.hexdigest(), "files": files}))
"""


def generate(script: Path, *, pure: bool) -> tuple[bool, str, list[str]]:
    """Whether the generator ran compiled, the export's digest, the modules' files."""
    script.write_text(DIGEST)
    env = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    if pure:
        env[compiled.PURE_ENV] = "1"
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr  # no stale build's warning
    result = json.loads(done.stdout)
    return result["native"], result["digest"], result["files"]


@pytest.mark.slow
def test_compiled_and_pure_generators_give_the_same_bytes(tmp_path: Path) -> None:
    if not compiled.inspect().usable:
        pytest.skip("the generator is not compiled here (pure Python)")
    native, native_digest, native_files = generate(tmp_path / "digest.py", pure=False)
    pure, pure_digest, pure_files = generate(tmp_path / "digest.py", pure=True)
    assert native and all(f.endswith(EXT) for f in native_files)
    assert not pure and all(f.endswith(".py") for f in pure_files)
    assert native_digest == pure_digest
