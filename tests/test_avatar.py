"""``/core4/api/v1/avatar``: uploads as the App Manager's cropper sends them, images as <img> gets them.

HTTP tests run on both store backends; the image check is also tested as a
plain function.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from core4flask.roles.avatar import MAX_AVATAR_SIZE, image_type
from tests.fixtures.store_apps import AXIOS_ACCEPT, BACKENDS, IMG_ACCEPT, USER_PASSWORD, add_user, app_on, browser_login

AVATAR = "/core4/api/v1/avatar"


def png() -> bytes:
    """A 1x1 PNG, as a canvas' toBlob() makes them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
BMP = (
    b"BM"
    + struct.pack("<IHHI", 58, 0, 0, 54)
    + struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, 4, 0, 0, 0, 0)
    + b"\0" * 4
)


@pytest.fixture(params=BACKENDS)
def app(request: Any, tmp_path: Any, monkeypatch: Any) -> Iterator[Any]:
    application = app_on(request.param, tmp_path, monkeypatch)
    yield application
    application.extensions["core4flask"].store.close()


@pytest.fixture
def browser(app: Any) -> Any:
    return browser_login(app)


BOUNDARY = "----WebKitFormBoundaryc0re4f1askAvatar"


def form_data(name: str, filename: str, content_type: str, data: bytes) -> bytes:
    """A ``multipart/form-data`` body with one file part, as Chromium encodes a FormData."""
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def cropper_upload(
    client: Any, data: bytes, filename: str = "portrait.jpg", query: str = "", name: str = "file"
) -> Any:
    """POST as vue-avatar-cropper sends it: an XHR with FormData field ``file``
    (the cropped canvas as PNG, named after the picked file), no Authorization."""
    return client.post(
        AVATAR + query,
        data=form_data(name, filename, "image/png", data),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers={"Accept": "*/*"},
    )


def check_avatar(client: Any, query: str = "") -> Any:
    """GET as core4's UI library checks for an avatar (axios, no Authorization)."""
    return client.get(AVATAR + query, headers={"Accept": AXIOS_ACCEPT})


# -- recognising images --------------------------------------------------------------------


def test_images_are_recognised_by_their_first_bytes() -> None:
    assert image_type(png()) == "image/png"
    assert image_type(JPEG) == "image/jpeg"
    assert image_type(GIF) == "image/gif"
    assert image_type(BMP) == "image/bmp"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b"BM but then just text, no bitmap header at all",
        b"\x89PNG\r\n\x1a\n",  # a signature without its header chunk
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"\x00\x00\x01\x00\x01\x00",  # an icon
        b"%PDF-1.7",
    ],
)
def test_anything_else_is_not_an_image(data: bytes) -> None:
    assert image_type(data) is None


# -- the App Manager's calls ---------------------------------------------------------------


def test_no_avatar_yet_is_core4s_envelope(app: Any, browser: Any) -> None:
    response = check_avatar(browser)
    assert response.status_code == 200
    assert response.json["data"] == "No avatar set yet." and response.json["code"] == 200


