"""Containers: rule forms, matching, URL arguments, resources and setup errors."""

from __future__ import annotations

import flask
import pytest

from core4flask import Core4, CoreApiContainer, CoreRequestHandler, CoreStaticFileHandler, create_app
from core4flask.container import (
    SetupError,
    effective_props,
    normalise_pattern,
    normalise_root,
    resource_id,
    split_rule,
)
from tests.fixtures import make_app, make_client
from tests.fixtures.project.handlers import PageHandler


class EchoHandler(CoreRequestHandler):
    """Answers with its URL arguments and effective attributes."""

    protected = False
    title = "echo"
    author = "class author"

    def get(self, *args, **kwargs):
        return {
            "handler": type(self).__name__,
            "args": list(args),
            "kwargs": kwargs,
            "title": self.title,
            "author": self.author,
            "tag": self.tag,
            "icon": self.icon,
            "rsc_id": self.rsc_id,
            "root": self.root,
        }


class OtherHandler(EchoHandler):
    pass


class RouteContainer(CoreApiContainer):
    root = "/test"
    rules = [
        (r"/plain", EchoHandler),
        (r"/three", EchoHandler, {"title": "three", "author": None, "tag": "app new"}),
        (r"/four", EchoHandler, None, "four-name"),
        (r"/unnamed/(\w+)/(\d+)", EchoHandler),
        (r"/named/(?P<client>[^/]+)/(?P<_id>.*)", EchoHandler),
        (r"/mixed/(\w+)/(?P<x>\d+)", EchoHandler),
        (r"/optional/(\d+)?", EchoHandler),
        (r"/text/(.*)", EchoHandler),
        (r"/first/(.*)", EchoHandler),
        (r"/first/special", OtherHandler),
        (r"/", OtherHandler, {"title": "root page"}),
        ("nolead", OtherHandler),
        (r"/segment/([^/]+)", EchoHandler),
        (r"/pair/(?P<x>.+)/(?P<y>[^/]+)", EchoHandler),
        (r"/with space", OtherHandler),
    ]


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path, RouteContainer)


def data(client, path, **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]


# -- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "expected"),
    [(None, "/proj"), ("args", "/args"), ("/test/", "/test"), ("/a/b", "/a/b"), ("", ""), ("/", "")],
)
def test_normalise_root(root, expected):
    assert normalise_root(root, "proj") == expected


def test_normalise_pattern():
    assert normalise_pattern("x", EchoHandler) == "/x"
    assert normalise_pattern("/x/", EchoHandler) == "/x"
    assert normalise_pattern("/", EchoHandler) == ""
    assert normalise_pattern("/help", CoreStaticFileHandler) == r"/help(?:/(.*))?$"
    assert normalise_pattern(r"/help(?:/(.*))?$", CoreStaticFileHandler) == r"/help(?:/(.*))?$"


@pytest.mark.parametrize(
    ("qual_name", "kwargs", "expected"),
    [
        ("core4.api.v1.request.standard.info.InfoHandler", {}, "714e42228776f105c5c396d8dc72fa60"),
        ("tests.api.test_info.LinkHandler1", {"title": "goto google"}, "c10a0a75d11270c4d87fd39338d09c97"),
        (
            "core4.api.v1.request.standard.static.CoreStaticFileHandler",
            {"enter": "/test/info", "path": "static/", "title": "static info"},
            "7ee1846750bd90b45a68a9fa8d852af3",
        ),
    ],
)
def test_resource_id_matches_core4(qual_name, kwargs, expected):
    assert resource_id(qual_name, kwargs) == expected


def test_split_rule_forms():
    assert split_rule(("/a", EchoHandler)) == ("/a", EchoHandler, {}, None)
    assert split_rule(["/a", EchoHandler, {"title": "t"}]) == ("/a", EchoHandler, {"title": "t"}, None)
    assert split_rule(("/a", EchoHandler, None, "name")) == ("/a", EchoHandler, {}, "name")


@pytest.mark.parametrize(
    "rule",
    [
        ("/a",),
        ("/a", EchoHandler, {}, "name", "extra"),
        ("/a", object),
        ("/a", "EchoHandler"),
        (5, EchoHandler),
        "/a",
    ],
)
def test_invalid_rules(rule):
    with pytest.raises(SetupError):
        split_rule(rule)


