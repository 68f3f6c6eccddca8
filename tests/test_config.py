"""Layered configuration: defaults, local file, environment, overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core4flask.config import ConfigDict, ConfigError, class_section, load_config, to_config_dict


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def no_home_file(tmp_path, monkeypatch):
    """Point HOME at an empty folder so ~/.core4/local.yaml does not leak in."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CORE4_CONFIG", raising=False)
    return home


def test_package_defaults_hold_the_contract_values():
    config = load_config(environ={})
    assert config.api.port == 5001
    assert config.api.setting.debug is False
    assert config.api.allow_origin == "*"
    assert config.api.token.secret is None
    assert config.api.token.expiration == 28800
    assert config.api.token.refresh == 3600
    assert config.api.token.algorithm == "HS512"
    assert config.api.admin_username == "admin"
    assert config.api.admin_password is None
    assert config.mongo_url is None


def test_config_dict_gives_attribute_access_and_dotted_paths():
    config = to_config_dict({"api": {"token": {"secret": "s"}}, "rows": [{"a": 1}]})
    assert isinstance(config.api.token, ConfigDict)
    assert config.api.token.secret == "s"
    assert config.rows[0].a == 1
    assert config.get_path("api.token.secret") == "s"
    assert config.get_path(["api", "token", "secret"]) == "s"
    assert config.get_path("api.nope.deeper", default=7) == 7
    with pytest.raises(AttributeError):
        _ = config.api.nope


def test_env_variable_is_yaml_typed():
    config = load_config(environ={"CORE4_OPTION_api__port": "5002", "CORE4_OPTION_api__setting__debug": "true"})
    assert config.api.port == 5002
    assert config.api.setting.debug is True


def test_env_variable_from_the_process_environment(monkeypatch, no_home_file):
    monkeypatch.setenv("CORE4_OPTION_api__port", "5002")
    assert load_config().api.port == 5002


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("api__token__secret", "0123"),
        ("api__token__secret", "12345"),
        ("api__admin_password", "0123"),
        ("api__admin_password", "true"),
        ("api__token__algorithm", "256"),
    ],
)
def test_env_strings_stay_strings(key, raw):
    config = load_config(environ={"CORE4_OPTION_" + key: raw})
    assert config.get_path(key.replace("__", ".")) == raw


def test_env_tilde_is_null_and_explicit_tags_win():
    config = load_config(
        environ={
            "CORE4_OPTION_api__allow_origin": "~",
            "CORE4_OPTION_api__token__cache_ttl": "!!float 2",
        }
    )
    assert config.api.allow_origin is None
    assert config.api.token.cache_ttl == 2.0
    assert isinstance(config.api.token.cache_ttl, float)


def test_env_unknown_key_names_key_and_source():
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CORE4_OPTION_api__prot": "5002"})
    assert "api.prot" in str(info.value)
    assert "environment" in str(info.value)


def test_env_wrong_type_names_key_and_source():
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CORE4_OPTION_api__port": "many"})
    message = str(info.value)
    assert "api.port" in message
    assert "environment" in message
    assert "int" in message


def test_env_malformed_name_is_an_error():
    with pytest.raises(ConfigError, match="CORE4_OPTION_api____port"):
        load_config(environ={"CORE4_OPTION_api____port": "1"})


def test_local_file_named_by_core4_config(tmp_path):
    local = write(tmp_path / "local.yaml", "api:\n  port: 6000\n  token:\n    secret: '0123'\n")
    config = load_config(environ={"CORE4_CONFIG": str(local)})
    assert config.api.port == 6000
    assert config.api.token.secret == "0123"
    # untouched siblings keep their defaults
    assert config.api.token.expiration == 28800


