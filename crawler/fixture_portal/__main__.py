"""`python -m nianbao.crawler.fixture_portal DIR`: serve the default fixture site and print its registry."""

from __future__ import annotations

import sys
import tempfile
import time

import yaml

from nianbao.crawler.fixture_portal import FixturePortal


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="nianbao-portal-")
    with FixturePortal(root) as portal:
        print(f"serving {root} at {portal.base_url}")
        print(yaml.safe_dump(portal.registry(), allow_unicode=True, sort_keys=False))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
