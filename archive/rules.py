"""The archive's door to the consistency rules (勾稽关系): the parser's, parsers/checks.py, the one
definition. The build and `nianbao check` run them over stored cells through here; nothing is
restated (an archive fallback that re-implemented them is gone: the parser ships with the archive)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nianbao.parsers.checks import check_carry_chain, run_checks


def carry_chain_function() -> Callable[[dict, dict], list[dict]]:
    """carry_chain across one agency's consecutive years (parsers.checks.check_carry_chain)."""
    return check_carry_chain


def report_rules(requests: Iterable[dict], appeals: Iterable[dict], edition: str | None = None) -> list[dict[str, Any]]:
    """balance, outcomes_sum, row_total and appeals_total over canonical cells: parsers.checks.run_checks."""
    return run_checks({"edition": edition, "requests": list(requests), "appeals": list(appeals)})
