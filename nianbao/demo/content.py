"""The demo portal's content: `content.yaml` turned into canonical reports, deterministically.

Why a separate module: the demo portal renders these reports and the end-to-end test compares the
archive against them, so both must get the very same numbers from the declarative file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from nianbao.parsers.keys import applicant_columns
from nianbao.parsers.template import edition_for_year

APPLICANT_COLUMNS = applicant_columns()  # the template's (parsers/template/common.json)


@dataclass
class DemoReport:
    """One report of the demo portal: where it is served and its canonical content."""

    key: str
    portal: str
    agency: str
    year: int
    published: str
    slug: str
    kind: str  # html | docx
    style: str  # parsers.render style
    edition: str
    seed: int
    blank_rate: float = 0.0
    tamper: list[dict[str, Any]] = field(default_factory=list)
    canonical: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.agency}{self.year}年度政府信息公开工作年度报告"


@dataclass
class DemoPortalSpec:
    name: str
    site: str
    style: str
    column: str
    division_code: str
    per_page: int
    platform: str = "generic"
    encoding: str = "utf-8"
    gzip: bool = False
    validators: bool = True
    charset_header: bool = True
    reports: list[DemoReport] = field(default_factory=list)
    extras: list[dict[str, str]] = field(default_factory=list)


def load_raw() -> dict[str, Any]:
    text = resources.files("nianbao.demo").joinpath("content.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _grid(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["row"], c["column"]): c for c in report["requests"]}


def _set(cell: dict[str, Any], value: int) -> None:
    cell["value"], cell["raw"] = value, str(value)


def chain(previous: dict[str, Any], current: dict[str, Any]) -> None:
    """Make `current`'s 上年结转 equal `previous`'s 结转下年度 per column (carry_chain holds),
    keeping every in-report rule true: new_received absorbs the change; when it would go negative,
    the surplus is 予以公开 (granted) in this year instead."""
    prev, cur = _grid(previous), _grid(current)
    for col in APPLICANT_COLUMNS:
        carried = prev[("carried_forward", col)]["value"] or 0
        total = cur[("total", col)]["value"] or 0
        forward = cur[("carried_forward", col)]["value"] or 0
        new = total + forward - carried
        if new < 0:
            granted = cur[("granted", col)]
            _set(granted, (granted["value"] or 0) - new)
            _set(cur[("total", col)], total - new)
            new = 0
        _set(cur[("carried_over", col)], carried)
        _set(cur[("new_received", col)], new)
    rows = {row for row, _ in cur}
    for row in rows:
        values = [cur[(row, c)]["value"] for c in APPLICANT_COLUMNS]
        _set(cur[(row, "total")], sum(v or 0 for v in values))


def apply_tamper(report: dict[str, Any], tamper: list[dict[str, Any]]) -> None:
    for t in tamper:
        if t["table"] != "requests":
            raise ValueError(f"demo content: tamper supports table requests only, not {t['table']!r}")
        cell = _grid(report)[(t["row"], t["column"])]
        _set(cell, (cell["value"] or 0) + int(t["add"]))


@lru_cache(maxsize=1)
def _portals_cached() -> tuple[DemoPortalSpec, ...]:
    from nianbao.parsers.render import random_report

    raw = load_raw()
    portals: list[DemoPortalSpec] = []
    for p in raw["portals"]:
        spec = DemoPortalSpec(
            name=p["name"], site=p["site"], style=p["style"], column=p["column"],
            division_code=str(p["division_code"]), per_page=int(p.get("per_page", 4)),
            platform=p.get("platform", "generic"), encoding=p.get("encoding", "utf-8"),
            gzip=bool(p.get("gzip", False)), validators=bool(p.get("validators", True)),
            charset_header=bool(p.get("charset_header", True)), extras=list(p.get("extras") or []))
        for r in p["reports"]:
            year = int(r["year"])
            edition = str(r.get("edition") or edition_for_year(year))
            report = DemoReport(
                key=f"{p['name']}-{r['agency']}-{year}", portal=p["name"], agency=r["agency"], year=year,
                published=str(r["published"]), slug=r["slug"], kind=r.get("kind", "html"),
                style=r.get("style", "plain"), edition=edition, seed=int(r["seed"]),
                blank_rate=float(r.get("blank_rate", 0.0)), tamper=list(r.get("tamper") or []))
            data = random_report(random.Random(report.seed), year=year, agency=report.agency,
                                 edition=edition, blank_rate=report.blank_rate)
            data["title"], data["published"] = report.title, report.published
            report.canonical = data
            spec.reports.append(report)
        portals.append(spec)
    # Chain each agency's consecutive years (oldest first), then tamper (a finding is never "fixed").
    by_agency: dict[str, list[DemoReport]] = {}
    for spec in portals:
        for r in spec.reports:
            by_agency.setdefault(r.agency, []).append(r)
    for reports in by_agency.values():
        reports.sort(key=lambda r: r.year)
        for before, after in zip(reports, reports[1:]):
            if after.year == before.year + 1:
                chain(before.canonical, after.canonical)
    for spec in portals:
        for r in spec.reports:
            apply_tamper(r.canonical, r.tamper)
            summarise(r.canonical)
    return tuple(portals)


def summarise(report: dict[str, Any]) -> None:
    """Open section 1 with the sentence real reports print there, from the report's own numbers
    (e.g. pingtan_2023: "…不予公开5件…行政复议案件2件、行政诉讼案件7件"), so the demo's text
    holds the words people search for (不予公开, 复议) and not only its tables do."""
    grid = _grid(report)

    def total(prefix: str) -> int:
        return sum(c["value"] or 0 for (row, col), c in grid.items() if col == "total" and row.startswith(prefix))

    appeals = {(c["procedure"], c["outcome"]): c["value"] or 0 for c in report.get("appeals", [])}
    litigation = sum(v for (p, o), v in appeals.items() if o == "total" and p.startswith("litigation"))
    sentence = (f"本年度共收到政府信息公开申请{total('new_received')}件，其中予以公开{total('granted')}件，"
                f"不予公开{total('denied_')}件；"
                f"因政府信息公开引起的行政复议案件{appeals.get(('review', 'total'), 0)}件、"
                f"行政诉讼案件{litigation}件。")
    for section in report.get("sections", []):
        if section.get("number") == 1:
            section["text"] = sentence + ("\n" + section["text"] if section.get("text") else "")
            return


def portals() -> list[DemoPortalSpec]:
    """The demo portals with their reports' canonical content (computed once per process)."""
    return list(_portals_cached())


def reports() -> list[DemoReport]:
    return [r for p in portals() for r in p.reports]
