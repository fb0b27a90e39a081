"""Chinese full-text search in a stock FTS5 table: every CJK character is its own token.

FTS5's unicode61 tokenizer keeps a run of Chinese characters as one token (so nothing inside it can be
found) and trigram cannot find 1–2 character words. Spacing out each CJK character before indexing
turns any Chinese query into a phrase of single-character tokens, which matches exactly where the
characters are adjacent: exact-substring search for terms of any length, in a file any SQLite opens.
Latin words and digits stay whole tokens (case-insensitive, as unicode61 does).
"""

from __future__ import annotations

import re
import unicodedata

import sqlite_utils

# A token is a run of Latin letters/digits, or any other single word character (CJK ideographs,
# kana, hangul, other scripts written without spaces). findall + join is 3x faster than re.sub.
_TOKEN = re.compile(r"[A-Za-z0-9\u00C0-\u024F]+|[^\W_]")
_QUOTED_OR_WORD = re.compile(r'"([^"]*)"|(\S+)')


def cjk_tokens(text: str | None) -> str:
    """The text as FTS5 should index it: NFKC, each CJK character spaced out."""
    if not text:
        return ""
    return " ".join(_TOKEN.findall(unicodedata.normalize("NFKC", text)))


def _phrase(term: str) -> str | None:
    tokens = cjk_tokens(term).split()
    if not tokens:
        return None
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def query_terms(query: str | None) -> list[str]:
    """Whitespace-separated terms; a "quoted phrase" stays one term."""
    if not query:
        return []
    terms = (m.group(1) if m.group(1) is not None else m.group(2)
             for m in _QUOTED_OR_WORD.finditer(query))
    return [t for t in terms if t and t.strip()]


def cjk_query(query: str | None) -> str:
    """An FTS5 MATCH expression: each term a phrase of its tokens, terms ANDed (复议 → "复 议")."""
    phrases = [p for p in (_phrase(t) for t in query_terms(query)) if p]
    return " ".join(phrases) if phrases else '""'


def cjk_snippet(text: str | None, query: str | None, width: int = 30) -> str | None:
    """An excerpt of the original text around the first hit of any term, the hit in 【】."""
    if text is None:
        return None
    folded = unicodedata.normalize("NFKC", text).lower()
    same_length = len(folded) == len(text)
    best: tuple[int, int] | None = None
    for term in query_terms(query):
        needle = unicodedata.normalize("NFKC", term).lower()
        at = folded.find(needle)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, len(needle))
    base = text if same_length else unicodedata.normalize("NFKC", text)
    if best is None:
        return base[: 2 * width] + ("…" if len(base) > 2 * width else "")
    at, n = best
    start, end = max(0, at - width), min(len(base), at + n + width)
    return (("…" if start else "") + base[start:at] + "【" + base[at:at + n] + "】"
            + base[at + n:end] + ("…" if end < len(base) else ""))


def enable_fts(db: sqlite_utils.Database, table: str, columns: list[str]) -> None:
    """Create `<table>_fts` (FTS5, external content on `table`) the sqlite-utils way, no triggers:
    the build fills the index itself with spaced tokens (see `index_rows`)."""
    db[table].enable_fts(columns, fts_version="FTS5", create_triggers=False, replace=True)


def index_rows(db: sqlite_utils.Database, table: str, columns: list[str],
               rows: list[tuple]) -> None:
    """Insert (rowid, *column values) into `<table>_fts`, tokenised for CJK search."""
    if not rows:
        return
    placeholders = ", ".join("?" for _ in range(len(columns) + 1))
    cols = ", ".join(f"[{c}]" for c in columns)
    db.conn.executemany(
        f"insert into [{table}_fts] (rowid, {cols}) values ({placeholders})",
        [(r[0], *(cjk_tokens(v) for v in r[1:])) for r in rows],
    )


def unindex_rows(db: sqlite_utils.Database, table: str, columns: list[str],
                 rows: list[tuple]) -> None:
    """Remove (rowid, *column values as indexed) from `<table>_fts` (FTS5's 'delete' command needs
    the values that were indexed: the original text, tokenised again)."""
    if not rows:
        return
    placeholders = ", ".join("?" for _ in range(len(columns) + 2))
    cols = ", ".join(f"[{c}]" for c in columns)
    db.conn.executemany(
        f"insert into [{table}_fts] ([{table}_fts], rowid, {cols}) values ({placeholders})",
        [("delete", r[0], *(cjk_tokens(v) for v in r[1:])) for r in rows],
    )


SEARCH_TABLE = "section_search"
_FILL_SECTION_SEARCH = f"""
insert into [{SEARCH_TABLE}] (id, section, version_id, year, number, is_latest, province, level)
select s.id, s.id, s.version_id, s.year, s.number, v.is_latest, a.province, a.level
from sections s
left join document_versions v on v.id = s.version_id
left join agencies a on a.name = v.agency
order by s.id
"""


def fill_section_search(db: sqlite_utils.Database) -> int:
    """(Re)fill `section_search`, the narrow table Datasette's search box on report text lists,
    once every section, version (with `is_latest`) and agency is written. Its rowids are the
    sections' and so `sections_fts`'s. Returns the number of rows."""
    db.conn.execute(f"delete from [{SEARCH_TABLE}]")
    db.conn.execute(_FILL_SECTION_SEARCH)
    db.conn.execute(f"analyze [{SEARCH_TABLE}]")
    return db.conn.execute(f"select count(*) from [{SEARCH_TABLE}]").fetchone()[0]


def register_functions(conn) -> None:
    """SQL functions for hand-written queries: cjk_query(q), cjk_snippet(text, q[, width]), cjk_tokens(t)."""
    conn.create_function("cjk_query", 1, cjk_query, deterministic=True)
    conn.create_function("cjk_tokens", 1, cjk_tokens, deterministic=True)
    conn.create_function("cjk_snippet", 2, cjk_snippet, deterministic=True)
    conn.create_function("cjk_snippet", 3, cjk_snippet, deterministic=True)
