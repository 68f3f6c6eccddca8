"""Hostile input gets a 400, never a 500: CR/LF in a redirect target, JSON
nested hundreds of levels deep (as a body or an ``as_type=dict/list``
argument). Over HTTP against ``serve()``, and the pure parts without a server."""

from __future__ import annotations

import json
import textwrap

import pytest

from core4flask.arguments import DEFAULT_MAX_JSON_DEPTH, bounded_json_loads, nested_deeper_than
from core4flask.errors import HTTPError
from tests import live

SCRIPT = textwrap.dedent(
    """
    from core4flask import CoreApiContainer, CoreRequestHandler, serve


    class EchoHandler(CoreRequestHandler):
        protected = False

        def get(self):
            return self.get_argument("doc", as_type=dict, default=None)

        def post(self):
            return self.get_argument("doc", default=None)


    class GoHandler(CoreRequestHandler):
        protected = False

        def get(self):
            self.redirect(self.get_argument("to"))


    class HostileServer(CoreApiContainer):
        root = "/hostile"
        rules = [(r"/echo", EchoHandler), (r"/go", GoHandler)]


    if __name__ == "__main__":
        serve(HostileServer)
    """
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "hostile.py").write_text(SCRIPT, encoding="utf-8")
    running = live.python_script(tmp, tmp / "hostile.py", ready="/hostile/echo", api__max_json_depth="100")
    yield running
    running.stop()


@pytest.mark.e2e
@pytest.mark.parametrize("target", ["/x\r\nSet-Cookie: owned=1", "/x\nLocation: //evil.example", "/x\ry"])
def test_control_characters_in_a_redirect_target_are_400(server, target):
    response = server.get("/hostile/go", params={"to": target}, allow_redirects=False)
    assert response.status_code == 400, response.text
    assert "control characters" in response.json()["error"]
    assert "owned" not in response.headers.get("Set-Cookie", "")


@pytest.mark.e2e
def test_plain_and_non_ascii_redirect_targets_still_work(server):
    response = server.get("/hostile/go", params={"to": "/über/ort?q=ä"}, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/%C3%BCber/ort?q=%C3%A4"


@pytest.mark.e2e
@pytest.mark.parametrize("depth", [101, 900, 5000])
def test_deep_json_bodies_are_400_naming_the_limit(server, depth):
    body = '{"doc": ' + nested(depth) + "}"
    response = server.post("/hostile/echo", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text[:200]
    assert "deeper than 100 levels (api.max_json_depth)" in response.json()["error"]


@pytest.mark.e2e
@pytest.mark.parametrize("depth", [101, 900])
def test_deep_json_arguments_are_400_naming_the_limit(server, depth):
    response = server.get("/hostile/echo", params={"doc": '{"a": ' + nested(depth) + "}"})
    assert response.status_code == 400, response.text[:200]
    assert "parameter [doc] nests deeper than 100 levels" in response.json()["error"]


@pytest.mark.e2e
def test_json_within_the_limit_is_served(server):
    body = '{"doc": ' + nested(99) + "}"
    response = server.post("/hostile/echo", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    argument = server.get("/hostile/echo", params={"doc": '{"a": ' + nested(99) + "}"})
    assert argument.status_code == 200
    assert argument.json()["data"]["a"] == json.loads(nested(99))


def test_depth_of_parsed_json():
    assert not nested_deeper_than([[[]]], 3)
    assert nested_deeper_than([[[[]]]], 3)
    assert not nested_deeper_than({"a": [{"b": 1}], "c": "[[[[[[["}, 3)
    assert nested_deeper_than({"a": [{"b": [1]}]}, 3)
    assert not nested_deeper_than("[[[[", 1) and not nested_deeper_than(7, 0)


def test_bounded_loads_counts_structure_not_brackets_in_strings():
    text = '{"s": "' + "[" * 500 + '"}'
    assert bounded_json_loads(text, 2, "body") == {"s": "[" * 500}
    with pytest.raises(HTTPError) as caught:
        bounded_json_loads(nested(DEFAULT_MAX_JSON_DEPTH + 1), DEFAULT_MAX_JSON_DEPTH, "the JSON body")
    assert caught.value.status_code == 400
    assert bounded_json_loads(nested(DEFAULT_MAX_JSON_DEPTH).encode(), DEFAULT_MAX_JSON_DEPTH, "body") is not None
    with pytest.raises(ValueError):
        bounded_json_loads(b"not json [[[[", 2, "body")
