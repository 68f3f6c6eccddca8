"""The profile page for browsers: ``GET /core4/api/v1/profile`` as core4's App
Manager opens it (a same-origin frame), and its form posted back.

The page keeps the rules of ``PUT /profile`` (``tests/test_profile.py``); the
grouping of permissions and the colour scheme are tested as plain functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from core4flask.roles.profile import NOTICES, forced_theme, permission_groups
from tests.fixtures.store_apps import (
    AXIOS_ACCEPT,
    BACKENDS,
    PAGE_ACCEPT,
    USER_PASSWORD,
    add_user,
    app_on,
    browser_login,
)

PROFILE = "/core4/api/v1/profile"
PAGE = {"Accept": PAGE_ACCEPT}
NEW_PASSWORD = "Silver-Meadow-Fox-51"


# -- plain functions ----------------------------------------------------------------------


def test_permissions_are_grouped_by_kind_without_their_prefix() -> None:
    groups = permission_groups(
        ["job://core4.*/x", "api://sales.b", "cop", "app://store/x", "api://sales.a/r", "mongodb://reports", "odd"]
    )
    assert groups == [
        ("HTTP API access", ["sales.a/r", "sales.b"]),
        ("Application specials", ["store/x"]),
        ("Job access", ["core4.*/x"]),
        ("Database access", ["reports"]),
        ("Other permissions", ["odd"]),
    ]


def test_every_group_is_listed_even_when_empty() -> None:
    assert permission_groups([]) == [
        ("HTTP API access", []),
        ("Application specials", []),
        ("Job access", []),
        ("Database access", []),
    ]


@pytest.mark.parametrize(
    ("value", "theme"),
    [("true", "dark"), ("True", "dark"), ("1", "dark"), ("false", "light"), ("0", "light"), (None, None)]
    + [("", None), ("maybe", None), ('"><script>', None), (["true"], None)],
)
def test_the_dark_argument_forces_a_scheme_only_when_it_is_a_boolean(value: Any, theme: str | None) -> None:
    assert forced_theme(value) == theme


# -- the page over HTTP -------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def app(request: Any, tmp_path: Any, monkeypatch: Any) -> Iterator[Any]:
    application = app_on(request.param, tmp_path, monkeypatch)
    add_user(application, "pat", perm=["api://reports.sales/r", "app://store/client-1"])
    yield application
    application.extensions["core4flask"].store.close()


@pytest.fixture
def pat(app: Any) -> Any:
    """pat, signed in on the login page: the cookie only, as the App Manager's frame has it."""
    return browser_login(app, "pat", USER_PASSWORD)


def record(client: Any) -> dict[str, Any]:
    response = client.get(PROFILE, headers={"Accept": AXIOS_ACCEPT})
    assert response.status_code == 200
    return response.json["data"]


