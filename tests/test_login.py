"""Login and logout over HTTP: every credential source, cookies, pages, 401/403."""

from __future__ import annotations

import base64
import datetime
import logging
import re

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, create_app
from core4flask.auth.secret import signing_key
from core4flask.testing import create_user, issue_token, use_throwaway_store

SECRET = "login-test-secret-0123456789abcdef0123456789abcdef"
PROFILE = "/core4/api/v1/profile"
LOGIN = "/core4/api/v1/login"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class ArgsHandler(CoreRequestHandler):
    """The seed's date/time argument example."""

    def get(self):
        dt = self.get_argument("dt", as_type=datetime.datetime, default=None)
        return {"dt": dt, "user": self.current_user, "arguments": sorted(self.arguments)}

    def post(self):
        return {"user": self.current_user, "arguments": sorted(self.arguments)}


class PublicHandler(CoreRequestHandler):
    protected = False

    def get(self):
        return "public"


class ArgsServer(CoreApiContainer):
    root = "/args"
    rules = [(r"/test", ArgsHandler), (r"/public", PublicHandler)]


def make_app(tmp_path, **api):
    config = {"api": {"admin_password": "hans", "token": {"secret": SECRET}, **api}}
    app = create_app(ArgsServer, config=config, instance_path=str(tmp_path))
    use_throwaway_store(app, tmp_path)
    return app


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def client(app):
    return app.test_client()


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def login_token(client, username="admin", password="hans"):
    response = client.post(LOGIN, json={"username": username, "password": password})
    assert response.status_code == 200, response.json
    return response.json["data"]["token"]


# -- the seed's examples -------------------------------------------------------------


def test_seed_login_under_the_container_root_then_cookies(client):
    signin = client.get("/args/login?username=admin&password=hans")
    assert signin.status_code == 200
    token = signin.json["data"]["token"]
    assert signin.headers["token"] == token
    assert client.get_cookie("token").value == token
    response = client.get("/args/test?dt=2018-11-07")
    assert response.status_code == 200
    assert response.json["data"]["dt"] == "2018-11-07T00:00:00"
    assert response.json["data"]["user"] == "admin"
    posted = client.post("/args/test", json={"dt": "2018-11-07"})
    assert posted.status_code == 200  # a POST with only the cookie works (SameSite=Lax)


def test_seed_login_post_json_then_bearer_then_cookies(app):
    client = app.test_client()
    token = login_token(client)
    fresh = app.test_client()
    assert fresh.get(PROFILE, headers=bearer(token)).status_code == 200
    fresh.set_cookie("token", token)
    profile = fresh.get(PROFILE)
    assert profile.status_code == 200
    assert profile.json["data"]["name"] == "admin"


def test_login_answers_core4_shape_with_header_and_cookie(client):
    response = client.get(LOGIN, query_string={"username": "admin", "password": "hans"})
    body = response.json
    assert set(body) == {"_id", "code", "message", "timestamp", "data"}
    assert body["data"] == {"token": response.headers["token"]}
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"token={body['data']['token']};")
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=28800"):
        assert flag in cookie
    assert "Secure" not in cookie


def test_browsers_may_read_the_token_header_of_responses_that_carry_one(client):
    login = client.get(LOGIN, query_string={"username": "admin", "password": "hans"})
    assert login.headers["token"]
    assert login.headers["Access-Control-Expose-Headers"] == "token"
    assert login.headers["Access-Control-Allow-Origin"] == "*"
    plain = client.get("/core4/api/v1/profile", headers=bearer(login.headers["token"]))
    assert plain.status_code == 200
    assert "token" not in plain.headers
    assert "Access-Control-Expose-Headers" not in plain.headers
    assert plain.headers["Access-Control-Allow-Origin"] == "*"


def test_cookie_is_secure_over_https(app):
    client = app.test_client()
    response = client.get(LOGIN + "?username=admin&password=hans", base_url="https://localhost")
    assert response.status_code == 200
    assert "; Secure" in response.headers["Set-Cookie"]