def test_effective_props_precedence():
    kwargs = {"title": "rule title", "author": None, "tag": "a b", "template_path": "rule", "unknown": 1}
    config = {"template_path": "config", "static_path": None}
    props = effective_props(EchoHandler, kwargs, config)
    assert props["title"] == "rule title"
    assert "author" not in props
    assert props["tag"] == ["a", "b"]
    assert props["template_path"] == "config"
    assert "static_path" not in props
    assert "unknown" not in props
    assert effective_props(EchoHandler, {}, {})["tag"] == ["api"]


# -- identity ---------------------------------------------------------------------------------


def test_qual_name_and_project():
    assert EchoHandler.qual_name() == "test_container.EchoHandler"
    assert PageHandler.qual_name() == "tests.fixtures.project.handlers.PageHandler"
    assert RouteContainer.qual_name() == "test_container.RouteContainer"


def test_project_property(tmp_path):
    from demo.seed import TestHandler

    class ProjectHandler(CoreRequestHandler):
        protected = False

        def get(self):
            return self.project

    class Container(CoreApiContainer):
        root = "/p"
        rules = [("/here", ProjectHandler), ("/page", PageHandler), ("/demo", TestHandler, {"protected": False})]

    client = make_client(tmp_path, Container)
    assert data(client, "/p/here") == "test_container"
    assert client.get("/p/demo").json["data"] == "hello world"
    app = make_app(tmp_path / "x", Container)
    with app.test_request_context("/p/page"):
        resource = next(r for r in app.extensions["core4flask"].resources.values() if r.handler is PageHandler)
        assert resource.handler(resource).project == "tests"
        demo = next(r for r in app.extensions["core4flask"].resources.values() if r.handler is TestHandler)
        assert demo.handler(demo).project == "demo"


def test_default_root_is_the_project_name(tmp_path):
    class Unrooted(CoreApiContainer):
        rules = [("/x", EchoHandler)]

    assert Unrooted.get_root() == "/test_container"
    assert Unrooted.get_root("y") == "/test_container/y"
    assert Unrooted.get_root("/y") == "/test_container/y"
    assert data(make_client(tmp_path, Unrooted), "/test_container/x")["handler"] == "EchoHandler"


def test_root_without_slash(tmp_path):
    class Args(CoreApiContainer):
        root = "args"
        rules = [("/test", EchoHandler)]

    assert Args.get_root() == "/args"
    assert data(make_client(tmp_path, Args), "/args/test")["root"] == "/args"


# -- rules and matching -------------------------------------------------------------------------


def test_two_tuple_rule(client):
    body = data(client, "/test/plain")
    assert body["handler"] == "EchoHandler"
    assert (body["title"], body["author"], body["tag"]) == ("echo", "class author", ["api"])


def test_three_tuple_rule_kwargs_override(client):
    body = data(client, "/test/three")
    assert body["title"] == "three"
    assert body["author"] == "class author"  # None in kwargs keeps the class value
    assert body["tag"] == ["app", "new"]


def test_four_tuple_rule_with_name(client, tmp_path):
    assert data(client, "/test/four")["handler"] == "EchoHandler"
    app = make_app(tmp_path / "x", RouteContainer)
    container = app.extensions["core4flask"].container_of("/test")
    names = {pattern: name for r in container.resources.values() for pattern, name in r.patterns}
    assert names["/test/four"] == "four-name"
    assert names["/test/plain"] is None


def test_unnamed_groups_are_positional(client):
    body = data(client, "/test/unnamed/abc/42")
    assert body["args"] == ["abc", "42"]
    assert body["kwargs"] == {}


def test_named_groups_are_keywords(client):
    body = data(client, "/test/named/lufthansa/0815")
    assert body["args"] == []
    assert body["kwargs"] == {"client": "lufthansa", "_id": "0815"}


def test_with_any_named_group_only_named_groups_are_passed(client):
    body = data(client, "/test/mixed/abc/42")
    assert body["args"] == []
    assert body["kwargs"] == {"x": "42"}


