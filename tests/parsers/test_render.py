"""render.random_report makes consistent reports; render_report draws the national template."""

from __future__ import annotations

import json
import random

import pytest

from nianbao.parsers.keys import applicant_columns, request_columns, request_rows, result_rows, template_keys
from nianbao.parsers.render import HTML_STYLES, random_report, render_report
from tests.conftest import SHARED


def test_packaged_keys_equal_shared_keys():
    """The edition files composed are the reference keys.json (../shared/template), key for key."""
    shared = json.loads((SHARED / "template" / "keys.json").read_text(encoding="utf-8"))
    assert template_keys() == shared


@pytest.mark.parametrize("edition", ["2019", "2021"])
@pytest.mark.parametrize("seed", range(20))
def test_random_report_is_consistent(edition, seed):
    report = random_report(random.Random(seed), year=2022, agency="测试县财政局", edition=edition, blank_rate=0.3)
    cells = {(c["row"], c["column"]): (c["value"] or 0) for c in report["requests"]}
    assert len(cells) == len(request_rows(edition)) * 7
    for column in request_columns():
        assert cells[("new_received", column)] + cells[("carried_over", column)] == (
            cells[("total", column)] + cells[("carried_forward", column)])
        assert cells[("total", column)] == sum(cells[(r, column)] for r in result_rows(edition))
    for row in request_rows(edition):
        assert cells[(row, "total")] == sum(cells[(row, c)] for c in applicant_columns())
    appeals = {(c["procedure"], c["outcome"]): c["value"] for c in report["appeals"]}
    for procedure in ("review", "litigation_direct", "litigation_after_review"):
        assert appeals[(procedure, "total")] == sum(
            appeals[(procedure, o)] for o in ("upheld", "corrected", "other", "pending"))
    active = {(c["row"], c["measure"]) for c in report["active"]}
    assert active == {(r, m) for r, ms in template_keys()["active"][edition]["cells"].items() for m in ms}


@pytest.mark.parametrize("style", HTML_STYLES)
@pytest.mark.parametrize("edition,rowspan", [("2019", 20), ("2021", 22)])
def test_render_draws_template_tables(style, edition, rowspan):
    report = random_report(random.Random(7), year=2021, agency="测试区", edition=edition)
    page = render_report(report, style=style)
    assert page.count("<table") == 3
    assert f'rowspan="{rowspan}"' in page
    assert page.count('colspan="5"') >= 3  # 法人或其他组织, 未经复议直接起诉, 复议后起诉
    assert ("<html" in page) == (style != "fragment")
    assert "测试区2021年政府信息公开工作年度报告" in page


def test_render_text_prints_tab_separated_rows_like_the_seeds():
    report = random_report(random.Random(5), year=2023, agency="测试街道", edition="2021")
    text = render_report(report, style="text")
    lines = text.splitlines()
    assert lines[0] == "# 测试街道2023年政府信息公开工作年度报告"
    assert "## 三、收到和处理政府信息公开申请情况" in lines
    assert "第二十条第（一）项\t\t\t" in lines  # colspan=4 padded with empty cells
    # rowspan-covered block-label positions print as empty leading cells, as in the seeds
    assert any(line.startswith("\t\t2.其他法律行政法规禁止公开\t") for line in lines)
    assert "<" not in text
