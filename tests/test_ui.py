"""The dashboard (`machinable ui`): a real server process, driven in a real headless Chromium.

One storage is built once per module: finished experiments with records and data
files, a failed one, one still running (a child process that keeps printing), one
whose process was killed, a committed one, an ancestor/derived pair and one created a
month ago. `machinable ui --port 0` serves it; Playwright drives Debian's Chromium
(`apt-get install chromium`, `pip install playwright`; no `playwright install`).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest

CHROMIUM = os.environ.get("MACHINABLE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
STATIC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "machinable", "ui", "static")

COUNTER = '''
from dataclasses import dataclass, field

from machinable import Experiment


@dataclass
class Model:
    lr: float = 0.01
    layers: int = 2


class Counter(Experiment):
    @dataclass
    class Config:
        steps: int = 3
        rate: float = 0.5
        name: str = "run"
        model: Model = field(default_factory=Model)

    def on_execute(self):
        for i in range(self.config.steps):
            print(f"counter step {i}")
            self.record().save(step=i, loss=self.config.rate / (i + 1), label=f"s{i}")
        self.record("eval").save(accuracy=0.9)
        self.record("eval").save(accuracy=0.95)
        self.save_data("summary.json", {"steps": self.config.steps})
        self.save_data("notes.txt", "all good")
'''

BROKEN = '''
from machinable import Experiment


class Broken(Experiment):
    def on_execute(self):
        print("about to fail")
        self.record().save(step=0, loss=1.0)
        raise RuntimeError("the simulation diverged")
'''

SLOW = '''
import os
import time
from dataclasses import dataclass

from machinable import Experiment


class Slow(Experiment):
    @dataclass
    class Config:
        stop_file: str = ""
        interval: float = 0.2

    def on_execute(self):
        for i in range(1500):
            if os.path.exists(self.config.stop_file):
                break
            print(f"tick {i}", flush=True)
            self.record().save(tick=i, value=i * i)
            time.sleep(self.config.interval)
'''

SETUP = '''
import json, os, pickle, sys
from machinable import get

storage, marker = sys.argv[1:3]


class Evil:
    """Unpickling this creates `marker`: the dashboard must never unpickle."""

    def __reduce__(self):
        return (open, (marker, "w"))


with get("machinable.storage.filesystem", {"directory": storage}):
    a = get("counter").launch()
    b = get("counter", {"steps": 5, "rate": 0.1}).launch()
    parent = get("counter", {"steps": 2, "name": "parent"}).launch()
    child = parent.derive(version={"steps": 4, "name": "child"}).launch()
    old = get("counter", {"steps": 1, "name": "old"})
    old.timestamp -= 40 * 86400  # created a month ago, so in another group
    old.launch()
    committed = get("counter", {"steps": 7}).commit()
    broken = get("broken")
    try:
        broken.launch()
    except Exception:
        pass
    with open(a.local_directory("data", "evil.pkl"), "wb") as f:
        f.write(pickle.dumps(Evil()))
    with open(a.local_directory("secret.txt"), "w") as f:
        f.write("TOP-SECRET")
    os.symlink(a.local_directory("secret.txt"), a.local_directory("data", "link.txt"))
    print(json.dumps({
        "a": a.experiment_id, "b": b.experiment_id, "parent": parent.experiment_id, "child": child.experiment_id,
        "old": old.experiment_id, "committed": committed.experiment_id, "broken": broken.experiment_id,
        "seed_a": a.seed, "old_group": old._metadata["group"], "group": a._metadata["group"],
    }))
'''

RUN_SLOW = '''
import os, sys
from machinable import get

storage, stop_file, id_file = sys.argv[1:4]
with get("machinable.storage.filesystem", {"directory": storage}):
    experiment = get("slow", {"stop_file": stop_file}).commit()
    with open(id_file + ".tmp", "w") as f:
        f.write(experiment.experiment_id)
    os.replace(id_file + ".tmp", id_file)
    experiment.launch()
'''

STATUSES = '''
import json, sys
from machinable import find, get

with get("machinable.storage.filesystem", {"directory": sys.argv[1]}):
    print(json.dumps([[e.experiment_id, e.status] for e in find()]))
'''


@dataclass
class World:
    url: str
    project: str
    storage: str
    ids: dict
    marker: str
    statuses: dict = field(default_factory=dict)  # id -> status word from the Python API
    order: list = field(default_factory=list)  # ids, newest first, as find() returns them
    server_log: str = ""  # the server's stderr


def python(project: str, code: str, *args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=project,
                            capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, result.stderr
    return result


def start_slow(project: str, storage: str, name: str) -> tuple[subprocess.Popen, str]:
    """A child process running a Slow experiment; returns it and the experiment's id once it prints."""
    id_file = os.path.join(project, name + ".id")
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_SLOW, storage, os.path.join(project, name + ".stop"), id_file],
        cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    return process, id_file