# -- credential sources ------------------------------------------------------------------


def test_every_credential_source_works(app, client):
    token = login_token(client)
    plain = app.test_client()
    assert plain.get("/args/test", headers=bearer(token)).json["data"]["user"] == "admin"
    assert plain.get("/args/test", headers=basic("admin", "hans")).status_code == 200
    assert plain.get("/args/test", query_string={"token": token}).status_code == 200
    assert plain.post("/args/test", json={"token": token}).status_code == 200
    assert plain.get("/args/test?username=admin&password=hans").status_code == 200
    assert plain.post("/args/test", json={"username": "admin", "password": "hans"}).status_code == 200
    plain.set_cookie("token", token)
    assert plain.get("/args/test").status_code == 200


def test_credential_arguments_are_hidden_from_handlers(app, client):
    token = login_token(client)
    response = app.test_client().get("/args/test", query_string={"token": token, "keep": "1"})
    assert response.json["data"]["arguments"] == ["keep"]
    response = app.test_client().post("/args/test", json={"username": "admin", "password": "hans", "x": 1})
    assert response.json["data"]["arguments"] == ["x"]


def test_basic_login_with_colons_in_the_password(app, client):
    create_user(app, "colon", password="pa:ss:w:rd")
    response = client.get(LOGIN, headers=basic("colon", "pa:ss:w:rd"))
    assert response.status_code == 200
    assert client.get("/args/test", headers=basic("colon", "pa:ss")).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic",
        "Basic ====",
        "Basic " + base64.b64encode(b"no colon here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe\xfd:x").decode(),
        "Bearer",
        "Bearer  ",
        "Bearer abc",
        "Bearer a.b.c",
        "Unknown scheme",
        "\x00\x01",
    ],
)
def test_malformed_authorization_is_401_never_500(client, header):
    response = client.get("/args/test", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(LOGIN, headers={"Authorization": header}).status_code == 401


# -- names are matched exactly -------------------------------------------------------------


def test_prefixes_and_substrings_of_a_name_do_not_match(client):
    for name in ("adm", "dmin", "d", "admin ", " admin", "admin.*", ".*", "^admin$", "ad.in"):
        assert client.get(LOGIN, query_string={"username": name, "password": "hans"}).status_code == 401, name
    assert client.get(LOGIN, query_string={"username": "ADMIN", "password": "hans"}).status_code == 200


@pytest.mark.parametrize("name", ["x.*", "[a", "a+b", "(x)", "a|admin", "$^", "a\\d"])
def test_names_with_regex_metacharacters_log_in_as_themselves(app, client, name):
    create_user(app, name, password="Staple-Orbit-River-9")
    response = client.get(LOGIN, query_string={"username": name, "password": "Staple-Orbit-River-9"})
    assert response.status_code == 200
    profile = app.test_client().get(PROFILE, headers=bearer(response.json["data"]["token"]))
    assert profile.json["data"]["name"] == name
    assert client.get(LOGIN, query_string={"username": name, "password": "hans"}).status_code == 401


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "?bla=1", "?username=abc", "?username=admin", "?username=admin&password=wrong", "?password=hans"],
)
def test_failed_logins_are_401_envelopes(client, query):
    response = client.get(LOGIN + query)
    assert response.status_code == 401
    assert response.json["code"] == 401 and response.json["message"] == "Unauthorized"
    assert "data" not in response.json
    assert "WWW-Authenticate" in response.headers
    assert "Set-Cookie" not in response.headers


def test_wrong_password_in_a_json_body_with_or_without_content_type(client):
    assert client.post(LOGIN, json={"username": "admin", "password": "x"}).status_code == 401
    raw = b'{"username": "admin", "password": "x"}'
    assert client.post(LOGIN, data=raw, content_type="text/plain").status_code == 401
    assert client.post(LOGIN, data=raw.replace(b"x", b"hans"), content_type="text/plain").status_code == 200


