"""Packaging: one distribution, one import namespace (`nianbao`), from the repository's public layout.

The repository keeps `crawler/`, `parsers/` and `archive/` at the top, beside `scrapy.cfg` and
`datasette-metadata.json`, because that is the shape users were promised. Installed, they are
`nianbao.crawler`, `nianbao.parsers` and `nianbao.archive`: a package-dir mapping (the build backend's standard
mechanism, also honoured by editable installs) so that nothing installs generic top-level modules such as
`archive` or `parsers`. The package list is derived from the directories, never kept by hand.

`datasette-metadata.json` stays at the top of the repository (the one copy); the build places it in the wheel
as package data `nianbao/site/datasette-metadata.json`, where `nianbao.site.metadata_path()` finds it
when the package runs from a wheel.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
ROOTS = {"nianbao": "nianbao", "nianbao.crawler": "crawler", "nianbao.parsers": "parsers",
         "nianbao.archive": "archive"}
SITE_FILES = ["datasette-metadata.json"]  # top-level files the installed package needs, copied at build


def packages() -> list[str]:
    """Every package under each mapped root, named in the one namespace."""
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder) if f"{name}.{sub}" not in ROOTS]
    return sorted(set(found))


class BuildWithSiteFiles(build_py):
    """build_py that also copies the top-level site files into the built `nianbao/site/`."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them in place
            return
        target = Path(self.build_lib) / "nianbao" / "site"
        target.mkdir(parents=True, exist_ok=True)
        for name in SITE_FILES:
            shutil.copyfile(HERE / name, target / name)


setup(package_dir=ROOTS, packages=packages(), cmdclass={"build_py": BuildWithSiteFiles})
