"""Importing storeflow has no side effects and needs nothing from the test extras: every
module imports in an empty place and leaves it empty (no database, queue file or secret
written on import), without loading a package that only ``.[test]`` installs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The packages come from pyproject.toml: under the editable install storeflow's
# sub-packages live in other folders, so walking storeflow.__path__ alone finds none.
IMPORT_ALL = """
import importlib, importlib.metadata, json, pkgutil, sys

imported = set()
kit = set(json.loads(sys.argv[2]))
for package in json.loads(sys.argv[1]):
    module = importlib.import_module(package)
    imported.add(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name in kit:
            continue
        importlib.import_module(info.name)
        imported.add(info.name)
owners = importlib.metadata.packages_distributions()
loaded = {dist for name in list(sys.modules) for dist in owners.get(name.partition(".")[0], [])}
print(json.dumps({"modules": sorted(imported), "distributions": sorted(loaded)}))
"""


# The provider conformance kit is pytest classes, for providers' test suites: it needs
# the ``testing`` extra (pytest, hypothesis), and nothing else imports it.
PROVIDER_KIT = ["storeflow.testing", "storeflow.core.testing.provider_kit"]


def project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def distribution_names(requirements: list[str]) -> set[str]:
    return {
        re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()
        for requirement in requirements
    }


@pytest.fixture(scope="module")
def import_all(tmp_path_factory):
    """Import every module in a new process: empty cwd and HOME, no STOREFLOW_* settings."""
    place = tmp_path_factory.mktemp("imports")
    (place / "cwd").mkdir()
    (place / "home").mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith("STOREFLOW_")}
    env["HOME"] = str(place / "home")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            IMPORT_ALL,
            json.dumps(project()["tool"]["setuptools"]["packages"]),
            json.dumps(PROVIDER_KIT),
        ],
        cwd=place / "cwd",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    imported = answer["modules"]
    for layer in ("core", "rules", "web", "providers"):
        assert any(name.startswith(f"storeflow.{layer}.") for name in imported), layer
    assert "storeflow.core.work.queue" in imported
    assert len(imported) > 60, imported
    return place, answer


def test_importing_every_module_writes_no_file(import_all):
    place, _ = import_all
    assert sorted(p.relative_to(place).as_posix() for p in place.rglob("*")) == ["cwd", "home"]


def test_importing_every_module_loads_no_test_only_package(import_all):
    _, answer = import_all
    loaded = distribution_names(answer["distributions"])
    assert "sqlalchemy" in loaded  # the lookup from module to distribution works
    metadata = project()["project"]
    test_only = distribution_names(metadata["optional-dependencies"]["test"])
    test_only -= distribution_names(metadata["dependencies"])
    assert "requests" in test_only
    assert loaded & test_only == set()


def test_the_provider_kit_needs_only_the_testing_extra():
    extras = project()["project"]["optional-dependencies"]
    assert distribution_names(extras["testing"]) == {"pytest", "hypothesis"}
    code = (
        "import importlib, importlib.metadata, json, sys\n"
        "for name in json.loads(sys.argv[1]): importlib.import_module(name)\n"
        "owners = importlib.metadata.packages_distributions()\n"
        "print(json.dumps(sorted({d for n in list(sys.modules)"
        " for d in owners.get(n.partition('.')[0], [])})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(PROVIDER_KIT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded = distribution_names(json.loads(done.stdout))
    metadata = project()["project"]
    test_only = distribution_names(metadata["optional-dependencies"]["test"])
    test_only -= distribution_names(metadata["dependencies"])
    assert loaded & test_only <= distribution_names(extras["testing"])


def test_the_kit_without_its_extra_says_what_to_install():
    code = (
        "import sys\n"
        "sys.modules['pytest'] = None  # as if pytest were not installed\n"
        "try:\n"
        "    import storeflow.testing\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "pip install 'storeflow[testing]'" in done.stdout
