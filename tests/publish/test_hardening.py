"""A public server that holds (issue 15), against real `nianbao serve` processes on 127.0.0.1.

Two servers of this module's own (so their pid and log are known), on the session's fixture archive:
- `hardened`: exactly as `nianbao serve` runs it (the shipped limits);
- `tight`: the same with smaller limits through the standard knobs (plugins.nianbao.limits in a copy of
  the metadata, `--setting`), plus one canned query that counts as long as it is allowed to, so time
  limits, response and stream caps and the ad-hoc queue are reached within seconds.

Nothing here sleeps to let something happen: hostile queries are known to be running from
/-/limits.json (the guard's own counters), log lines from a marker request's access line.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from nianbao.publish.guard import BadTimeLimit, CappedSend, Guard, classify, requested_time_limit, with_query
from nianbao.publish.limits import Limits
from tests.ports import unused_port
from tests.publish.conftest import REPO, Server

COUNT_FOREVER = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
ROWS = "with recursive c(x) as (select 1 union all select x + 1 from c where x < {n}) "
MB = 1024 * 1024


class Served(Server):
    """A Server (tests/publish/conftest.py) that also knows its process."""

    proc: subprocess.Popen

    def status_kb(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def reset_peak(self) -> None:
        """Reset VmHWM to the current RSS (Linux clear_refs 5), so a peak measured after is this test's."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def timed(self, path: str, **params: str) -> tuple[float, int, dict[str, str], bytes]:
        started = time.monotonic()
        status, headers, body = self.get(path, **params)
        return time.monotonic() - started, status, headers, body

    def limits_now(self) -> dict:
        return self.json("/-/limits.json")["now"]

    def log_after(self, offset: int) -> str:
        """The log written after `offset`, up to and including a marker request's access line."""
        marker = uuid.uuid4().hex
        assert self.get("/-/versions.json", _marker=marker)[0] == 200
        deadline = time.monotonic() + 30
        while True:
            text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
            if marker in text:
                return text[: text.index(marker)].rsplit("\n", 1)[0]
            assert time.monotonic() < deadline, "marker request never logged"
            time.sleep(0.05)


def serve(built_archive, tmp_path_factory, name: str, *extra: str) -> Iterator[Served]:
    data_dir, expect = built_archive
    port = unused_port()
    log = tmp_path_factory.mktemp(f"hardening-{name}") / "datasette.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NIANBAO_WARCS", "NIANBAO_DATA")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nianbao.commands.serve", "--data-dir", str(data_dir),
             "--port", str(port), "--host", "127.0.0.1", *extra],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    srv = Served(base=f"http://127.0.0.1:{port}", data_dir=data_dir, expect=expect, log=log)
    srv.proc = proc
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"datasette exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if srv.get("/-/versions.json")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"datasette did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    try:
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def hardened(built_archive, tmp_path_factory):
    yield from serve(built_archive, tmp_path_factory, "default")


CLOCKS = 0.05  # seconds: how far the client's and the server's clocks may disagree on a duration
TIGHT_LIMITS = {"adhoc_time_limit_ms": 4000, "adhoc_concurrency": 1, "adhoc_queue": 1, "adhoc_wait_s": 30,
                "response_max_mb": 1}
TIGHT_CANNED_MS = 7000


@pytest.fixture(scope="module")
def tight(built_archive, tmp_path_factory):
    metadata = json.loads((REPO / "datasette-metadata.json").read_text(encoding="utf-8"))
    metadata["plugins"]["nianbao"]["limits"] = TIGHT_LIMITS
    metadata["databases"]["nianbao"]["queries"]["count_to"] = {
        "sql": "with recursive c(x) as (select 1 union all select x + 1 from c where x < cast(:n as integer)) "
               "select count(*) as n from c", "title": "count (test)"}
    path = tmp_path_factory.mktemp("tight-metadata") / "metadata.json"
    path.write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
    yield from serve(built_archive, tmp_path_factory, "tight", "--metadata", str(path),
                     "--setting", "sql_time_limit_ms", str(TIGHT_CANNED_MS), "--setting", "max_csv_mb", "1")


def sql(server: Served, query: str, fmt: str = ".json", **params: str):
    return server.timed(f"/nianbao{fmt}", sql=query, **params)


def error_of(body: bytes) -> str:
    return json.loads(body)["error"]


# -- sizes: values, rows, responses ---------------------------------------------------------------

def test_limits_in_force_are_published(hardened):
    data = hardened.json("/-/limits.json")
    assert data["limits"] == asdict(Limits())
    assert data["settings"]["sql_time_limit_ms"] == 10000 and data["settings"]["num_sql_threads"] == 6
    assert data["settings"]["max_csv_mb"] == 100
    assert data["now"]["ad-hoc SQL queries"] == {"running": 0, "waiting": 0, "limit": 2, "queue": 8}


