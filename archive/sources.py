"""The registry as the archive keeps it: rows for the `sources` table, and the data directory's own copy.

The archive reads a registry only through `nianbao.registry` (its one reader; the archive never imports
the crawler nor opens `crawler/sources.yaml` by path). Tolerant: the archive must build even when the
registry is missing, and keeps entries as written even when the crawler's validation rules change.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from nianbao.registry import read_entries


def source_rows(path: Path | None = None) -> list[dict]:
    """The registry's entries (default: the bundled one; none when the file is missing), sorted by name,
    every key kept, `start_urls` always a list."""
    out = []
    for e in read_entries(path, missing_ok=True):
        urls = e.get("start_urls") or []
        out.append({**e, "start_urls": [urls] if isinstance(urls, str) else list(urls)})
    return sorted(out, key=lambda e: str(e["name"]))




def _raw_entries(path: Path | None) -> dict[str, dict]:
    """The registry file's entries by name, as written (unlike source_rows: no normalising)."""
    return {str(e["name"]): e for e in read_entries(path, missing_ok=True)}


def record_crawled(data_registry: Path, registry_path: Path | None, names: list[str],
                   adhoc: list[dict] | None = None) -> list[str]:
    """Add the registry entries a crawl is about to fetch (`names` from `registry_path`, plus ad-hoc
    `--start-url` entries) to the data dir's registry file, `data_registry`, so later builds of that
    data dir know exactly which bodies were crawled (coverage never counts a body nobody crawled).

    Entries accumulate across crawls (a body crawled once stays in the archive's registry); an entry
    crawled again is replaced by its current definition. Written to a temporary file, then renamed.
    Returns the names recorded now."""
    source = _raw_entries(registry_path)
    kept = _raw_entries(data_registry)
    recorded = []
    for name in names:
        if name in source:
            kept[name] = source[name]
            recorded.append(name)
    for entry in adhoc or []:
        kept[str(entry["name"])] = entry
        recorded.append(str(entry["name"]))
    if not recorded:
        return []
    body = {"sources": [kept[n] for n in sorted(kept)]}
    header = ("# The registry entries crawled into this data directory (written by `nianbao crawl` and\n"
              "# `nianbao nightly`; read by `nianbao build` when no --registry is given). Not for editing.\n")
    data_registry.parent.mkdir(parents=True, exist_ok=True)
    tmp = data_registry.with_name(data_registry.name + ".tmp")
    tmp.write_text(header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.replace(data_registry)
    return recorded


def registry_for_build(data_registry: Path, explicit: Path | None) -> Path | None:
    """The registry a build of a data dir reads: the one given, else the data dir's (what its crawls
    used), else None (the bundled one: the coverage view then counts only sources a crawl summary names)."""
    if explicit:
        return Path(explicit)
    return data_registry if data_registry.is_file() else None
