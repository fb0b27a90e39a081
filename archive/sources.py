"""The crawler's source registry as plain dicts for the `sources` table (tolerant: the archive must
build even when the registry is missing or the crawler package changes)."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_REGISTRY = Path(__file__).resolve().parent.parent / "crawler" / "sources.yaml"


def load_sources(path: Path | None = None) -> list[dict]:
    path = Path(path) if path else DEFAULT_REGISTRY
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("sources", []) if isinstance(data, dict) else data
    out = []
    for e in entries or []:
        if isinstance(e, dict) and e.get("name"):
            urls = e.get("start_urls") or []
            out.append({**e, "start_urls": [urls] if isinstance(urls, str) else list(urls)})
    return sorted(out, key=lambda e: str(e["name"]))