def test_a_gigabyte_blob_is_refused_at_once_and_memory_stays_flat(hardened):
    hardened.reset_peak()
    before = hardened.status_kb("VmHWM")
    for fmt in (".json", ""):
        elapsed, status, _, body = sql(hardened, "select randomblob(1000000000)", fmt)
        assert status == 400 and len(body) < 20_000, (fmt, status, len(body))
        assert b"string or blob too big" in body
        assert elapsed < 5
    # Datasette answers a failing query's CSV with an empty 200 (its own behaviour): at least it is empty
    _, status, _, body = sql(hardened, "select randomblob(1000000000)", ".csv")
    assert status == 200 and body.strip() == b""
    grown_mb = (hardened.status_kb("VmHWM") - before) / 1024
    assert grown_mb < 300, f"peak RSS grew by {grown_mb:.0f} MB"


def test_three_5mb_blobs_are_refused(hardened):
    _, status, _, body = sql(hardened, "select randomblob(5000000), randomblob(5000000), randomblob(5000000)")
    assert status == 400 and error_of(body) == "string or blob too big"
    # the same in a table page's _where, which Datasette itself would answer with a 500
    _, status, _, body = hardened.timed("/nianbao/agencies.json", _where="length(randomblob(5000000)) > 0")
    assert status == 400 and error_of(body) == "string or blob too big"


def test_many_big_rows_stop_at_the_result_budget(hardened):
    hardened.reset_peak()
    before = hardened.status_kb("VmHWM")
    _, status, _, body = sql(hardened, ROWS.format(n=1000) + "select randomblob(900000) from c")
    assert status == 400 and error_of(body).startswith("result too large: this query's rows passed 16,000,000")
    _, status, _, body = sql(hardened, "select " + ", ".join(f"randomblob(900000) as c{i}" for i in range(65)))
    assert status == 400 and "too many columns" in error_of(body)
    grown_mb = (hardened.status_kb("VmHWM") - before) / 1024
    assert grown_mb < 300, f"peak RSS grew by {grown_mb:.0f} MB"
    # under the budget: an ordinary wide result still comes back whole
    _, status, _, body = sql(hardened, ROWS.format(n=1000) + "select printf('%.*c', 999, 'x') as t from c")
    rows = json.loads(body)["rows"]
    assert status == 200 and len(rows) == 1000 and {len(r[0]) for r in rows} == {999}


def test_a_generated_response_over_the_cap_is_refused(tight):
    # 1,000 rows x 2,000 characters: 2 MB of JSON, over the tight server's 1 MB
    _, status, headers, body = sql(tight, ROWS.format(n=1000) + "select printf('%.*c', 2000, 'x') from c")
    assert status == 400 and headers["content-type"].startswith("application/json")
    assert error_of(body).startswith("response too large: 2.0 MB, over the 1 MB limit")
    _, status, _, body = sql(tight, ROWS.format(n=100) + "select printf('%.*c', 2000, 'x') from c")
    assert status == 200 and len(json.loads(body)["rows"]) == 100


def test_csv_streams_end_at_max_csv_mb_in_bytes(tight):
    # ASCII: Datasette's own limit (characters) ends it, with its own last line
    _, status, _, body = sql(tight, ROWS.format(n=1000) + "select x, printf('%.*c', 1500, 'x') from c", ".csv",
                             _stream="on")
    assert status == 200 and body.rstrip().endswith(b"CSV contains more than 1048576 bytes")
    assert len(body) < MB + 2_000
    # CJK: 1,000 rows of 600 characters is 0.6 M characters but 1.8 MB: the guard ends it in bytes
    cjk = "replace(printf('%.*c', 600, 'x'), 'x', '报')"
    _, status, _, body = sql(tight, ROWS.format(n=1000) + f"select x, {cjk} from c", ".csv", _stream="on")
    assert status == 200 and len(body) <= MB + 200
    assert re.search(rb"response cut at [\d,]+ bytes \(limit 1,048,576\)\n$", body)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert rows[0] == ["x", cjk] and rows[-1][0].startswith("response cut at")
    data = rows[1:-2]  # then the blank line before the note
    assert rows[-2] == [] and [int(r[0]) for r in data] == list(range(1, len(data) + 1))
    assert all(r[1] == "报" * 600 for r in data)
    sent = len(body[:body.index(b"\nresponse cut at")])  # whole rows only, as many as fit in 1 MiB
    assert sent <= MB < sent + len(f"{len(data) + 1},{'报' * 600}\r\n".encode())


