"""What crawl summaries mean to the archive: the crawler↔archive contract (docs/architecture.md).

A crawl writes one `crawl-summary` metadata record per source per run. Read together they say which
report URLs were listed when, which were withdrawn (never deleted: `withdrawn_at`) and which moved.
Pure functions of the summaries: the builder passes what it read and writes the rows.
"""

from __future__ import annotations

import json
from typing import Protocol

from nianbao.archive.version import _earlier, _later


def withdrawals(summaries: list[dict]) -> dict[str, str | None]:
    """URL -> time it was withdrawn (None while still listed), for every URL a complete summary listed.

    `summaries` are {"summary": payload, "source": header, …} as read from the WARCs. A summary that
    carries the crawler's verdicts (`withdrawn`, `moved`) is taken at its word: its `withdrawn` URLs
    are withdrawn at its time, a `moved.from` URL follows its `moved.to` (never withdrawn by the move),
    and a URL that merely vanished without a verdict (challenge page, 5xx, network error) waits for a
    later crawl. Older summaries without those keys fall back to the listing difference: listed
    before, absent now. (The build runs the same two steps a source at a time over summaries it keeps
    on disk: archive/summary_store.py.)"""
    state: dict[str, str | None] = {}
    moved_to: dict[str, str] = {}
    by_source: dict[str, list[dict]] = {}
    for s in summaries:
        by_source.setdefault(source_key(s), []).append(s["summary"])
    for source_summaries in by_source.values():
        apply_listings(source_summaries, state, moved_to)
    follow_moves(state, moved_to)
    return state


def source_key(s: dict) -> str:
    """The source a summary speaks for (its payload's, else its record header's)."""
    return str(s["summary"].get("source") or s.get("source") or "")


def listing(s: dict) -> dict:
    """What withdrawals read of a summary (its payload minus titles, dates and fetch lists)."""
    summ = s["summary"]
    kept = {k: summ[k] for k in ("source", "run_id", "started", "finished", "complete", "report_urls",
                                 "withdrawn", "moved") if k in summ}
    return {"summary": kept, "source": s.get("source")}


class States(Protocol):
    def get(self, url: str) -> str | None: ...

    def __setitem__(self, url: str, when: str | None) -> None: ...


def apply_listings(source_summaries: list[dict], state: States, moved_to: dict[str, str]) -> None:
    """One source's summaries (payloads), in crawl order, applied to the URL states and the moves."""
    previous: set[str] | None = None
    for summary in sorted(source_summaries,
                          key=lambda x: (str(x.get("finished") or ""), str(x.get("run_id")))):
        if not summary.get("complete"):
            continue
        current = set(summary.get("report_urls") or [])
        when = summary.get("finished") or summary.get("started")
        moves = {str(m["from"]): str(m["to"]) for m in summary.get("moved") or []
                 if isinstance(m, dict) and m.get("from") and m.get("to") and m["from"] != m["to"]}
        for old, new in moves.items():
            moved_to[old] = new
            state[old] = None
        if "withdrawn" in summary:  # the crawler's verdicts
            gone = {str(u) for u in summary.get("withdrawn") or []} - current - set(moves)
        elif previous is not None:
            gone = previous - current - set(moves)
        else:
            gone = set()
        for url in sorted(gone):
            moved_to.pop(url, None)
            if state.get(url) is None:
                state[url] = when
        for url in current:
            state[url] = None
            moved_to.pop(url, None)
        previous = current


def follow_moves(state: States, moved_to: dict[str, str]) -> None:
    """A moved URL shares the fate of the URL it moved to (chains followed)."""
    for old in moved_to:
        seen, url = {old}, moved_to[old]
        while url in moved_to and url not in seen:
            seen.add(url)
            url = moved_to[url]
        state[old] = state.get(url)


def crawl_rows(summaries: list[dict]) -> tuple[list[dict], list[dict]]:
    """(crawl_summaries rows, crawl `runs` rows sorted by id) for the summaries read."""
    rows = []
    for s in summaries:
        summ = s["summary"]
        source, run_id = str(summ.get("source") or s.get("source") or ""), str(summ.get("run_id") or "")
        errors = summ.get("errors") or []
        rows.append({
            "id": f"{source}|{run_id}", "source": source, "run_id": f"crawl:{run_id}",
            "started": summ.get("started"), "finished": summ.get("finished"),
            "complete": int(bool(summ.get("complete"))),
            "n_report_urls": len(summ.get("report_urls") or []),
            "n_fetched": len(summ.get("fetched") or []),
            "n_not_modified": len(summ.get("not_modified") or []), "n_errors": len(errors),
            "report_urls": json.dumps(summ.get("report_urls") or [], ensure_ascii=False),
            "errors": json.dumps(errors, ensure_ascii=False),
            "stats": json.dumps(summ.get("stats") or {}, ensure_ascii=False, sort_keys=True),
            "warc_file": s.get("warc_file"), "warc_offset": s.get("warc_offset"),
            "warc_length": s.get("warc_length"), "record_id": s.get("record_id"),
        })
    return rows, crawl_runs(rows)


def crawl_runs(rows: list[dict]) -> list[dict]:
    """The crawl `runs` rows (sorted by id) of crawl_summaries rows: a run spans its sources' summaries."""
    runs: dict[str, dict] = {}
    for row in rows:
        run = runs.setdefault(row["run_id"], {"id": row["run_id"], "kind": "crawl", "started": None,
                                              "finished": None, "complete": 1, "stats": {}, "n_records": 0})
        run["started"] = _earlier(run["started"], row["started"])
        run["finished"] = _later(run["finished"], row["finished"])
        run["complete"] = int(run["complete"] and bool(row["complete"]))
        run["stats"][row["source"]] = json.loads(row["stats"])
        run["n_records"] += row["n_fetched"] + row["n_not_modified"]
    for run in runs.values():
        run["stats"] = json.dumps(run["stats"], ensure_ascii=False, sort_keys=True)
    return sorted(runs.values(), key=lambda r: r["id"])
