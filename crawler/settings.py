"""Scrapy settings for nianbao's crawler: polite by default.

`nianbao crawl` (crawler.run) overrides the NIANBAO_* paths per data directory and, for loopback
benchmarks only, politeness (`--impolite`).
"""

import os

from nianbao import __version__

BOT_NAME = "nianbao"
SPIDER_MODULES = ["nianbao.crawler.spiders"]
NEWSPIDER_MODULE = "nianbao.crawler.spiders"

# Who we are and how to reach the operator: set NIANBAO_CONTACT to your project page or mail address.
CONTACT = os.environ.get("NIANBAO_CONTACT", "https://github.com/nianbao/nianbao")
USER_AGENT = (f"nianbao/{__version__} (+{CONTACT}; archive of government information-disclosure "
              "annual reports)")

# Politeness: robots.txt obeyed (a per-source override needs a written reason in the registry),
# AutoThrottle on, at most 2 requests in flight per domain, a base delay between them.
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
CONCURRENT_REQUESTS = 16
# We yield requests, not items: Scrapy starts CONCURRENT_ITEMS asyncio tasks per callback output,
# which at the default 100 was the largest cost of a loopback crawl (bench/crawl.py).
CONCURRENT_ITEMS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # ±50%

# Retries with backoff: Scrapy retries at once, so our subclass pauses the download slot base*2^(n-1) s
# (capped) first, or what the portal's Retry-After asks.
RETRY_ENABLED = True
NIANBAO_RETRY_BACKOFF_BASE = 2.0
NIANBAO_RETRY_BACKOFF_MAX = 60.0
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# A 429/503 with Retry-After (seconds or an HTTP-date) pauses the portal's download slot that long,
# at most this many seconds (a portal asking for hours is asked again next crawl instead).
NIANBAO_RETRY_AFTER_MAX = float(os.environ.get("NIANBAO_RETRY_AFTER_MAX") or 120.0)

# Size and time limits: annual-report PDFs are rarely above 20 MB.
DOWNLOAD_TIMEOUT = int(os.environ.get("NIANBAO_DOWNLOAD_TIMEOUT") or 60)  # the env: bench/soak.py's slow drip
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024

COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"

# WARC capture: the extension owns the files (opens them on spider_opened, closes them with each source's
# summary); the middleware below writes every exchange into them.
EXTENSIONS = {"nianbao.crawler.extensions.WarcCapture": 0}

# Keep every byte: our WARC middleware sits on the downloader side of HttpCompressionMiddleware (590)
# and RedirectMiddleware (600), so it sees bodies still compressed and every redirect and error.
DOWNLOADER_MIDDLEWARES = {
    "nianbao.crawler.middlewares.WarcCaptureMiddleware": 880,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "nianbao.crawler.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "nianbao.crawler.middlewares.SharedRobotsTxtMiddleware": 100,
}

# Where to write (overridden by crawler.run from the data directory).
NIANBAO_WARC_DIR = "data/warcs"
NIANBAO_STATE_DB = "data/crawl_state.db"
NIANBAO_RUN_ID = ""
# In WARC file names (nianbao-{run}-{source}-{stamp}-{worker}-{pid}.warc.gz): the job queue's workers set it
# (`--worker-id`); unset (one machine), names carry no worker part (crawler/warc.py).
NIANBAO_WORKER_ID = ""
NIANBAO_REVALIDATE = "policy"  # policy | all | none (see crawler/state.py)
NIANBAO_CYCLE_DAYS = 30
NIANBAO_MAX_LIST_PAGES = 2000  # per source: a pagination trap stops here (crawl marked incomplete)
NIANBAO_TEST_KILL_AFTER_RESPONSES = int(os.environ.get("NIANBAO_TEST_KILL_AFTER_RESPONSES") or 0)  # tests only
NIANBAO_NOW = ""  # ISO time standing in for "now" (tests and the benchmark's "next night")
