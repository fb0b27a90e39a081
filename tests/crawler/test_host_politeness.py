"""Politeness is per host (issue 16 point 1): five registry sources on one portal share one download
slot, one robots.txt and one AutoThrottle, under the project's polite settings (no --impolite).

Gaps are read from the fixture server's own request log (the time it answered each request), never
from sleeps. Measured before the host spider: 4.0 requests/s, smallest gap 5 ms."""

from __future__ import annotations

from collections import Counter

from nianbao.crawler.fixture_portal import FixturePortal, Portal, Report, Site
from tests.crawler.helpers import records, run_crawl, summaries

N_SOURCES, N_REPORTS = 5, 2


def five_columns() -> Site:
    """Five departments' columns on one portal, two HTML reports each."""
    portals = []
    for d in range(N_SOURCES):
        reports = [Report(f"d{d}y{y}", f"测试区第{d + 1}局", y, f"{y + 1}-01-{10 + d:02d}",
                          f"{y + 1}01/t{y + 1}01{10 + d:02d}_{5000 + 10 * d + y % 10}.html")
                   for y in range(2024, 2024 - N_REPORTS, -1)]
        portals.append(Portal(name=f"dept-{d}", style="static", column=f"/bm{d}/zfxxgknb/", agency=f"测试区第{d + 1}局",
                              per_page=10, division_code=f"99020{d}", reports=reports))
    return Site(portals=portals)


def test_five_sources_on_one_host_get_one_polite_slot(tmp_path):
    with FixturePortal(tmp_path / "site", five_columns()) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        proc = run_crawl(tmp_path / "data", "--sources", str(registry), "--run-id", "polite")
        log = portal.requests()
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]

    paths = Counter(q.path for q in log)
    assert paths["/robots.txt"] == 1  # once for the host, not once per source
    assert max(paths.values()) == 1  # nothing fetched twice
    assert len(log) == 1 + N_SOURCES * (1 + N_REPORTS)  # robots.txt, a list page and the reports per column

    times = sorted(q.time for q in log)
    gaps = [b - a for a, b in zip(times, times[1:])]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert min(gaps) >= 0.5, f"smallest gap {min(gaps):.3f} s"
    assert rate <= 1.1, f"{rate:.2f} requests/s"

    got = summaries(records(tmp_path / "data" / "warcs"))
    assert sorted(got) == [f"dept-{d}" for d in range(N_SOURCES)]
    for d in range(N_SOURCES):
        s = got[f"dept-{d}"]
        assert s["complete"] is True and s["close_reason"] == "finished"
        assert s["report_urls"] == sorted(portal.report_url(f"d{d}y{y}") for y in range(2024, 2024 - N_REPORTS, -1))
        assert s["stats"]["list_pages"] == 1 and s["stats"]["reports_listed"] == N_REPORTS
        # each source's own requests (robots.txt counts for the host's first source, which keeps it)
        assert s["stats"]["requests"] == 1 + N_REPORTS + (d == 0)
    robots = [r for r in records(tmp_path / "data" / "warcs") if r.url.endswith("/robots.txt") and r.type == "response"]
    assert len(robots) == 1 and "dept-0" in robots[0].file
