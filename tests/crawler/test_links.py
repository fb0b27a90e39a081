"""Link discovery on list pages: report titles, pagination (static, TRS script, 下一页), sub-columns."""

from __future__ import annotations

from nianbao.crawler.links import (
    attachment_links,
    column_prefix,
    is_report_title,
    js_pages,
    parse_list_page,
    report_year,
)

PINGTAN = "https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/"


def test_report_titles_lenient_about_wording():
    assert is_report_title("平潭综合实验区2024年度政府信息公开工作年度报告")
    assert is_report_title("国家文物局2019年政府信息公开工作度报告")  # the real 工作度报告 typo
    assert is_report_title("丁区白沙街道办事处2024年 度 政府信息公开工作年度报告")
    assert is_report_title("某局2022年政府信息公开年报")
    assert is_report_title("二〇二三年政府信息公开工作年度报告")
    assert is_report_title("某县2023年政府信息公开年度工作报告")


def test_non_reports_are_not_reports():
    assert not is_report_title("《甲区2024年度政府信息公开工作年度报告》解读")
    assert not is_report_title("图解：2023年政府信息公开工作年度报告")
    assert not is_report_title("关于做好2024年度政府信息公开工作年度报告编制发布工作的通知")
    assert not is_report_title("政府信息公开年报")  # the column's own name: no year
    assert not is_report_title("2023年政府工作报告")


def test_report_year():
    assert report_year("平潭综合实验区2025年度政府信息公开工作年度报告") == 2025
    assert report_year("政府信息公开年报") is None


def test_real_trs_list_page(shared_dir):
    html = (shared_dir / "real" / "pingtan_list_index.html").read_bytes()
    page = parse_list_page(html, PINGTAN, column_prefix(PINGTAN))
    assert len(page.reports) == 10
    assert page.reports[0] == (PINGTAN + "202603/t20260313_105587.htm",
                               "平潭综合实验区2025年度政府信息公开工作年度报告")
    assert page.reports[1] == (PINGTAN + "202503/t20250310_97791.htm", "平潭综合实验区2024年度政府信息公开工作年度报告")
    years = sorted(report_year(t) for _, t in page.reports)
    assert years == list(range(2016, 2026))
    # the remaining 10 come from a JS search API: no static pagination to follow
    assert page.pages == [] and page.subcolumns == []


def test_trs_create_page_html_classic_and_new_forms():
    script = 'var countPage = 3//共多少页\ncreatePageHTML(countPage, 0, "index", "html");'
    assert js_pages(script, PINGTAN) == [PINGTAN + "index.html", PINGTAN + "index_1.html", PINGTAN + "index_2.html"]
    script = "createPageHTML('page_div',2,1,'index','shtml',68);"
    assert js_pages(script, PINGTAN + "index_1.shtml") == [PINGTAN + "index.shtml", PINGTAN + "index_1.shtml"]
    assert js_pages("var countPage = 1;", PINGTAN) == []
    # a bare countPage (mva.gov.cn style) with the page's own suffix
    assert js_pages("var countPage = 2", PINGTAN + "index.htm") == [PINGTAN + "index.htm", PINGTAN + "index_1.htm"]


def test_next_links_year_subcolumns_and_other_items():
    base = "http://x.gov.cn/zfxxgk/zfxxgknb/"
    html = """<html><body>
      <a href="/other/2023n/">2023年</a>
      <a href="./2024n/">2024年</a><a href="2023n/index.html">2023</a>
      <a href="./202401/t1.html" title="某区2023年度政府信息公开工作年度报告">某区2023年度…</a>
      <a href="./202401/t2.html">《某区2023年度政府信息公开工作年度报告》解读</a>
      <a href="index_1.html">下一页</a><a href="javascript:void(0)">尾页</a>
      <a href="http://spam.example.com/a.html" title="某区2023年度政府信息公开工作年度报告">镜像</a>
    </body></html>"""
    page = parse_list_page(html, base, base)
    assert page.reports == [(base + "202401/t1.html", "某区2023年度政府信息公开工作年度报告"),
                            ("http://spam.example.com/a.html", "某区2023年度政府信息公开工作年度报告")]
    assert page.pages == [base + "index_1.html"]
    assert page.subcolumns == [base + "2024n/", base + "2023n/index.html"]  # not /other/2023n/: outside the column
    assert (base + "202401/t2.html", "《某区2023年度政府信息公开工作年度报告》解读") in page.other


