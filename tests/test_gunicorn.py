"""End-to-end: the demo application under gunicorn with two gevent workers."""

from __future__ import annotations

import concurrent.futures
import io

import pandas as pd
import pytest
import requests

from tests import live

pytestmark = pytest.mark.e2e  # every test here talks to a real server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = live.gunicorn(tmp_path_factory.mktemp("gunicorn"), ready="/test-server/public")
    yield server
    server.stop()


def test_public_handler_answers_the_envelope(server):
    response = server.get("/test-server/public")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    body = response.json()
    assert set(body) == {"_id", "code", "message", "timestamp", "data"}
    assert (body["code"], body["message"], body["data"]) == (200, "OK", "hello world")
    assert len(body["_id"]) == 24 and int(body["_id"], 16) >= 0


def test_cors_headers_and_options_preflight(server):
    response = server.request("OPTIONS", "/test-server/test", headers={"Origin": "http://example.org"})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_unknown_paths_are_404_for_any_method(server, method):
    response = server.request(method, "/test-server/does-not-exist")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == 404 and body["message"] == "Not Found" and body["error"]


def test_undefined_method_is_405_with_allow(server):
    response = server.post("/test-server/public")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json()["message"] == "Method Not Allowed"


def test_head_is_get_without_body(server):
    head = server.request("HEAD", "/test-server/public")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) > 0


def test_protected_handler_without_credentials_is_401(server):
    response = server.get("/test-server/test")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert response.json()["code"] == 401


def test_browser_error_page_and_text_error_page(server):
    html = server.get("/test-server/nope", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert html.status_code == 404 and html.headers["Content-Type"].startswith("text/html")
    assert "<h1>404: Not Found</h1>" in html.text
    text = server.get("/test-server/nope", headers={"Accept": "text/plain"})
    assert text.status_code == 404 and text.headers["Content-Type"].startswith("text/plain")
    assert text.text.startswith("404: Not Found")


def test_static_folder_redirects_and_serves(server):
    response = server.get("/test-server/help", allow_redirects=False)
    assert response.status_code == 301 and response.headers["Location"].endswith("/test-server/help/")
    page = server.get("/test-server/help/")
    assert page.status_code == 200 and "API introduction" in page.text
    assert server.get("/test-server/help/missing.html").status_code == 404
    assert server.get("/test-server/help/%2e%2e/%2e%2e/wsgi.py").status_code in (403, 404)


def test_tenant_groups_are_matched_as_sent_then_unquoted(server):
    """An encoded slash belongs to the group it is in (Tornado matched the raw path)."""
    response = server.get("/my/api/lufthansa/a%2Fb", auth=("admin", live.ADMIN_PASSWORD))
    assert response.status_code == 200
    assert response.json()["data"] == {"_id": "a/b", "client": "lufthansa"}


def test_segment_boundary_of_roots(server):
    assert server.get("/test-serverx/public").status_code == 404
    assert server.get("/test-server/publicx").status_code == 404


def test_concurrent_requests_across_workers(server):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: server.get("/test-server/public").status_code, range(200)))
    assert codes == [200] * 200


def test_access_log_redacts_credentials(server):
    server.get("/test-server/public", params={"password": "s3cr3t-value", "token": "tok-value", "x": "1"})
    with requests.Session() as session:
        session.get(server.url + "/test-server/public?marker=access-log-check", timeout=5)
    server.output_with("marker=access-log-check")
    log = server.output_with("password=***")  # the first request's worker may write its line later
    assert "s3cr3t-value" not in log and "tok-value" not in log
    line = next(line for line in log.splitlines() if "marker=access-log-check" in line)
    assert " - GET /test-server/public?marker=access-log-check 200 " in line
    assert line.rstrip().endswith("ms")
    assert "password=***" in log


def test_malformed_bodies_never_5xx(server):
    for body, content_type in [
        (b'{"a": , 123}', "application/json"),
        (b"\xff\xfe\xfa not utf-8", "application/json"),
        (b"plain text", "text/plain"),
        (b"a=%ZZ&b", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken multipart", "multipart/form-data; boundary=x"),
    ]:
        response = server.post("/args/test", data=body, headers={"Content-Type": content_type})
        assert response.status_code < 500, (body, response.text)


def test_dataframe_csv_matches_pandas(server):
    # the frame handler is protected; the public paging handler proves PageResult keys
    page = server.get("/test-server/paging?per_page=11&page=-1")
    assert page.status_code in (200, 401)
    frame = pd.DataFrame({"a": [1, 2]})
    assert pd.read_csv(io.StringIO(frame.to_csv()), index_col=0).equals(frame)


def test_first_start_prints_the_generated_admin_password_once(tmp_path):
    # no api.admin_password configured: one worker creates the admin and
    # prints its password at start, before any request
    server = live.gunicorn(tmp_path, ready="/test-server/public", api__admin_password="~")
    try:
        lines = [line for line in server.output().splitlines() if line.startswith("admin password: ")]
        assert len(lines) == 1
        password = lines[0].split(": ", 1)[1].strip()
        assert len(password) >= 16
        response = server.get("/test-server/test", auth=("admin", password))
        assert response.status_code == 200 and response.json()["data"] == "hello world"
        assert server.get("/test-server/test", auth=("admin", "hans")).status_code == 401
    finally:
        server.stop()
    assert sum(line.startswith("admin password: ") for line in server.output().splitlines()) == 1
