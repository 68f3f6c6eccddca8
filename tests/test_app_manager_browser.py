"""A single-page app written like core4's App Manager, in headless Chromium.

The user signs in on core4flask's login page; the app (``tests/servers/widgets``,
served by a ``CoreStaticFileHandler`` at ``/`` under gunicorn) then reads
localStorage as core4's UI library does, sends ``Bearer undefined`` with the
cookie, asks for the branding, the listing and one card per app, uploads an
avatar to ``avatar?token=-1``, shows it with ``<img src="...?token=-1">`` and
opens the profile page in a same-origin frame. No answer may be an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests import live
from tests.test_launcher_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.LiveServer]:
    started = live.gunicorn(tmp_path_factory.mktemp("widgets"), app="tests.servers.widgets_app:app", workers=2)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_an_app_manager_like_page_sees_its_cards_after_signing_in(server: live.LiveServer, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    local = server.url + "/"
    # nothing leaves the machine
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(local) else route.abort())
    page = context.new_page()
    page.set_default_timeout(15_000)
    answers: list[tuple[str, str, int, dict[str, str]]] = []
    page.on("response", lambda r: answers.append((r.request.method, r.url, r.status, r.request.headers)))
    try:
        page.goto(server.url + "/")
        assert "/core4/api/v1/login" in page.url
        page.fill("#username", "admin")
        page.fill("#password", live.ADMIN_PASSWORD)
        page.click("#submit")
        page.wait_for_selector("body[data-ready='true'], #error:not([hidden])")
        assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()

        # the login page left a user entry without a token; the cookie is out of the scripts' reach
        entry = json.loads(page.evaluate("window.localStorage.getItem('user')"))
        assert entry == {"name": "admin"}
        assert "token" not in page.evaluate("document.cookie")

        titles = page.locator(".card-title").all_inner_texts()
        assert {"template example", "data frame example"} <= set(titles)
        assert page.locator("#user-name").inner_text() == "admin"
        assert page.locator("#menu a", has_text="API reference").count() == 1

        cards = [a for a in answers if "/_info/card/" in a[1]]
        assert len(cards) == len(titles) > 0
        for method, url, status, headers in cards:
            assert (method, status, headers.get("authorization")) == ("GET", 200, "Bearer undefined"), url
            assert headers.get("accept") == "application/json"
        store = [a for a in answers if a[1].endswith("/core4/api/v1/store")]
        assert [(m, s) for m, _, s, _ in store] == [("PUT", 200)]

        # the avatar: uploaded and shown with token=-1 and the cookie
        page.click("#upload")
        page.wait_for_selector("#avatar[data-loaded='true'], #error:not([hidden])")
        assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
        assert page.evaluate("document.getElementById('avatar').naturalWidth") == 8
        avatar = [(m, s) for m, url, s, _ in answers if url.endswith("/core4/api/v1/avatar?token=-1")]
        assert avatar == [("POST", 200), ("GET", 200)]

        # the profile page in a same-origin frame, and its form
        page.click("#view-profile")
        frame = page.frame_locator("#content")
        assert frame.locator("#profile-name").inner_text() == "admin"
        frame.locator("#realname").fill("Ada Admin")
        frame.locator("button[type=submit]").click()
        assert frame.locator("#profile-notice").inner_text() == "Your profile has been saved."
        assert frame.locator("#realname").input_value() == "Ada Admin"

        failed = [(m, url, s) for m, url, s, _ in answers if s >= 400]
        assert failed == []
    finally:
        context.close()
