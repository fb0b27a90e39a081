"""The crawler's view of the source registry: what `nianbao.registry` (the one reader) gives, plus the
crawler's own grouping of sources by host (the unit of politeness and of distributed work).

The registry itself (`Source`, validation, `load_sources`, the bundled `crawler/sources.yaml`) lives in
`nianbao.registry`, because the archive and the front door read it too and must not import the crawler.
The names are re-exported here for the crawler's modules and tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from nianbao.registry import DEFAULT_REGISTRY, PLATFORMS, RegistryError, Source, adhoc_source, load_sources

__all__ = ["DEFAULT_REGISTRY", "PLATFORMS", "RegistryError", "Source", "adhoc_source", "load_sources",
           "source_host", "sources_by_host"]


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
