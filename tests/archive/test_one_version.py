"""One report, one version: an HTML page and the attachment holding the same report (WARC role
`attachment`, `WARC-Nianbao-Parent` = the page) are one version of one document, whatever order
the records come in; a disagreement between them is a `page_attachment_mismatch` finding; a later
payload whose numbers differ is a real edit, listed by `edited_reports`.

The stand-in parser reads every payload as canonical JSON, so attachments here are served as
`application/json` at URLs without a file extension: what is tested is the pairing (roles,
parents, capture times, statuses, identities), which never looks at the format. The demo
(tests/frontdoor/test_demo.py) runs the same path with a real HTML page and a real DOCX.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlite_utils

from tests.archive.helpers import Warc, body, build_fake, canonical

AGENCY = "甲区人民政府"
PAGE = "https://www.example.gov.cn/zfxxgknb/202403/t20240315_3101.html"
ATT = "https://www.example.gov.cn/zfxxgknb/202403/P020240315_3101"
ATT_DOCX = "https://www.example.gov.cn/zfxxgknb/202403/P020240315_3102"
JIEDU = "https://www.example.gov.cn/zfxxgknb/202403/P020240315_9999"
JSON = "application/json"
NIGHT1, NIGHT2 = "2026-01-10T01:00:0{}Z", "2026-02-10T01:00:0{}Z"
REPO = Path(__file__).resolve().parents[2]


def page(**kw) -> dict:
    """The HTML page: the report's title (strong identity), tables as given."""
    return canonical(AGENCY, 2023, published="2024-03-15", **kw)


def stub() -> dict:
    """A page whose tables are only in the attachment ("详见附件")."""
    r = page()
    r.update(status="no_tables", active=[], requests=[], appeals=[], checks=[], edition=None)
    return r


def attachment(**kw) -> dict:
    """The attached document: the same report, but its first page names no agency (a PDF title block
    the parser could not read) and its publication date is not printed."""
    r = canonical(AGENCY, 2023, **kw)
    r.update(agency=None, title="2023年政府信息公开工作年度报告", published=None)
    return r


def partial_page() -> dict:
    """A page whose table 3 parsed but whose tables 2 and 4 did not: fewer cells read."""
    r = page()
    r.update(status="partial", active=[], appeals=[])
    return r


def build(tmp: Path, nights: list[list[tuple]]) -> sqlite_utils.Database:
    """nights: per WARC, records (kind, url, report-or-digest, role, time index)."""
    warcs = tmp / "warcs"
    warcs.mkdir(parents=True, exist_ok=True)
    seen: dict[str, tuple[str, str]] = {}
    for n, records in enumerate(nights, 1):
        w = Warc(warcs / f"2026{n:02d}10-run{n}.warc.gz")
        date = (NIGHT1, NIGHT2)[n - 1] if n <= 2 else f"2026-0{n}-10T01:00:0{{}}Z"
        for kind, url, report, role, t in records:
            if kind == "revisit":
                rid, digest = seen[url]
                w.revisit(url, digest, rid, date=date.format(t), role=role)
                continue
            seen[url] = w.response(url, body(report), role=role, date=date.format(t),
                                   content_type="text/html; charset=utf-8" if role == "report" else JSON,
                                   parent=PAGE if role == "attachment" else None)
        w.close()
    return build_fake(tmp)


def versions(db) -> list[dict]:
    return list(db.query("select * from document_versions order by document_id, version"))


def cells(db, vid: str) -> dict:
    return {(r["row_key"], r["column_key"]): r["value"]
            for r in db.query("select * from requests where version_id = ?", [vid])}


def canned(db, name: str, **params) -> list[dict]:
    meta = json.loads((REPO / "datasette-metadata.json").read_text(encoding="utf-8"))
    sql = meta["databases"]["nianbao"]["queries"][name]["sql"]
    import re  # Datasette gives every named parameter not in the request the empty string
    return list(db.query(sql, {**{n: "" for n in re.findall(r"(?<!:):(\w+)", sql)}, **params}))


