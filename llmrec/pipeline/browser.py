"""Open a report in a real headless Chromium: does it load, do its images render, do links resolve?

Chromium comes from the system (Debian's ``chromium`` package, or ``$LLMREC_CHROMIUM``). The check
loads a copy of the page with a small probe script appended, lets it run, and reads the verdict
back from the DOM that Chromium dumps.

Example:
    >>> from llmrec.pipeline.browser import check_page, find_chromium
    >>> if find_chromium():  # doctest: +SKIP
    ...     verdict = check_page("demo-out/report.html")
    ...     assert verdict["broken_images"] == [] and verdict["broken_links"] == []
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_PROBE = """
<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                   .map(function (i) { return (i.alt || i.src).slice(0, 80); });
  var links = Array.from(document.querySelectorAll('a[href]'));
  var badLinks = links.filter(function (a) {
    var h = a.getAttribute('href');
    if (h.startsWith('#')) { return h.length > 1 && !document.getElementById(h.slice(1)); }
    return !(h.startsWith('http://') || h.startsWith('https://') || h.startsWith('mailto:'));
  }).map(function (a) { return a.getAttribute('href'); });
  var width = document.documentElement.clientWidth;
  var wide = Array.from(document.body.querySelectorAll('*')).filter(function (e) {
    var r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > width + 1 || r.left < -1);
  }).map(function (e) { return e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''); });
  var out = document.createElement('pre');
  out.id = 'llmrec-probe';
  out.textContent = JSON.stringify({
    title: document.title, images: imgs.length, broken_images: broken,
    links: links.length, broken_links: badLinks,
    tables: document.querySelectorAll('table').length,
    too_wide: wide.slice(0, 20), page_width: document.documentElement.scrollWidth,
    viewport_width: width,
    text_chars: document.body.innerText.length
  });
  document.body.appendChild(out);
});
</script>
"""

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
]


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    env = os.environ.get("LLMREC_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("no Chromium found: apt-get install chromium, or set LLMREC_CHROMIUM")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [binary, *_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def check_page(html_path: str | Path, timeout: float = 60.0) -> dict:
    """Load ``html_path`` in headless Chromium and report images and links.

    Returns a dict with ``title``, ``images``, ``broken_images``, ``links``, ``broken_links``,
    ``tables``, ``text_chars``, ``too_wide`` (elements reaching past the viewport),
    ``page_width`` and ``viewport_width`` as the browser saw them. Relative links are resolved against the
    page's folder: a link to a missing file counts as broken.
    """
    html_path = Path(html_path).resolve()
    page = html_path.read_text(encoding="utf-8")
    missing_files = [
        href
        for href in re.findall(r'<a[^>]+href="([^"#:][^"]*)"', page)
        if not (html_path.parent / href).exists()
    ]
    probed = page.replace("</body>", _PROBE + "</body>") if "</body>" in page else page + _PROBE
    with tempfile.NamedTemporaryFile(
        "w", suffix=".html", dir=html_path.parent, delete=False, encoding="utf-8"
    ) as handle:
        handle.write(probed)
        probe_path = Path(handle.name)
    try:
        result = _chromium(
            ["--virtual-time-budget=5000", "--dump-dom", probe_path.as_uri()], timeout
        )
    finally:
        probe_path.unlink(missing_ok=True)
    match = re.search(r'<pre id="llmrec-probe">(.*?)</pre>', result.stdout, re.S)
    if not match:
        raise RuntimeError(
            f"Chromium did not run the page probe for {html_path} (exit {result.returncode}): "
            f"{result.stderr.strip()[-400:]}"
        )
    import html as html_lib

    verdict = json.loads(html_lib.unescape(match.group(1)))
    # Links to files next to the report are fine when the file exists; the probe cannot see that.
    verdict["broken_links"] = [
        h for h in verdict["broken_links"] if h in missing_files or h.startswith("#")
    ]
    return verdict


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1280, height: int = 2000):
    """Save a PNG screenshot of the page (used for the README's picture of the report)."""
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    result = _chromium(
        [
            f"--window-size={width},{height}",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
            f"--screenshot={png_path}",
            Path(html_path).resolve().as_uri(),
        ],
        timeout=90,
    )
    if not png_path.is_file():
        raise RuntimeError(f"Chromium made no screenshot (exit {result.returncode})")
    return png_path