def test_unmatched_optional_group_is_none(client):
    assert data(client, "/test/optional/")["args"] == [None]
    assert data(client, "/test/optional/7")["args"] == ["7"]


def test_values_are_url_unquoted(client):
    assert data(client, "/test/text/hello%20w%C3%B6rld%21")["args"] == ["hello wörld!"]
    assert data(client, "/test/named/M%C3%BCnchen%20GmbH/a%20b")["kwargs"] == {"client": "München GmbH", "_id": "a b"}


def test_rules_see_the_path_as_sent(client):
    """As in Tornado: an encoded slash is part of a value, not a separator."""
    assert data(client, "/test/segment/a%2Fb")["args"] == ["a/b"]
    assert data(client, "/test/pair/a%2Fb/c")["kwargs"] == {"x": "a/b", "y": "c"}
    assert data(client, "/test/named/lufthansa/a%2Fb")["kwargs"] == {"client": "lufthansa", "_id": "a/b"}


def test_a_rule_written_decoded_still_matches(client):
    assert data(client, "/test/with%20space")["handler"] == "OtherHandler"


def test_a_value_that_is_not_utf8_is_400(client):
    response = client.get("/test/segment/%FF")
    assert response.status_code == 400
    assert "UTF-8" in response.json["error"]


def test_first_matching_rule_wins(client):
    assert data(client, "/test/first/special")["handler"] == "EchoHandler"


def test_patterns_are_anchored_at_both_ends(client):
    assert client.get("/test/plainx").status_code == 404
    assert client.get("/test/plain/x").status_code == 404
    assert client.get("/test/xplain").status_code == 404
    assert client.get("/test/unnamed/abc/42x").status_code == 404


def test_root_rule_and_pattern_without_leading_slash(client):
    assert data(client, "/test")["title"] == "root page"
    assert data(client, "/test/nolead")["handler"] == "OtherHandler"


def test_root_matches_on_segment_boundary_only(tmp_path):
    class Testing(CoreApiContainer):
        root = "/testing"
        rules = [("/x", OtherHandler)]

    alone = make_client(tmp_path / "a", RouteContainer)
    assert alone.get("/testing/x").status_code == 404
    assert alone.get("/testplain").status_code == 404
    both = make_client(tmp_path / "b", RouteContainer, Testing)
    assert data(both, "/testing/x")["root"] == "/testing"
    assert data(both, "/test/plain")["root"] == "/test"


def test_catch_all_root_does_not_shadow_other_roots(tmp_path):
    class CatchAll(CoreApiContainer):
        root = ""
        rules = [("/(.*)", OtherHandler)]

    app = create_app(RouteContainer, CatchAll, instance_path=str(tmp_path), standard=False)
    client = app.test_client()
    assert client.get("/test/plain").json["data"]["handler"] == "EchoHandler"
    assert client.get("/testing").json["data"]["args"] == ["testing"]
    assert client.get("/").json["data"]["args"] == [""]


def test_every_container_is_a_blueprint(tmp_path):
    app = make_app(tmp_path, RouteContainer)
    prefixes = {bp.url_prefix for bp in app.blueprints.values()}
    assert "/test" in prefixes
    assert "/core4/api/v1" in prefixes


# -- resources --------------------------------------------------------------------------------


def test_one_resource_per_handler_and_kwargs(tmp_path):
    class Second(CoreApiContainer):
        root = "/second"
        rules = [("/a", EchoHandler), ("/b", EchoHandler), ("/c", EchoHandler, {"title": "other"})]

    client = make_client(tmp_path, RouteContainer, Second)
    plain = data(client, "/test/plain")["rsc_id"]
    assert plain == resource_id("test_container.EchoHandler", {})
    assert data(client, "/test/unnamed/a/1")["rsc_id"] == plain
    assert data(client, "/second/a")["rsc_id"] == plain
    assert data(client, "/second/b")["rsc_id"] == plain
    assert data(client, "/second/c")["rsc_id"] == resource_id("test_container.EchoHandler", {"title": "other"})
    assert data(client, "/second/a")["root"] == "/second"


