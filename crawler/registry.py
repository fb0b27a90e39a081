"""The source registry (`crawler/sources.yaml`): which portal columns we crawl and how.

One entry per column; a few lines of config per site, as in Querido Diário / Kingfisher Collect.
Loading validates the entries so a bad registry fails loudly before any request is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEFAULT_REGISTRY = Path(__file__).with_name("sources.yaml")
PLATFORMS = ("generic", "trs")


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
            raise RegistryError(f"{where} ({name}): ignoring robots.txt needs a written reason (robots: {{ignore: why}})")
    elif robots != "obey":
        raise RegistryError(f"{where} ({name}): robots must be 'obey' or {{ignore: reason}}")
    known = {"name", "start_urls", "agency", "region", "division_code", "platform", "allowed_domains",
             "enabled", "frozen", "verified", "robots", "note"}
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
        extra={k: v for k, v in raw.items() if k not in known},
    )


def load_sources(path: str | Path | None = None) -> list[Source]:
    """Read and validate a registry file (default: the bundled `crawler/sources.yaml`)."""
    path = Path(path) if path else DEFAULT_REGISTRY
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"cannot read registry {path}: {exc}") from exc
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


def source_host(source: Source) -> str:
    """The host a source's requests go to: lowercase hostname[:port] of its first start (column) URL.

    The unit of politeness and of distributed work: every source on one host shares one download
    slot, one robots.txt and one worker lease."""
    parts = urlsplit(source.start_urls[0])
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def sources_by_host(sources: Iterable[Source]) -> dict[str, list[Source]]:
    """Group sources by `source_host`: hosts sorted, sources in their given (registry) order within a host."""
    groups: dict[str, list[Source]] = {}
    for source in sources:
        groups.setdefault(source_host(source), []).append(source)
    return {host: groups[host] for host in sorted(groups)}


def adhoc_source(start_url: str, name: str | None = None) -> Source:
    """A registry-less source for `nianbao crawl --start-url URL` (generic spider)."""
    host = urlsplit(start_url).hostname or "adhoc"
    return _source_from_dict({"name": name or "adhoc-" + host.replace(".", "-"), "start_urls": [start_url],
                              "note": "ad-hoc column from --start-url"}, "--start-url")