def test_a_whole_table_still_streams(hardened):
    status, headers, body = hardened.get("/nianbao/requests.csv", _stream="on", _size="max")
    with hardened_db(hardened) as conn:
        n = conn.execute("select count(*) from requests").fetchone()[0]
    assert status == 200 and len(body.decode("utf-8").strip().splitlines()) == n + 1


def hardened_db(server):
    import sqlite3
    return sqlite3.connect(f"file:{server.data_dir / 'nianbao.db'}?mode=ro", uri=True)


# -- time: ad-hoc SQL vs canned queries --------------------------------------------------------------

def test_adhoc_sql_has_a_shorter_time_limit_than_canned_queries(tight):
    adhoc, status, _, body = sql(tight, COUNT_FOREVER)
    assert status == 400 and "took too long" in error_of(body)
    asked, status, _, body = sql(tight, COUNT_FOREVER, _timelimit="60000")  # a visitor cannot raise it
    assert status == 400 and "took too long" in error_of(body)
    canned, status, _, body = tight.timed("/nianbao/count_to.json", n="1000000000000")
    assert status == 400 and "took too long" in error_of(body)
    adhoc_limit = TIGHT_LIMITS["adhoc_time_limit_ms"] / 1000
    assert adhoc_limit - CLOCKS <= adhoc < TIGHT_CANNED_MS / 1000
    assert adhoc_limit - CLOCKS <= asked < TIGHT_CANNED_MS / 1000
    assert canned >= TIGHT_CANNED_MS / 1000 - CLOCKS and canned > adhoc
    # within its limit the canned query answers
    assert tight.json("/nianbao/count_to.json", n="1000", _shape="array") == [{"n": 1000}]


def test_a_garbage_time_limit_is_a_400_not_a_500(hardened):
    for path in ("/nianbao/agencies", "/nianbao/agencies.json", "/nianbao.json"):
        for value in ("abc", "-5", "0"):
            _, status, _, body = hardened.timed(path, _timelimit=value, sql="select 1")
            assert status == 400 and b"_timelimit must be" in body, (path, value, status)


# -- threads: pages stay fast while hostile queries run ---------------------------------------------

def wait_for(server: Served, gate: str, running: int, waiting: int) -> None:
    deadline = time.monotonic() + 30
    while (now := server.limits_now()[gate]) != {**now, "running": running, "waiting": waiting}:
        assert time.monotonic() < deadline, f"never saw {running} running, {waiting} waiting: {now}"


def test_table_and_canned_pages_stay_fast_while_hostile_queries_run(hardened):
    results: list[tuple[float, int, bytes]] = []

    def hostile() -> None:
        elapsed, status, _, body = sql(hardened, COUNT_FOREVER)
        results.append((elapsed, status, body))

    threads = [threading.Thread(target=hostile) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        # two run (the ad-hoc share of the SQL threads), two wait for a slot: all four are in the server
        wait_for(hardened, "ad-hoc SQL queries", running=2, waiting=2)
        pages = [hardened.timed("/nianbao/agencies", _size="1"),
                 hardened.timed("/nianbao/document_versions.json", _size="1"),
                 hardened.timed("/nianbao/requests_per_agency_year.json", _shape="array", year="2022")]
        still_running = hardened.limits_now()["ad-hoc SQL queries"]
    finally:
        for thread in threads:
            thread.join()
    for elapsed, status, _, body in pages:
        assert status == 200 and elapsed < 1.5, (elapsed, status, body[:200])
    assert still_running["running"] == 2  # the pages came back while the hostile queries were still running
    assert sorted(status for _, status, _ in results) == [400] * 4
    assert all(b"took too long" in body for _, _, body in results)
    # the first two ran their 3 s; the two that waited, 3 s after that (the server's clock and the
    # client's may disagree by a few ms: SQLite's progress handler stops a query just past its limit)
    durations = sorted(elapsed for elapsed, _, _ in results)
    assert durations[0] >= 3.0 - CLOCKS and durations[2] >= 6.0 - CLOCKS


def test_beyond_the_queue_a_visitor_gets_503_at_once(tight):
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(sql(tight, COUNT_FOREVER)[1])) for _ in range(2)]
    try:
        # one after the other, each seen in the server before the next: on a loaded machine the second
        # could otherwise arrive after the first had already used up its time
        threads[0].start()
        wait_for(tight, "ad-hoc SQL queries", running=1, waiting=0)
        threads[1].start()
        wait_for(tight, "ad-hoc SQL queries", running=1, waiting=1)
        elapsed, status, headers, body = sql(tight, "select 1")
        page = tight.timed("/nianbao/agencies.json", _size="1")
    finally:
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join()
    assert status == 503 and headers["retry-after"] == "5" and elapsed < 1.0
    assert error_of(body).startswith("server busy: 1 ad-hoc SQL queries running and 1 waiting")
    assert page[1] == 200
    assert results == [400, 400]
    assert sql(tight, "select 1 as one")[1] == 200  # and once they are done, ad-hoc SQL is back


