"""The built wheel works on its own: one top-level package, the policies inside it, the command runs.

Builds the wheel from the tracked files (copied, so the checkout gets no build output), installs
it into a fresh virtual environment (the locked dependencies come from this environment's
site-packages through a path file, so no download is needed), and runs the installed command from
a folder that is not the checkout.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*cmd, cwd, timeout=300):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                 "--no-index", "-w", tmp / "dist", source, cwd=tmp)
    assert built.returncode == 0, built.stderr[-3000:]
    wheels = list((tmp / "dist").glob("supportable-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("venv") / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=env).stdout.strip())
    (site / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index",
                wheel, cwd=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return env


def test_the_wheel_holds_one_package_with_its_policies(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"supportable", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    tracked = subprocess.run(["git", "ls-files", "policies", "payers"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for path in tracked:  # every policy file, vocabulary, edit table and policy test ships
        assert f"supportable/{path}" in names
    assert "supportable/engine/rules.lark" in names
    modules = subprocess.run(["git", "ls-files", "engine/*.py", "server/*.py", "engine/**/*.py", "server/**/*.py"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    missing = sorted(m for m in set(modules) if f"supportable/{m}" not in names)
    assert not missing, f"modules left out of the wheel (list their packages in pyproject.toml): {missing}"


def test_the_installed_command_finds_its_policies(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    payers = _run(installed / "bin" / "supportable", "payers", cwd=work)
    assert payers.returncode == 0, payers.stderr[-2000:]
    listed = {line.split(":")[0] for line in payers.stdout.splitlines() if ":" in line}
    shipped = {p.stem for p in (ROOT / "payers").glob("*.yaml")} | {"base"}
    assert listed == shipped
    example = next(iter(sorted((ROOT / "examples" / "encounters").glob("*.json"))))
    shutil.copy(example, work / "encounter.json")
    checked = _run(installed / "bin" / "supportable", "check", "encounter.json", "--format", "json", cwd=work)
    assert checked.returncode in (0, 1), checked.stderr[-2000:]
    decision = json.loads(checked.stdout)
    assert decision["lines"] and all(line["verdict"] for line in decision["lines"])


def test_the_installed_package_is_the_wheel_and_adds_no_generic_names(installed, tmp_path):
    probe = ("import importlib.util, supportable, supportable.cli;"
             "print(supportable.__file__);"
             "print(importlib.util.find_spec('engine'), importlib.util.find_spec('server'))")
    out = _run(installed / "bin" / "python", "-c", probe, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    where, specs = out.stdout.splitlines()
    assert Path(where).is_relative_to(installed)
    assert specs == "None None"
