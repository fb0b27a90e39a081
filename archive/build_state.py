"""What a build leaves behind so the next one can add to it (incremental builds, archive/incremental.py).

Four small tables, written by every build (full or incremental), read only by the next build:

- `build_inputs`: the WARC files already in the database (name, path, size, SHA-256): a nightly build
  reads only files not listed here; a listed file that changed size or vanished means a full build.
- `build_state`: key/value — the signature of what the rows were derived with (parser version, schema,
  registry, this module's STATE_VERSION: any change means a full build), and the record and section
  counters the next records continue from (section ids and version order are given in record order).
- `build_parts`: one row per parsed payload (*part*, archive/pairing.py) as it was before pairing:
  identity, status, cells read, order, sections, carry-chain cells, and the version it ended in. A
  page and its attachment merged into one version keep their parts here, so the next build can tell
  whether new records would pair differently (then it rebuilds in full) and re-run the carry chains.
- `build_summaries`: per crawl summary, what withdrawals need beyond the `crawl_summaries` row (the
  crawler's `withdrawn`/`moved` verdicts, the raw run id and source).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from nianbao.archive.schema import BUILD_COLUMNS, FTS, SCHEMA_VERSION, TABLES
from nianbao.parsers import template

STATE_VERSION = 2  # bump when the builder's rules change without a parser or schema change

STATE_TABLES: dict[str, dict[str, Any]] = {
    "build_inputs": {"columns": {"name": str, "path": str, "size": int, "sha256": str}, "pk": "name"},
    "build_state": {"columns": {"key": str, "value": str}, "pk": "key"},
    "build_parts": {
        "columns": {"digest": str, "part_id": str, "version_id": str, "ord": int, "status": str, "agency": str,
                    "year": int, "title": str, "published": str, "url": str, "n_cells": int, "capture_id": str,
                    "sections_lo": int, "sections_hi": int, "chain": bytes},
        "pk": "digest",
    },
    "build_summaries": {"columns": {"seq": int, "id": str, "data": str}, "pk": "seq"},
}
BOOKKEEPING = ("runs", "build_inputs")  # rows that say when/what was read, not what the record holds


def create_state_tables(db: sqlite_utils.Database) -> None:
    for name, spec in STATE_TABLES.items():
        if not db[name].exists():
            db[name].create(spec["columns"], pk=spec["pk"])
    if "version_id" not in {i.columns[0] for i in db["build_parts"].indexes}:
        db["build_parts"].create_index(["version_id"], if_not_exists=True)


def signature(parser_version: str, registry: list[dict]) -> str:
    """What the rows are a function of besides the WARCs: a different signature means a full build."""
    schema = json.dumps({"schema": SCHEMA_VERSION, "state": STATE_VERSION, "fts": FTS, "build": BUILD_COLUMNS,
                         "tables": {t: list(spec["columns"]) for t, spec in TABLES.items()}}, sort_keys=True,
                        default=str)
    reg = json.dumps(registry, sort_keys=True, ensure_ascii=False, default=str)
    parts = (str(parser_version), schema, reg, template.fingerprint())  # template: the editions' data files
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_inputs(db: sqlite_utils.Database, paths: list[Path]) -> None:
    rows = [(p.name, str(p), p.stat().st_size, file_sha256(p)) for p in paths]
    db.conn.executemany("insert or replace into build_inputs (name, path, size, sha256) values (?, ?, ?, ?)", rows)


def read_inputs(db: sqlite_utils.Database) -> dict[str, tuple[str, int]]:
    """name -> (path, size) of the WARC files already in the database."""
    if not db["build_inputs"].exists():
        return {}
    return {r[0]: (r[1], r[2]) for r in db.execute("select name, path, size from build_inputs")}


def write_state(db: sqlite_utils.Database, values: dict[str, Any]) -> None:
    db.conn.executemany("insert or replace into build_state (key, value) values (?, ?)",
                        [(k, json.dumps(v)) for k, v in sorted(values.items())])


def read_state(db: sqlite_utils.Database) -> dict[str, Any]:
    if not db["build_state"].exists():
        return {}
    return {k: json.loads(v) for k, v in db.execute("select key, value from build_state")}


def part_row(v: Any) -> tuple:
    """A part (archive.version.Version before pairing) as a build_parts row (version_id filled later)."""
    chain = v.chain or None  # packed already (archive/rows.py)
    return (v.digest, v.id, None, v.order, v.status, v.agency, v.year, v.title, v.published, v.url, v.n_cells,
            v.capture_id, v.sections[0], v.sections[1], chain)


PART_COLUMNS = tuple(STATE_TABLES["build_parts"]["columns"])


@dataclass(slots=True)
class Part:
    """A part (archive/pairing.Part) as build_parts keeps it: as parsed, and the version it ended in."""

    id: str
    version_id: str
    order: int
    status: str
    agency: str | None
    year: int | None
    title: str | None
    published: str | None
    url: str
    digest: str
    n_cells: int
    capture_id: str
    sections: tuple
    chain: bytes | None


_PART_SELECT = ("select part_id, version_id, ord, status, agency, year, title, published, url, digest, n_cells, "
                "capture_id, sections_lo, sections_hi, chain from build_parts")


def _part(r: tuple) -> Part:
    return Part(*r[:12], (r[12], r[13]), r[14])


def read_parts(db: sqlite_utils.Database, digests: Iterable[str]) -> dict[str, Part]:
    """part id -> Part, of the parts with these payload digests (the table's key)."""
    out = {}
    for d in sorted(digests):
        r = db.execute(_PART_SELECT + " where digest = ?", [d]).fetchone()
        if r:
            out[r[0]] = _part(r)
    return out


def read_part(db: sqlite_utils.Database, part_id: str) -> Part | None:
    r = db.execute(_PART_SELECT + " where part_id = ?", [part_id]).fetchone()
    return _part(r) if r else None


def digests_of(db: sqlite_utils.Database, part_ids: Iterable[str]) -> list[str]:
    """The payload digests of these parts (one scan of build_parts: part ids are not its key)."""
    wanted = set(part_ids)
    if not wanted:
        return []
    return [d for d, pid in db.execute("select digest, part_id from build_parts") if pid in wanted]


def write_parts(db: sqlite_utils.Database, rows: Iterable[tuple], remap: dict[str, str]) -> None:
    """Insert new parts with the version each ended in (`remap`: part id -> version id, else itself)."""
    cols = ", ".join(PART_COLUMNS)
    marks = ", ".join("?" for _ in PART_COLUMNS)
    db.conn.executemany(f"insert or replace into build_parts ({cols}) values ({marks})",
                        ((r[0], r[1], remap.get(r[1], r[1]), *r[3:]) for r in rows))


def summary_data(s: dict) -> str:
    """What withdrawals read of a summary that its crawl_summaries row does not keep."""
    summ = s["summary"]
    data = {"source": summ.get("source"), "header_source": s.get("source"), "run_id": summ.get("run_id")}
    for key in ("withdrawn", "moved"):
        if key in summ:
            data[key] = summ[key]
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def write_summaries(db: sqlite_utils.Database, summaries: list[dict], first_seq: int) -> None:
    db.conn.executemany("insert or replace into build_summaries (seq, id, data) values (?, ?, ?)", [
        (first_seq + i, f"{s['summary'].get('source') or s.get('source') or ''}|{s['summary'].get('run_id') or ''}",
         summary_data(s)) for i, s in enumerate(summaries)])


def read_summaries(db: sqlite_utils.Database) -> Iterator[dict]:
    """The summaries read by earlier builds, in record order, as `withdrawals()` takes them (one at a time)."""
    rows = db.execute(
        "select b.data, c.started, c.finished, c.complete, c.report_urls from build_summaries b "
        "left join crawl_summaries c on c.id = b.id order by b.seq")
    for data, started, finished, complete, report_urls in rows:
        d = json.loads(data)
        summary = {"source": d.get("source"), "run_id": d.get("run_id"), "started": started, "finished": finished,
                   "complete": bool(complete), "report_urls": json.loads(report_urls or "[]")}
        for key in ("withdrawn", "moved"):
            if key in d:
                summary[key] = d[key]
        yield {"summary": summary, "source": d.get("header_source")}
