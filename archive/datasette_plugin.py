"""Datasette plugin: Chinese search for the archive's CJK-tokenised FTS5 tables.

Datasette wraps `?_search=` in `escape_fts(:search)`; its own version quotes whole words, which
never matches an index that holds one token per Chinese character. We register a replacement that
turns each term into a phrase of its tokens (复议 → "复 议"). `trylast=True` so we run after
Datasette's own prepare_connection and our function is the one left registered.
"""

from __future__ import annotations

from datasette import hookimpl

from nianbao.archive.search import cjk_query, register_functions


@hookimpl(trylast=True)
def prepare_connection(conn):
    register_functions(conn)
    conn.create_function("escape_fts", 1, cjk_query, deterministic=True)
