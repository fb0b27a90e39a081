"""The build works withdrawals out a source at a time over summaries kept on disk
(archive/summary_store.py); the result is `withdrawals()` over the whole list, whatever the summaries:
several sources sharing URLs, verdicts or listing differences, incomplete crawls, moves in chains and
cycles, summaries out of crawl order."""

from __future__ import annotations

import random

import pytest
import sqlite_utils

from nianbao.archive import summary_store
from nianbao.archive.withdrawals import withdrawals

URLS = [f"http://x.gov.cn/nb/t{i}.html" for i in range(14)]


def random_summaries(rng: random.Random, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        source = rng.choice(["甲", "乙", "丙", None])
        day = rng.randrange(1, 20)
        listed = rng.sample(URLS, rng.randrange(0, 8))
        summary = {"source": source, "run_id": f"r{day:02d}{rng.choice('ab')}", "started": f"2026-01-{day:02d}T01",
                   "finished": rng.choice([f"2026-01-{day:02d}T02", None]), "complete": rng.random() < 0.8,
                   "report_urls": listed, "titles": {u: "t" for u in listed}, "fetched": listed}
        if rng.random() < 0.6:
            summary["withdrawn"] = rng.sample(URLS, rng.randrange(0, 4))
        if rng.random() < 0.4:
            summary["moved"] = [{"from": rng.choice(URLS), "to": rng.choice(URLS)} for _ in range(rng.randrange(1, 4))]
        out.append({"summary": summary, "source": rng.choice(["甲", "丁"])})
    return out


@pytest.mark.parametrize("seed", range(40))
def test_withdrawals_a_source_at_a_time_from_disk_equal_the_whole_list(seed):
    rng = random.Random(seed)
    summaries = random_summaries(rng, rng.randrange(1, 30))
    db = sqlite_utils.Database(memory=True)
    summary_store.create(db)
    for seq, s in enumerate(summaries):
        summary_store.log(db, seq, s)
    expected = withdrawals(summaries)
    assert summary_store.fill_withdrawals(db) == bool(expected)
    got = dict(db.execute(f"select url, at from {summary_store.STATES}").fetchall())
    assert got == expected
    assert seed != 0 or (any(expected.values()) and None in expected.values())  # the cases are not trivial
