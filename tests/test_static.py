"""``CoreStaticFileHandler``, the ``_asset`` route, ``static_url``/``default_static``."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, CoreStaticFileHandler
from core4flask.container import resource_id
from core4flask.templating import PACKAGE_STATIC
from tests.fixtures import make_client
from tests.fixtures.project.handlers import HERE, ProjectContainer

STATIC = HERE / "static"


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path, ProjectContainer)


def test_pattern_without_slash_redirects_permanently(client):
    response = client.get("/fixture/files?x=1")
    assert response.status_code == 301
    assert response.headers["Location"] == "/fixture/files/"


def test_folder_url_serves_the_default_filename(client):
    response = client.get("/fixture/files/")
    assert response.status_code == 200
    assert response.get_data() == (STATIC / "index.html").read_bytes()
    assert response.mimetype == "text/html"


def test_files_below_the_folder(client):
    response = client.get("/fixture/files/css/site.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    assert response.get_data() == (STATIC / "css" / "site.css").read_bytes()


def test_sub_folder_without_slash_redirects(client):
    response = client.get("/fixture/files/sub")
    assert response.status_code == 301
    assert response.headers["Location"] == "/fixture/files/sub/"
    assert client.get("/fixture/files/sub/").get_data() == (STATIC / "sub" / "index.html").read_bytes()


def test_default_filename_from_rule_kwargs(client):
    assert client.get("/fixture/other/sub/").get_data() == (STATIC / "sub" / "other.html").read_bytes()
    assert client.get("/fixture/other/").status_code == 404


@pytest.mark.parametrize("path", ["/fixture/files/nothere.txt", "/fixture/files/noindex/", "/fixture/files/css/x"])
def test_missing_files_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["message"] == "Not Found"


def test_pattern_is_segment_bounded(client):
    assert client.get("/fixture/filesx").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/fixture/files/../handlers.py",
        "/fixture/files/%2e%2e/handlers.py",
        "/fixture/files/.%2e/.%2e/fixtures/__init__.py",
        "/fixture/files/..%2fhandlers.py",
        "/fixture/files/sub/../../handlers.py",
        "/fixture/files//etc/passwd",
        "/fixture/files/%2fetc%2fpasswd",
        "/fixture/files/C:%5cwindows",
    ],
)
def test_no_escape_from_the_folder(client, path):
    response = client.get(path)
    assert response.status_code in (403, 404)
    assert b"root:" not in response.get_data()
    assert b"import" not in response.get_data()


def test_dot_dot_inside_the_folder_is_fine(client):
    assert client.get("/fixture/files/css/../index.html").get_data() == (STATIC / "index.html").read_bytes()


def test_path_from_project_root(client):
    assert client.get("/fixture/rootfiles/css/site.css").get_data() == (STATIC / "css" / "site.css").read_bytes()


def test_absolute_path_outside_the_project(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("absolute", encoding="utf-8")

    class AbsoluteContainer(CoreApiContainer):
        root = "/abs"
        rules = [("/site", CoreStaticFileHandler, {"path": str(folder), "protected": False})]

    client = make_client(tmp_path / "instance", AbsoluteContainer)
    assert client.get("/abs/site/").get_data(as_text=True) == "absolute"


def test_relative_path_is_relative_to_the_container_module(tmp_path):
    class HereContainer(CoreApiContainer):
        root = "/here"
        rules = [("/s", CoreStaticFileHandler, {"path": "fixtures/project/static", "protected": False})]

    client = make_client(tmp_path, HereContainer)
    assert client.get("/here/s/sub/").get_data() == (STATIC / "sub" / "index.html").read_bytes()


def test_class_attributes_of_a_subclass(tmp_path):
    class HelpHandler(CoreStaticFileHandler):
        path = "fixtures/project/static/sub"
        default_filename = "other.html"
        protected = False

    class HelpContainer(CoreApiContainer):
        root = "/subclass"
        rules = [("/help", HelpHandler)]

    client = make_client(tmp_path, HelpContainer)
    assert client.get("/subclass/help/").get_data() == (STATIC / "sub" / "other.html").read_bytes()


def test_head_and_other_methods(client):
    head = client.head("/fixture/files/css/site.css")
    assert head.status_code == 200
    assert head.get_data() == b""
    assert int(head.headers["Content-Length"]) == (STATIC / "css" / "site.css").stat().st_size
    post = client.post("/fixture/files/css/site.css")
    assert post.status_code == 405
    assert "GET" in post.headers["Allow"]


def test_conditional_requests(client):
    first = client.get("/fixture/files/css/site.css")
    etag = first.headers["ETag"]
    again = client.get("/fixture/files/css/site.css", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_seed_help_container_pattern(tmp_path):
    """The seed's ``(r"/help", CoreStaticFileHandler, {...})`` rule."""
    from demo.seed import TestServer

    client = make_client(tmp_path, TestServer)
    assert client.get("/test-server/help").status_code == 301
    response = client.get("/test-server/help/")
    assert response.status_code == 200
    assert b"<" in response.get_data()