def test_resource_lists_its_patterns(tmp_path):
    class Multi(CoreApiContainer):
        root = "/multi"
        rules = [("/roles", EchoHandler), (r"/roles/(.*)", EchoHandler)]

    app = make_app(tmp_path, Multi)
    container = app.extensions["core4flask"].container_of("/multi")
    resource = container.resources[resource_id("test_container.EchoHandler", {})]
    assert [p for p, _ in resource.patterns] == ["/multi/roles", "/multi/roles/(.*)"]
    assert resource.help_url == f"/multi/_info/help/{resource.rsc_id}"
    assert resource.card_url == f"/multi/_info/card/{resource.rsc_id}"
    assert resource.enter_url == f"/multi/_info/enter/{resource.rsc_id}"
    assert resource.attribute("title") == "echo"


def test_rule_kwargs_reach_the_instance_and_config_wins(tmp_path):
    section = {"template_path": "/from/config", "log_level": "ERROR"}
    config = {"test_container": {"EchoHandler": section}}

    class Kw(CoreApiContainer):
        root = "/kw"
        rules = [("/x", EchoHandler, {"template_path": "/from/rule", "static_path": "rule", "icon": "help"})]

    app = make_app(tmp_path, Kw, config=config)
    kwargs = {"template_path": "/from/rule", "static_path": "rule", "icon": "help"}
    resource = app.extensions["core4flask"].container_of("/kw").resources[resource_id(EchoHandler.qual_name(), kwargs)]
    assert resource.props["template_path"] == "/from/config"
    assert resource.props["static_path"] == "rule"
    assert resource.props["log_level"] == "ERROR"
    assert resource.props["icon"] == "help"
    assert resource.class_config == section
    assert data(app.test_client(), "/kw/x")["icon"] == "help"
    assert EchoHandler.icon == "mdi-circle-medium"


def test_protected_false_by_rule_kwargs(tmp_path):
    class Guarded(CoreRequestHandler):
        def get(self):
            return "open"

    class Open(CoreApiContainer):
        root = "/open"
        rules = [("/x", Guarded, {"protected": False})]

    assert make_client(tmp_path, Open).get("/open/x").json["data"] == "open"


class Movable(CoreApiContainer):
    root = "/here"
    rules = [("/x", EchoHandler)]


def test_container_root_from_config(tmp_path):
    client = make_client(tmp_path, Movable, config={"test_container": {"Movable": {"root": "/there"}}})
    assert data(client, "/there/x")["root"] == "/there"
    assert client.get("/here/x").status_code == 404


# -- setup errors -------------------------------------------------------------------------------


def test_duplicate_pattern_is_a_startup_error(tmp_path):
    class Twice(CoreApiContainer):
        root = "/twice"
        rules = [("/x", EchoHandler), ("/x/", OtherHandler)]

    with pytest.raises(SetupError, match="already exists"):
        make_app(tmp_path, Twice)


def test_patterns_differing_only_by_the_end_anchor_are_duplicates(tmp_path):
    """Tornado anchors every pattern with ``$``: ``/x$`` and ``/x`` are one route."""

    class Anchored(CoreApiContainer):
        root = "/anchored"
        rules = [(r"/x$", EchoHandler), (r"/x", OtherHandler)]

    with pytest.raises(SetupError, match="already exists"):
        make_app(tmp_path, Anchored)


def test_pattern_clashing_with_info_is_a_startup_error(tmp_path):
    class Clash(CoreApiContainer):
        root = "/clash"
        rules = [("/_info", EchoHandler)]

    with pytest.raises(SetupError, match="already exists"):
        make_app(tmp_path, Clash)


@pytest.mark.parametrize("other_root", ["/test", "test", "/test/"])
def test_duplicate_root_is_a_startup_error(tmp_path, other_root):
    class Same(CoreApiContainer):
        root = other_root
        rules = [("/y", OtherHandler)]

    with pytest.raises(SetupError, match=r"routing root \[/test\] already exists"):
        make_app(tmp_path, RouteContainer, Same)


def test_invalid_regex_is_a_startup_error(tmp_path):
    class Broken(CoreApiContainer):
        root = "/broken"
        rules = [("/x(", EchoHandler)]

    with pytest.raises(SetupError, match="invalid"):
        make_app(tmp_path, Broken)


