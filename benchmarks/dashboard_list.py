"""The dashboard's experiment list at 100,000 experiments: time to the first rendered list in headless
Chromium, and to the pages after a click (next page, sort by a config key, a filter).

    python benchmarks/dashboard_list.py                    # 100,000 experiments, 5 rounds
    python benchmarks/dashboard_list.py --count 10000 --rounds 3
    python benchmarks/dashboard_list.py --src /elsewhere/src  # another checkout, e.g. before a change

Run on demand (not part of the tests; tests/test_ui_list.py drives the same page at 2,000). The
experiments are committed one by one through the public API (`get(...).commit()`) the first time,
into a storage cached under /tmp (--cache) and reused while it holds --count experiments. The
dashboard is `machinable ui --port 0` in its own process; Chromium is Debian's (/usr/bin/chromium, or
MACHINABLE_CHROMIUM) driven by Playwright. "first list" is measured inside the page: from the start
of the navigation (performance.now() = 0) to the moment the table shows its rows and "rows 1–50 of N"
— the HTML, the scripts, the API answer and the rendering. The clicks are timed from the click to the
next rendered page. Also printed: the API's answer alone (urllib, no browser). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
CHROMIUM = os.environ.get("MACHINABLE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

SWEEP = '''
from dataclasses import dataclass

from machinable import Experiment


class Sweep(Experiment):
    @dataclass
    class Config:
        lr: float = 0.1
        layers: int = 2
        name: str = "run"
'''

POPULATE = '''
import sys, time
from machinable import get

storage, start, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
began = time.time()
with get("machinable.storage.filesystem", {"directory": storage}):
    for i in range(start, count):
        get("sweep", {"lr": round((i * 7919 % count) / count, 6), "layers": i % 7, "name": f"run{i}"}).commit()
        if (i + 1) % 10000 == 0:
            print(f"  {i + 1} committed ({time.time() - began:.0f} s)", flush=True)
'''

COUNT = """
import sys
from machinable.storage.filesystem import Filesystem
print(Filesystem({"directory": sys.argv[1]}).index.count())
"""

SCHEMA = "from machinable.storage.index import SCHEMA_VERSION; print(SCHEMA_VERSION)"


def run_python(code: str, *args, cwd: str, src: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=cwd, check=True,
                          env={**os.environ, "PYTHONPATH": src}, **kwargs)


def populate(cache: str, count: int, src: str) -> str:
    """The cached storage holding `count` experiments of module `sweep` (committed now if missing)."""
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "sweep.py"), "w") as f:
        f.write(textwrap.dedent(SWEEP))
    schema = run_python(SCHEMA, cwd=cache, src=src, capture_output=True, text=True).stdout.strip()
    storage = os.path.join(cache, f"storage-{count}-index{schema}")  # a cache per index schema
    stored = 0
    if os.path.exists(os.path.join(storage, "index.sqlite")):
        stored = int(run_python(COUNT, storage, cwd=cache, src=src, capture_output=True, text=True).stdout)
    if stored < count:
        print(f"committing experiments {stored}..{count} into {storage} (cached for the next runs)", flush=True)
        began = time.time()
        run_python(POPULATE, storage, str(stored), str(count), cwd=cache, src=src)
        print(f"  done in {time.time() - began:.0f} s", flush=True)
    elif stored > count:
        raise SystemExit(f"{storage} holds {stored} experiments, more than --count {count}; remove it.")
    return storage


def start_dashboard(storage: str, cwd: str, src: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "machinable", "--storage", storage, "ui", "--port", "0"],
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONPATH": src})
    deadline, seen = time.time() + 60, ""
    while time.time() < deadline and process.poll() is None:
        if select.select([process.stdout], [], [], 0.2)[0]:
            line = process.stdout.readline()
            seen += line
            match = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if match:
                return process, match.group(0)
    stop(process)
    raise SystemExit(f"`machinable ui` printed no URL: {seen}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout:
        process.stdout.close()


RENDERED = """([text, sorted]) => {
    const range = document.querySelector('#page-range');
    const row = document.querySelector('#experiments tbody tr[data-id]');
    const header = sorted && document.querySelector(`th[data-sort="${sorted[0]}"]`);
    return range && range.textContent === text && row && !document.querySelector('#main').dataset.loading
        && (!sorted || (header && header.getAttribute('aria-sort') === sorted[1]));
}"""


def timed(page, action: str, text: str, sorted_by=None, timeout: float = 120) -> float:
    """Milliseconds from clicking `action` (or, for "fill:#input=text", pressing Enter in the input
    filled with the text) to the rendered page showing `text` as its range (and sorted as `sorted_by`,
    [column, "ascending" | "descending"], if given)."""
    if action.startswith("fill:"):
        name, value = action[5:].split("=", 1)
        page.fill(name, value)
        began = page.evaluate("() => performance.now()")
        page.press(name, "Enter")
    else:
        began = page.evaluate("() => performance.now()")
        page.click(action)
    page.wait_for_function(RENDERED, arg=[text, sorted_by], polling="raf", timeout=timeout * 1000)
    return page.evaluate("() => performance.now()") - began


def one_round(browser, url: str, total: str, steps: list, found: dict, stuck: set, step_timeout: float) -> float:
    """A fresh tab through `steps` (timings into `found`); returns the ms to its first rendered list."""
    from playwright.sync_api import TimeoutError

    context = browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(step_timeout * 1000)
        page.goto(url, wait_until="commit")
        page.wait_for_function(RENDERED, arg=[f"rows 1–50 of {total}", None], polling="raf", timeout=120_000)
        first = page.evaluate("() => performance.now()")
        for name, action, text, sorted_by in steps:
            if name in stuck:
                break
            try:
                found[name].append(timed(page, action, text, sorted_by, step_timeout))
            except TimeoutError:
                found[name].append(None)
                stuck.add(name)
                print(f"  {name}: no page within {step_timeout:.0f} s; skipped from here on", flush=True)
                break
        return first
    finally:
        context.close()


def measure(url: str, count: int, rounds: int, step_timeout: float) -> dict:
    """Milliseconds per step and round; a step that does not finish within `step_timeout` seconds is
    recorded as None, and the steps after it in its round (and it in later rounds) are skipped."""
    from playwright.sync_api import sync_playwright

    total = f"{count:,}"
    layers3 = sum(1 for i in range(count) if i % 7 == 3)
    quarter = sum(1 for i in range(count) if 0.25 <= round((i * 7919 % count) / count, 6) < 0.5)
    header = 'th[data-sort="lr"] button'
    phases = [  # (name, action, range text, sorted by), in order, each on the page the one before left;
        [       # sorting last: a query that does not finish would slow the server down for the rest
            ("next page", "#page-next", f"rows 51–100 of {total}", None),
            ("filter layers=3", "fill:#filter-where=layers=3", f"rows 1–50 of {layers3:,}", None),
            ("filter lr>=0.25 lr<0.5", "fill:#filter-where=lr>=0.25 lr<0.5", f"rows 1–50 of {quarter:,}", None),
            ("no filter", "fill:#filter-where=", f"rows 1–50 of {total}", None),
        ], [
            ("sort by lr", header, f"rows 1–50 of {total}", ["lr", "ascending"]),
            ("sort by lr, descending", header, f"rows 1–50 of {total}", ["lr", "descending"]),
            ("filter layers=3, sorted by -lr", "fill:#filter-where=layers=3", f"rows 1–50 of {layers3:,}",
             ["lr", "descending"]),
        ],
    ]
    found: dict = {"first list": [], **{name: [] for steps in phases for name, *_ in steps}}
    stuck: set = set()
    api_ms = []
    for _ in range(rounds):
        began = time.perf_counter()
        with urllib.request.urlopen(url + "api/experiments?limit=50", timeout=120) as response:
            data = json.load(response)
        api_ms.append((time.perf_counter() - began) * 1000)
        assert data["total"] == count, data["total"]
    with sync_playwright() as manager:
        browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for number, steps in enumerate(phases):
                for _ in range(rounds):
                    first = one_round(browser, url, total, steps, found, stuck, step_timeout)
                    if number == 0:
                        found["first list"].append(first)
        finally:
            browser.close()
    found["API /api/experiments alone"] = api_ms
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "machinable-dashboard-list"))
    parser.add_argument("--step-timeout", type=float, default=60, help="seconds a step may take (default 60)")
    parser.add_argument("--src", default=SRC, help="the machinable source to measure (default: this checkout's)")
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"Needs Chromium at {CHROMIUM} (apt-get install chromium) and `pip install playwright`.")
    storage = populate(args.cache, args.count, args.src)
    server, url = start_dashboard(storage, args.cache, args.src)
    try:
        found = measure(url, args.count, args.rounds, args.step_timeout)
    finally:
        stop(server)
    print(f"\nDashboard list at {args.count:,} experiments ({args.rounds} rounds; ms; source {args.src})\n")
    print("| measurement | first round | median | min | max |")
    print("|---|---:|---:|---:|---:|")
    for name, values in found.items():
        done = [value for value in values if value is not None]
        if not values:
            print(f"| {name} | not measured: a step before it had no page | | | |")
            continue
        if not done:
            print(f"| {name} | > {args.step_timeout * 1000:.0f} (no page) | | | |")
            continue
        cells = [f"{values[0]:.0f}" if values[0] is not None else f"> {args.step_timeout * 1000:.0f}",
                 *(f"{f(done):.0f}" for f in (statistics.median, min, max))]
        print(f"| {name} | {' | '.join(cells)} |" + (f" ({len(done)} of {len(values)} rounds)" if len(done) < len(values) else ""))


if __name__ == "__main__":
    main()
