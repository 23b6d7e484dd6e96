"""pyproject.toml installs the optimizers package and nothing else, and it imports from there.

Offline: the wheel is built with the setuptools already installed (no build isolation, no
index) from a copy of the files it needs, so no build output lands in the repository.
"""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from runs import ROOT

pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools installed")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), source)
    shutil.copy(os.path.join(ROOT, "README.md"), source)  # the package's long description
    shutil.copytree(os.path.join(ROOT, "optimizers"), source / "optimizers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path_factory.mktemp("wheels")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                             "--wheel-dir", str(wheels), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = wheels.iterdir()
    return path


def test_wheel_holds_the_optimizers_package_only(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    top_level = {name.split("/")[0] for name in names}
    dist_info = {t for t in top_level if t.endswith(".dist-info")}
    assert top_level - dist_info == {"optimizers"} and len(dist_info) == 1
    ours = sorted(f"optimizers/{f}" for f in os.listdir(os.path.join(ROOT, "optimizers")) if f.endswith(".py"))
    assert sorted(n for n in names if n.startswith("optimizers/")) == ours
    assert "Requires-Dist: keras" in metadata


def test_installed_package_imports_from_another_folder(wheel, tmp_path):
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site),
                             str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    code = ("import optimizers; from optimizers import Adam, Momentum, RMSProp, SGD, OPTIMIZERS; "
            "print(optimizers.__file__); print(sorted(OPTIMIZERS))")
    # From a folder outside the repository, with only the installed copy on the path.
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    where, names = result.stdout.strip().splitlines()[-2:]
    assert where == str(site / "optimizers" / "__init__.py")
    assert names == "['adam', 'momentum', 'rmsprop', 'sgd']"
