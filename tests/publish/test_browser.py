"""The archive in a real browser: Debian's headless Chromium driven by Playwright, against a real
Datasette server on 127.0.0.1. Every step leaves a screenshot in test-artifacts/browser/.

Steps: home page; search 复议 from Datasette's own search box; a facet narrows the results; a canned
query runs; the trends chart renders (Vega from the plugin's local files); an archived original
opens from a report's link and its script does not run. Throughout, no request leaves 127.0.0.1.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.publish.archive_fixture import AGENCIES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make system-deps` (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page that records every request and console message it makes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.requests = []
    pg.console = []
    context.on("request", lambda req: pg.requests.append(req.url))
    pg.on("console", lambda msg: pg.console.append(msg.text))
    yield pg
    stray = [u for u in pg.requests if not local(u, server.base)]
    context.close()
    assert not stray, f"requests left 127.0.0.1: {stray}"


def local(url: str, base: str) -> bool:
    if url.startswith(("data:", "blob:", "about:")):
        return True
    return urlparse(url).netloc == urlparse(base).netloc


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def truth(server, sql: str, params=()) -> list:
    with sqlite3.connect(f"file:{server.data_dir / 'nianbao.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


def count_in_heading(pg) -> int:
    heading = pg.locator("h3").first.inner_text()
    return int(re.match(r"([\d,]+) rows?", heading).group(1).replace(",", ""))


def test_01_home_page(page, server):
    page.goto(server.base + "/")
    assert "年报" in page.title()
    assert page.get_by_role("link", name="数字对不上的报告").is_visible()
    assert "政府信息公开工作年度报告" in page.locator("body").inner_text()
    shot(page, "01-home")


def test_02_search_fuyi_then_facet(page, server):
    page.goto(server.base + "/")
    page.get_by_role("link", name="按年度、省份分面 faceted").click()
    page.wait_for_url(re.compile(r"/nianbao/section_search"))
    page.fill("input#_search", "复议")
    page.locator("input#_search").press("Enter")
    page.wait_for_url(re.compile(r"_search="))
    hits = "(heading like '%复议%' or text like '%复议%' or agency like '%复议%' or title like '%复议%')"
    expected = truth(server, f"select count(*) from sections where {hits}")[0][0]
    assert count_in_heading(page) == expected
    assert 'search matches "复议"' in page.locator("h3").first.inner_text()
    # Each hit shows its section's text and its report's title (foreign-key labels).
    body = page.locator("table.rows-and-columns").inner_text()
    assert "行政复议" in body and "政府信息公开工作年度报告" in body
    shot(page, "02-search-fuyi")
    # Facet by year from the column's menu (no facet is on by default), then narrow to one year.
    year, n_year = truth(server, f"select year, count(*) from sections where {hits} "
                                 "group by year order by count(*) desc, year limit 1")[0]
    page.locator("th.col-year svg.dropdown-menu-icon").click()
    page.locator(".dropdown-menu a.dropdown-facet").click()
    page.wait_for_url(re.compile(r"_facet=year"))
    page.locator('.facet-info[data-column="year"] li a', has_text=re.compile(rf"^{year}$")).click()
    page.wait_for_url(re.compile(rf"year={year}"))
    assert count_in_heading(page) == n_year < expected
    years = page.locator("table.rows-and-columns td.col-year").all_inner_texts()
    assert years and set(years) == {str(year)}
    shot(page, "03-search-fuyi-facet-year")


def test_03_canned_query_runs(page, server):
    page.goto(server.base + "/nianbao/inconsistent_reports")
    page.get_by_role("button", name="Run SQL").or_(page.locator('input[type="submit"][value="Run SQL"]')).first.click()
    page.wait_for_load_state("networkidle")
    table = page.locator("table.rows-and-columns").inner_text()
    assert AGENCIES["A"] in table and "outcomes_sum" in table and "row_total" in table
    # the capture link renders as a link to the archived original
    assert page.locator("a.nianbao-original").count() >= 2
    shot(page, "04-canned-query-inconsistent-reports")


def test_04_trend_chart_renders_from_local_scripts(page, server):
    page.goto(server.base + "/-/dashboards/trends")
    chart = page.locator("#chart-requests")
    chart.locator("canvas, svg").first.wait_for(state="visible", timeout=20000)
    box = chart.locator("canvas, svg").first.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50
    page.locator("#chart-outcomes").locator("canvas, svg").first.wait_for(state="visible", timeout=20000)
    scripts = [u for u in page.requests if u.endswith(".js")]
    assert any("vega-lite.min.js" in u for u in scripts) and all(local(u, server.base) for u in scripts)
    page.wait_for_timeout(500)
    shot(page, "05-dashboard-trends")


def test_05_original_opens_and_its_script_does_not_run(page, server):
    script_url = server.expect.script_url
    (cid,) = truth(server, "select capture_id from reports where url = ?", [script_url])[0]
    page.goto(server.base + "/nianbao/reports?_size=50")
    page.locator(f'a.nianbao-original[href="/-/original/{cid}"]').click()
    page.wait_for_url(re.compile(f"/-/original/{cid}$"))
    assert script_url in page.locator("table.nianbao-provenance").inner_text()
    frame = page.frame_locator("iframe.nianbao-frame")
    marker = frame.locator("#nianbao-marker")
    marker.wait_for(timeout=10000)
    assert marker.inner_text() == "原始页面未被脚本修改 untouched by scripts"
    assert "教育局2023年政府信息公开工作年度报告" in frame.locator("h1").inner_text()
    page.wait_for_timeout(500)
    shot(page, "06-archived-original")
    # The capture alone, top-level: the CSP sandbox still stops its script.
    page.goto(server.base + f"/-/original/{cid}/raw")
    page.locator("#nianbao-marker").wait_for()
    page.wait_for_timeout(300)
    assert page.locator("#nianbao-marker").inner_text() == "原始页面未被脚本修改 untouched by scripts"
    assert page.title() != "PWNED"
    assert not [u for u in page.requests if "pwned" in u]
    assert any("Blocked script execution" in m or "sandbox" in m for m in page.console), page.console
    shot(page, "07-archived-original-raw")


def fits_1280(pg, selector: str) -> list[dict]:
    """The page does not scroll sideways at 1280 px and every element of `selector` is inside the
    viewport's width (and, for the headline, its first screen). Returns the boxes."""
    assert pg.evaluate("document.documentElement.scrollWidth") <= 1280
    boxes = [el.bounding_box() for el in pg.locator(selector).all()]
    assert boxes and all(b and b["x"] >= 0 and b["x"] + b["width"] <= 1280 for b in boxes), boxes
    return boxes