def test_attachment_links():
    html = """<p><a href="./P020240115.pdf">全真版</a> <a href="/u/文件.DOCX?x=1">附件</a>
              <a href="./t1.html">正文</a><iframe src="../view/r.pdf"></iframe><a href="a.wps">wps</a></p>"""
    got = attachment_links(html, "http://x.gov.cn/a/b/t1.html")
    assert [u for u, _ in got] == ["http://x.gov.cn/a/b/P020240115.pdf", "http://x.gov.cn/u/文件.DOCX?x=1",
                                   "http://x.gov.cn/a/view/r.pdf", "http://x.gov.cn/a/b/a.wps"]
    assert got[0][1] == "全真版"


def test_unit_subcolumns_below_a_year_subcolumn():
    # xialuqu.gov.cn shape: 2022n/ lists unit sub-columns such as 2022n/2021jdyc/
    base = "http://xialuqu.gov.cn/zwgk/xxgknb/"
    html = """<a href="./2021jdyc/">东方山街道</a><a href="./qzf/index.html">区政府</a>
              <a href="../">返回</a><a href="/zwgk/">政务公开</a>
              <a href="./202201/t1.html">下陆区2021年政府信息公开工作年度报告</a>"""
    nested = parse_list_page(html, base + "2022n/", base, nested=True)
    assert nested.subcolumns == [base + "2022n/2021jdyc/", base + "2022n/qzf/index.html"]
    assert nested.reports == [(base + "2022n/202201/t1.html", "下陆区2021年政府信息公开工作年度报告")]
    # at the column root the same links are not followed (only year-shaped ones are)
    assert parse_list_page(html, base, base).subcolumns == []


def test_hanweb_records_inside_a_script():
    # Hanweb (大汉) col/colNNNN/index.html: items in a <script type="text/xml"> datastore
    base = "http://www.ncha.gov.cn/col/col2686/"
    html = """<html><body><div id="41234"><script type="text/xml"><datastore>
      <nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&columnid=2686"></a>]]></nextgroup>
      <recordset>
      <record><![CDATA[<li><a href="/art/2024/1/31/art_2686_100.html" title="国家文物局2023年政府信息公开工作年度报告">国家文物局2023年…</a><span>2024-01-31</span></li>]]></record>
      <record><![CDATA[<li><a href="/art/2020/1/20/art_2686_90.html" target="_blank">国家文物局2019年政府信息公开工作度报告</a></li>]]></record>
      <record><![CDATA[<li><a href="/art/2024/2/1/art_2686_101.html">《国家文物局2023年政府信息公开工作年度报告》解读</a></li>]]></record>
      </recordset></datastore></script></div></body></html>"""  # noqa: E501 (a Hanweb list page as served: data)
    page = parse_list_page(html, base + "index.html", base)
    assert page.reports == [
        ("http://www.ncha.gov.cn/art/2024/1/31/art_2686_100.html", "国家文物局2023年政府信息公开工作年度报告"),
        ("http://www.ncha.gov.cn/art/2020/1/20/art_2686_90.html", "国家文物局2019年政府信息公开工作度报告")]


def test_base_href_is_honoured():
    html = """<html><head><base href="http://x.gov.cn/files/"></head><body>
      <a href="202401/t1.html">某区2023年度政府信息公开工作年度报告</a><a href="a.pdf">附件</a></body></html>"""
    assert parse_list_page(html, "http://x.gov.cn/col/", "http://x.gov.cn/col/").reports[0][0] == \
        "http://x.gov.cn/files/202401/t1.html"
    assert attachment_links(html, "http://x.gov.cn/col/t.html") == [("http://x.gov.cn/files/a.pdf", "附件")]