# -- errors: short logs, no 500 on malformed viewer paths -------------------------------------------

GOOD_CAPTURE = "__GOOD__"
MALFORMED = [
    ("/-/original//raw", 404), ("/-/original/", 404), ("/-/original", 404), ("/-/original/zzz", 400),
    ("/-/original/zzz/raw", 400), ("/-/original/" + "a" * 5000, 400), ("/-/original/" + "0" * 17, 400),
    ("/-/original/0123456789ABCDEF", 400), ("/-/original/%00", 400), ("/-/original/%2e%2e/raw", 400),
    ("/-/original/0000000000000000", 404), ("/-/original/0000000000000000/raw", 404),
    (f"/-/original/{GOOD_CAPTURE}/raw/extra", 404), (f"/-/original/{GOOD_CAPTURE}//raw", 404),
]


def good_capture(server) -> str:
    with hardened_db(server) as conn:
        return conn.execute("select id from captures where record_type = 'response' limit 1").fetchone()[0]


@pytest.mark.parametrize("path,expected", MALFORMED, ids=[p[:40] for p, _ in MALFORMED])
def test_malformed_viewer_paths_are_4xx_with_a_short_message(hardened, path, expected):
    status, headers, body = hardened.get(path.replace(GOOD_CAPTURE, good_capture(hardened)))
    assert status == expected and len(body) < 5_000
    text = body.decode("utf-8")
    assert "capture" in text and headers["content-type"].startswith("text/html")


def test_client_errors_log_one_short_line_each(hardened):
    offset = hardened.log.stat().st_size
    long_sql = "select " + " + ".join(["1"] * 2000) + " frm x"
    requests = [("/nosuch", {}), ("/nianbao/nosuch", {}), ("/-/original//raw", {}), ("/-/original/zzz", {}),
                ("/nianbao/agencies", {"_sort": "nosuch"}), ("/nianbao.json", {"sql": long_sql}),
                ("/nianbao.json", {"sql": "select randomblob(1000000000)"}),
                ("/nianbao/agencies.json", {"_where": "length(randomblob(1000000000))"})]
    for path, params in requests:
        assert 400 <= hardened.get(path, **params)[0] < 500
    text = hardened.log_after(offset)
    lines = text.splitlines()
    assert "Traceback" not in text and "╭" not in text and " 500 " not in text
    assert all(len(line) <= 300 for line in lines), max(lines, key=len)
    assert len(lines) <= 3 * len(requests)  # access line, reason, and Datasette's SQL error line at most
    reasons = [line for line in lines if line.startswith("nianbao: 4")]
    assert len(reasons) == len(requests) - 2  # the two ?sql= errors are the query page's own 400s
    assert len(text) < 3_000


# -- the guard's pieces, without a server -----------------------------------------------------------

def test_classify_tells_adhoc_sql_from_pages():
    q = urllib.parse.parse_qsl
    assert classify("/nianbao", q("sql=select+1")).adhoc
    assert classify("/nianbao.csv", q("sql=select+1&_stream=on")).adhoc
    assert not classify("/nianbao", q("sql=")).adhoc
    assert classify("/nianbao/agencies.json", q("_where=1")).adhoc
    assert classify("/nianbao/section_search", q("_search=a+OR+b&_searchmode=raw")).adhoc
    assert not classify("/nianbao/section_search", q("_search=复议")).adhoc
    assert not classify("/nianbao/agencies", q("sql=select+1")).adhoc
    assert not classify("/nianbao/outcome_shares.json", q("year=2022")).adhoc
    assert classify("/nianbao/requests.csv", q("_stream=on")).stream
    assert not classify("/-/original/0123456789abcdef/raw", []).capped
    assert not classify("/nianbao.db", []).capped and classify("/nianbao.json", []).capped


def test_time_limit_rewrite_keeps_other_parameters_byte_for_byte():
    assert with_query(b"sql=select+%27%E5%A4%8D%27&_timelimit=99999&_shape=array", {"_timelimit"},
                      {"_timelimit": "3000"}) == b"sql=select+%27%E5%A4%8D%27&_shape=array&_timelimit=3000"
    assert requested_time_limit([("_timelimit", "250")]) == 250
    assert requested_time_limit([]) is None
    with pytest.raises(BadTimeLimit):
        requested_time_limit([("_timelimit", "1e9")])


