"""parsers: pure functions turning a report page (HTML bytes/text or plain text) into the canonical report.

    from nianbao.parsers import parse_report, PARSER_VERSION, check_carry_chain
"""

from nianbao.parsers.checks import check_carry_chain, run_checks
from nianbao.parsers.report import PARSER_VERSION, parse_report

__all__ = ["PARSER_VERSION", "check_carry_chain", "parse_report", "run_checks"]