def test_page_and_attachment_of_one_report_are_one_version(tmp_path):
    db = build(tmp_path, [[("response", PAGE, partial_page(), "report", 1),
                           ("response", ATT, attachment(), "attachment", 2)]])
    assert db["documents"].count == 1
    (v,) = versions(db)
    # identity from the page (the attachment names no agency, no date); numbers from the attachment,
    # which parsed every table (the page read table 3 only)
    assert (v["agency"], v["year"], v["title"], v["published"]) == \
        (AGENCY, 2023, f"{AGENCY}2023年政府信息公开工作年度报告", "2024-03-15")
    assert (v["status"], v["url"], v["n_cells"]) == ("parsed", ATT, 15)
    assert db.execute("select count(*) from active_disclosure where version_id = ?", [v["id"]]).fetchone()[0] == 2
    assert db.execute("select count(*) from requests").fetchone()[0] == 11  # one version's cells, not two
    # both documents kept and linked
    caps = {c["url"]: c for c in db.query("select * from captures")}
    assert caps[PAGE]["version_id"] == caps[ATT]["version_id"] == v["id"]
    assert v["capture_id"] == caps[ATT]["id"]
    docs = {d["url"]: d for d in db.query("select * from version_documents where version_id = ?", [v["id"]])}
    assert {u: (d["role"], d["status"], d["n_cells"], d["numbers"], d["identity"], d["capture_id"])
            for u, d in docs.items()} == {PAGE: ("report", "partial", 11, 0, 1, caps[PAGE]["id"]),
                                          ATT: ("attachment", "parsed", 15, 1, 0, caps[ATT]["id"])}
    # provenance: every cell points at the attachment's record
    prov = list(db.query("select distinct url, warc_offset, payload_digest from cell_provenance"))
    assert prov == [{"url": ATT, "warc_offset": caps[ATT]["warc_offset"],
                     "payload_digest": caps[ATT]["payload_digest"]}]
    # both parsed table 3 and agree: the comparison ran and passed
    (check,) = db.query("select * from rule_results where rule = 'page_attachment_mismatch'")
    assert (check["ok"], check["scope"]) == (1, PAGE)
    assert json.loads(check["note"])["compared"] == 11
    assert canned(db, "edited_reports", year="") == []


def test_stub_page_and_docx_are_one_version_with_the_attachments_numbers(tmp_path):
    db = build(tmp_path, [[("response", PAGE, stub(), "report", 1),
                           ("response", ATT_DOCX, attachment(received=8), "attachment", 2)]])
    (v,) = versions(db)
    assert (v["agency"], v["year"], v["status"], v["edition"], v["url"]) == (AGENCY, 2023, "parsed", "2021", ATT_DOCX)
    assert cells(db, v["id"])[("new_received", "total")] == 8
    assert db.execute("select count(*) from rule_results where rule = 'page_attachment_mismatch'").fetchone()[0] == 0
    report = next(db.query("select * from reports"))
    assert (report["agency"], report["received"], report["n_versions"]) == (AGENCY, 8, 1)
    # the page's sections were dropped with its cells; the attachment's carry the version's identity
    assert {(s["version_id"], s["agency"], s["year"]) for s in db.query("select * from sections")} == \
        {(v["id"], AGENCY, 2023)}
    hits = list(db.query("select rowid from sections_fts where sections_fts match '\"甲 区\"'"))
    assert len(hits) == 1


