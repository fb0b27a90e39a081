"""The source registry: which portal columns we crawl and how — its one reader.

One entry per column; a few lines of config per site, as in Querido Diário / Kingfisher Collect. The
bundled registry is `crawler/sources.yaml` (installed as package data of `nianbao.crawler`); operators pass
their own file (`--sources`), and a data directory keeps the entries its crawls used (`<data>/registry.yaml`,
archive/sources.py).

Why a leaf module here and not in the crawler: the crawler (what to fetch), the archive (the `sources`
table, hints, coverage) and the front door all read the registry, and the archive must not import the
crawler (data flows one way: tests/test_import_direction.py). So this module imports nothing of ours, and
nobody else opens a registry file:
- `read_entries(path)`: the file's entries as written (mappings with a name), the raw form the archive
  stores and copies; tolerant of a missing file when asked (`missing_ok`).
- `load_sources(path)`: the same entries validated into `Source`s, so a bad registry fails loudly before
  any request is made (the crawler's view).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


def _bundled_registry() -> Path:
    """`sources.yaml` of the `nianbao.crawler` package (crawler/ in a checkout), found without importing it."""
    spec = importlib.util.find_spec("nianbao.crawler")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) / "sources.yaml" if locations else Path(__file__).with_name("sources.yaml")


DEFAULT_REGISTRY = _bundled_registry()
PLATFORMS = ("generic", "trs")
KNOWN_KEYS = ("name", "start_urls", "agency", "region", "division_code", "platform", "allowed_domains",
              "enabled", "frozen", "verified", "robots", "note")


class RegistryError(ValueError):
    """The registry file is malformed; the message names the entry and the problem."""


@dataclass(frozen=True)
class Source:
    name: str
    start_urls: tuple[str, ...]
    agency: str = ""
    region: str = ""
    division_code: str = ""
    platform: str = "generic"
    allowed_domains: tuple[str, ...] = ()
    enabled: bool = True
    frozen: bool = False
    verified: bool = False
    robots_obey: bool = True
    robots_reason: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def domains(self) -> tuple[str, ...]:
        """Allowed domains (subdomains included): the registry's list, else the start URLs' hosts
        without a leading `www.` (attachments often sit on a sibling host such as file.x.gov.cn)."""
        if self.allowed_domains:
            return self.allowed_domains
        hosts = {urlsplit(u).hostname or "" for u in self.start_urls} - {""}
        return tuple(sorted(h[4:] if h.startswith("www.") else h for h in hosts))


def _source_from_dict(raw: dict[str, Any], where: str) -> Source:
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: an entry must be a mapping")
    name = str(raw.get("name") or "").strip()
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise RegistryError(f"{where}: name must be non-empty letters, digits, - or _ (got {name!r})")
    urls = raw.get("start_urls") or []
    if isinstance(urls, str):
        urls = [urls]
    if not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
        raise RegistryError(f"{where} ({name}): start_urls must be a non-empty list of http(s) URLs")
    platform = str(raw.get("platform") or "generic")
    if platform not in PLATFORMS:
        raise RegistryError(f"{where} ({name}): platform {platform!r} not one of {PLATFORMS}")
    robots = raw.get("robots", "obey")
    robots_obey, robots_reason = True, ""
    if isinstance(robots, dict) and "ignore" in robots:
        robots_obey, robots_reason = False, str(robots["ignore"] or "").strip()
        if len(robots_reason) < 10:
            raise RegistryError(f"{where} ({name}): ignoring robots.txt needs a written reason "
                                "(robots: {ignore: why})")
    elif robots != "obey":
        raise RegistryError(f"{where} ({name}): robots must be 'obey' or {{ignore: reason}}")
    return Source(
        name=name,
        start_urls=tuple(urls),
        agency=str(raw.get("agency") or ""),
        region=str(raw.get("region") or ""),
        division_code=str(raw.get("division_code") or ""),
        platform=platform,
        allowed_domains=tuple(raw.get("allowed_domains") or ()),
        enabled=bool(raw.get("enabled", True)),
        frozen=bool(raw.get("frozen", False)),
        verified=bool(raw.get("verified", False)),
        robots_obey=robots_obey,
        robots_reason=robots_reason,
        note=str(raw.get("note") or ""),
        extra={k: v for k, v in raw.items() if k not in KNOWN_KEYS},
    )


def _load(path: Path) -> Any:
    """The parsed YAML of a registry file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"cannot read registry {path}: {exc}") from exc


def read_entries(path: str | Path | None = None, *, missing_ok: bool = False) -> list[dict[str, Any]]:
    """The registry's entries as written (mappings with a name, in file order; default: the bundled one).

    Not validated: the archive keeps what a crawl used even when the crawler's rules change. With
    `missing_ok`, a missing file, or one with no `sources:` list, reads as no entries (the archive builds
    without a registry); a bare top-level list is read as the list."""
    path = Path(path) if path else DEFAULT_REGISTRY
    if missing_ok and not path.is_file():
        return []
    data = _load(path) or {}
    entries = data.get("sources") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        if missing_ok:
            return []
        raise RegistryError(f"{path}: expected a top-level 'sources:' list")
    return [e for e in entries if isinstance(e, dict) and e.get("name")]


def load_sources(path: str | Path | None = None) -> list[Source]:
    """Read and validate a registry file (default: the bundled `crawler/sources.yaml`)."""
    path = Path(path) if path else DEFAULT_REGISTRY
    data = _load(path) or {}
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RegistryError(f"{path}: expected a top-level 'sources:' list")
    sources = [_source_from_dict(raw, f"{path} entry {i}") for i, raw in enumerate(entries)]
    seen: set[str] = set()
    for s in sources:
        if s.name in seen:
            raise RegistryError(f"{path}: duplicate source name {s.name!r}")
        seen.add(s.name)
    return sources


def adhoc_source(start_url: str, name: str | None = None) -> Source:
    """A registry-less source for `nianbao crawl --start-url URL` (generic spider)."""
    host = urlsplit(start_url).hostname or "adhoc"
    return _source_from_dict({"name": name or "adhoc-" + host.replace(".", "-"), "start_urls": [start_url],
                              "note": "ad-hoc column from --start-url"}, "--start-url")
