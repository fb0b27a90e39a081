"""Names that frameworks call or read by name, so vulture (tests/test_lint.py) sees no caller in our code.

Each entry names who uses it. Vulture matches names, not objects: `_.name` marks `name` used wherever it
is defined. A name that is really dead is removed from the code, never added here; a name added here
says which framework, hook or file reads it.
"""

# ruff: noqa: B018  (vulture's whitelist format: each line a bare attribute use, never run)

_ = object()  # the whitelist's placeholder object: vulture reads only the attribute names below

# -- Scrapy -------------------------------------------------------------------------------------------
# crawler/settings.py: the project's settings module, whose names Scrapy reads
# (scrapy.cfg `default = nianbao.crawler.settings`).
_.BOT_NAME
_.SPIDER_MODULES
_.NEWSPIDER_MODULE
_.USER_AGENT
_.ROBOTSTXT_OBEY
_.AUTOTHROTTLE_ENABLED
_.AUTOTHROTTLE_START_DELAY
_.AUTOTHROTTLE_MAX_DELAY
_.AUTOTHROTTLE_TARGET_CONCURRENCY
_.CONCURRENT_REQUESTS
_.CONCURRENT_ITEMS
_.CONCURRENT_REQUESTS_PER_DOMAIN
_.DOWNLOAD_DELAY
_.DOWNLOAD_DELAY_JITTER
_.RETRY_ENABLED
_.RETRY_TIMES
_.RETRY_HTTP_CODES
_.DOWNLOAD_TIMEOUT
_.DOWNLOAD_MAXSIZE
_.DOWNLOAD_WARNSIZE
_.COOKIES_ENABLED
_.TELNETCONSOLE_ENABLED
_.LOG_LEVEL
_.EXTENSIONS
_.DOWNLOADER_MIDDLEWARES
# crawler/settings.py: our own settings, read by crawler/middlewares.py, extensions.py and the spiders
# through `settings.get*("NIANBAO_…")` (a string, which vulture does not follow).
_.NIANBAO_RETRY_BACKOFF_BASE
_.NIANBAO_RETRY_BACKOFF_MAX
_.NIANBAO_RETRY_AFTER_MAX
_.NIANBAO_WARC_DIR
_.NIANBAO_STATE_DB
_.NIANBAO_RUN_ID
_.NIANBAO_WORKER_ID
_.NIANBAO_REVALIDATE
_.NIANBAO_CYCLE_DAYS
_.NIANBAO_MAX_LIST_PAGES
_.NIANBAO_TEST_KILL_AFTER_RESPONSES
_.NIANBAO_NOW
# crawler/middlewares.py: enabled by their dotted path in crawler/settings.py DOWNLOADER_MIDDLEWARES
# ("nianbao.crawler.middlewares.BackoffRetryMiddleware": 550, …SharedRobotsTxtMiddleware": 100).
_.BackoffRetryMiddleware
_.SharedRobotsTxtMiddleware
# crawler/spiders/column.py, host.py: a spider attribute Scrapy's HttpErrorMiddleware reads, so 4xx/5xx
# answers reach the callbacks (they are recorded, not dropped).
_.handle_httpstatus_list
# crawler/search_api.py SearchApi.quick_mode: the column script's quickMode, carried in request meta by
# dataclasses.asdict (crawler/spiders/column.py) and compared whole in tests/crawler/test_search_api.py.
_.quick_mode

# -- http.server / urllib (fixture portals, tests) -------------------------------------------------
# crawler/fixture_portal/server.py _Handler, tests/crawler/fixtures/fidelity/make_fidelity.py:
# BaseHTTPRequestHandler dispatches do_<METHOD>, calls log_message, reads server_version,
# protocol_version and close_connection; socketserver.ThreadingMixIn reads daemon_threads.
_.do_GET
_.do_POST
_.log_message
_.server_version
_.protocol_version
_.close_connection
_.daemon_threads
# tests/crawler/test_fixture_portal.py NoRedirect: urllib.request.HTTPRedirectHandler calls it.
_.redirect_request

# -- Datasette (nianbao/publish) -------------------------------------------------------------------
# nianbao/publish/hooks.py: pluggy hook implementations (@hookimpl), called by Datasette by name.
_.startup
_.asgi_wrapper
_.register_routes
_.render_cell
# nianbao/publish/fresh.py: attributes of Datasette's Database object that Datasette reads (the file's
# hash and size for the inspect data, its cached table counts, its read connection).
_.cached_hash
_.cached_size
_._cached_table_counts
_._read_connection
# nianbao/publish/search.py Results.count_capped: read by templates/nianbao_search.html (Jinja).
_.count_capped
# nianbao/publish/original.py CaptureLocation.warc_length: a column of the `captures` row the dataclass
# is built from positionally (CaptureLocation.from_row(row)); kept so the row maps field by field.
_.warc_length

# -- other libraries -----------------------------------------------------------------------------------
# nianbao/cli.py: logging.raiseExceptions, read by the logging module (False: a failed write is dropped).
_.raiseExceptions
# nianbao/commands/worker.py: dramatiq.Worker.queue_prefetch, read by Dramatiq's consumers.
_.queue_prefetch
# crawler/fixture_portal/site.py, nianbao/demo/portal.py: python-docx core_properties.modified, written
# into docProps/core.xml (a fixed date, so generated DOCX bytes are reproducible).
_.modified
# tests/crawler/fixtures/fidelity/make_fidelity.py: python-docx paragraph.alignment, written into the XML.
_.alignment

# -- pytest ------------------------------------------------------------------------------------------
# module-level marks pytest reads by name (tests/publish/test_browser.py, tests/queue/*).
_.pytestmark
# fixtures pytest injects by parameter name: tests/queue/conftest.py redis_url,
# tests/archive/test_new_edition.py edition_2099 (requested by tests for its side effect).
_.redis_url
_.edition_2099
