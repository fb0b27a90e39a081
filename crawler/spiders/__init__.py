"""Spiders: `column` (generic, any CMS) and platform-specific subclasses (`trs`)."""

from nianbao.crawler.spiders.column import ColumnSpider
from nianbao.crawler.spiders.trs import TrsSpider

SPIDERS_BY_PLATFORM = {"generic": ColumnSpider, "trs": TrsSpider}

__all__ = ["ColumnSpider", "TrsSpider", "SPIDERS_BY_PLATFORM"]