def wait_running(storage: str, id_file: str, process: subprocess.Popen) -> str:
    deadline = time.time() + 30
    while time.time() < deadline:
        assert process.poll() is None, "the running experiment's process exited early"
        if os.path.exists(id_file):
            experiment_id = open(id_file).read()
            logs = [os.path.join(storage, group, experiment_id, "output.log") for group in os.listdir(storage)]
            if any(os.path.exists(log) and os.path.getsize(log) > 0 for log in logs):
                return experiment_id
        time.sleep(0.05)
    raise AssertionError("the slow experiment did not start within 30 s")


def read_url(process: subprocess.Popen, timeout: float = 30) -> str:
    deadline = time.time() + timeout
    seen = ""
    while time.time() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            seen += line
            match = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if match:
                return match.group(0)
        if process.poll() is not None:
            break
    raise AssertionError(f"`machinable ui` printed no URL; output:\n{seen}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def world():
    root = tempfile.mkdtemp(prefix="machinable-ui-")
    processes = []
    try:
        project, storage = os.path.join(root, "project"), os.path.join(root, "project", "storage")
        os.makedirs(project)
        for name, source in (("counter", COUNTER), ("broken", BROKEN), ("slow", SLOW)):
            with open(os.path.join(project, name + ".py"), "w") as f:
                f.write(source)
        marker = os.path.join(root, "unpickled")
        ids = json.loads(python(project, SETUP, storage, marker).stdout.strip().splitlines()[-1])

        running, running_id = start_slow(project, storage, "running")
        killed, killed_id = start_slow(project, storage, "killed")
        processes += [running, killed]
        ids["running"] = wait_running(storage, running_id, running)
        ids["died"] = wait_running(storage, killed_id, killed)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()

        listed = json.loads(python(project, STATUSES, storage).stdout)
        server_log = open(os.path.join(root, "server.log"), "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "machinable", "--storage", storage, "ui", "--port", "0"],
            cwd=project, stdout=subprocess.PIPE, stderr=server_log, text=True,
        )
        server_log.close()
        processes.append(server)
        world = World(url=read_url(server), project=project, storage=storage, ids=ids, marker=marker,
                      statuses=dict(listed), order=[experiment_id for experiment_id, _ in listed],
                      server_log=os.path.join(root, "server.log"))
        yield world
    finally:
        for name in ("running", "killed"):
            open(os.path.join(root, "project", name + ".stop"), "w").close()
        for process in processes:
            if process is processes[0]:
                try:
                    process.wait(10)  # it sees the stop file and finishes
                except subprocess.TimeoutExpired:
                    pass
            stop(process)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The dashboard tests need Playwright: pip install playwright (then apt-get install chromium).")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"The dashboard tests need Chromium at {CHROMIUM}: apt-get install -y chromium "
                    "(or set MACHINABLE_CHROMIUM).")
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        manager.stop()


