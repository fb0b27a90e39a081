"""Shared test fixtures: paths to the read-only reference material in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"reference material missing: {SHARED} (CI lays ../shared beside the clone)")
    return SHARED