def test_inactive_users_cannot_log_in(app, client):
    create_user(app, "sleeper", password="Quiet-Harbor-83", is_active=False)
    assert client.get(LOGIN + "?username=sleeper&password=Quiet-Harbor-83").status_code == 401


def test_unauthenticated_head_is_401_and_browsers_are_sent_to_the_login_page(client):
    head = client.head("/args/test")
    assert head.status_code == 401 and head.data == b""
    page = client.get("/args/test?dt=2020-01-01", headers=BROWSER)
    assert page.status_code == 302
    assert page.headers["Location"].startswith(LOGIN + "?next=/args/test")
    assert client.get("/args/test").status_code == 401


def test_valid_user_without_permission_is_403(app, client):
    nobody = create_user(app, "nobody", password="Quiet-Harbor-83")
    assert client.get("/args/test", headers=basic("nobody", "Quiet-Harbor-83")).status_code == 403
    allowed = create_user(app, "allowed", password="Quiet-Harbor-83", perm=[f"api://{ArgsHandler.qual_name()}"])
    assert client.get("/args/test", headers=basic(allowed.name, "Quiet-Harbor-83")).status_code == 200
    readonly = create_user(app, "readonly", password="Quiet-Harbor-83", perm=[f"api://{ArgsHandler.qual_name()}/r"])
    assert client.get("/args/test", headers=basic(readonly.name, "Quiet-Harbor-83")).status_code == 200
    assert client.post("/args/test", headers=basic(readonly.name, "Quiet-Harbor-83")).status_code == 403
    assert nobody.name == "nobody"


# -- the login page ----------------------------------------------------------------------------


def test_browsers_get_a_self_contained_login_page(client):
    response = client.get(LOGIN + "?next=/args/test%3Fdt%3D1", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.get_data(as_text=True)
    assert '<label for="username">' in html and '<label for="password">' in html
    assert 'autocomplete="current-password"' in html
    assert 'data-next="/args/test?dt=1"' in html
    assert 'action="/core4/api/v1/login"' in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<script nonce="{nonce}">' in html
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil",
        "/\t/evil.example",
        "/\n/x",
    ],
)
def test_login_page_only_follows_same_site_paths(client, target):
    response = client.get(LOGIN, query_string={"next": target}, headers=BROWSER)
    assert 'data-next="/"' in response.get_data(as_text=True)


def test_login_page_under_every_root_posts_to_itself(client):
    html = client.get("/args/login", headers=BROWSER).get_data(as_text=True)
    assert 'action="/args/login"' in html


def test_browser_with_credentials_logs_in(client):
    response = client.get(LOGIN + "?username=admin&password=hans", headers=BROWSER)
    assert response.status_code == 200 and "token" in response.headers


# -- logout -------------------------------------------------------------------------------------


def test_logout_revokes_the_token_and_clears_the_cookie(app, client):
    token = login_token(client)
    other = app.test_client()
    assert other.get("/args/test", headers=bearer(token)).status_code == 200
    response = client.post("/core4/api/v1/logout", headers=bearer(token))
    assert response.status_code == 200 and response.json["data"] == "OK"
    cleared = response.headers.getlist("Set-Cookie")
    assert len(cleared) == 1 and cleared[0].startswith("token=;") and "Max-Age=0" in cleared[0]
    assert "token" not in response.headers
    assert other.get("/args/test", headers=bearer(token)).status_code == 401
    assert other.get("/args/test", query_string={"token": token}).status_code == 401
    assert client.get(LOGIN, headers=bearer(token)).status_code == 401


def test_logout_under_a_container_root_and_for_browsers(app, client):
    login_token(client)  # sets the cookie
    response = client.get("/args/logout", headers=BROWSER)
    assert response.status_code == 302 and response.headers["Location"] == LOGIN
    assert client.get("/args/test").status_code == 401
    assert client.get("/args/logout").status_code == 401


