"""The App Manager at ``/``: server-rendered cards, filters, JSON listing, and a
real headless Chromium session against the demo app served by gunicorn.

Set ``CORE4_SCREENSHOT=1`` to refresh ``docs/launcher.png``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core4flask import create_app
from demo.seed import CONTAINERS
from tests import live

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONFIG = {"api": {"admin_password": "hans", "token": {"secret": "launcher-secret-0123456789abcdef012345"}}}
HTML = {"Accept": "text/html"}


# -- server-rendered page (Flask test client) ----------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(*CONTAINERS, config=CONFIG, instance_path=str(tmp_path))
    application.extensions["core4flask"].prepare_serving()
    return application


@pytest.fixture
def client(app: Any) -> Any:
    test_client = app.test_client()
    token = test_client.get("/core4/api/v1/login?username=admin&password=hans").json["data"]["token"]
    test_client.set_cookie("token", token)
    return test_client


def card_titles(page: str) -> list[str]:
    return re.findall(r'<h2 class="app-title"[^>]*>([^<]*)</h2>', page)


def test_not_signed_in_browsers_go_to_the_login_page(app: Any) -> None:
    response = app.test_client().get("/", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"] == "/core4/api/v1/login?next=/"
    assert app.test_client().get("/").status_code == 401


def test_cards_are_in_the_html(client: Any) -> None:
    response = client.get("/", headers=HTML)
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    titles = card_titles(page)
    assert titles == sorted(titles, key=str.lower)
    assert {"template example", "data frame example", "core4flask on the web", "API reference"} <= set(titles)
    assert "test handler" not in titles  # tagged api
    assert "admin" in page and 'action="/core4/api/v1/logout"' in page
    assert 'data-settings-url="/core4/api/v1/setting"' in page
    # open and help links of a card
    assert 'href="https://github.com/" target="_blank"' in page
    assert re.search(r'href="/test-server/_info/help/[0-9a-f]{32}"', page)


def test_search_tag_and_api_filters(client: Any) -> None:
    assert card_titles(client.get("/?search=FRAME", headers=HTML).get_data(as_text=True)) == ["data frame example"]
    assert card_titles(client.get("/?tag=data", headers=HTML).get_data(as_text=True)) == ["data frame example"]
    with_api = card_titles(client.get("/?search=!test", headers=HTML).get_data(as_text=True))
    assert "test handler" in with_api
    assert "test handler" in card_titles(client.get("/?api=true", headers=HTML).get_data(as_text=True))
    empty = client.get("/?search=nothing-matches-this", headers=HTML).get_data(as_text=True)
    assert card_titles(empty) == [] and "No application matches your filter." in empty


def test_json_clients_get_the_listing(client: Any) -> None:
    body = client.get("/", headers={"Accept": "application/json"}).json
    assert body["code"] == 200 and "total_count" in body
    assert {e["title"] for e in body["data"]} == {
        e["title"] for e in client.get("/core4/api/v1/_info?per_page=100").json["data"]
    }


def test_package_assets(client: Any) -> None:
    page = client.get("/", headers=HTML).get_data(as_text=True)
    for name, kind in (("core4.css", "text/css"), ("launcher.js", "javascript")):
        url = re.search(rf'"(/_asset/default/[0-9a-f]{{32}}/{re.escape(name)})"', page).group(1)
        response = client.get(url, buffered=True)
        assert response.status_code == 200 and kind in response.content_type


# -- a real browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.LiveServer]:
    started = live.gunicorn(tmp_path_factory.mktemp("launcher"), workers=1)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.e2e
def test_launcher_in_a_browser(server: live.LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        # not signed in: the login page, then back to the launcher
        page.goto(server.url + "/")
        assert "/core4/api/v1/login" in page.url
        page.fill("#username", "admin")
        page.fill("#password", live.ADMIN_PASSWORD)
        page.click("#submit")
        page.wait_for_selector(".app-card")
        assert page.url.rstrip("/") == server.url
        titles = page.locator(".app-title").all_inner_texts()
        assert "template example" in titles and "data frame example" in titles
        assert "admin" in page.locator(".user-name").inner_text()

        # instant search in the page
        page.fill("#launcher-search", "frame")
        visible = page.locator(".app-card:not([hidden]) .app-title").all_inner_texts()
        assert visible == ["data frame example"]
        assert page.locator("#launcher-status").inner_text().startswith("1 application")
        page.fill("#launcher-search", "")

        if os.environ.get("CORE4_SCREENSHOT") == "1":
            page.screenshot(path=str(ROOT / "docs" / "launcher.png"), full_page=False)

        # the help page of a card
        card = page.locator(".app-card", has_text="data frame example")
        card.get_by_role("link", name="Help").click()
        page.wait_for_selector("h1")
        assert "/_info/help/" in page.url
        assert page.locator("h1").inner_text() == "data frame example"
        page.go_back()

        # open a mini application
        page.wait_for_selector(".app-card")
        card = page.locator(".app-card", has_text="template example")
        card.get_by_role("link", name="Open").click()
        page.wait_for_load_state()
        assert "/_info/enter/" in page.url
        assert page.locator("body").inner_text().strip()

        # log out: back on the login page
        page.goto(server.url + "/")
        page.click(".logout-form button")
        page.wait_for_url(re.compile(r".*/core4/api/v1/login.*"))
        assert page.locator("#username").is_visible()
    finally:
        context.close()
