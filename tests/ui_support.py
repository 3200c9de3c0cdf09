"""Shared by the dashboard's browser tests: Debian's Chromium driven by Playwright, and a tab that
fails the test on any script error or any request leaving the dashboard."""

from __future__ import annotations

import contextlib
import os

import pytest

CHROMIUM = os.environ.get("MACHINABLE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@contextlib.contextmanager
def chromium():
    """A headless Chromium (closed afterwards); fails the test with the fix if it is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The dashboard tests need Playwright: pip install playwright (then apt-get install chromium).")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"The dashboard tests need Chromium at {CHROMIUM}: apt-get install -y chromium "
                    "(or set MACHINABLE_CHROMIUM).")
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        manager.stop()


@contextlib.contextmanager
def tab(browser, base_url: str, timeout_ms: int = 15_000):
    """A fresh tab; afterwards, no script error happened and nothing but `base_url` was requested.
    The tab's `requested` list holds every URL it asked for."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    errors, requests = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)
    page.on("request", lambda request: requests.append(request.url))
    page.requested = requests
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors
    assert requests and all(url.startswith(base_url) for url in requests), requests
