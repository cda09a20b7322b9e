"""The generator's modules compiled by mypyc (issue #20), and the guard against stale builds.

``make`` compiles :data:`MODULES` in place (``scripts/build_native.py``) and writes a manifest
of the SHA-256 of each compiled source. Python imports a ``.so`` before the ``.py`` beside it,
so a source edited after the build would silently run the old code: when a compiled module is
present and the manifest does not match the sources (or ``SIM06_PURE_PYTHON`` is set), the
package imports the ``.py`` sources instead, and says so once when the build is stale.

Imports only the standard library: the package's ``__init__`` runs it before any submodule.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path
from types import ModuleType

# Compiled as one mypyc group: a compiled module calls the others in C, not through their
# module attributes, so the set is used whole or not at all. shards.py stays pure: its Shard
# goes to the worker processes by pickle, and mypyc's frozen dataclasses cannot be unpickled.
MODULES = (
    "population", "citizen", "cards", "card_history", "accounts", "census", "address",
    "names", "lifecycle", "ids", "cmnd", "ethnicity", "admin_units", "draws",
)  # fmt: skip
PACKAGE = "sim06.mock_registry"
GROUP = f"{PACKAGE}.native"  # the group's shared library: native__mypyc.<tag>.so
MANIFEST = "native.json"
PURE_ENV = "SIM06_PURE_PYTHON"
HERE = Path(__file__).parent

log = logging.getLogger("sim06.mock_registry")


def source_digests(directory: Path = HERE) -> dict[str, str]:
    """SHA-256 of each compiled module's source."""
    return {m: hashlib.sha256((directory / f"{m}.py").read_bytes()).hexdigest() for m in MODULES}


def _extensions(directory: Path) -> dict[str, Path]:
    """This interpreter's extensions in ``directory``, by module name."""
    found: dict[str, Path] = {}
    for suffix in EXTENSION_SUFFIXES:
        for path in directory.glob(f"*{suffix}"):
            found.setdefault(path.name.removesuffix(suffix), path)
    return found


def shadowing(directory: Path = HERE) -> list[str]:
    """The modules whose source an extension would replace at import."""
    return sorted(n for n in _extensions(directory) if (directory / f"{n}.py").exists())


def outputs(directory: Path = HERE) -> list[Path]:
    """What a build leaves in the package: extensions beside sources, the group's library."""
    found = _extensions(directory)
    return sorted(
        p for n, p in found.items() if n.endswith("__mypyc") or (directory / f"{n}.py").exists()
    )


def write_manifest(digests: dict[str, str], directory: Path = HERE) -> None:
    """Record what was compiled (the build calls this once the extensions are in place)."""
    body = {"python": sys.implementation.cache_tag, "modules": digests}
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    tmp.replace(directory / MANIFEST)


@dataclass(frozen=True, slots=True)
class Build:
    """The compiled build as found on disk."""

    compiled: tuple[str, ...]  # of MODULES, those with an extension
    stale: tuple[str, ...]  # of MODULES, those changed since the build (all when it is unknown)
    strays: tuple[str, ...] = ()  # extensions of modules outside MODULES (an older build's)

    @property
    def usable(self) -> bool:
        """Every module compiled, none stale: the only state in which the extensions are used."""
        return len(self.compiled) == len(MODULES) and not self.stale and not self.strays


def inspect(directory: Path = HERE) -> Build:
    """What is compiled and what is stale, from the manifest and the sources."""
    found = shadowing(directory)
    if not found:
        return Build((), ())
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        built: dict[str, str] = manifest["modules"]
        if manifest["python"] != sys.implementation.cache_tag:
            built = {}
    except (OSError, ValueError, KeyError, TypeError):
        built = {}  # no manifest, or not ours: nothing proves the extensions match
    now = source_digests(directory)
    return Build(
        compiled=tuple(m for m in MODULES if m in found),
        stale=tuple(m for m in MODULES if built.get(m) != now[m]),
        strays=tuple(m for m in found if m not in MODULES),
    )


class _SourceFinder:
    """Imports the listed modules from their ``.py`` even where an extension sits beside it."""

    def __init__(self, directory: Path, modules: Sequence[str]) -> None:
        self.paths = {f"{PACKAGE}.{m}": directory / f"{m}.py" for m in modules}

    def find_spec(  # the MetaPathFinder protocol's signature
        self,
        fullname: str,
        path: Sequence[str] | None = None,  # noqa: ARG002
        target: ModuleType | None = None,  # noqa: ARG002
    ) -> ModuleSpec | None:
        source = self.paths.get(fullname)
        return None if source is None else spec_from_file_location(fullname, source)


def activate(directory: Path = HERE) -> bool:
    """Choose compiled or pure for this process; True when the compiled modules will be used."""
    build = inspect(directory)
    forced = bool(os.environ.get(PURE_ENV))
    if build.usable and not forced:
        return True
    if build.compiled or build.strays:
        sys.meta_path.insert(0, _SourceFinder(directory, [*MODULES, *build.strays]))
        if not forced:
            missing = [m for m in MODULES if m not in build.compiled]
            log.warning(
                "sim06: the compiled generator is stale (%s): running the pure-Python sources, "
                "about 2.7x slower; run `make` to rebuild",
                f"changed since the build: {_listed(build.stale)}" if build.stale
                else f"not compiled: {_listed(missing)}" if missing
                else f"compiled by an older build: {_listed(build.strays)}",
            )  # fmt: skip
    return False


def _listed(names: Sequence[str]) -> str:
    return "every module" if len(names) == len(MODULES) else ", ".join(names)