def test_core4_config_naming_a_missing_file_is_an_error(tmp_path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_config(environ={"CORE4_CONFIG": str(missing)})


def test_home_local_file_is_the_fallback(no_home_file):
    folder = no_home_file / ".core4"
    folder.mkdir()
    write(folder / "local.yaml", "api:\n  allow_origin: https://example.com\n")
    assert load_config().api.allow_origin == "https://example.com"


def test_without_any_local_file_the_defaults_stand(no_home_file):
    assert load_config().api.port == 5001


def test_unknown_key_in_file_names_key_and_file(tmp_path):
    local = write(tmp_path / "local.yaml", "api:\n  token:\n    secrett: x\n")
    with pytest.raises(ConfigError) as info:
        load_config(local_file=local)
    assert "api.token.secrett" in str(info.value)
    assert str(local) in str(info.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("api:\n  port: abc\n", "api.port"),
        ("api:\n  port: true\n", "api.port"),
        ("api:\n  setting:\n    debug: 1\n", "api.setting.debug"),
        ("api:\n  token: 5\n", "api.token"),
        ("api:\n  tag: new\n", "api.tag"),
    ],
)
def test_wrong_type_in_file_names_key_and_file(tmp_path, text, key):
    local = write(tmp_path / "local.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(local_file=local)
    assert f"[{key}]" in str(info.value)
    assert str(local) in str(info.value)


def test_int_and_float_are_compatible(tmp_path):
    local = write(tmp_path / "local.yaml", "api:\n  token:\n    cache_ttl: 3\n")
    assert load_config(local_file=local).api.token.cache_ttl == 3


def test_unparsable_file_names_the_file(tmp_path):
    local = write(tmp_path / "local.yaml", "api: [unclosed\n")
    with pytest.raises(ConfigError, match="local.yaml"):
        load_config(local_file=local)


def test_file_must_hold_a_mapping(tmp_path):
    local = write(tmp_path / "local.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(local_file=local)


def test_empty_file_changes_nothing(tmp_path):
    local = write(tmp_path / "local.yaml", "")
    assert load_config(local_file=local).api.port == 5001


def test_top_level_underscore_keys_are_rejected():
    with pytest.raises(ConfigError, match="_private"):
        load_config({"_private": {"a": 1}}, environ={})


def test_layers_stack_defaults_file_env_overrides(tmp_path):
    local = write(tmp_path / "local.yaml", "api:\n  port: 6000\n  allow_origin: file\n  admin_username: root\n")
    environ = {"CORE4_OPTION_api__port": "7000", "CORE4_OPTION_api__allow_origin": "env"}
    config = load_config({"api": {"port": 8000}}, environ=environ, local_file=local)
    assert config.api.port == 8000
    assert config.api.allow_origin == "env"
    assert config.api.admin_username == "root"
    assert config.api.token.algorithm == "HS512"


def test_overrides_are_checked_too():
    with pytest.raises(ConfigError) as info:
        load_config({"api": {"portt": 1}}, environ={})
    assert "api.portt" in str(info.value)
    assert "create_app" in str(info.value)


def test_project_sections_hold_per_handler_settings(tmp_path):
    local = write(
        tmp_path / "local.yaml",
        "myproject:\n  api:\n    v1:\n      handler:\n        MyHandler:\n"
        "          template_path: /srv/www/custom_templates\n          log_level: INFO\n",
    )
    config = load_config(local_file=local)
    section = class_section(config, "myproject.api.v1.handler.MyHandler")
    assert section.template_path == "/srv/www/custom_templates"
    assert section.log_level == "INFO"
    assert class_section(config, "myproject.api.v1.handler.Other") == {}
    assert class_section(config, "otherproject.X") == {}


def test_project_section_from_env_merges_with_file(tmp_path):
    local = write(tmp_path / "local.yaml", "proj:\n  mod:\n    H:\n      static_path: /static\n")
    environ = {"CORE4_OPTION_proj__mod__H__template_path": "/tpl", "CORE4_OPTION_proj__mod__C__enabled": "false"}
    config = load_config(environ=environ, local_file=local)
    assert class_section(config, "proj.mod.H") == {"static_path": "/static", "template_path": "/tpl"}
    assert class_section(config, "proj.mod.C").enabled is False


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("proj:\n  H:\n    template_path: 5\n", "proj.H.template_path"),
        ("proj:\n  C:\n    enabled: maybe\n", "proj.C.enabled"),
        ("proj: 5\n", "proj"),
    ],
)
def test_project_section_values_are_checked(tmp_path, text, key):
    local = write(tmp_path / "local.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(local_file=local)
    assert key in str(info.value)
    assert str(local) in str(info.value)


def test_free_form_sections_take_any_key():
    config = load_config({"user_setting": {"_general": {"theme": "dark"}, "app": {"x": [1, 2]}}}, environ={})
    assert config.user_setting._general.language == "EN"
    assert config.user_setting._general.theme == "dark"
    assert config.user_setting.app.x == [1, 2]


def test_null_default_keys_accept_values():
    config = load_config({"mongo_url": "mongodb://localhost:27017", "api": {"token": {"secret": "s3"}}}, environ={})
    assert config.mongo_url == "mongodb://localhost:27017"
    assert config.api.token.secret == "s3"


def test_each_configuration_is_its_own_copy_of_the_defaults():
    first = load_config(environ={}, local_file=os.devnull)
    first.api.token["expiration"] = 1
    first.api["tag"].append("changed")
    second = load_config(environ={}, local_file=os.devnull)
    assert second.api.token.expiration == 28800
    assert "changed" not in (second.api.tag or [])
