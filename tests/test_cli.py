"""``coco``: argument parsing and finding containers by qual_name prefix."""

from __future__ import annotations

import sys
import textwrap

import pytest

from core4flask import cli
from core4flask.server import CoreApiServer


@pytest.fixture
def served(monkeypatch):
    """Replace serve() by a recorder; keep sys.path as it was."""
    calls = []
    monkeypatch.setattr(cli, "serve", lambda *c, **kw: calls.append((c, kw)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    return calls


def names(containers):
    return [c.qual_name() for c in containers]


def test_find_containers_of_the_demo_package():
    assert names(cli.find_containers(["demo"])) == [
        "demo.seed.CoreApiServer",
        "demo.seed.TenantServer",
        "demo.seed.TestServer",
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["demo.seed.TestServer"], ["demo.seed.TestServer"]),
        (["demo.seed.Te"], ["demo.seed.TenantServer", "demo.seed.TestServer"]),
        (["demo.seed.TenantServer", "demo.seed.CoreApi"], ["demo.seed.CoreApiServer", "demo.seed.TenantServer"]),
        (["demo.seed.Nothing"], []),
    ],
)
def test_find_containers_by_class_prefix(filters, expected):
    assert names(cli.find_containers(filters)) == expected


def test_standard_container_can_be_named():
    assert CoreApiServer in cli.find_containers(["core4flask.server"])


def test_import_prefix_takes_the_longest_importable_module():
    assert cli.import_prefix("demo.seed.TestServer.deeper").__name__ == "demo.seed"
    assert cli.import_prefix("demo").__name__ == "demo"
    assert cli.import_prefix("no_such_package_anywhere.x") is None


def test_unimportable_filter_exits():
    with pytest.raises(SystemExit, match="no_such_package_anywhere"):
        cli.find_containers(["no_such_package_anywhere"])


def test_real_import_errors_are_not_hidden(tmp_path, monkeypatch):
    package = tmp_path / "coco_broken_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "api.py").write_text("import a_dependency_that_is_missing\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="a_dependency_that_is_missing"):
        cli.import_prefix("coco_broken_pkg.api.Server")
    sys.modules.pop("coco_broken_pkg", None)


def test_containers_below_a_package_are_imported(tmp_path, monkeypatch):
    package = tmp_path / "coco_pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "sub" / "__init__.py").write_text("", encoding="utf-8")
    (package / "sub" / "servers.py").write_text(
        textwrap.dedent(
            """
            from core4flask import CoreApiContainer

            class DeepServer(CoreApiContainer):
                root = "/deep"
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert names(cli.find_containers(["coco_pkg"])) == ["coco_pkg.sub.servers.DeepServer"]
    finally:
        for name in [m for m in sys.modules if m.startswith("coco_pkg")]:
            sys.modules.pop(name)


def test_main_serves_the_matches(served):
    code = cli.main(
        [
            "--application",
            "--filter",
            "demo.seed.TestServer",
            "--filter",
            "demo.seed.TenantServer",
            "--port",
            "8080",
            "--address",
            "0.0.0.0",
            "--workers",
            "3",
        ]
    )
    assert code == 0
    ((containers, kwargs),) = served
    assert names(containers) == ["demo.seed.TenantServer", "demo.seed.TestServer"]
    assert kwargs == {"port": 8080, "address": "0.0.0.0", "workers": 3, "reuse_port": True}


def test_main_defaults(served):
    assert cli.main(["--application", "--filter", "demo.seed.TestServer", "--reuse-port"]) == 0
    assert served[0][1] == {"port": None, "address": None, "workers": 1, "reuse_port": True}


def test_main_without_reuse_port(served):
    assert cli.main(["--application", "--filter", "demo.seed.TestServer", "--no-reuse-port"]) == 0
    assert served[0][1]["reuse_port"] is False


def test_main_without_matches(served, capsys):
    assert cli.main(["--application", "--filter", "demo.seed.Nothing"]) == 2
    assert served == []
    assert "no container matches" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [[], ["--filter", "demo"], ["--application"], ["--application", "--filter", "demo", "--port", "x"]],
)
def test_main_argument_errors(served, argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert served == []
