"""Where the published site's files are, in a checkout and in an installed wheel.

The one copy of the Datasette metadata is `datasette-metadata.json` at the top of the repository (the
project's public shape). A wheel carries it as package data in this package (setup.py copies it at build
time), so `nianbao serve` and `nianbao demo` work from `pip install` outside the checkout too.
"""

from __future__ import annotations

from pathlib import Path

METADATA_NAME = "datasette-metadata.json"


def metadata_path() -> Path:
    """The Datasette metadata file: the wheel's packaged copy, else the repository's own."""
    packaged = Path(__file__).resolve().parent / METADATA_NAME
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / METADATA_NAME
