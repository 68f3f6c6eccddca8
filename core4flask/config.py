"""Layered YAML configuration.

Layers, lowest to highest: the package defaults (``core4.yaml``), the local
file named by ``CORE4_CONFIG`` (else ``~/.core4/local.yaml``), environment
variables ``CORE4_OPTION_<key>__<subkey>=<yaml value>`` and finally the
mapping passed to :func:`core4flask.create_app`. Sections of the defaults
are a schema: unknown keys and values of the wrong type are reported with the
key and the layer that brought them. Top-level keys that are not in the
defaults are project sections holding per-handler settings.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULTS_FILE = Path(__file__).with_name("core4.yaml")
ENV_PREFIX = "CORE4_OPTION_"

#: Keys of a handler's (or container's) class section that override its class
#: attributes and rule kwargs.
UPWIND_KEYS = ("log_level", "template_path", "static_path", "enabled", "root")

#: Sections of the defaults whose content is free-form.
FREEFORM = frozenset({("user_setting",)})

#: What :func:`_schema_value` returns for a key the defaults do not list.
_ABSENT: Any = object()


class ConfigError(Exception):
    """A configuration layer names an unknown key or a value of the wrong type."""


class ConfigDict(dict[str, Any]):
    """A dict whose keys are also attributes: ``config.api.token.secret``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return value

    def get_path(self, dotted: str | Iterable[str], default: Any = None) -> Any:
        """Return the value at a dotted path (``"api.token.secret"``)."""
        parts = dotted.split(".") if isinstance(dotted, str) else dotted
        node: Any = self
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def to_config_dict(value: Any) -> Any:
    """Convert nested mappings to :class:`ConfigDict` (lists are kept)."""
    if isinstance(value, Mapping):
        return ConfigDict((k, to_config_dict(v)) for k, v in value.items())
    if isinstance(value, list):
        return [to_config_dict(v) for v in value]
    return value


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    local_file: str | os.PathLike[str] | None = None,
) -> ConfigDict:
    """Build the configuration from all layers and validate it."""
    environ = os.environ if environ is None else environ
    defaults = _package_defaults()
    merged = _deep_copy(defaults)
    local = _local_file(environ, local_file)
    if local is not None:
        _merge(merged, _read_yaml(local), defaults, source=str(local))
    env_layer = _env_layer(environ, defaults)
    if env_layer:
        _merge(merged, env_layer, defaults, source="environment")
    if overrides:
        _merge(merged, dict(overrides), defaults, source="create_app(config=...)")
    config: ConfigDict = to_config_dict(merged)
    return config


def class_section(config: Mapping[str, Any], qual_name: str) -> ConfigDict:
    """Return the section at a class's qual_name path (empty when absent)."""
    node: Any = config
    for part in qual_name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ConfigDict()
        node = node[part]
    return node if isinstance(node, ConfigDict) else ConfigDict()


def _local_file(environ: Mapping[str, str], explicit: Any) -> Path | None:
    if explicit is not None:
        return Path(explicit)
    named = environ.get("CORE4_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"CORE4_CONFIG names [{named}], which is not a file")
        return path
    home = Path("~/.core4/local.yaml").expanduser()
    return home if home.is_file() else None


@functools.cache
def _package_defaults() -> dict[str, Any]:
    """The package defaults, which are also the schema: parsed once per process
    (every application, and every test, builds its configuration from them).
    Only read: :func:`load_config` merges into a copy."""
    return _read_yaml(DEFAULTS_FILE)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse config file [{path}]: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file [{path}] must hold a mapping")
    return data


def _env_layer(environ: Mapping[str, str], defaults: Mapping[str, Any]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p for p in name[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            raise ConfigError(f"malformed environment variable [{name}]")
        value = _parse_env_value(raw, _schema_value(defaults, path))
        node = layer
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return layer


def _parse_env_value(raw: str, schema: Any) -> Any:
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if value is None or isinstance(value, str) or raw.lstrip().startswith("!"):
        return value
    # a secret such as "0123" stays a string where the schema expects one; the
    # empty (~) defaults of core4.yaml (secret, passwords, URLs) are strings too
    if schema is None or isinstance(schema, str):
        return raw
    return value


def _schema_value(defaults: Mapping[str, Any], path: list[str]) -> Any:
    """The default at ``path``; ``_ABSENT`` for keys outside the schema."""
    node: Any = defaults
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _merge(
    target: dict[str, Any],
    layer: Mapping[str, Any],
    schema: Mapping[str, Any] | None,
    *,
    source: str,
    path: tuple[str, ...] = (),
) -> None:
    for key, value in layer.items():
        key_path = (*path, str(key))
        dotted = ".".join(key_path)
        if not path and str(key).startswith("_"):
            raise ConfigError(f"config key [{dotted}] in {source}: top-level keys must not start with _")
        if schema is not None and key not in schema:
            if path:
                raise ConfigError(f"unknown config key [{dotted}] in {source}")
            # a project section: per-handler settings below qual_name paths
            if not isinstance(value, Mapping):
                raise ConfigError(f"unknown config key [{dotted}] in {source}")
            _check_project_section(value, source, key_path)
            target[key] = _deep_merge_free(target.get(key), value)
            continue
        expected = schema[key] if schema is not None else None
        if key_path in FREEFORM or (schema is not None and expected is None):
            target[key] = _deep_merge_free(target.get(key), value)
            continue
        if schema is None:
            target[key] = _deep_merge_free(target.get(key), value)
            continue
        _check_type(expected, value, dotted, source)
        if isinstance(expected, Mapping) and isinstance(value, Mapping):
            _merge(target.setdefault(key, {}), value, expected, source=source, path=key_path)
        else:
            target[key] = value


def _check_project_section(section: Mapping[str, Any], source: str, path: tuple[str, ...]) -> None:
    for key, value in section.items():
        key_path = (*path, str(key))
        if isinstance(value, Mapping):
            _check_project_section(value, source, key_path)
        elif key in ("log_level", "template_path", "static_path", "root"):
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"config key [{'.'.join(key_path)}] in {source} expects a string")
        elif key == "enabled" and not isinstance(value, bool):
            raise ConfigError(f"config key [{'.'.join(key_path)}] in {source} expects a boolean")


def _check_type(expected: Any, value: Any, dotted: str, source: str) -> None:
    if value is None:
        return
    numbers = (int, float)
    if isinstance(expected, bool):
        ok = isinstance(value, bool)
    elif isinstance(expected, numbers):
        ok = isinstance(value, numbers) and not isinstance(value, bool)
    elif isinstance(expected, Mapping):
        ok = isinstance(value, Mapping)
    else:
        ok = isinstance(value, type(expected))
    if not ok:
        raise ConfigError(
            f"config key [{dotted}] in {source} expects {type(expected).__name__}, "
            f"got {type(value).__name__} [{value!r}]"
        )


def _deep_merge_free(base: Any, value: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(value, Mapping):
        merged = dict(base)
        for key, item in value.items():
            merged[key] = _deep_merge_free(merged.get(key), item)
        return merged
    return _deep_copy(value)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
