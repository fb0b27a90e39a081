"""The built wheel, installed in a fresh venv and run outside the checkout (issue 12 point 4).

One distribution, one import namespace: the wheel holds only `nianbao/…` (crawler/, parsers/ and archive/ of
the repository become nianbao.crawler, nianbao.parsers and nianbao.archive) and the Datasette metadata as
package data; installed with `pip install --no-deps` into a venv whose dependencies come from the project
venv's site-packages (a path entry: nothing is downloaded, and the project's own editable install is not
activated because that directory's .pth files are not processed), it runs `nianbao demo --serve-check`
from a directory that is not the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.ports import unused_port

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["setup.py", "pyproject.toml", "README.md", "LICENSE", "datasette-metadata.json",
           "nianbao", "crawler", "parsers", "archive"]


def _copy_sources(dest: Path) -> None:
    """The files the build needs, copied so the build never writes into the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    (dest / "nianbao" / "site" / "datasette-metadata.json").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    _copy_sources(src)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    str(src), "-w", str(work / "dist")], check=True, timeout=300)
    (built,) = (work / "dist").glob("nianbao-*.whl")
    return built


def test_the_wheel_installs_one_namespace_and_the_site_files(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"nianbao", next(t for t in tops if t.endswith(".dist-info"))}, tops
    for expected in ("nianbao/crawler/spiders/column.py", "nianbao/parsers/document.py",
                     "nianbao/archive/schema.py", "nianbao/parsers/template/edition_2021.json",
                     "nianbao/crawler/sources.yaml", "nianbao/demo/content.yaml",
                     "nianbao/publish/templates/nianbao_report.html", "nianbao/site/datasette-metadata.json"):
        assert expected in names, expected
    packaged = zipfile.ZipFile(wheel).read("nianbao/site/datasette-metadata.json")
    assert packaged == (REPO / "datasette-metadata.json").read_bytes()  # the one copy, not a second one
    entry_points = next(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "nianbao.archive.datasette_plugin" in entry_points and "= archive." not in entry_points


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    fresh_python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    fresh_site = Path(subprocess.run([str(fresh_python), "-c", purelib],
                                     check=True, capture_output=True, text=True).stdout.strip())
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(fresh_python), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, timeout=300)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "NIANBAO_DATA")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    where = subprocess.run([str(fresh_python), "-c",
                            "import nianbao.archive.build as b, nianbao.site as s, importlib.util as u;"
                            "print(b.__file__); print(s.metadata_path());"
                            "print(u.find_spec('archive'), u.find_spec('parsers'), u.find_spec('crawler'))"],
                           cwd=outside, env=env, check=True, capture_output=True, text=True, timeout=120)
    module_file, metadata, bare = where.stdout.splitlines()
    assert module_file.startswith(str(fresh_site)), module_file
    assert metadata.startswith(str(fresh_site)), metadata
    assert bare == "None None None"  # no generic top-level modules installed

    port = unused_port()
    proc = subprocess.run([str(venv / "bin" / "nianbao"), "demo", "--serve-check", "--port", str(port),
                           "--data-dir", str(tmp_path / "demo-data"), "--today", "2026-12-01"],
                          cwd=outside, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Datasette answered at" in proc.stdout
    assert "25 reports" in proc.stdout, proc.stdout[-2000:]