# -- static_url, default_static and the _asset route ----------------------------------------------


class AssetHandler(CoreRequestHandler):
    protected = False
    static_path = "fixtures/project/assets"

    def get(self):
        return {
            "static": self.static_url("logo.txt"),
            "from_root": self.static_url("/fixtures/project/top.txt"),
            "inside_from_root": self.static_url("/fixtures/project/assets/logo.txt"),
            "default": self.default_static("default.css"),
            "rsc_id": self.rsc_id,
        }


class SourceAssetHandler(AssetHandler):
    """A public handler without a static folder of its own: its module's folder."""

    static_path = None


class AssetContainer(CoreApiContainer):
    root = "/assets"
    rules = [
        ("/urls", AssetHandler),
        ("/other", AssetHandler, {"static_path": "fixtures/project/static"}),
        ("/source", SourceAssetHandler),
    ]


@pytest.fixture
def asset_client(tmp_path):
    return make_client(tmp_path, AssetContainer, config={"api": {"admin_password": "hans"}})


def test_static_url_forms(asset_client):
    data = asset_client.get("/assets/urls").json["data"]
    rsc_id = resource_id("test_static.AssetHandler", {})
    assert data["rsc_id"] == rsc_id
    assert data["static"] == f"/assets/_asset/project/{rsc_id}/logo.txt"
    assert data["from_root"] == f"/assets/_asset/project/{rsc_id}//fixtures/project/top.txt"
    assert data["default"] == f"/assets/_asset/default/{rsc_id}/default.css"


ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:hans").decode()}


def test_asset_urls_are_served(asset_client):
    data = asset_client.get("/assets/urls").json["data"]
    assert asset_client.get(data["static"]).get_data() == (HERE / "assets" / "logo.txt").read_bytes()
    inside = asset_client.get(data["inside_from_root"])
    assert inside.status_code == 200
    assert inside.get_data() == (HERE / "assets" / "logo.txt").read_bytes()
    default = asset_client.get(data["default"])
    assert default.status_code == 200
    assert default.get_data() == (PACKAGE_STATIC / "default.css").read_bytes()


def test_only_files_below_the_static_path_are_assets(asset_client):
    """``//path`` is read from the project root but must still lie below the
    static folder; a handler without a ``static_path`` has no assets at all
    (its module folder holds its source), not even for a cop."""
    from_root = asset_client.get("/assets/urls").json["data"]["from_root"]
    for headers in ({}, ADMIN):
        response = asset_client.get(from_root, headers=headers)
        assert response.status_code == 404
        assert response.get_data() != (HERE / "top.txt").read_bytes()
    source = asset_client.get("/assets/source").json["data"]["static"]
    for name in ("logo.txt", "test_static.py", "fixtures/project/assets/logo.txt"):
        for headers in ({}, ADMIN):
            response = asset_client.get(source.replace("logo.txt", name), headers=headers)
            assert response.status_code == 404
            assert b"import" not in response.get_data()
    base = asset_client.get("/assets/urls").json["data"]["static"].rsplit("/", 1)[0]
    for escape in ("//fixtures/project/assets/../top.txt", "//../tests/test_static.py", "//", "/"):
        response = asset_client.get(base + escape, headers=ADMIN)
        assert response.status_code in (403, 404)
        assert b"import" not in response.get_data()


def test_hidden_files_are_never_assets(asset_client):
    assert (HERE / ".env").is_file()
    base = asset_client.get("/assets/urls").json["data"]["from_root"].rsplit("/", 1)[0]
    for name in (".env", ".git/config", "sub/.secret"):
        response = asset_client.get(f"{base}/{name}", headers=ADMIN)
        assert response.status_code == 404
        assert b"NOT_A_SECRET" not in response.get_data()