def test_logout_with_a_password_just_clears_the_cookie(client):
    response = client.get("/core4/api/v1/logout", headers=basic("admin", "hans"))
    assert response.status_code == 200 and response.json["data"] == "OK"
    assert client.get("/args/test", headers=basic("admin", "hans")).status_code == 200


def test_public_handlers_need_no_login(client):
    assert client.get("/args/public").json["data"] == "public"


# -- secrets stay secret --------------------------------------------------------------------------


def test_secret_never_appears_in_responses_or_logs(tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    app = make_app(tmp_path, setting={"debug": True})
    client = app.test_client()
    key = signing_key(SECRET, "HS512")
    token = login_token(client)
    user = create_user(app, "limited", password="Quiet-Harbor-83")
    responses = [
        client.get(LOGIN + "?username=admin&password=wrong"),
        client.get("/args/test", headers=bearer(token[:-3] + "abc")),
        client.get("/args/test", headers=bearer(token)),
        client.get("/args/test", headers=basic("limited", "Quiet-Harbor-83")),
        client.get("/args/nope", headers=bearer(token)),
        client.get(PROFILE, headers=bearer(issue_token(app, user._id))),
        client.get(LOGIN, headers=BROWSER),
        client.post("/core4/api/v1/logout", headers=bearer(token)),
    ]
    seen = "".join(str(r.headers) + r.get_data(as_text=True) for r in responses)
    output = capsys.readouterr()
    seen += output.out + output.err + caplog.text
    assert "limited" in seen  # the capture works
    for needle in (SECRET, key.hex(), base64.urlsafe_b64encode(key).decode().rstrip("=")):
        assert needle not in seen
    assert "hans" not in caplog.text


# -- inside an application with its own flask-jwt-extended -------------------------------------------


def test_a_host_applications_own_jwt_setup_is_left_alone(tmp_path):
    import flask
    import jwt as pyjwt
    from flask_jwt_extended import JWTManager, create_access_token, get_jwt_identity, jwt_required

    from core4flask import Core4

    host = flask.Flask("host", instance_path=str(tmp_path))
    host.config.update(JWT_SECRET_KEY="host-secret-" + "x" * 32, JWT_ALGORITHM="HS256", JWT_TOKEN_LOCATION=["headers"])
    JWTManager(host)

    @host.get("/hostme")
    @jwt_required()
    def hostme():
        return {"me": get_jwt_identity()}

    with host.app_context():
        host_token = create_access_token(identity="host-user")
    Core4(host, ArgsServer, config={"api": {"admin_password": "hans", "token": {"secret": SECRET}}})
    host.extensions["core4flask"].prepare_serving()
    client = host.test_client()

    assert host.config["JWT_ALGORITHM"] == "HS256"
    assert client.get("/hostme", headers=bearer(host_token)).json == {"me": "host-user"}
    core4_token = login_token(client)
    assert pyjwt.get_unverified_header(core4_token)["alg"] == "HS512"
    assert client.get("/args/test", headers=bearer(core4_token)).json["data"]["user"] == "admin"
    assert client.get("/args/test", headers=bearer(host_token)).status_code == 401


def test_without_the_standard_api_browsers_sign_in_at_the_container(tmp_path):
    import flask

    from core4flask import Core4

    host = flask.Flask("no_standard", instance_path=str(tmp_path))
    Core4(host, ArgsServer, config={"api": {"admin_password": "hans"}}, standard_api=False)
    client = host.test_client()
    response = client.get("/args/test", headers=BROWSER)
    assert response.status_code == 302
    assert response.headers["Location"] == "/args/login?next=/args/test"
    page = client.get(response.headers["Location"], headers=BROWSER)
    assert page.status_code == 200 and "<form" in page.get_data(as_text=True)
    assert (
        make_app(tmp_path / "standard")
        .test_client()
        .get("/args/test", headers=BROWSER)
        .headers["Location"]
        .startswith("/core4/api/v1/login?next=")
    )