def test_06_report_card_from_reports_with_headline_on_first_screen(page, server):
    (vid, received, denied) = truth(server, "select version_id, received, denied from reports "
                                            "where agency = ? and year = 2022", [AGENCIES["A"]])[0]
    page.goto(server.base + "/nianbao/reports?_size=50")
    page.locator(f'td.col-agency a.nianbao-card[href="/-/report/{vid}"]').click()
    page.wait_for_url(re.compile(f"/-/report/{vid}$"))
    tiles = page.locator(".nb-headline .tile")
    assert tiles.count() == 9
    assert page.locator('.nb-headline .tile[data-key="received"] .v').inner_text().replace(",", "") == str(received)
    assert page.locator('.nb-headline .tile[data-key="denied"] .v').inner_text().replace(",", "") == str(denied)
    boxes = fits_1280(page, ".nb-headline .tile")
    assert all(b["y"] + b["height"] <= 900 for b in boxes), "headline numbers below the first screen"
    # the failing cells are marked where the table is printed, and the table fits the width too
    assert page.locator("table.nb-table3 td.fail").count() >= 7
    fits_1280(page, "table.nb-table3, table.nb-table4")
    shot(page, "08-report-card")
    # the failing-rule tooltip names the rule, expected and actual
    title = page.locator('table.nb-table3 tr[data-row="granted"] td').nth(6).get_attribute("title")
    assert "outcomes_sum" in title and "row_total" in title


def test_07_search_hits_link_to_the_card_section(page, server):
    page.goto(server.base + "/")
    page.get_by_role("link", name="全文检索 Search report text").click()
    page.wait_for_url(re.compile(r"/-/search$"))
    page.fill("input[name=q]", "复议")
    page.locator("input[name=q]").press("Enter")
    page.wait_for_url(re.compile(r"/-/search\?q="))
    hits = page.locator("li.nb-hit")
    expected = truth(server, "select count(*) from sections where text like '%复议%'")[0][0]
    assert hits.count() == expected == 2
    assert page.locator("li.nb-hit mark").first.inner_text() == "复议"
    fits_1280(page, "li.nb-hit")
    shot(page, "09-search-fuyi")
    page.locator("a.nb-card-link").first.click()
    page.wait_for_url(re.compile(r"/-/report/[0-9a-f]{16}#s1$"))
    section = page.locator("section#s1")
    assert "复议" in section.inner_text()
    box = section.bounding_box()
    assert box and 0 <= box["y"] < 900  # scrolled to the section
    shot(page, "10-card-from-search")
