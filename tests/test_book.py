"""The book (`make book`, issue 34), tested as a person reads it: built offline, opened in a real browser.

One module-scoped build runs `make book` with no network (a fresh network namespace when `unshare -n` is
allowed, else every proxy variable pointed at a closed port), so a theme or extension that downloads at
build time fails here. Then the system Chromium (Debian's `chromium`), driven over the DevTools protocol
on a pipe (`--remote-debugging-pipe`, no port and no extra package), opens every built page, also with no
network, and each page must: load with its title and heading, raise no script error, request nothing
from outside the site and fail no request inside it, show every image (decoded, nonzero size, laid out),
show at least the figures its source has (a notebook's committed image outputs, a page's `![...](...)`),
typeset its math with MathJax without an error, and link only to built files and anchors that exist.

Without Chromium the browser tests skip with the reason, except where `BOREL_REQUIRE_CHROMIUM=1` (set by
.ci/run, which installs Chromium): there a missing browser fails. The viewport screenshot of notebook 05
is written to build/book_screenshot.png; the README's copy is docs/book_screenshot.png (refresh it with
`cp build/book_screenshot.png docs/` after a change to the book's look).
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import re
import select
import shutil
import struct
import subprocess
import time
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from borel_lib.paths import repo_root

ROOT = repo_root()
BOOK = ROOT / "build" / "book"
SHOT_PAGE = "notebooks/05_offline_borel"
SHOT_BUILT = ROOT / "build" / "book_screenshot.png"
SHOT_COMMITTED = ROOT / "docs" / "book_screenshot.png"
WINDOW = (1280, 900)
REQUIRE_ENV = "BOREL_REQUIRE_CHROMIUM"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _source_pages() -> dict[str, Path]:
    """Every page the book must hold, by its built name (docname), from the sources on disk."""
    pages = {"book/index": ROOT / "book" / "index.md", "README": ROOT / "README.md",
             "data/README": ROOT / "data" / "README.md"}
    pages |= {f"docs/{p.stem}": p for p in sorted((ROOT / "docs").glob("*.md"))}
    pages |= {f"notebooks/{p.stem}": p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    return pages


PAGES = _source_pages()
OTHER_PAGES = ["genindex", "search"]  # written by Sphinx itself; they must load too


def _expected_figures(source: Path) -> int:
    """Figures the source shows: a notebook's image outputs, or a Markdown page's images outside code."""
    if source.suffix == ".ipynb":
        nb = json.loads(source.read_text(encoding="utf-8"))
        return sum(any(k.startswith("image/") for k in out.get("data", {}))
                   for cell in nb["cells"] for out in cell.get("outputs", []))
    text = re.sub(r"^(```|~~~).*?^\1", "", source.read_text(encoding="utf-8"), flags=re.S | re.M)
    return len(re.findall(r"!\[[^\]]*\]\(", text)) + len(re.findall(r"<img\b", text))


# ---- the offline build -----------------------------------------------------------------------------------

def _offline_prefix() -> list[str]:
    """`unshare -n` (a network namespace with no interface up) where this user may create one."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def _offline_env() -> dict[str, str]:
    """The environment with every proxy pointed at a closed local port: any HTTP download fails fast."""
    env = dict(os.environ)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env[name] = "http://127.0.0.1:9"
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    env["PIP_NO_INDEX"] = "1"
    return env


