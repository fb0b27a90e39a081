"""Agency levels and regions inferred from names, with the rule that decided each (documented in
archive/README.md). Registry division codes win over name guesses where they apply."""

from __future__ import annotations

import re

MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")
_PROVINCE = re.compile(r"^(.{2,8}?(?:省|自治区|特别行政区))")
_CITY = re.compile(r"^(.{2,10}?(?:市|自治州|州|地区|盟))")
_COUNTY = re.compile(r"^(.{1,10}?(?:县|区|旗|市))")
_TOWNSHIP = re.compile(r"(街道|乡|镇|苏木)(办事处|人民政府|党工委)?$|街道")
_DEPARTMENT_SUFFIX = re.compile(
    r"(局|委员会|委|办公室|办公厅|办|厅|中心|院|所|站|队|署|处|总队|支队|大队|部门|政府工作部门)$")
_GOVERNMENT = re.compile(r"人民政府$")
_MINISTRY = re.compile(r"^(国务院|国家|中华人民共和国|中国)|^[^省市县区]{1,10}部$")


def split_region(name: str) -> tuple[str | None, str | None, str | None]:
    """(province, city, county) named at the start of `name`, best effort."""
    rest = name
    province = city = county = None
    if rest.startswith(MUNICIPALITIES):
        province = rest[:3]
        rest = rest[3:]
    else:
        m = _PROVINCE.match(rest)
        if m:
            province, rest = m.group(1), rest[m.end():]
        m = _CITY.match(rest)
        if m and not _DEPARTMENT_SUFFIX.search(m.group(1)):
            city, rest = m.group(1), rest[m.end():]
    m = _COUNTY.match(rest)
    if m and len(m.group(1)) <= 6:
        county = m.group(1)
    return province, city, county


def level_from_code(code: str | None) -> str | None:
    if not code or not re.fullmatch(r"\d{6}", code):
        return None
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def infer_level(name: str, division_code: str | None = None) -> tuple[str | None, str]:
    """(level, rule) for an agency name; rule names which documented rule applied."""
    if not name:
        return None, "unknown"
    if _MINISTRY.search(name) and not name.endswith("人民政府"):
        return "ministry", "national prefix or bare …部"
    if _TOWNSHIP.search(name):
        return "township", "街道/乡/镇 in the name"
    if _DEPARTMENT_SUFFIX.search(name) and not _GOVERNMENT.search(name):
        return "department", "局/委/办公室/厅/中心… suffix under a government"
    stem = _GOVERNMENT.sub("", name)
    if stem.endswith(("省", "自治区")) or stem in MUNICIPALITIES:
        return "province", "province or municipality government"
    if stem.endswith(("县", "区", "旗")) or (stem.endswith("市") and _CITY.match(stem[:-1] + "")
                                             and len(stem) > 4 and split_region(stem)[1]):
        return "county", "county/district government"
    if stem.endswith(("市", "自治州", "州", "盟", "地区")):
        return "prefecture", "city government"
    by_code = level_from_code(division_code)
    if by_code:
        return by_code, "division code"
    return None, "unknown"