def test_page_and_attachment_that_disagree_are_a_finding_not_an_edit(tmp_path):
    db = build(tmp_path, [[("response", PAGE, page(received=5), "report", 1),
                           ("response", ATT, attachment(received=7), "attachment", 2)]])
    (v,) = versions(db)
    assert db["documents"].count == 1 and v["url"] == PAGE  # both parsed fully: the page's numbers
    assert cells(db, v["id"])[("new_received", "total")] == 5
    (f,) = db.query("select * from rule_failures where rule = 'page_attachment_mismatch'")
    # received 5 vs 7; granted and total (= received - carried forward 1) 4 vs 6
    named = [("granted/natural_person", 4, 6), ("granted/total", 4, 6), ("new_received/natural_person", 5, 7),
             ("new_received/total", 5, 7), ("total/natural_person", 4, 6), ("total/total", 4, 6)]
    assert f["expected"] == "; ".join(f"requests:{c}={e}" for c, e, _ in named)
    assert f["printed"] == "; ".join(f"requests:{c}={a}" for c, _, a in named)
    assert (f["scope"], f["difference"], f["version_id"]) == (ATT, None, v["id"])
    note = json.loads(f["note"])
    assert (note["n_differ"], note["expected_from"], note["actual_from"], note["numbers_from"]) == (6, PAGE, ATT, PAGE)
    assert ["requests", "new_received", "total", 5, 7] in note["cells"]
    assert v["n_rule_failures"] == 1
    got = canned(db, "inconsistent_reports", rule="page_attachment_mismatch", year="")
    assert [(r["agency"], r["scope"], r["difference"]) for r in got] == [(AGENCY, ATT, None)]
    assert canned(db, "edited_reports", year="") == []


def test_record_order_does_not_change_the_version(tmp_path):
    first = build(tmp_path / "a", [[("response", PAGE, page(received=5), "report", 1),
                                    ("response", ATT, attachment(received=7), "attachment", 2)]])
    second = build(tmp_path / "b", [[("response", ATT, attachment(received=7), "attachment", 1),
                                     ("response", PAGE, page(received=5), "report", 2)]])

    def content(db) -> tuple:
        vs = [(v["id"], v["document_id"], v["version"], v["agency"], v["year"], v["status"], v["url"],
               v["payload_digest"], v["n_cells"], v["n_rule_failures"]) for v in versions(db)]
        req = list(db.query("select * from requests order by version_id, row_key, column_key"))
        rules = [(r["version_id"], r["rule"], r["scope"], r["ok"], r["expected"], r["actual"])
                 for r in db.query("select * from rule_results order by version_id, rule, scope")]
        return vs, req, rules

    assert content(first) == content(second)
    assert len(content(first)[0]) == 1


def test_attachment_fetched_on_a_later_night_joins_the_version(tmp_path):
    night1 = [("response", PAGE, stub(), "report", 1)]
    only_page = build(tmp_path / "one", [night1])
    (v1,) = versions(only_page)
    assert (v1["status"], v1["version"]) == ("no_tables", 1)
    db = build(tmp_path / "two", [night1, [("revisit", PAGE, None, "report", 1),
                                           ("response", ATT, attachment(), "attachment", 2)]])
    (v,) = versions(db)
    doc = next(db.query("select * from documents"))
    assert doc["n_versions"] == 1 and doc["id"] == v1["document_id"]
    assert (v["status"], v["version"], v["url"]) == ("parsed", 1, ATT)
    assert (v["first_seen"], v["last_seen"]) == (NIGHT1.format(1), NIGHT2.format(2))
    assert {c["version_id"] for c in db.query("select * from captures")} == {v["id"]}


def test_a_real_edit_is_a_second_version_and_listed(tmp_path):
    db = build(tmp_path, [
        [("response", PAGE, page(), "report", 1), ("response", ATT, attachment(), "attachment", 2)],
        # the page was edited (received 5 -> 9); the attachment was not re-uploaded
        [("response", PAGE, page(received=9), "report", 1), ("revisit", ATT, None, "attachment", 2)],
    ])
    vs = versions(db)
    assert [(v["version"], v["is_latest"], v["url"]) for v in vs] == [(1, 0, PAGE), (2, 1, PAGE)]
    assert cells(db, vs[1]["id"])[("new_received", "total")] == 9
    (edit,) = canned(db, "edited_reports", year="")
    assert (edit["agency"], edit["year"], edit["n_versions"], edit["changed_cells"]) == (AGENCY, 2023, 2, 6)
    assert (edit["first_version_id"], edit["latest_version_id"]) == (vs[0]["id"], vs[1]["id"])
    # the attachment stays with the version it was published with; its later capture extends it
    att = list(db.query("select version_id, record_type from captures where url = ? order by fetched", [ATT]))
    assert [a["version_id"] for a in att] == [vs[0]["id"], vs[0]["id"]]


