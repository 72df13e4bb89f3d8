"""Headless Chromium for the page tests: open a page from disk with the network off, read what it rendered, take a
screenshot.
"""

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OFFLINE = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-logging=stderr",
    "--v=0",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]  # any request to the network fails: the page must not need one
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); .ci/run installs it"
)


class Page(HTMLParser):
    """What a reader of the page finds: sections, table rows, images, links, scripts' sources."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections, self.rows, self.images, self.links, self.sources, self.headers = [], [], [], [], [], []
        self._row, self._cell, self._in = None, None, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._in.append(tag)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs.get("href"))
        elif tag in ("script", "link") and (attrs.get("src") or attrs.get("href")):
            self.sources.append(attrs.get("src") or attrs.get("href"))

    def handle_endtag(self, tag):
        if self._in:
            self._in.pop()
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell.strip())
            if tag == "th":
                self.headers.append(self._cell.strip())
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def open_offline(page: Path) -> Page:
    """The DOM Chromium rendered after the page's scripts ran; fails on any console error or uncaught exception."""
    done = subprocess.run(
        [CHROMIUM, *OFFLINE, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert "Uncaught" not in done.stderr and not re.search(r"CONSOLE.*(error|Error)", done.stderr), done.stderr[-2000:]
    return Page(done.stdout)


def screenshot(page: Path, shot: Path, size: str = "1200,1600") -> Path:
    """What a reader sees first, as a PNG."""
    subprocess.run(
        [CHROMIUM, *OFFLINE, f"--screenshot={shot}", f"--window-size={size}", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    return shot