@pytest.mark.parametrize(
    ("data", "kind"), [(png(), "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (BMP, "image/bmp")]
)
def test_upload_then_fetch_the_image(app: Any, browser: Any, data: bytes, kind: str) -> None:
    response = cropper_upload(browser, data)
    assert response.status_code == 200, response.json
    assert response.json["data"] == "Successfully set an avatar."
    image = check_avatar(browser)
    assert image.status_code == 200 and image.data == data
    assert image.mimetype == kind
    assert {"no-cache", "private"} <= {part.strip() for part in image.headers["Cache-Control"].split(",")}
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Content-Disposition"] == "inline"
    assert image.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_img_tag_with_a_token_argument_gets_the_image(app: Any, browser: Any) -> None:
    # core4's login page keeps the token in localStorage and core4's UI
    # puts it into the <img> URL; such a request has no cookie
    assert cropper_upload(browser, GIF).status_code == 200
    token = browser.post("/core4/api/v1/login", json={"username": "admin", "password": "hans"}).json["data"]["token"]
    img = app.test_client().get(AVATAR, query_string={"token": token}, headers={"Accept": IMG_ACCEPT})
    assert img.status_code == 200 and img.data == GIF and img.mimetype == "image/gif"
    upload = cropper_upload(app.test_client(), png(), query=f"?token={token}")
    assert upload.status_code == 200


def test_each_user_sees_only_their_own_avatar(app: Any, browser: Any) -> None:
    add_user(app, "bob")
    bob = browser_login(app, "bob", USER_PASSWORD)
    assert cropper_upload(browser, GIF).status_code == 200
    assert check_avatar(bob).json["data"] == "No avatar set yet."
    assert cropper_upload(bob, JPEG).status_code == 200
    assert check_avatar(bob).data == JPEG and check_avatar(browser).data == GIF


def test_unchanged_image_revalidates_with_304(app: Any, browser: Any) -> None:
    assert cropper_upload(browser, JPEG).status_code == 200
    first = check_avatar(browser)
    again = browser.get(AVATAR, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert cropper_upload(browser, GIF).status_code == 200
    changed = browser.get(AVATAR, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.data == GIF


def test_not_signed_in_is_401_for_api_clients_and_images(app: Any) -> None:
    client = app.test_client()
    for accept in (AXIOS_ACCEPT, IMG_ACCEPT):
        assert client.get(AVATAR, headers={"Accept": accept}).status_code == 401
    assert cropper_upload(client, png()).status_code == 401


# -- what is refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"<html><script>alert(document.cookie)</script></html>", "avatar.png"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "avatar.svg"),
        (b"", "empty.png"),
    ],
)
def test_a_script_or_anything_not_an_image_is_400(app: Any, browser: Any, data: bytes, filename: str) -> None:
    response = cropper_upload(browser, data, filename)
    assert response.status_code == 400 and "valid image" in response.json["error"]
    assert check_avatar(browser).json["data"] == "No avatar set yet."


def test_an_image_polyglot_is_only_ever_served_as_that_image(app: Any, browser: Any) -> None:
    polyglot = GIF + b"<html><script>alert(document.cookie)</script></html>"
    assert cropper_upload(browser, polyglot, "page.html").status_code == 200
    served = browser.get(AVATAR, headers={"Accept": "text/html"})
    assert served.mimetype == "image/gif" and served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_upload_without_a_file_field_is_400(app: Any, browser: Any) -> None:
    wrong_name = cropper_upload(browser, GIF, name="image")
    assert wrong_name.status_code == 400 and "[file]" in wrong_name.json["error"]
    as_json = browser.post(AVATAR, json={"file": "R0lGODlh"})
    assert as_json.status_code == 400


def test_16_mib_is_accepted_and_one_byte_more_is_413(app: Any, browser: Any) -> None:
    largest = GIF + b"\0" * (MAX_AVATAR_SIZE - len(GIF))
    assert cropper_upload(browser, largest).status_code == 200
    too_large = cropper_upload(browser, largest + b"\0")
    assert too_large.status_code == 413 and "16 MiB" in too_large.json["error"]
    assert len(check_avatar(browser).data) == MAX_AVATAR_SIZE


def test_a_body_announcing_more_is_413_before_it_is_read(app: Any, browser: Any) -> None:
    reads: list[tuple] = []

    class Unread(io.BytesIO):
        """A body that records every attempt to read it."""

        def read(self, *args: Any) -> bytes:
            reads.append(args)
            return super().read(*args)

        def readinto(self, buffer: Any) -> int:
            reads.append(("readinto",))
            return super().readinto(buffer)

        def readline(self, *args: Any) -> bytes:
            reads.append(args)
            return super().readline(*args)

    declared = MAX_AVATAR_SIZE * 2
    for client in (browser, app.test_client()):
        response = client.post(
            AVATAR,
            input_stream=Unread(),
            content_type="multipart/form-data; boundary=x",
            environ_overrides={"CONTENT_LENGTH": str(declared)},
        )
        assert response.request.environ["CONTENT_LENGTH"] == str(declared)
        assert response.status_code == 413 and "16 MiB" in response.json["error"]
    assert reads == []
