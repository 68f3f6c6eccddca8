"""``/core4/api/v1/avatar``: the signed-in user's avatar image, as core4's ``AvatarHandler``.

``GET`` answers the image, or the envelope ``data: "No avatar set yet."``;
``POST`` takes a ``multipart/form-data`` upload named ``file``. Every
signed-in user manages their own avatar; it is kept in the store.

An upload can never become a script in a browser. It is accepted only when
its first bytes are those of a PNG, JPEG, GIF or BMP image (never judged by
file name or declared type) and at most 16 MiB, kept as sent, and served with
the type its bytes show, ``X-Content-Type-Options: nosniff`` (no browser
guesses HTML from it), ``Content-Disposition: inline`` and
``Content-Security-Policy: default-src 'none'; sandbox`` (opened on its own,
it runs nothing and loads nothing). The server never decodes an image, so no
imaging library parses untrusted input.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

import hashlib
from typing import Any

import flask
from werkzeug.wrappers import Response as WerkzeugResponse

from core4flask.errors import HTTPError
from core4flask.handler import CoreRequestHandler
from core4flask.types import User

__all__ = ["MAX_AVATAR_SIZE", "NO_AVATAR", "RULES", "AvatarHandler", "image_type"]

#: the largest avatar image accepted, in bytes (core4's limit)
MAX_AVATAR_SIZE = 16 * 1024 * 1024
#: what a multipart body may carry besides the image (boundaries, part headers, small fields)
MULTIPART_ALLOWANCE = 64 * 1024
#: the answer of GET for a user without an avatar (core4's text)
NO_AVATAR = "No avatar set yet."
#: the answer of a successful POST (core4's text)
AVATAR_SET = "Successfully set an avatar."
#: the headers of every image answer; see the module docstring
IMAGE_HEADERS = {
    "Cache-Control": "private, no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": "inline",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# sizes of the BMP info headers in use (core, OS/2 1 and 2, info, v2, v3, v4, v5)
_BMP_INFO_SIZES = frozenset((12, 16, 40, 52, 56, 64, 108, 124))
_TOO_LARGE = f"avatar larger than {MAX_AVATAR_SIZE // (1024 * 1024)} MiB"


def image_type(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG, GIF or BMP image by its first bytes; None for anything else."""
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:2] == b"BM" and len(data) >= 26 and int.from_bytes(data[14:18], "little") in _BMP_INFO_SIZES:
        return "image/bmp"
    return None


class AvatarHandler(CoreRequestHandler):
    """Your avatar: see it, or upload a new one.

    Methods:
        GET /avatar - the signed-in user's avatar image
        POST /avatar - set the avatar from a multipart upload

    Parameters:
        file (file): POST, the image (PNG, JPEG, GIF or BMP, at most 16 MiB)

    Returns:
        GET the image bytes with their image type, or ``data`` ``No avatar
        set yet.``; POST ``data`` ``Successfully set an avatar.``

    Raises:
        400: no upload named ``file``, or not a PNG, JPEG, GIF or BMP image
        401: not signed in
        413: the image is larger than 16 MiB
    """

    title = "avatar"
    author = "core4flask"
    icon = "mdi-account-circle"

    def verify_access(self, method: str | None = None) -> bool:
        """Every signed-in user manages their own avatar."""
        return True

    def prepare_protection(self) -> None:
        """Refuse an oversized upload before its body is read (and bound a chunked one)."""
        request = self.request
        if request.method == "POST":
            limit = MAX_AVATAR_SIZE + MULTIPART_ALLOWANCE
            # set first: the error page looks for a content_type argument in the body too
            request.max_content_length = limit
            if (request.content_length or 0) > limit:
                raise HTTPError(413, _TOO_LARGE)
        super().prepare_protection()

    def get(self) -> Any:
        """The avatar image, or core4's note that there is none."""
        data = self.ext.store.avatar_get(self._signed_in()._id)
        kind = image_type(data) if data else None
        if kind is None:
            return NO_AVATAR
        response: WerkzeugResponse = flask.Response(data, mimetype=kind)
        response.headers.update(IMAGE_HEADERS)
        response.set_etag(hashlib.sha256(data).hexdigest()[:32])
        return response.make_conditional(self.request)

    def post(self) -> str:
        """Set the avatar from the upload named ``file``."""
        upload = self.request.files.get("file")
        if upload is None:
            raise HTTPError(400, "expected a multipart/form-data upload named [file]")
        data = upload.read(MAX_AVATAR_SIZE + 1)
        if len(data) > MAX_AVATAR_SIZE:
            raise HTTPError(413, _TOO_LARGE)
        if image_type(data) is None:
            raise HTTPError(400, "Please upload a valid image: png, jpg, gif or bmp")
        user = self._signed_in()
        if not self.ext.store.avatar_put(user._id, data):
            raise HTTPError(404, f"user [{user.name}] not found")
        return AVATAR_SET

    def _signed_in(self) -> User:
        if self.user is None:
            raise self.unauthorized()
        return self.user


#: The avatar's rule of the standard container (``/core4/api/v1``).
RULES = [(r"/avatar", AvatarHandler)]