@pytest.fixture
def page(browser, world):
    """A fresh tab; afterwards, no script error happened and nothing but the dashboard was requested."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors, requests = [], []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error"
           and not message.text.startswith("Failed to load resource") else None)
    tab.on("request", lambda request: requests.append(request.url))
    yield tab
    context.close()
    assert not errors, errors
    assert requests and all(url.startswith(world.url) for url in requests), requests


# --- helpers ------------------------------------------------------------------------------


def rows(tab) -> list[str]:
    return tab.eval_on_selector_all("#experiments tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)")


def expect_rows(tab, expected) -> None:
    """Wait until the list shows exactly these experiment ids."""
    try:
        tab.wait_for_function(
            """(expected) => {
                const ids = [...document.querySelectorAll('#experiments tbody tr[data-id]')].map(r => r.dataset.id);
                return JSON.stringify(ids.sort()) === JSON.stringify(expected);
            }""",
            arg=sorted(expected), timeout=8_000,
        )
    except Exception:
        raise AssertionError(f"list shows {sorted(rows(tab))}, expected {sorted(expected)}") from None


def texts(tab, selector: str) -> list[str]:
    return tab.eval_on_selector_all(selector, "nodes => nodes.map(n => n.textContent)")


def attributes(tab, selector: str, name: str) -> list[str]:
    return tab.eval_on_selector_all(selector, f"nodes => nodes.map(n => n.getAttribute('{name}'))")


def get(world, path: str, method: str = "GET", headers=None, body=None) -> tuple[int, dict, bytes]:
    """A raw request (the path is sent exactly as written, nothing normalized)."""
    host, port = world.url.split("//")[1].rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def snapshot(directory: str) -> list:
    """Every file below `directory` with its size and modification time."""
    found = []
    for current, _, files in os.walk(directory):
        for name in files:
            stat = os.lstat(os.path.join(current, name))
            found.append((os.path.join(current, name), stat.st_size, stat.st_mtime_ns))
    return sorted(found)


def api(world, path: str):
    status, _, body = get(world, path)
    return status, json.loads(body)


# --- the list -----------------------------------------------------------------------------


def test_list_shows_every_experiment_with_the_python_status_word(page, world):
    page.goto(world.url)
    expect_rows(page, world.statuses)
    assert rows(page) == world.order  # newest first, as find() returns them
    shown = dict(zip(rows(page), texts(page, "#experiments tbody tr[data-id] .status")))
    assert shown == world.statuses
    assert set(shown.values()) == {"committed", "running", "finished", "failed", "died"}
    ids = world.ids
    for name, word in (("a", "finished"), ("broken", "failed"), ("running", "running"), ("died", "died"),
                       ("committed", "committed")):
        assert shown[ids[name]] == word, name
    row = page.locator(f'tr[data-id="{ids["b"]}"]')
    assert row.locator("td.module").text_content() == "counter"
    config = dict(zip(attributes(page, f'tr[data-id="{ids["b"]}"] td.config-value', "data-key"),
                      texts(page, f'tr[data-id="{ids["b"]}"] td.config-value')))
    assert {"steps": "5", "rate": "0.1", "name": "run", "model.lr": "0.01"}.items() <= config.items()
    assert re.search(r"just now|seconds? ago|minutes? ago", row.locator("td.created").text_content())
    assert "month ago" in page.locator(f'tr[data-id="{ids["old"]}"] td.created').text_content()
    assert f"{len(world.statuses)} of {len(world.statuses)} experiments" in page.text_content("#list-summary")


def test_filters_narrow_the_list(page, world):
    ids = world.ids
    everything = set(world.statuses)
    counters = {ids[n] for n in ("a", "b", "parent", "child", "old", "committed")}
    page.goto(world.url)
    expect_rows(page, everything)

    page.select_option("#filter-status", "failed")
    expect_rows(page, [ids["broken"]])
    assert page.url.endswith("#/?status=failed")  # the filters are in the address
    page.select_option("#filter-status", "running")
    expect_rows(page, [ids["running"]])
    page.select_option("#filter-status", "")
    page.select_option("#filter-module", "slow")
    expect_rows(page, [ids["running"], ids["died"]])
    page.select_option("#filter-module", "counter")
    expect_rows(page, counters)

    page.fill("#filter-where", "steps=5")
    expect_rows(page, [ids["b"]])
    page.fill("#filter-where", "rate=0.1 steps=5.0")
    expect_rows(page, [ids["b"]])
    page.fill("#filter-where", "name=child")
    expect_rows(page, [ids["child"]])
    page.fill("#filter-where", "model.lr=0.01 name=parent")
    expect_rows(page, [ids["parent"]])
    page.fill("#filter-where", "steps>=5 steps<7")  # the condition language of find() and the CLI
    expect_rows(page, [ids["b"]])
    page.fill("#filter-where", "steps>4 or name=child")
    expect_rows(page, [ids["committed"], ids["child"], ids["b"]])
    page.fill("#filter-where", "steps=99")
    page.wait_for_selector("#no-experiments")
    assert rows(page) == []
    page.fill("#filter-where", "steps")
    page.wait_for_selector("#list-error")
    assert "expected an operator after 'steps'" in page.text_content("#list-error")
    page.fill("#filter-where", "")
    page.wait_for_selector("#list-error", state="detached")
    expect_rows(page, counters)

    page.select_option("#filter-group", world.ids["old_group"])
    expect_rows(page, [ids["old"]])
    page.select_option("#filter-group", "")
    page.select_option("#filter-within", "604800")  # last 7 days
    expect_rows(page, counters - {ids["old"]})
    page.select_option("#filter-within", "")
    page.fill("#filter-to", time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 20 * 86400)))
    expect_rows(page, [ids["old"]])
    page.fill("#filter-to", "")
    page.fill("#filter-from", time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 20 * 86400)))
    expect_rows(page, counters - {ids["old"]})
    page.fill("#filter-from", "")
    page.select_option("#filter-module", "")
    expect_rows(page, everything)

    page.fill("#filter-q", "name=chi")
    expect_rows(page, [ids["child"]])
    page.fill("#filter-q", ids["b"])
    expect_rows(page, [ids["b"]])

    page.goto(world.url + "#/?module=counter&status=committed")  # a shared link keeps its filters
    page.reload()
    expect_rows(page, [ids["committed"]])
    assert page.eval_on_selector("#filter-status", "s => s.value") == "committed"


# --- one experiment -----------------------------------------------------------------------


def test_experiment_page_shows_config_timeline_records_plots_and_files(page, world):
    a = world.ids["a"]
    page.goto(f"{world.url}#/experiment/{a}")
    page.wait_for_selector("#plots svg.plot")
    assert page.text_content("h1 .status") == "finished"
    assert page.text_content("#experiment-id") == a
    assert page.text_content("#seed") == str(world.ids["seed_a"])
    assert page.text_content("#versions") == "[]"
    config = dict(zip(attributes(page, "#config-table tr", "data-key"), texts(page, "#config-table tr .value")))
    assert config == {"steps": "3", "rate": "0.5", "name": "run", "model.lr": "0.01", "model.layers": "2"}
    assert attributes(page, "#timeline li", "data-event") == ["created", "started", "heartbeat", "finished"]
    page.wait_for_selector("#output-log:has-text('counter step 2')")  # output and records load concurrently

    # records: 3 rows; numeric columns plotted against the step, one point per row
    assert page.locator("#records-table tbody tr").count() == 3
    assert texts(page, "#records-table thead th") == ["#", "time", "step", "loss", "label"]
    assert attributes(page, "#plots svg.plot", "data-column") == ["loss"]  # label is text, step is the x axis
    loss = page.locator('#plots svg[data-column="loss"]')
    path = loss.locator("path.series")
    assert path.count() == 1 and path.get_attribute("data-points") == "3"
    assert re.fullmatch(r"M\S+ \S+ L\S+ \S+ L\S+ \S+", path.get_attribute("d"))
    assert loss.locator("circle.point").count() == 3
    page.select_option("#x-axis", "")  # against the row index: step becomes a plot of its own
    page.wait_for_selector('#plots svg[data-column="step"]')
    assert attributes(page, "#plots svg.plot", "data-column") == ["step", "loss"]
    page.select_option("#scope", "eval")
    page.wait_for_selector('#plots svg[data-column="accuracy"]')
    assert page.get_attribute('#plots svg[data-column="accuracy"] path.series', "data-points") == "2"
    assert page.locator("#records-table tbody tr").count() == 2

    # data files: names and sizes; the symlink that leads out of data/ is not offered
    names = attributes(page, "#data-table tr", "data-name")
    assert names == ["evil.pkl", "notes.txt", "summary.json"]
    directory = next(os.path.join(world.storage, g, a) for g in os.listdir(world.storage)
                     if os.path.isdir(os.path.join(world.storage, g, a)))
    sizes = attributes(page, "#data-table td.size", "title")
    assert sizes == [f"{os.path.getsize(os.path.join(directory, 'data', n))} bytes" for n in names]
    href = page.get_attribute('#data-table tr[data-name="summary.json"] a', "href")
    status, headers, body = get(world, href)
    assert status == 200 and headers["Content-Type"].startswith("text/plain") and json.loads(body) == {"steps": 3}

    executions = page.locator("#executions-table tbody tr")
    assert executions.count() == 1
    assert "machinable.execution.local" in executions.text_content()
    assert "Ancestor: none" in page.text_content("#ancestor")
    assert "Derived: none" in page.text_content("#derived")


def test_failed_experiment_shows_its_error(page, world):
    page.goto(f"{world.url}#/experiment/{world.ids['broken']}")
    page.wait_for_selector("#failure")
    assert page.text_content("h1 .status") == "failed"
    assert page.text_content("#failure") == "RuntimeError: the simulation diverged"
    events = attributes(page, "#timeline li", "data-event")
    assert events[:2] == ["created", "started"] and "failed" in events and "finished" not in events
    # a function, not an expression: polling an expression needs eval(), which the page's CSP forbids
    page.wait_for_function("() => (document.querySelector('#output-log')?.textContent || '').includes('Traceback')")
    assert "about to fail" in page.text_content("#output-log")
    assert page.text_content("#config").endswith("No configuration.")


def test_ancestor_and_derived_link_to_each_other(page, world):
    parent, child = world.ids["parent"], world.ids["child"]
    page.goto(f"{world.url}#/experiment/{child}")
    page.wait_for_selector("#ancestor a")
    assert page.text_content("#ancestor a") == parent
    assert json.loads(page.text_content("#versions")) == [{"steps": 4, "name": "child"}]
    page.click("#ancestor a")
    page.wait_for_selector("#derived a")
    assert page.url.endswith(f"#/experiment/{parent}")
    assert page.text_content("#experiment-id") == parent
    assert texts(page, "#derived a") == [child]


def test_output_of_a_running_experiment_follows_it(page, world):
    page.goto(f"{world.url}#/experiment/{world.ids['running']}")
    page.wait_for_selector("#output-live:has-text('following')")
    assert page.text_content("h1 .status") == "running"
    events = attributes(page, "#timeline li", "data-event")
    assert "heartbeat" in events and "finished" not in events
    before = len(page.text_content("#output-log").strip().splitlines())
    page.wait_for_function(  # new lines arrive while the page stays open
        "n => (document.querySelector('#output-log')?.textContent || '').trim().split('\\n').length >= n",
        arg=before + 4, timeout=8_000,
    )
    lines = page.text_content("#output-log").strip().splitlines()
    first = int(lines[0].split()[1])
    assert lines == [f"tick {i}" for i in range(first, first + len(lines))]  # appended in order, nothing twice


def test_a_followed_log_keeps_the_newest_output_and_says_older_lines_were_dropped(page, world):
    page.goto(world.url)
    shown = page.evaluate("""async () => {
        const { logView } = await import('/static/experiment.js');
        const log = document.createElement('pre');
        document.body.append(log);
        const view = logView(log, 1000);
        for (let i = 0; i < 100; i++) view.add(`line ${i} ${'-'.repeat(40)}\\n`);
        view.add('last\\n', 5000); // the server skipped 5000 bytes a follower fell behind by
        return { kept: log.lastChild.data, note: log.querySelector('#output-dropped').textContent };
    }""")
    assert len(shown["kept"]) <= 1000 and shown["kept"].startswith("line ") and shown["kept"].endswith("line 99 " + "-" * 40 + "\nlast\n")
    assert "line 0 " not in shown["kept"]  # before: the page kept every line it was sent
    assert shown["note"].startswith("… older output not shown (about ") and "output.log holds all of it" in shown["note"]


def test_page_shows_the_final_state_when_a_followed_experiment_ends(browser, tmp_path):
    from machinable import ui

    project, storage = str(tmp_path), str(tmp_path / "storage")
    (tmp_path / "slow.py").write_text(SLOW)
    process, id_file = start_slow(project, storage, "ending")
    server = None
    context = browser.new_context()
    try:
        experiment_id = wait_running(storage, id_file, process)
        server = ui.serve(storage=storage, port=0, block=False)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        errors = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{server.url}#/experiment/{experiment_id}")
        tab.wait_for_selector("#output-live:has-text('following')")
        open(os.path.join(project, "ending.stop"), "w").close()
        tab.wait_for_selector("h1 .status:has-text('finished')")
        assert process.wait(10) == 0
        assert tab.text_content("#output-live") == ""  # no longer following
        assert attributes(tab, "#timeline li", "data-event")[-1] == "finished"
        log = tab.text_content("#output-log").strip().splitlines()
        assert log == [f"tick {i}" for i in range(len(log))]
        assert not errors, errors
    finally:
        context.close()
        if server is not None:
            server.stop()
        open(os.path.join(project, "ending.stop"), "w").close()
        stop(process)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("192.168.1.5", False), ("example.com", False), ("::", False),
])
def test_loopback_addresses(host, loopback):
    from machinable.ui.server import is_loopback

    assert is_loopback(host) is loopback


# --- comparing ----------------------------------------------------------------------------


def test_compare_highlights_differing_keys_and_overlays_plots(page, world):
    a, b = world.ids["a"], world.ids["b"]
    page.goto(world.url)
    expect_rows(page, world.statuses)
    assert page.is_disabled("#compare")
    page.check(f'tr[data-id="{a}"] input.pick')
    page.check(f'tr[data-id="{b}"] input.pick')
    page.click("#compare")
    page.wait_for_selector('#compare-plots svg[data-column="loss"]')
    assert page.url.endswith(f"#/compare?ids={a},{b}")

    assert attributes(page, "#diff-table tbody tr.differs", "data-key") == ["steps", "rate"]
    assert attributes(page, "#diff-table tbody tr.same", "data-key") == ["name", "model.lr", "model.layers"]
    assert texts(page, '#diff-table tr[data-key="steps"] td') == ["steps", "3", "5"]
    assert page.text_content("#diff-summary").startswith("2 of 5 config keys differ")
    page.check("#only-differing")
    assert page.locator("#diff-table tbody tr:visible").count() == 2

    loss = page.locator('#compare-plots svg[data-column="loss"] path.series')
    assert loss.count() == 2  # one line per experiment
    assert {loss.nth(i).get_attribute("data-series"): loss.nth(i).get_attribute("data-points") for i in range(2)} == {
        a: "3", b: "5"}
    assert loss.nth(0).get_attribute("stroke") != loss.nth(1).get_attribute("stroke")
    page.select_option("#compare-scope", "eval")
    page.wait_for_selector('#compare-plots svg[data-column="accuracy"]')
    assert page.locator('#compare-plots svg[data-column="accuracy"] path.series').count() == 2


def test_unknown_experiment_is_a_clear_not_found(page, world):
    page.goto(f"{world.url}#/experiment/bogus1")
    page.wait_for_selector("#not-found")
    message = page.text_content("#not-found")
    assert 'Experiment "bogus1" not found' in message and "No experiment 'bogus1'" in message
    page.goto(f"{world.url}#/compare?ids={world.ids['a']},bogus1")
    page.wait_for_selector("#not-found")
    assert "bogus1" in page.text_content("#not-found")


# --- plain HTTP ---------------------------------------------------------------------------


def test_api_answers_json_and_404s_unknown_ids(world):
    status, data = api(world, "/api/experiments/bogus1")
    assert status == 404 and "No experiment 'bogus1'" in data["error"]
    status, data = api(world, "/api/experiments/..%2F..%2Fetc")
    assert status == 404 and "letters and digits" in data["error"]
    status, data = api(world, "/api/experiments?status=sleeping")
    assert status == 400 and "Unknown status 'sleeping'" in data["error"]
    month_ago = time.time() - 10 * 86400
    status, data = api(world, f"/api/experiments?until={month_ago}")
    assert status == 200 and [e["id"] for e in data["experiments"]] == [world.ids["old"]]
    status, data = api(world, "/api/experiments?since=yesterday-ish")
    assert status == 400 and "not a time" in data["error"]
    status, data = api(world, f"/api/experiments/{world.ids['a']}/records?scope=../../secret")
    assert status == 400
    status, data = api(world, f"/api/experiments/{world.ids['a']}/output?offset=3")
    assert status == 200 and data["text"] == "counter step 0\ncounter step 1\ncounter step 2\n"[3:]


def test_list_find_and_cli_agree_on_every_condition(world, tmp_path):
    from machinable import find
    from machinable.cli import cli
    from machinable.storage.filesystem import Filesystem
    from machinable.ui import api, stored
    from click.testing import CliRunner

    indexed = Filesystem({"directory": world.storage})

    def listed(**query):
        data = api.list_experiments(indexed, {k: [v] for k, v in query.items()})
        return [e["id"] for e in data["experiments"]], data["total"]

    for where in ("steps=2", "steps>=2 steps<7", "steps>4 or name=child", "name in [old, parent]", "rate exists",
                  "name missing", "name!=child", "@status=finished steps<5", f"@created<{time.time() - 86400}"):
        with indexed:
            found = [e.experiment_id for e in find(where=where)]
        cli_output = CliRunner().invoke(cli, ["--storage", world.storage, "list", "--where", where, "--json"]).output
        assert listed(where=where) == (found, len(found)), where
        assert [e["id"] for e in json.loads(cli_output)] == found, where
    assert listed(q="name=old") == ([world.ids["old"]], 1)
    assert listed(status="finished", limit="2", offset="1")[0] == listed(status="finished")[0][1:3]

    copy = str(tmp_path / "storage")  # an index that still lists a directory removed by hand
    shutil.copytree(world.storage, copy, ignore=shutil.ignore_patterns("*.log", "records"))
    removed = stored.find_experiment(indexed, world.ids["b"]).local_directory()
    shutil.rmtree(os.path.join(copy, os.path.relpath(removed, world.storage)))
    corrupt = stored.find_experiment(indexed, world.ids["child"]).local_directory("experiment.json")
    with open(os.path.join(copy, os.path.relpath(corrupt, world.storage)), "w") as f:
        f.write('{"experiment_id": ')  # cut short, e.g. by a copy that failed
    data = api.list_experiments(Filesystem({"directory": copy}), {})
    ids = [e["id"] for e in data["experiments"]]
    assert world.ids["a"] in ids and world.ids["b"] not in ids and world.ids["child"] not in ids
    assert [e["id"] for e in data["unreadable"]] == [world.ids["child"]]
    assert "is corrupt" in data["unreadable"][0]["error"] and "experiment.json" in data["unreadable"][0]["error"]
    response = api.route(Filesystem({"directory": copy}), ["experiments", world.ids["child"]], {})
    assert response.status == 500 and "CorruptMetadata" in json.loads(response.body)["error"]


def test_only_get_is_allowed(world):
    directory = api(world, f"/api/experiments/{world.ids['a']}")[1]["directory"]
    before = snapshot(directory)
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"):
        for path in ("/", "/api/experiments", f"/api/experiments/{world.ids['a']}"):
            status, headers, body = get(world, path, method, body=b'{"x": 1}' if method != "OPTIONS" else None)
            assert status == 405, (method, path)
            assert headers["Allow"] == "GET, HEAD"
            assert "read-only" in json.loads(body)["error"]
    status, headers, body = get(world, "/", "HEAD")
    assert status == 200 and body == b""
    assert snapshot(directory) == before  # nothing was written


def test_data_paths_cannot_leave_the_data_directory(world):
    a = world.ids["a"]
    base = f"/api/experiments/{a}/data/"
    for name in ("../secret.txt", "..%2Fsecret.txt", "%2e%2e/secret.txt", "%2e%2e%2fexperiment.json",
                 "../../../../../../etc/passwd", "%2Fetc%2Fpasswd", "link.txt", "sub/../../secret.txt",
                 "missing.json", "", "."):
        status, _, body = get(world, base + name)
        assert status in (400, 404), (name, status)
        assert b"TOP-SECRET" not in body and b"experiment_id" not in body and b"root:" not in body, name
    status, _, body = get(world, base + "..%2Fsecret.txt")
    assert status == 400 and "would leave" in json.loads(body)["error"]

    status, headers, body = get(world, base + "notes.txt")
    assert status == 200 and body == b"all good"
    status, headers, body = get(world, base + "evil.pkl")  # served as stored, never unpickled
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment")
    directory = api(world, f"/api/experiments/{a}")[1]["directory"]
    with open(os.path.join(directory, "data", "evil.pkl"), "rb") as f:
        assert body == f.read()
    assert not os.path.exists(world.marker)


def test_server_listens_on_loopback_only(world):
    assert world.url.startswith("http://127.0.0.1:")
    port = int(world.url.rstrip("/").rsplit(":", 1)[1])
    with open("/proc/net/tcp") as f:
        sockets = [line.split() for line in f.readlines()[1:]]
    listening = [fields[1] for fields in sockets if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port]
    assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1 (not 0.0.0.0), in state LISTEN (0A)
    status, _, body = get(world, "/api/experiments", headers={"Host": f"evil.example:{port}"})
    assert status == 403 and "127.0.0.1 or localhost" in json.loads(body)["error"]
    status, _, _ = get(world, "/api/experiments", headers={"Host": f"localhost:{port}"})
    assert status == 200


def test_served_files_reference_nothing_external(world):
    status, headers, index = get(world, "/")
    assert status == 200 and "default-src 'self'" in headers["Content-Security-Policy"]
    referenced = re.findall(r'(?:src|href)="([^"#]+)"', index.decode())
    assert set(referenced) == {"/static/style.css", "/static/app.js", "data:,"}
    shipped = sorted(os.listdir(STATIC))
    assert {"index.html", "app.js", "style.css", "plot.js"} <= set(shipped)
    for name in shipped:
        status, headers, body = get(world, "/static/" + name)
        assert status == 200, name
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", body.decode()))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)  # the SVG namespace name, never fetched
        imports = re.findall(r'from "([^"]+)"', body.decode())
        assert all(target.startswith("./") and target[2:] in shipped for target in imports), (name, imports)
    assert get(world, "/static/../../__init__.py")[0] == 404
    assert get(world, "/static/%2e%2e%2fapi.py")[0] == 404


def test_serve_from_python_in_a_thread(world):
    from machinable import ui

    server = ui.serve(storage=world.storage, port=0, block=False)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url + "api/experiments", timeout=10) as response:
            data = json.loads(response.read())
        assert data["stored"] == len(world.statuses)
        assert {e["id"]: e["status"] for e in data["experiments"]}[world.ids["broken"]] == "failed"
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(urllib.request.Request(server.url, data=b"x", method="POST"), timeout=10)
        assert error.value.code == 405
    finally:
        server.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=5)
    code = "import sys, machinable; print(sorted(m for m in sys.modules if m.startswith('machinable.ui')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_ui_command_says_when_the_port_is_taken(tmp_path):
    from click.testing import CliRunner

    from machinable.cli import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--storage", str(tmp_path / "storage"), "ui", "--port", str(port)])
    assert result.exit_code == 1
    assert f"Port {port} on 127.0.0.1 is in use" in result.output and "--port 0" in result.output
    assert not (tmp_path / "storage").exists()
