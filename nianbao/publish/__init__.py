"""Publishing the archive with Datasette: the nianbao Datasette plugin and its helpers.

This package is registered as a Datasette plugin (entry point `nianbao_publish` in pyproject.toml),
so its `templates/` and `static/` folders are Datasette's too. Modules:
`hooks` (routes, cell links, robots.txt), `card` (the report card), `search` + `snippet` (search of report
text with marked excerpts), `fresh` (a rebuilt database served without restart), `limits` + `guard` + `errors`
(a server that holds), `original` + `warc` (archived originals from WARC records),
`robots`, `indexes` (indexes the published queries need), `inspect` (the immutable-mode inspect file).
"""

from nianbao.publish.hooks import (  # noqa: F401  (Datasette hooks)
    asgi_wrapper,
    handle_exception,
    prepare_connection,
    register_routes,
    render_cell,
    startup,
)
