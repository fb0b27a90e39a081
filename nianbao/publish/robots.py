"""robots.txt for the published archive: search engines may index the archive's HTML pages (reports,
agencies, tables) but not its query endpoints, exports or internal pages, which are infinite and
expensive to crawl."""

from __future__ import annotations

# Wildcard patterns follow RFC 9309 (`*` any sequence, `$` end), honoured by the major engines.
DISALLOWED: tuple[str, ...] = (
    "/*.json",      # JSON export of every table and query
    "/*.json?",
    "/*.csv",       # CSV export, including _stream=on
    "/*.csv?",
    "/*?sql=",      # arbitrary SQL query pages
    "/*&sql=",
    "/-/",          # internal pages: metadata, versions, plugins, dashboards, archived originals
)


# Pages under /-/ that are the archive's own content: one report card per report version (the longest
# matching rule wins, so these beat "Disallow: /-/"). Search result pages stay out (infinite).
ALLOWED: tuple[str, ...] = ("/-/report/",)


def robots_txt(base_url: str = "/") -> str:
    """The robots.txt body; `base_url` is Datasette's base_url setting so prefixes stay right."""
    prefix = base_url.rstrip("/")
    lines = ["User-agent: *"]
    lines += [f"Disallow: {prefix}{rule}" for rule in DISALLOWED]
    lines += [f"Allow: {prefix}{rule}" for rule in ALLOWED]
    lines.append(f"Allow: {prefix}/")
    return "\n".join(lines) + "\n"