def test_a_replaced_attachment_is_an_edit_not_a_mismatch(tmp_path):
    db = build(tmp_path, [
        [("response", PAGE, stub(), "report", 1), ("response", ATT, attachment(), "attachment", 2)],
        [("revisit", PAGE, None, "report", 1), ("response", ATT, attachment(received=6), "attachment", 2)],
    ])
    vs = versions(db)
    assert db["documents"].count == 1
    assert [(v["version"], v["url"], v["agency"]) for v in vs] == [(1, ATT, AGENCY), (2, ATT, AGENCY)]
    assert db.execute("select count(*) from rule_results where rule = 'page_attachment_mismatch'").fetchone()[0] == 0
    (edit,) = canned(db, "edited_reports", year="")
    assert edit["changed_cells"] == 6


def test_a_page_change_without_new_numbers_is_not_listed_as_an_edit(tmp_path):
    db = build(tmp_path, [[("response", PAGE, page(), "report", 1)],
                          [("response", PAGE, page(sections=[{"number": 1, "heading": "总体情况", "text": "改版。"}]),
                            "report", 1)]])
    assert db["documents"].count == 1 and len(versions(db)) == 2
    assert canned(db, "edited_reports", year="") == []


def test_an_interpretation_or_a_non_report_attachment_does_not_merge(tmp_path):
    # tables quoted from the report (other numbers), read as parsed by a parser that missed the
    # 图解 title and the agency: the archive's own guard keeps it apart
    jiedu = canonical(AGENCY, 2023, received=40)
    jiedu.update(title="图解：2023年政府信息公开工作年度报告", agency=None, year=None)
    form = {"status": "not_a_report", "title": "政府信息公开申请表", "warnings": []}
    db = build(tmp_path, [[("response", PAGE, page(), "report", 1),
                           ("response", JIEDU, jiedu, "attachment", 2),
                           ("response", ATT, form, "attachment", 3)]])
    by_url = {v["url"]: v for v in versions(db)}
    assert set(by_url) == {PAGE, JIEDU, ATT}
    assert (by_url[PAGE]["agency"], by_url[PAGE]["year"], by_url[PAGE]["version"]) == (AGENCY, 2023, 1)
    assert cells(db, by_url[PAGE]["id"])[("new_received", "total")] == 5
    assert by_url[JIEDU]["document_id"] != by_url[PAGE]["document_id"]
    caps = {c["url"]: c["version_id"] for c in db.query("select * from captures")}
    assert caps == {u: by_url[u]["id"] for u in (PAGE, JIEDU, ATT)}
    assert db.execute("select count(*) from version_documents").fetchone()[0] == 3
    assert db.execute("select count(*) from rule_results where rule = 'page_attachment_mismatch'").fetchone()[0] == 0


def test_an_attachment_naming_another_year_does_not_merge(tmp_path):
    other = attachment()
    other.update(year=2022, title="2022年政府信息公开工作年度报告")
    db = build(tmp_path, [[("response", PAGE, page(), "report", 1),
                           ("response", ATT, other, "attachment", 2)]])
    assert {(v["url"], v["year"]) for v in versions(db)} == {(PAGE, 2023), (ATT, 2022)}


def test_identity_from_the_attachment_when_the_page_has_no_report_title(tmp_path):
    bare = stub()
    bare.update(title=None, agency=None, year=None, published="2024-03-15")
    att = canonical("甲区教育局", 2023)
    db = build(tmp_path, [[("response", PAGE, bare, "report", 1), ("response", ATT, att, "attachment", 2)]])
    (v,) = versions(db)
    assert (v["agency"], v["year"], v["title"], v["published"]) == \
        ("甲区教育局", 2023, "甲区教育局2023年政府信息公开工作年度报告", "2024-03-15")
    assert next(db.query("select key from documents"))["key"] == "doc|甲区教育局|2023"
    assert {(d["url"], d["identity"], d["numbers"]) for d in db.query("select * from version_documents")} == \
        {(PAGE, 0, 0), (ATT, 1, 1)}