def test_asset_preflight_answers_200(asset_client):
    url = asset_client.get("/assets/urls").json["data"]["static"]
    response = asset_client.options(url)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_rule_kwarg_static_path_is_honoured(asset_client):
    data = asset_client.get("/assets/other").json["data"]
    assert data["rsc_id"] != asset_client.get("/assets/urls").json["data"]["rsc_id"]
    url = data["static"].replace("logo.txt", "css/site.css")
    assert asset_client.get(url).get_data() == (STATIC / "css" / "site.css").read_bytes()


def test_default_static_from_config(tmp_path):
    folder = tmp_path / "defaults"
    folder.mkdir()
    (folder / "default.css").write_text("configured", encoding="utf-8")
    client = make_client(tmp_path / "instance", AssetContainer, config={"api": {"default_static": str(folder)}})
    url = client.get("/assets/urls").json["data"]["default"]
    assert client.get(url).get_data(as_text=True) == "configured"


def test_asset_errors(asset_client):
    data = asset_client.get("/assets/urls").json["data"]
    base = data["static"].rsplit("/", 1)[0]
    assert asset_client.get(base + "/missing.txt").status_code == 404
    assert asset_client.get("/assets/_asset/project/" + "0" * 32 + "/logo.txt").status_code == 404
    assert asset_client.get(base + "/../handlers.py").status_code in (403, 404)
    assert asset_client.get(base + "/%2e%2e/handlers.py").status_code in (403, 404)
    default_base = data["default"].rsplit("/", 1)[0]
    escaped = asset_client.get(default_base + "/../core4.yaml")
    assert escaped.status_code in (403, 404)
    assert b"mongo_url" not in escaped.get_data()
    assert asset_client.post(data["static"]).status_code == 405


def test_assets_of_another_container_are_not_served(tmp_path):
    class OtherContainer(CoreApiContainer):
        root = "/elsewhere"
        rules = [("/x", CoreRequestHandler)]

    client = make_client(tmp_path, AssetContainer, OtherContainer)
    url = client.get("/assets/urls").json["data"]["static"]
    assert re.match(r"/assets/", url)
    assert client.get(url.replace("/assets/", "/elsewhere/", 1)).status_code == 404


# -- download() ----------------------------------------------------------------------------------


class DownloadHandler(CoreRequestHandler):
    protected = False

    async def get(self):
        await self.download(self.get_argument("source"), self.get_argument("name"))

    def post(self):
        self.download(self.get_argument("source"), self.get_argument("name", default=None))


class DownloadContainer(CoreApiContainer):
    root = "/dl"
    rules = [("/download", DownloadHandler)]


@pytest.fixture
def download_client(tmp_path):
    return make_client(tmp_path / "download", DownloadContainer)


@pytest.mark.parametrize("method", ["get", "post"])
def test_download_with_special_file_name(download_client, tmp_path, method):
    source = tmp_path / "data.bin"
    source.write_bytes(b"\x00\x01payload")
    name = 'my "report" für Müller.csv'
    response = getattr(download_client, method)("/dl/download", query_string={"source": str(source), "name": name})
    assert response.status_code == 200
    assert response.get_data() == b"\x00\x01payload"
    assert response.mimetype == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" + quote(name, safe="") in disposition
    ascii_part = re.search(r'filename="((?:[^"\\]|\\.)*)"', disposition).group(1)
    assert ascii_part.isascii()


def test_download_name_with_line_breaks_cannot_end_the_header(download_client, tmp_path):
    source = tmp_path / "data.bin"
    source.write_bytes(b"payload")
    name = "report\r\nSet-Cookie: x=1\n.csv"
    response = download_client.get("/dl/download", query_string={"source": str(source), "name": name})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "report__Set-Cookie: x=1_.csv" in response.headers["Content-Disposition"]


def test_download_default_name_and_missing_file(download_client, tmp_path):
    source = tmp_path / "plain name.txt"
    source.write_text("x", encoding="utf-8")
    response = download_client.post("/dl/download", query_string={"source": str(source)})
    assert response.headers["Content-Disposition"] == 'attachment; filename="plain name.txt"'
    missing = download_client.get("/dl/download", query_string={"source": str(tmp_path / "nope"), "name": "x"})
    assert missing.status_code == 404
    assert missing.json["code"] == 404


def test_download_streams_large_files(download_client, tmp_path):
    source = tmp_path / "big.bin"
    payload = b"0123456789" * 300_000
    source.write_bytes(payload)
    response = download_client.get("/dl/download", query_string={"source": str(source), "name": "big.bin"})
    assert response.status_code == 200
    assert response.get_data() == payload
    assert int(response.headers["Content-Length"]) == 3_000_000