def test_limits_from_config_rejects_unknown_names():
    assert Limits.from_config({"adhoc_time_limit_ms": "2000"}).adhoc_time_limit_ms == 2000
    with pytest.raises(ValueError, match="adhoc_timelimit"):
        Limits.from_config({"adhoc_timelimit": 5})


def test_capped_send_refuses_a_whole_body_and_cuts_a_stream():
    def run(messages, whole_max, stream_max):
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        async def go():
            capped = CappedSend(send, "/x.json", whole_max, stream_max)
            for message in messages:
                await capped(message)
        asyncio.run(go())
        return sent

    start = {"type": "http.response.start", "status": 200, "headers": []}
    sent = run([start, {"type": "http.response.body", "body": b"x" * 11}], 10, 100)
    assert sent[0]["status"] == 400 and b"response too large" in sent[1]["body"]
    rows = [{"type": "http.response.body", "body": b"row\n", "more_body": True} for _ in range(5)]
    sent = run([start, *rows, {"type": "http.response.body", "body": b""}], 10, 10)
    assert sent[0] is start and [m["body"] for m in sent[1:3]] == [b"row\n", b"row\n"]
    assert sent[3]["body"] == b"\nresponse cut at 8 bytes (limit 10)\n" and sent[3]["more_body"] is False
    assert len(sent) == 4
    # a whole body under its own cap is never cut by the (smaller) stream cap
    sent = run([start, {"type": "http.response.body", "body": b"x" * 50}], 100, 10)
    assert sent == [start, {"type": "http.response.body", "body": b"x" * 50}]


def test_an_adhoc_slot_is_given_back_when_the_response_starts():
    """A visitor reading an ad-hoc answer slowly holds no ad-hoc slot: the SQL is done at response start."""
    async def go():
        started, finish = asyncio.Event(), asyncio.Event()
        inside: list[int] = []

        async def app(scope, receive, send):
            inside.append(guard.status()["ad-hoc SQL queries"]["running"])  # while "the SQL runs"
            await send({"type": "http.response.start", "status": 200, "headers": []})
            started.set()
            await finish.wait()  # a slow client: the body is still being sent
            await send({"type": "http.response.body", "body": b"{}"})

        async def send(message):
            pass

        guard = Guard(app, Limits(adhoc_concurrency=1), stream_max_bytes=MB)
        scope = {"type": "http", "method": "GET", "path": "/nianbao.json", "query_string": b"sql=select+1"}
        task = asyncio.create_task(guard(scope, None, send))
        await started.wait()
        during = guard.status()["ad-hoc SQL queries"]["running"]
        finish.set()
        await task
        return inside[0], during, guard.status()["ad-hoc SQL queries"]["running"]

    assert asyncio.run(go()) == (1, 0, 0)


def test_every_connection_datasette_prepares_gets_the_limits():
    """prepare_connection is the hook Datasette calls for each connection it opens (the per-thread
    read connections, lazily, and the write and internal ones): every database, not only the archive's."""
    import sqlite3

    from nianbao.publish.hooks import prepare_connection
    from nianbao.publish.limits import BudgetRows, ResultTooLarge

    class Datasette:
        def plugin_config(self, name):
            return {"database": "nianbao", "limits": {"result_max_bytes": 1000}}

    for name in ("nianbao", "_internal"):
        conn = sqlite3.connect(":memory:")
        conn.row_factory = sqlite3.Row  # as Datasette's _prepare_connection sets it before the hooks
        prepare_connection(conn, name, Datasette())
        assert conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) == 1_000_000
        assert conn.getlimit(sqlite3.SQLITE_LIMIT_COLUMN) == 64
        assert conn.getlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH) == 100_000
        assert isinstance(conn.row_factory, BudgetRows) and conn.row_factory.inner is sqlite3.Row
        row = conn.execute("select 1 as one, 'x' as two").fetchone()
        assert isinstance(row, sqlite3.Row) and row["two"] == "x"
        with pytest.raises(sqlite3.DataError, match="string or blob too big"):
            conn.execute("select zeroblob(1000001)").fetchone()
        cursor = conn.execute(ROWS.format(n=100) + "select printf('%.*c', 99, 'x') from c")
        assert len(cursor.fetchmany(10)) == 10  # 10 x 99 = 990 of 1,000
        with pytest.raises(ResultTooLarge):
            cursor.fetchmany(1)
        assert len(conn.execute("select printf('%.*c', 990, 'x')").fetchall()) == 1  # a new cursor, a new tally