def test_non_handler_rule_is_a_startup_error(tmp_path):
    class Wrong(CoreApiContainer):
        root = "/wrong"
        rules = [("/x", dict)]

    with pytest.raises(SetupError, match="dict"):
        make_app(tmp_path, Wrong)


# -- the extension on an existing Flask app -------------------------------------------------------


def test_core4_on_an_existing_flask_app(tmp_path):
    app = flask.Flask("existing", instance_path=str(tmp_path))

    @app.route("/own")
    def own():
        return "own route"

    ext = Core4(app, RouteContainer)
    assert app.extensions["core4flask"] is ext
    client = app.test_client()
    assert client.get("/own").get_data(as_text=True) == "own route"
    assert client.get("/test/plain").json["data"]["handler"] == "EchoHandler"


def test_init_app_then_register(tmp_path):
    class Late(CoreApiContainer):
        root = "/late"
        rules = [("/x", EchoHandler)]

    class Later(CoreApiContainer):
        root = "/later"
        rules = [("/x", EchoHandler)]

    ext = Core4()
    assert ext.register(Late) == []  # kept for init_app (the app-factory pattern)
    app = flask.Flask("late", instance_path=str(tmp_path))
    ext.init_app(app, config={"api": {"allow_origin": "https://example.com"}})
    mounted = ext.register(Later)
    assert [c.root for c in mounted] == ["/later"]
    assert app.test_client().get("/later/x").status_code == 200
    with pytest.raises(SetupError, match="already exists"):
        ext.register(Late)
    response = app.test_client().get("/late/x")
    assert response.json["data"]["handler"] == "EchoHandler"
    assert response.headers["Access-Control-Allow-Origin"] == "https://example.com"
    with pytest.raises(SetupError):
        ext.register(EchoHandler)


def test_disabled_containers_are_not_served(tmp_path):
    class Disabled(CoreApiContainer):
        root = "/disabled"
        enabled = False
        rules = [("/x", EchoHandler)]

    client = make_client(tmp_path, Disabled)
    assert client.get("/disabled/x").status_code == 404


# -- fixed paths as static werkzeug rules ------------------------------------------------------


def test_fixed_paths_become_static_rules_without_changing_the_rule_order(tmp_path):
    app = make_app(tmp_path, RouteContainer)
    static = {rule.rule for rule in app.url_map.iter_rules() if ".fixed" in rule.endpoint}
    assert {"/test/plain", "/test/first/special", "/test/_info", "/test/login"} <= static
    assert not any("(" in rule or "\\" in rule for rule in static)
    client = app.test_client()
    # /first/(.*) comes before /first/special: the static rule does not change that
    assert data(client, "/test/first/special")["handler"] == "EchoHandler"
    assert data(client, "/test/plain")["handler"] == "EchoHandler"


class Outer(CoreApiContainer):
    root = "/outer"
    rules = [(r"/deep/x", OtherHandler), (r"/deep/y", OtherHandler), (r"/z", OtherHandler)]


class Inner(CoreApiContainer):
    root = "/outer/deep"
    rules = [(r"/x", EchoHandler)]


@pytest.mark.parametrize("order", [(Outer, Inner), (Inner, Outer)])
def test_a_deeper_root_serves_the_fixed_paths_below_it_in_any_order(tmp_path, order):
    """As with catch-all rules alone: the container with the deepest root gets the path."""
    client = make_client(tmp_path, *order)
    assert data(client, "/outer/deep/x")["handler"] == "EchoHandler"
    assert client.get("/outer/deep/y").status_code == 404  # below /outer/deep: Inner's, which has no /y
    assert data(client, "/outer/z")["handler"] == "OtherHandler"


def test_a_flask_route_registered_first_keeps_its_path(tmp_path):
    import flask

    from core4flask import Core4

    app = flask.Flask("mixed", instance_path=str(tmp_path))
    app.add_url_rule("/test/plain", "own", lambda: "flask's own")
    Core4(app, RouteContainer)
    client = app.test_client()
    assert client.get("/test/plain").get_data(as_text=True) == "flask's own"
    assert data(client, "/test/three")["title"] == "three"
