"""One report, one version: which attachment holds the report of which page, and which document of
a pair gives the version its identity and its numbers.

The build parses every distinct payload into a *part* (`archive.build.Version` before `finish`). A
report published as an HTML page with the same report attached as PDF/DOCX gives two parts; they
are one version of one document. The decisions here are pure and depend only on the parts and the
capture times, never on the order records came in:

- an attachment part is paired with the page part that its parent URL (`WARC-Nianbao-Parent`)
  showed closest in time to the attachment's capture (same night in practice; the attachment
  fetched on a later night pairs with the page as it was then, usually the same payload);
- it must hold the same report: the page is a report (parsed, partial, no_tables, pre2019), the
  attachment is not a 解读/图解/form, reads as a report, and names no other year or agency;
- a page part pairs with at most one payload per attachment URL: a later, different payload of the
  same attachment (a replaced PDF) is a new version of the document (identity from the page),
  so a real edit of the attachment is an edit, not a mismatch;
- identity (agency, year, title, published) from the page when it has a report title, else from
  the attachment; a field the stronger lacks comes from the other;
- numbers from the part whose tables parse best: status parsed first, then more cells read, then
  the page (ties), then the payload digest.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

REPORTISH = ("parsed", "partial", "no_tables", "pre2019")
USABLE = ("parsed", "partial")
IDENTITY_FIELDS = ("agency", "year", "title", "published")
# Titles of documents attached next to a report that are not the report.
NOT_THE_REPORT = re.compile(r"解读|图解|一图读懂|图说|答记者问|问答|新闻发布|申请表|登记表|样表|模板|指南|目录")


class Part(Protocol):
    id: str
    status: str
    agency: str | None
    year: int | None
    title: str | None
    published: str | None
    url: str
    digest: str
    n_cells: int


@dataclass
class Group:
    """The parts of one version: the page (if any) and the attachments holding its report."""

    parts: list[str]
    numbers: str  # the part whose cells the version keeps
    identity: str  # the part whose identity wins (others fill its gaps)
    roles: dict[str, str] = field(default_factory=dict)


@dataclass
class Plan:
    groups: list[Group]  # versions of more than one part
    inherit: dict[str, str]  # attachment part -> page part it takes missing identity from (own version)


def _ts(iso: str | None) -> float:
    if not iso:
        return 0.0
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def not_the_report(title: str | None) -> bool:
    return bool(title and NOT_THE_REPORT.search(title))


def holds_same_report(page: Part, attachment: Part) -> bool:
    """Could `attachment` be the report `page` publishes? (identities must not contradict)"""
    if page.status not in REPORTISH or attachment.status not in REPORTISH:
        return False
    if not_the_report(attachment.title):
        return False
    if page.year and attachment.year and page.year != attachment.year:
        return False
    if page.agency and attachment.agency and page.agency != attachment.agency:
        return False
    if attachment.status not in USABLE:  # no tables: only a named, same-year report joins
        return bool(attachment.year and attachment.year == page.year)
    return True


def _strong_identity(p: Part) -> bool:
    return bool(p.title and (p.agency or p.year) and p.status in REPORTISH and not not_the_report(p.title))


def identity(page: Part, others: list[Part]) -> tuple[str, dict[str, Any]]:
    """(id of the part whose identity wins, the merged identity fields)."""
    ordered = [page, *others] if _strong_identity(page) else \
        sorted(others, key=lambda p: (not _strong_identity(p), p.digest)) + [page]
    out: dict[str, Any] = {}
    for name in IDENTITY_FIELDS:
        out[name] = next((getattr(p, name) for p in ordered if getattr(p, name)), None)
    return ordered[0].id, out


def numbers_part(parts: list[Part], roles: dict[str, str]) -> Part:
    """The part whose tables parse best (parsed, then cells read, then the page, then digest)."""
    return max(parts, key=lambda p: (p.status == "parsed", p.status in USABLE, p.n_cells,
                                     roles.get(p.id) != "attachment", p.digest))


def plan(parts: dict[str, Part], captures: list[dict]) -> Plan:
    """Pair attachment parts with page parts (see the module docstring)."""
    page_caps: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    att_caps: dict[str, list[tuple[float, str, str, str]]] = defaultdict(list)
    for c in captures:
        pid = c.get("version_id")
        if not pid or pid not in parts:
            continue
        if c.get("role") == "attachment":
            if c.get("parent_url"):
                att_caps[pid].append((_ts(c.get("fetched")), str(c["id"]), c["parent_url"], c["url"]))
        elif parts[pid].status in REPORTISH:
            page_caps[c["url"]].append((_ts(c.get("fetched")), str(c["id"]), pid))
    if not att_caps:
        return Plan([], {})
    for caps in att_caps.values():
        caps.sort()
    pairs: dict[str, list[str]] = defaultdict(list)
    taken: set[tuple[str, str]] = set()
    inherit: dict[str, str] = {}
    for aid in sorted(att_caps, key=lambda a: (att_caps[a][0][0], a)):
        att = parts[aid]
        for t, _cid, parent, url in att_caps[aid]:
            cands = [x for x in page_caps.get(parent, ()) if x[2] != aid and x[2] not in att_caps]
            if not cands:
                continue
            _t, _c, pid = min(cands, key=lambda x: (abs(x[0] - t), x[0], x[1]))
            page = parts[pid]
            if not holds_same_report(page, att):
                continue
            if (pid, url) in taken:
                inherit[aid] = pid
            else:
                taken.add((pid, url))
                pairs[pid].append(aid)
            break
    groups = []
    for pid in sorted(pairs):
        roles = {pid: "report", **{a: "attachment" for a in pairs[pid]}}
        members = [parts[pid], *(parts[a] for a in pairs[pid])]
        ident, _ = identity(parts[pid], [parts[a] for a in pairs[pid]])
        groups.append(Group(parts=[pid, *pairs[pid]], numbers=numbers_part(members, roles).id,
                            identity=ident, roles=roles))
    return Plan(groups, inherit)


def cell_label(key: tuple) -> str:
    """requests:new_received/total — how a differing cell is named in a mismatch finding."""
    table, a, b = key
    return f"{table}:{a}/{b}"


def differing_cells(a: dict[tuple, Any], b: dict[tuple, Any]) -> list[tuple[tuple, Any, Any]]:
    """(key, value in a, value in b) for every cell both documents read and that differs
    (a cell only one of them read is not a disagreement), in key order."""
    out = []
    for key in sorted(a.keys() & b.keys(), key=lambda k: tuple("" if x is None else str(x) for x in k)):
        va, vb = a[key], b[key]
        if va != vb or (va is None) != (vb is None):
            out.append((key, va, vb))
    return out
