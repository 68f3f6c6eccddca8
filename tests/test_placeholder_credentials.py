"""Placeholder credentials over HTTP, sent exactly as core4's App Manager sends them.

A user signed in on core4flask's login page holds the HttpOnly cookie only;
the App Manager (through core4's UI library) still adds ``Authorization:
Bearer undefined`` to its XHR calls and ``?token=-1`` to avatar URLs. These
count as no credential, so the cookie decides. A real token that is
malformed or forged still gets 401. The rule itself is tested in
``test_credentials.py``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pandas as pd
import pytest

from core4flask import CoreApiContainer, CoreRequestHandler
from core4flask.container import resource_id
from tests.fixtures import make_app
from tests.fixtures.store_apps import ADMIN_PASSWORD, AXIOS_ACCEPT, IMG_ACCEPT, PAGE_ACCEPT, SECRET, browser_login
from tests.test_avatar import png

API = "/core4/api/v1"
PLACEHOLDER_BEARERS = ("Bearer undefined", "Bearer null", "Bearer ", "Bearer")
PLACEHOLDER_ARGUMENTS = ("-1", "undefined", "null", "")


class Sales(CoreRequestHandler):
    """Sales per region."""

    title = "sales"
    tag = ["app"]

    def get(self):
        self.reply(pd.DataFrame({"region": ["north", "south"], "sales": [3, 4]}))


class Reports(CoreApiContainer):
    root = "/reports"
    rules = [(r"/sales", Sales)]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    config = {"api": {"admin_password": ADMIN_PASSWORD, "token": {"secret": SECRET}}}
    application = make_app(tmp_path, Reports, config=config)
    application.extensions["core4flask"].prepare_serving()
    yield application
    application.extensions["core4flask"].store.close()


@pytest.fixture
def browser(app: Any) -> Any:
    """Signed in on the login page: the cookie, no Authorization header."""
    return browser_login(app)


def card_url() -> str:
    """Where the App Manager asks for the card of :class:`Sales`."""
    return f"/reports/_info/card/{resource_id(Sales.qual_name(), {})}"


@pytest.mark.parametrize("bearer", PLACEHOLDER_BEARERS)
def test_a_placeholder_bearer_lets_the_cookie_speak(browser: Any, app: Any, bearer: str) -> None:
    headers = {"Accept": AXIOS_ACCEPT, "Authorization": bearer}
    profile = browser.get(API + "/profile", headers=headers)
    assert profile.status_code == 200 and profile.json["data"]["name"] == "admin"
    settings = browser.get(API + "/setting/_general", headers=headers)
    assert settings.status_code == 200
    # the widgets' own axios instance asks for the cards with Accept: application/json
    card = browser.get(card_url(), headers={"Accept": "application/json", "Authorization": bearer})
    assert card.status_code == 200 and card.json["title"] == "sales" and card.json["custom_card"] is False
    sales = browser.get("/reports/sales", headers=headers)
    assert sales.json["data"] == [{"region": "north", "sales": 3}, {"region": "south", "sales": 4}]


@pytest.mark.parametrize("token", PLACEHOLDER_ARGUMENTS)
def test_a_placeholder_token_argument_lets_the_cookie_speak(browser: Any, token: str) -> None:
    # the cropper's upload: multipart, one part "file", Accept */*, no Authorization
    upload = browser.post(
        f"{API}/avatar?token={token}",
        data={"file": (io.BytesIO(png()), "blob.png", "image/png")},
        headers={"Accept": "*/*"},
    )
    assert upload.status_code == 200, upload.json
    assert upload.json["data"] == "Successfully set an avatar."
    # then <img src=".../avatar?token=-1">
    image = browser.get(f"{API}/avatar?token={token}", headers={"Accept": IMG_ACCEPT})
    assert image.status_code == 200 and image.data == png()
    profile = browser.get(f"{API}/profile?token={token}", headers={"Accept": AXIOS_ACCEPT})
    assert profile.status_code == 200 and profile.json["data"]["name"] == "admin"


@pytest.mark.parametrize("bearer", PLACEHOLDER_BEARERS)
def test_a_placeholder_alone_is_no_credential(app: Any, bearer: str) -> None:
    anonymous = app.test_client()
    refused = anonymous.get(API + "/profile", headers={"Accept": AXIOS_ACCEPT, "Authorization": bearer})
    assert refused.status_code == 401 and "login required" in refused.json["error"]
    assert anonymous.get(f"{API}/avatar?token=-1", headers={"Accept": AXIOS_ACCEPT}).status_code == 401
    page = anonymous.get(API + "/profile", headers={"Accept": PAGE_ACCEPT, "Authorization": bearer})
    assert page.status_code == 302 and page.headers["Location"].startswith(API + "/login?next=")


def forged(token: str) -> str:
    """A real token's claims signed with another key."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, "not-the-secret-" + "f" * 64, algorithm="HS512")


@pytest.mark.parametrize("bearer", ["Bearer not-a-token", "Bearer undefined.x.y", "Bearer -2", "forged"])
def test_a_malformed_or_forged_token_is_401_despite_the_cookie(browser: Any, app: Any, bearer: str) -> None:
    if bearer == "forged":
        bearer = "Bearer " + forged(browser.get_cookie("token").value)
    refused = browser.get(API + "/profile", headers={"Accept": AXIOS_ACCEPT, "Authorization": bearer})
    assert refused.status_code == 401
    card = browser.get(card_url(), headers={"Accept": "application/json", "Authorization": bearer})
    assert card.status_code == 401
    argument = bearer.partition(" ")[2]
    assert browser.get(API + "/profile", query_string={"token": argument}).status_code == 401
    # the cookie alone still works
    assert browser.get(API + "/profile", headers={"Accept": AXIOS_ACCEPT}).status_code == 200
