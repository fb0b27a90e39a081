"""`/-/search?q=…`: report text that contains the words, a page of short hits at a time.

Each hit is one section of a report (latest or not, the version says) with a highlighted excerpt
(nianbao.publish.snippet) and a link to the report card at the section's anchor. Only section
*text* is searched (`{text}:` column filter): every report's section 4 heading says 行政复议, so
matching headings would bury the reports that write about 复议 under one empty hit per report
(titles and agencies are searched on `document_versions`).

Why it stays fast on a 100,000-report archive: hits come from the FTS5 index in descending rowid
order (FTS5 walks its doclists backwards; no sort), the page stops at `PAGE_SIZE` + 1 rows and the
next page starts below the last rowid shown (`before=`: keyset paging, no OFFSET). The count stops
at COUNT_CAP ("1,000+").
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from nianbao.archive.search import cjk_query, query_terms
from nianbao.publish.snippet import highlight

PAGE_SIZE = 20
COUNT_CAP = 1000
MAX_QUERY_CHARS = 200


@dataclass
class Hit:
    section_id: int
    version_id: str
    agency: str | None
    year: int | None
    title: str | None
    number: int | None
    heading: str | None
    anchor: str
    is_latest: bool
    segments: list[tuple[str, bool]]
    n_marks: int


@dataclass
class Results:
    query: str
    year: int | None
    hits: list[Hit] = field(default_factory=list)
    count: int = 0
    count_capped: bool = False
    next_before: int | None = None
    error: str | None = None


def section_anchor(number: int | None, seq: int, nth_of_number: int) -> str:
    """A section's anchor on its report card, stable across rebuilds: `s<number>` (s1 … s6) for the
    first section of that number, `s<number>-<n>` for a later one, `p<seq>` for an unnumbered one.
    Sections are numbered by the template (一 … 六), so the address survives re-parsing as long as
    the report reads the same; row ids (`sections.id`) do not."""
    if number is None:
        return f"p{seq}"
    return f"s{number}" if nth_of_number <= 1 else f"s{number}-{nth_of_number}"


def match_expression(query: str) -> str:
    """The FTS5 expression: every term of the query, in the section text only."""
    return "text : (" + cjk_query(query) + ")"


_HITS = """
select s.id, s.version_id, s.agency, s.year, s.title, s.number, s.seq, s.heading, s.text,
  v.is_latest,
  (select count(*) from sections o where o.version_id = s.version_id and o.number = s.number
     and o.seq <= s.seq) as nth
from sections_fts f
join sections s on s.id = f.rowid
left join document_versions v on v.id = s.version_id
where sections_fts match :match and f.rowid < :before {year}
order by f.rowid desc
limit :limit
"""

_COUNT = """
select count(*) from (
  select 1 from sections_fts f {join} where sections_fts match :match {year} limit :cap
)
"""


def search(conn: sqlite3.Connection, query: str, *, before: int | None = None, year: int | None = None,
           page_size: int = PAGE_SIZE) -> Results:
    """One page of hits (rowid below `before`), the capped count, and where the next page starts."""
    query = (query or "").strip()[:MAX_QUERY_CHARS]
    out = Results(query=query, year=year)
    if not query_terms(query) or cjk_query(query) == '""':
        return out
    params = {"match": match_expression(query), "before": before if before is not None else 2 ** 62,
              "limit": page_size + 1, "year": year, "cap": COUNT_CAP + 1}
    year_sql = "and s.year = :year" if year is not None else ""
    try:
        rows = conn.execute(_HITS.format(year=year_sql), params).fetchall()
        count = conn.execute(_COUNT.format(
            join="join sections s on s.id = f.rowid" if year is not None else "", year=year_sql), params).fetchone()[0]
    except sqlite3.OperationalError as exc:  # an FTS5 syntax error the quoting did not prevent
        out.error = str(exc)
        return out
    out.count, out.count_capped = min(count, COUNT_CAP), count > COUNT_CAP
    for row in rows[:page_size]:
        sid, vid, agency, yr, title, number, seq, heading, text, is_latest, nth = row
        segments, n_marks = highlight(text, query)
        out.hits.append(Hit(sid, vid, agency, yr, title, number, heading,
                            section_anchor(number, seq, nth), bool(is_latest), segments, n_marks))
    if len(rows) > page_size:
        out.next_before = out.hits[-1].section_id
    return out
