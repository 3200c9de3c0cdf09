"""Saved figures in the dashboard: served safely (a .png only if it is one, an SVG with a policy that
blocks its scripts), shown inline on the experiment page and side by side in the compare gallery."""

from __future__ import annotations

import http.client
import json

import pytest

from machinable import get
from machinable.ui import create_server
from machinable.storage.figures import png_from_array
from ui_support import chromium, tab

SCRIPTED_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" onload="document.title=\'ran\'">'
    '<script>document.documentElement.setAttribute("data-ran", "yes"); fetch("/api/experiments?svg-script-ran")'
    '</script><rect width="40" height="20" fill="teal"/></svg>'
)
FAKE_PNG = b"<html><script>alert(1)</script></html>"


def pixels(width: int, height: int, value: int):
    numpy = pytest.importorskip("numpy")
    return numpy.full((height, width, 3), value, numpy.uint8)


@pytest.fixture
def runs(project):
    """Two finished runs with figures: both saved loss.png and plots/diagram.svg, one also only-a.png
    and a .png and .svg that are not what their names say."""
    a = get("estimate_gravity", {"time_dilation": 2}).launch()
    b = get("estimate_gravity", {"time_dilation": 3}).launch()
    for run, value in ((a, 40), (b, 200)):
        run.save_data("loss.png", png_from_array(pixels(30, 20, value)))
        run.save_data("plots/diagram.svg", SCRIPTED_SVG)
    a.save_data("only-a.png", png_from_array(pixels(5, 5, 0)))
    with open(a.local_directory("data", "fake.png"), "wb") as f:
        f.write(FAKE_PNG)
    with open(a.local_directory("data", "fake.svg"), "wb") as f:
        f.write(FAKE_PNG)
    server = create_server(project.storage, port=0).start()
    try:
        yield server, a, b
    finally:
        server.stop()


def request(server, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def data_url(run, name: str) -> str:
    return f"/api/experiments/{run.experiment_id}/data/{name}"


def test_images_are_served_as_images_with_a_policy_that_blocks_scripts(runs):
    server, a, b = runs
    status, headers, body = request(server, data_url(a, "loss.png"))
    assert status == 200 and headers["content-type"] == "image/png" and body == a.load_data("loss.png")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"].startswith("inline")

    status, headers, body = request(server, data_url(a, "plots/diagram.svg"))
    assert status == 200 and headers["content-type"] == "image/svg+xml" and body == SCRIPTED_SVG.encode()
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert headers["x-content-type-options"] == "nosniff"

    status, headers, body = request(server, data_url(a, "plots/diagram.svg"), "HEAD")
    assert status == 200 and headers["content-type"] == "image/svg+xml" and body == b""


@pytest.mark.parametrize("name", ["fake.png", "fake.svg"])
def test_a_file_that_is_not_what_its_name_says_is_only_a_download(runs, name):
    server, a, b = runs
    status, headers, body = request(server, data_url(a, name))
    assert status == 200 and headers["content-type"] == "application/octet-stream" and body == FAKE_PNG
    assert headers["content-disposition"].startswith("attachment") and headers["x-content-type-options"] == "nosniff"


def test_the_api_marks_images_and_lists_the_names_the_compared_runs_share(runs):
    server, a, b = runs
    status, _, body = request(server, f"/api/experiments/{a.experiment_id}")
    files = {file["name"]: file for file in json.loads(body)["data"]}
    assert files["loss.png"]["image"] and files["plots/diagram.svg"]["image"] and not files["gravity.json"]["image"]
    assert not files["fake.png"]["image"] and not files["fake.svg"]["image"]  # what they hold is checked
    assert files["loss.png"]["size"] == len(a.load_data("loss.png"))

    status, _, body = request(server, f"/api/compare?ids={a.experiment_id},{b.experiment_id}")
    assert json.loads(body)["images"] == [
        {"name": "loss.png", "present": [True, True]},
        {"name": "plots/diagram.svg", "present": [True, True]},
    ]  # only-a.png: saved by one run only; the fakes are no images


def loaded(page, selector: str) -> list:
    """The natural sizes of the images under `selector`, once every one of them finished loading."""
    page.wait_for_function(
        "(s) => { const all = [...document.querySelectorAll(s)]; return all.length && all.every(i => i.complete); }",
        arg=selector,
    )
    return page.eval_on_selector_all(selector, "all => all.map(i => [i.naturalWidth, i.naturalHeight])")


def test_the_experiment_page_shows_its_figures_and_the_compare_page_a_gallery(runs):
    server, a, b = runs
    with chromium() as browser:
        with tab(browser, server.url) as page:
            page.goto(f"{server.url}#/experiment/{a.experiment_id}")
            page.wait_for_selector("#figures figure")
            names = page.eval_on_selector_all("#figures figure", "fs => fs.map(f => f.dataset.name)")
            assert names == ["loss.png", "only-a.png", "plots/diagram.svg"]  # not the fakes: they download
            assert loaded(page, '#figures figure[data-name="loss.png"] img') == [[30, 20]]
            assert loaded(page, '#figures figure[data-name="plots/diagram.svg"] img') == [[40, 20]]
            assert page.title() != "ran" and page.get_attribute("html", "data-ran") is None

        with tab(browser, server.url) as page:
            page.goto(f"{server.url}#/compare?ids={a.experiment_id},{b.experiment_id}")
            page.wait_for_selector("#gallery tbody tr")
            assert page.eval_on_selector_all("#gallery tbody tr", "rs => rs.map(r => r.dataset.name)") == [
                "loss.png", "plots/diagram.svg"]
            assert page.eval_on_selector_all("#gallery thead th[data-id]", "hs => hs.map(h => h.textContent)") == [
                a.experiment_id, b.experiment_id]
            assert loaded(page, '#gallery tr[data-name="loss.png"] img') == [[30, 20], [30, 20]]
            assert loaded(page, '#gallery tr[data-name="plots/diagram.svg"] img') == [[40, 20], [40, 20]]
            sources = page.eval_on_selector_all('#gallery tr[data-name="loss.png"] td img', "is => is.map(i => i.src)")
            assert [a.experiment_id in sources[0], b.experiment_id in sources[1]] == [True, True]
            assert not any("svg-script-ran" in url for url in page.requested)


def test_an_svg_opened_on_its_own_runs_no_script(runs):
    server, a, b = runs
    with chromium() as browser:
        page = browser.new_page()
        requested = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(server.url.rstrip("/") + data_url(a, "plots/diagram.svg"))
        page.wait_for_timeout(300)
        assert page.locator("rect").count() == 1  # it is shown
        assert page.title() != "ran" and page.get_attribute("svg", "data-ran") is None
        assert not any("svg-script-ran" in url for url in requested)


def test_the_gallery_lists_the_images_of_two_or_more_runs_with_gaps_for_the_others():
    from machinable.ui.stored import common_images

    def files(*names):
        return [{"name": name, "image": name.endswith((".png", ".svg"))} for name in names]

    runs = [files("a.png", "b.svg"), files("a.png", "c.png", "x.json"), files("b.svg", "c.png", "d.png")]
    assert common_images(runs) == [
        {"name": "a.png", "present": [True, True, False]},
        {"name": "b.svg", "present": [True, False, True]},
        {"name": "c.png", "present": [False, True, True]},
    ]
    assert common_images([files("d.png", "x.json")]) == [{"name": "d.png", "present": [True]}]  # one run: all of them