def field_value(page: str, name: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return found.group(1) if found else None


def post_form(client: Any, fields: dict[str, str], query: str = "") -> Any:
    """The form as a browser submits it: urlencoded, same origin, the cookie."""
    return client.post(PROFILE + query, data=fields, headers=PAGE)


def form_of(client: Any, **changes: str) -> dict[str, str]:
    """What the form sends untouched (the current realname, email and etag), with ``changes``."""
    current = record(client)
    fields = {
        "etag": current["etag"],
        "realname": current.get("realname") or "",
        "email": current["email"],
        "passwd": "",
        "passwd_confirm": "",
        "current_passwd": "",
    }
    fields.update(changes)
    return fields


def test_browsers_get_the_profile_page(pat: Any) -> None:
    response = pat.get(PROFILE + "?dark=false&themeDark=primary=%23D70F14xyzaccent=%231D4161", headers=PAGE)
    assert response.status_code == 200 and response.content_type == "text/html; charset=UTF-8"
    page = response.get_data(as_text=True)
    current = record(pat)
    assert '<strong id="profile-name">pat</strong>' in page
    assert field_value(page, "email") == "pat@example.com"
    assert field_value(page, "etag") == current["etag"]
    assert '<li class="tag">standard_user</li>' in page
    assert "<code>reports.sales/r</code>" in page and "<code>store/client-1</code>" in page
    # every permission the user holds through its roles is shown
    for perm in current["perm_total"]:
        assert perm.split("://", 1)[-1] in page
    assert 'class="core4 page-profile theme-light"' in page
    assert 'action="/core4/api/v1/profile?dark=false"' in page
    # no script at all: neither elements nor event attributes
    assert "<script" not in page and not re.search(r"\son[a-z]+=", page)


def test_the_page_may_be_framed_by_its_own_site_only(pat: Any) -> None:
    response = pat.get(PROFILE, headers=PAGE)
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self';" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy  # no script may run
    assert response.headers["Cache-Control"] == "no-store"


def test_the_pages_stylesheet_is_served_to_the_signed_in_user(pat: Any) -> None:
    page = pat.get(PROFILE, headers=PAGE).get_data(as_text=True)
    url = re.search(r'href="(/core4/api/v1/_asset/default/[0-9a-f]{32}/core4\.css)"', page).group(1)
    css = pat.get(url, buffered=True)
    assert css.status_code == 200 and css.content_type.startswith("text/css")
    assert b"body.theme-dark" in css.data


def test_json_clients_keep_the_record(pat: Any) -> None:
    response = pat.get(PROFILE, headers={"Accept": AXIOS_ACCEPT})
    assert response.status_code == 200 and response.is_json
    data = response.json["data"]
    assert data["name"] == "pat" and {"perm", "role", "role_total", "perm_total", "etag"} <= set(data)


def test_not_signed_in_browsers_go_to_the_login_page(app: Any) -> None:
    response = app.test_client().get(PROFILE + "?dark=true", headers=PAGE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/core4/api/v1/login?next=/core4/api/v1/profile%3Fdark%3Dtrue"


def test_saving_the_form_comes_back_to_the_page(pat: Any) -> None:
    before = record(pat)
    saved = post_form(pat, form_of(pat, realname="Pat Doe"), "?dark=true")
    assert saved.status_code == 303
    assert saved.headers["Location"] == "/core4/api/v1/profile?dark=true&status=saved"
    after = record(pat)
    assert after["realname"] == "Pat Doe" and after["etag"] != before["etag"]
    page = pat.get(saved.headers["Location"], headers=PAGE).get_data(as_text=True)
    assert NOTICES["saved"] in page and field_value(page, "realname") == "Pat Doe"
    assert field_value(page, "etag") == after["etag"] and "theme-dark" in page


def test_an_unchanged_form_says_so(pat: Any) -> None:
    before = record(pat)
    response = post_form(pat, form_of(pat))
    assert response.status_code == 303 and response.headers["Location"].endswith("?status=unchanged")
    assert record(pat)["etag"] == before["etag"]
    assert NOTICES["unchanged"] in pat.get(response.headers["Location"], headers=PAGE).get_data(as_text=True)


def test_an_unknown_status_shows_no_notice(pat: Any) -> None:
    page = pat.get(PROFILE + "?status=you+have+been+hacked", headers=PAGE).get_data(as_text=True)
    assert "hacked" not in page and 'role="status"' not in page


def test_a_new_email_needs_the_current_password(pat: Any) -> None:
    refused = post_form(pat, form_of(pat, email="pat.new@example.com"))
    assert refused.status_code == 400 and refused.content_type.startswith("text/html")
    page = refused.get_data(as_text=True)
    assert 'role="alert"' in page and "current_passwd" in page
    assert field_value(page, "email") == "pat.new@example.com"  # what was typed stays
    assert record(pat)["email"] == "pat@example.com"
    saved = post_form(pat, form_of(pat, email="pat.new@example.com", current_passwd=USER_PASSWORD))
    assert saved.status_code == 303 and record(pat)["email"] == "pat.new@example.com"


def test_a_stale_etag_shows_the_current_record(pat: Any) -> None:
    stale = form_of(pat, realname="First tab")
    assert post_form(pat, form_of(pat, realname="Second tab")).status_code == 303
    refused = post_form(pat, stale)
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "changed meanwhile" in page
    assert field_value(page, "realname") == "Second tab"
    assert field_value(page, "etag") == record(pat)["etag"]


def test_the_new_password_must_be_confirmed_alike(pat: Any) -> None:
    fields = form_of(pat, passwd=NEW_PASSWORD, passwd_confirm=NEW_PASSWORD + "x", current_passwd=USER_PASSWORD)
    refused = post_form(pat, fields)
    assert refused.status_code == 400 and "passwd_confirm" in refused.get_data(as_text=True)
    assert NEW_PASSWORD not in refused.get_data(as_text=True)
    assert record(pat)["name"] == "pat"  # the old session still works: nothing changed


def test_a_weak_password_is_refused_with_the_rule(pat: Any) -> None:
    fields = form_of(pat, passwd="pat12345", passwd_confirm="pat12345", current_passwd=USER_PASSWORD)
    refused = post_form(pat, fields)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "password refused by rule [user_name]" in page
    assert "pat12345" not in page and field_value(page, "passwd") is None  # passwords are never sent back


def test_a_password_change_signs_in_anew_and_ends_the_older_sessions(app: Any, pat: Any) -> None:
    other = browser_login(app, "pat", USER_PASSWORD)
    fields = form_of(pat, passwd=NEW_PASSWORD, passwd_confirm=NEW_PASSWORD, current_passwd=USER_PASSWORD)
    changed = post_form(pat, fields)
    assert changed.status_code == 303 and changed.headers["Location"].endswith("?status=password")
    assert any(h.startswith("token=") for h in changed.headers.getlist("Set-Cookie"))
    page = pat.get(changed.headers["Location"], headers=PAGE)
    assert page.status_code == 200 and NOTICES["password"] in page.get_data(as_text=True)
    assert other.get(PROFILE, headers={"Accept": AXIOS_ACCEPT}).status_code == 401
    assert browser_login(app, "pat", NEW_PASSWORD).get_cookie("token") is not None


def test_html_in_the_record_is_escaped(pat: Any) -> None:
    assert post_form(pat, form_of(pat, realname='<script>alert(1)</script>"')).status_code == 303
    page = pat.get(PROFILE, headers=PAGE).get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in page


def test_api_clients_posting_get_puts_answer(pat: Any) -> None:
    current = record(pat)
    response = pat.post(
        PROFILE, json={"etag": current["etag"], "realname": "Via Post"}, headers={"Accept": AXIOS_ACCEPT}
    )
    assert response.status_code == 200 and response.json["data"]["realname"] == "Via Post"
    mismatch = pat.post(
        PROFILE,
        json={"etag": record(pat)["etag"], "passwd": NEW_PASSWORD, "passwd_confirm": "other", "current_passwd": "x"},
        headers={"Accept": AXIOS_ACCEPT},
    )
    assert mismatch.status_code == 400 and "passwd_confirm" in mismatch.json["error"]
