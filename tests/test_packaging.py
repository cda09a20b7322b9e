"""sim06 installs beside an agency's code: one top-level name, ``sim06``, and a working plugin.

An agency installs sim06 into its own environment for the pytest plugin. Its code may well
have a package called ``services`` (or ``mock_registry``): sim06 must not shadow it. The wheel
is built from a copy of the checkout (offline, no build isolation), installed into a fresh
virtual environment (its dependencies reached through a path entry to this one's site-packages,
so nothing is downloaded), and an agency project with its own ``services`` package runs its
tests there: its own package is the one imported, and the plugin's fixtures serve a persona
and a gateway lookup.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "sim06",
    "services",
    "mock_registry",
    "contracts",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("sim06-*.whl")
    return built


def test_the_wheel_installs_one_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"sim06", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "sim06/services/common/errors.yaml" in names  # package data comes along
    assert "sim06/mock_registry/data/admin_units.json" in names
    assert "sim06/services/procedures/catalogue/birth-registration.yaml" in names
    entry_points = zipfile.ZipFile(wheel).read(
        wheel.name.split("-py3")[0] + ".dist-info/entry_points.txt"
    )
    assert b"sim06 = sim06.services.cli:main" in entry_points
    assert b"sim06 = sim06.services.testing.plugin" in entry_points


AGENCY_TEST = """
import services
from services.fees import fee


def test_our_own_services_package_is_imported():
    assert services.OWNER == "agency" and fee() == 42


def test_the_plugin_serves_a_persona_and_a_gateway_lookup(persona, demo_agency):
    adult = persona("adult-level2")
    commune = demo_agency("ubnd-ba-dinh")
    r = commune.get(f"/v1/registry/citizens/{adult.pin}", purpose="residence")
    assert r.status_code == 200, r.text
    assert r.json()["pin"] == adult.pin
"""


def test_a_fresh_environment_with_its_own_services_package_runs_the_plugin(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # The dependencies from this environment, as a plain path: its .pth files (this checkout's
    # editable install among them) are not processed, so only the wheel provides sim06.
    (Path(site) / "sim06-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip

    project = tmp_path / "agency"
    (project / "services").mkdir(parents=True)
    (project / "services" / "__init__.py").write_text('OWNER = "agency"\n')
    (project / "services" / "fees.py").write_text("def fee():\n    return 42\n")
    (project / "tests").mkdir()
    (project / "tests" / "test_agency.py").write_text(textwrap.dedent(AGENCY_TEST))
    (project / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--sim06-population", "200", "tests"],
        cwd=project, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
    where = subprocess.run(
        [str(python), "-c", "import sim06, services; print(sim06.__file__, services.__file__)"],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert str(env_dir) in where.split()[0] and str(project) in where.split()[1]