@pytest.fixture(scope="module")
def built_book():
    # the venv must be up to date first (that step may download); the book build itself must not
    if subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT).returncode != 0:
        subprocess.run(["make", "setup"], cwd=ROOT, check=True)
    start = time.monotonic()
    run = subprocess.run(_offline_prefix() + ["make", "book"], cwd=ROOT, env=_offline_env(),
                         capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - start
    assert run.returncode == 0, f"make book failed offline after {seconds:.0f} s:\n{run.stdout}\n{run.stderr}"
    return run, seconds


def test_make_book_builds_offline_without_warnings(built_book):
    run, seconds = built_book
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not warnings, "make book warned (a broken reference, image or page):\n" + "\n".join(warnings)
    assert (BOOK / "index.html").is_file() and (BOOK / "book" / "index.html").is_file()
    assert seconds < 300, f"make book took {seconds:.0f} s"


def test_every_page_is_built_and_in_the_navigation(built_book):
    nav = (BOOK / "book" / "index.html").read_text(encoding="utf-8")
    for name in PAGES:
        assert (BOOK / f"{name}.html").is_file(), f"{name}: no page built"
        if name != "book/index":
            assert f'href="../{name}.html"' in nav, f"{name}: not in the book's navigation"
    assert 'url=book/index.html' in (BOOK / "index.html").read_text(encoding="utf-8")


REMOTE = re.compile(r'\b(?:src|href)="(?:https?:)?//')
FETCHED_LINK = re.compile(r'\brel="[^"]*\b(?:stylesheet|preload|modulepreload|prefetch|icon)\b')


def test_pages_reference_nothing_remote(built_book):
    """No script, style sheet, font or image from outside (plain links to other sites are fine)."""
    offenders = []
    for page in BOOK.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|img|iframe|source|link)\b[^>]*>", text):
            if REMOTE.search(tag) and (not tag.startswith("<link") or FETCHED_LINK.search(tag)):
                offenders.append(f"{page.relative_to(BOOK)}: {tag}")
        offenders += [f"{page.relative_to(BOOK)}: {u}" for u in re.findall(r"url\(['\"]?https?://[^)]*\)", text)]
    for sheet in BOOK.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{sheet.relative_to(BOOK)}: {u}" for u in re.findall(r"url\(['\"]?https?://[^)]*\)", text)]
    assert not offenders, "remote resources:\n" + "\n".join(offenders)


# ---- Chromium over the DevTools protocol ----------------------------------------------------------------

def _above_4(fd: int) -> int:
    """The same pipe end on a descriptor >= 10, so moving it to 3 or 4 in the child clobbers nothing."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Chromium:
    """Headless Chromium driven over `--remote-debugging-pipe` (JSON messages ending in NUL on fds 3/4)."""

    def __init__(self, executable: str, profile: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        to_browser_r, from_browser_w = _above_4(to_browser_r), _above_4(from_browser_w)
        args = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps", "--hide-scrollbars",
                "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "--remote-debugging-pipe", "about:blank"]
        # the browser reads commands on fd 3 and writes replies on fd 4: bash moves the pipe ends there
        move = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self.proc = subprocess.Popen(_offline_prefix() + ["bash", "-c", move, "chromium", *args],
                                     pass_fds=(to_browser_r, from_browser_w),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer, self._next_id, self.events, self.session = b"", 0, [], None
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for i, seen in enumerate(self.events):
            if seen["method"] == event:
                return self.events.pop(i)
        while True:
            reply = self._read(deadline)
            if reply.get("method") == event:
                return reply
            if "method" in reply:
                self.events.append(reply)

    def open(self, page: Path):
        """Navigate to a built page and wait for its load event (the events list restarts)."""
        self.events.clear()
        navigation = self.send("Page.navigate", {"url": page.as_uri()})
        assert "errorText" not in navigation, f"{page}: {navigation['errorText']}"
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


# what the page shows, read from its DOM once it has loaded and MathJax has finished
PROBE = """(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  return {
    title: document.title,
    h1: [...document.querySelectorAll('h1')].map(h => h.textContent.replace(/[#\\u00b6]/g, '').trim()),
    text: document.body.innerText.length,
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, complete: i.complete,
                                            width: i.naturalWidth, shown: shown(i),
                                            content: !!i.closest('article')})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    math: document.querySelectorAll('.math').length,
    typeset: document.querySelectorAll('mjx-container').length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
  };
})()"""


def _browser_or_skip() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    reason = "no Chromium on this machine (apt-get install chromium; .ci/run installs it)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, but {REQUIRE_ENV}=1 requires the browser test")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(built_book, tmp_path_factory):
    chromium = Chromium(_browser_or_skip(), tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def visit(browser):
    """Open a built page (by docname) in Chromium; the DOM probe and the events it caused, cached."""
    seen = {}

    def open_page(name: str) -> dict:
        if name not in seen:
            path = BOOK / f"{name}.html"
            assert path.is_file(), f"{name}: not built"
            browser.open(path)
            probe = browser.evaluate(PROBE)
            time.sleep(0.2)  # let late events (a font, a lazy script) arrive
            browser.send("Runtime.evaluate", {"expression": "1"})  # drains the pipe into browser.events
            seen[name] = {"probe": probe, "events": list(browser.events)}
        return seen[name]

    return open_page


@cache
def _ids(page: Path) -> frozenset[str]:
    text = page.read_text(encoding="utf-8", errors="replace")
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def _broken_links(links: list[str]) -> list[str]:
    broken = []
    for href in links:
        parts = urlsplit(href)
        if parts.scheme != "file":
            continue  # http(s), mailto: outside the book, not checked offline
        target = Path(unquote(parts.path))
        if not target.is_relative_to(BOOK):
            broken.append(f"{href} (outside the built site)")
        elif not target.is_file():
            broken.append(f"{href} (no such file)")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids(target):
            broken.append(f"{href} (no anchor #{parts.fragment})")
    return broken


@pytest.mark.parametrize("name", list(PAGES) + OTHER_PAGES)
def test_page_works_in_chromium(visit, name):
    page = visit(name)
    probe, events = page["probe"], page["events"]
    assert probe["text"] > 200, f"{name}: almost no text shown ({probe['text']} characters)"
    assert probe["title"], f"{name}: no title"
    if name in PAGES:  # Sphinx's search page has no heading
        assert probe["h1"] and probe["h1"][0] in probe["title"], f"{name}: title {probe['title']!r}, h1 {probe['h1']}"
    errors = [e["params"]["exceptionDetails"].get("exception", {}).get("description", e["params"]["exceptionDetails"]["text"])
              for e in events if e["method"] == "Runtime.exceptionThrown"]
    assert not errors, f"{name}: script errors: {errors}"
    remote = sorted({e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
                     and not e["params"]["request"]["url"].startswith(("file:", "data:", "about:", "blob:"))})
    assert not remote, f"{name}: requests outside the site: {remote}"
    failed = [e["params"] for e in events if e["method"] == "Network.loadingFailed" and not e["params"].get("canceled")]
    assert not failed, f"{name}: failed loads: {failed}"
    hidden = [i["src"] for i in probe["images"] if not (i["complete"] and i["width"] > 0 and i["shown"])]
    assert not hidden, f"{name}: images not shown: {hidden}"
    figures = sum(i["content"] for i in probe["images"])
    expected = _expected_figures(PAGES[name]) if name in PAGES else 0
    assert figures >= expected, f"{name}: {figures} figures shown, the source has {expected}"
    if probe["math"]:
        assert probe["typeset"] >= probe["math"] and not probe["mathErrors"], (
            f"{name}: MathJax typeset {probe['typeset']} of {probe['math']} formulas, {probe['mathErrors']} errors")
    broken = _broken_links(probe["links"])
    assert not broken, f"{name}: broken internal links:\n" + "\n".join(broken)


def test_the_notebooks_show_their_figures_and_math(visit):
    """Guards the generic checks above against passing vacuously (no images or no math anywhere)."""
    assert sum(sum(i["content"] for i in visit(n)["probe"]["images"]) for n in PAGES if n.startswith("notebooks/")) >= 10
    assert visit("notebooks/01_mdp_ambiguity")["probe"]["typeset"] > 0, "no formula typeset in notebook 01"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", data[16:24])


# scroll (at once, not smoothly) to the heading above the page's first figure, then wait for two frames
SCROLL_TO_FIRST_FIGURE = """(async () => {
  const figure = document.querySelector('article img');
  if (!figure) return false;
  const above = [...document.querySelectorAll('article h2, article h3')]
    .filter(h => h.getBoundingClientRect().top < figure.getBoundingClientRect().top);
  const anchor = above.length ? above[above.length - 1] : figure;
  window.scrollTo({top: anchor.getBoundingClientRect().top + window.scrollY - 16, behavior: 'instant'});
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return true;
})()"""


def test_screenshot_of_notebook_05(browser, built_book):
    from PIL import Image

    browser.open(BOOK / f"{SHOT_PAGE}.html")
    assert browser.evaluate(SCROLL_TO_FIRST_FIGURE), f"{SHOT_PAGE}: no figure to show"
    png = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"})["data"])
    assert _png_size(png) == WINDOW
    # 128 colours without dithering: the same look at about a third of the bytes (about 80 kB)
    SHOT_BUILT.parent.mkdir(parents=True, exist_ok=True)
    tmp = SHOT_BUILT.with_suffix(".tmp")
    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT,
                                      dither=Image.Dither.NONE).save(tmp, format="PNG", optimize=True)
    tmp.replace(SHOT_BUILT)
    # the main column (right of the sidebar) must show something: text, code and a figure, not a blank page
    with Image.open(SHOT_BUILT) as image:
        column = image.convert("L").crop((WINDOW[0] // 3, 0, WINDOW[0], WINDOW[1]))
        inked = sum(column.point(lambda v: 255 if v < 200 else 0).histogram()[255:])
    assert inked > 0.05 * column.width * column.height, f"the screenshot's main column is nearly blank ({inked} px)"
    committed = SHOT_COMMITTED.read_bytes()
    assert _png_size(committed) == WINDOW, "docs/book_screenshot.png is not a 1280x900 screenshot"
    assert len(committed) < 200_000, "docs/book_screenshot.png should stay small"
