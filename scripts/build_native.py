"""Compile the generator's modules with mypyc, in place: ``python scripts/build_native.py``.

``make`` runs this when a compiled module's source changed (see the Makefile's ``$(NATIVE)``).
The C and object files go to ``build/native/``, the log to ``build/native.log``; each extension
is moved into the package with a rename, so a process already running keeps the file it
mapped. Without a C compiler (or on any build error) it prints one line, removes the package's
extensions and exits 0: sim06 then runs the pure-Python sources. ``--clean`` only removes them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "native"
LOG = ROOT / "build" / "native.log"

os.environ["SIM06_PURE_PYTHON"] = "1"  # this process must not warn that the build is stale
sys.path.insert(0, str(ROOT))  # sim06/ as a plain folder, installed or not
from sim06.mock_registry import compiled  # noqa: E402

PACKAGE_DIR = ROOT / "sim06" / "mock_registry"


def clean() -> int:
    """Remove the extensions and the manifest: the package is pure Python again."""
    removed = compiled.outputs(PACKAGE_DIR)
    for path in removed:
        path.unlink()
    (PACKAGE_DIR / compiled.MANIFEST).unlink(missing_ok=True)
    return len(removed)


def compile_group() -> list[Path]:
    """Run mypyc and the C compiler; the extensions built, still under ``build/native``."""
    from mypyc.build import mypycify
    from setuptools import setup  # type: ignore[import-untyped]  # setuptools ships no types

    sources = [f"sim06/mock_registry/{m}.py" for m in compiled.MODULES]
    lib = OUT / "lib"
    shutil.rmtree(lib, ignore_errors=True)  # only this build's extensions are installed
    setup(
        name="sim06-native",
        ext_modules=mypycify(
            sources, opt_level="3", group_name=compiled.GROUP, target_dir=str(OUT / "c")
        ),
        script_args=["-q", "build_ext", "--build-lib", str(lib), "--build-temp", str(OUT / "tmp")],
    )
    return sorted((lib / "sim06" / "mock_registry").glob("*.so"))


def build() -> str:
    """Compile and install the extensions; the line to print."""
    started = time.monotonic()
    digests = compiled.source_digests(PACKAGE_DIR)  # before compiling: an edit meanwhile is stale
    OUT.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)  # mypyc names the modules after their paths: sim06/mock_registry/x.py
    saved = os.dup(1), os.dup(2)
    try:
        with LOG.open("w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            os.dup2(log.fileno(), 1)  # the C compiler's output too
            os.dup2(log.fileno(), 2)
            built = compile_group()
            if len(built) != len(compiled.MODULES) + 1:  # a module each, and the group's library
                raise RuntimeError(
                    f"{len(built)} extensions built, {len(compiled.MODULES) + 1} expected"
                )
    except (Exception, SystemExit) as exc:  # setuptools reports a compiler error as SystemExit
        clean()
        reason = " ".join(str(exc).split())
        reason = reason if len(reason) <= 80 else reason[:79] + "…"  # the log has it all
        return (
            f"sim06: the generator was not compiled ({reason}; see {LOG.relative_to(ROOT)}): "
            "running the Python sources, about 2.7x slower"
        )
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
    (PACKAGE_DIR / compiled.MANIFEST).unlink(missing_ok=True)  # stale until the last rename
    for old in compiled.outputs(PACKAGE_DIR):
        if old.name not in {path.name for path in built}:
            old.unlink()  # a module an older build compiled
    for path in built:
        path.replace(PACKAGE_DIR / path.name)
    compiled.write_manifest(digests, PACKAGE_DIR)
    return (
        f"sim06: compiled the generator with mypyc ({len(compiled.MODULES)} modules, "
        f"{time.monotonic() - started:.0f} s; SIM06_PURE_PYTHON=1 runs the sources)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clean", action="store_true", help="only remove the extensions")
    args = parser.parse_args()
    if args.clean:
        print(f"sim06: removed {clean()} compiled files: the generator runs pure Python")
    else:
        print(build())


if __name__ == "__main__":
    main()
