"""An OpenAPI 3.1 description built from the handler registry.

Handlers are routed by Tornado-style regular expressions;
:func:`regex_to_openapi_path` turns one into an OpenAPI path template with
its path parameters, and :func:`build_openapi` assembles the document from
resource descriptions (plain dicts, see its docstring). Operation details
come from the Google-style method docstrings parsed by
:mod:`core4flask.apps.docstrings`.

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ..docstrings import parse_docstring

#: The OpenAPI version of the generated document.
OPENAPI_VERSION = "3.1.0"

#: Security schemes a protected operation accepts, any one of them suffices.
SECURITY_SCHEMES = ("bearer", "cookie", "basic")

_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_BODY_METHODS = ("post", "put", "patch")
_QUANTIFIER = re.compile(r"\?|\*|\+|\{(\d*)(?:,(\d*))?\}")
_TRIVIAL_GROUPS = {".*", ".+", "[^/]+", "[^/]*"}
_ESCAPES_AS_TEXT = {"d": "0", "w": "a"}
_ANCHORS = {"A", "Z", "z", "b", "B"}
_STATUS = re.compile(r"^[1-5]\d\d$")
_PAGED = re.compile(r"\b(page_count|total_count|paginated)\b", re.IGNORECASE)
_REF = "#/components/schemas/"
_SCALARS = {
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
}
_SCALARS |= {"double": "number", "bool": "boolean", "boolean": "boolean"}
_FORMATS = {"datetime": "date-time", "timestamp": "date-time", "date": "date"}
_CONTAINERS = dict.fromkeys(("list", "tuple", "array"), "array")
_CONTAINERS |= dict.fromkeys(("dict", "object", "json"), "object")


def regex_to_openapi_path(regex: str) -> tuple[str, list[dict[str, Any]]]:
    """Translate a routing regex into an OpenAPI path template and parameters.

    ``/my/api/(?P<client>.+)/(?P<_id>.*)`` becomes ``/my/api/{client}/{_id}``
    with two path parameter objects; unnamed groups are called ``arg0``,
    ``arg1``, ... in order. Constructs a template cannot express
    (alternations, optional parts, character classes outside groups) are
    replaced by the simplest text they match; :func:`build_openapi` then adds
    the original regex as ``x-core4-regex``.
    """
    translation = _translate(regex)
    return translation.path, translation.parameters


@dataclass
class _Translation:
    path: str = ""
    parameters: list[dict[str, Any]] = field(default_factory=list)
    exact: bool = True
    unnamed: int = 0


def _translate(regex: str) -> _Translation:
    state = _Translation()
    try:
        text = _convert(regex, state, keep=True)
    except (ValueError, IndexError):
        state.parameters, state.exact = [], False
        text = re.sub(r"[^\w/.\-~]", "", regex.split("(", 1)[0])
    text = re.sub(r"/{2,}", "/", text)
    state.path = text if text.startswith("/") else "/" + text
    return state


def _syntax(regex: str, start: int = 0) -> Iterator[tuple[int, int, str]]:
    """Yield (index, group depth before it, char), skipping escapes and classes."""
    depth, index = 0, start
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _class_end(regex, index) + 1
            continue
        yield index, depth, char
        depth += {"(": 1, ")": -1}.get(char, 0)
        index += 1


def _class_end(regex: str, start: int) -> int:
    """Index of the bracket closing the character class opened at ``start``."""
    index = start + 1
    index += regex.startswith("^", index)
    index += regex.startswith("]", index)  # a leading "]" is a member
    while index < len(regex):
        if regex[index] == "]":
            return index
        index += 2 if regex[index] == "\\" else 1
    raise ValueError(f"unbalanced bracket in {regex!r}")


def _group_end(regex: str, start: int) -> int:
    """Index of the parenthesis closing the group opened at ``start``."""
    for index, depth, char in _syntax(regex, start):
        if char == ")" and depth == 1:
            return index
    raise ValueError(f"unbalanced parenthesis in {regex!r}")


def _split_alternatives(regex: str) -> list[str]:
    bars = [i for i, depth, char in _syntax(regex) if char == "|" and depth == 0]
    bounds = [-1, *bars, len(regex)]
    return [regex[a + 1 : b] for a, b in pairwise(bounds)]


def _count_unnamed(regex: str, state: _Translation) -> None:
    """Advance the unnamed-group counter over groups that are not emitted."""
    for index, _, char in _syntax(regex):
        if char == "(" and not regex.startswith("?", index + 1):
            state.unnamed += 1


def _path_parameter(name: str, content: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if content not in _TRIVIAL_GROUPS and "(?" not in content:
        schema["pattern"] = f"^(?:{content})$"
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"URL part matching `{content}`",
        "schema": schema,
    }


def _convert(regex: str, state: _Translation, *, keep: bool) -> str:
    """Convert one (sub)expression; ``keep`` is false for dropped parts."""
    alternatives = _split_alternatives(regex)
    if len(alternatives) > 1:
        state.exact = False
        for other in alternatives[1:]:
            _count_unnamed(other, state)
        regex = alternatives[0]
    out: list[str] = []
    index = 0
    while index < len(regex):
        char = regex[index]
        if char in "^$":
            index += 1
            continue
        if char == "(":
            end = _group_end(regex, index)
            quantifier = _QUANTIFIER.match(regex, end + 1)
            piece = _group(regex[index + 1 : end], state, keep=keep and _repeats(quantifier))
            index = end + 1
        elif char == "[":
            end = _class_end(regex, index)
            members = regex[index + 1 : end]
            piece = "" if members.startswith("^") else members.lstrip("\\")[:1]
            state.exact = False
            quantifier = _QUANTIFIER.match(regex, end + 1)
            index = end + 1
        elif char == "\\":
            escaped = regex[index + 1 : index + 2]
            if escaped.isalnum():
                piece = "" if escaped in _ANCHORS else _ESCAPES_AS_TEXT.get(escaped, "")
                state.exact = state.exact and escaped in _ANCHORS
            else:
                piece = escaped
            quantifier = _QUANTIFIER.match(regex, index + 2)
            index += 2
        else:
            piece = char
            if char == ".":
                state.exact = False
            quantifier = _QUANTIFIER.match(regex, index + 1)
            index += 1
        if quantifier is not None:
            state.exact = False
            index = quantifier.end()
            if regex.startswith(("?", "+"), index):
                index += 1  # lazy or possessive marker
            if _minimum(quantifier) == 0:
                piece = ""
            elif "{" not in piece:
                piece *= _minimum(quantifier)
        out.append(piece)
    return "".join(out)


def _minimum(quantifier: re.Match[str]) -> int:
    text = quantifier.group(0)
    if text in ("?", "*"):
        return 0
    if text == "+":
        return 1
    return int(quantifier.group(1) or 0)


def _repeats(quantifier: re.Match[str] | None) -> bool:
    return quantifier is None or _minimum(quantifier) > 0


def _group(inner: str, state: _Translation, *, keep: bool) -> str:
    """Convert the contents of one group; path parameters become ``{name}``."""
    if inner.startswith("?P<"):
        name, _, content = inner[3:].partition(">")
    elif inner.startswith("?:"):
        return _convert(inner[2:], state, keep=keep)
    elif inner.startswith("?"):
        state.exact = False  # lookaround, back reference or inline flags
        return ""
    else:
        name, content = f"arg{state.unnamed}", inner
        state.unnamed += 1
    _count_unnamed(content, state)
    if not keep:
        state.exact = False
        return ""
    if not any(p["name"] == name for p in state.parameters):
        state.parameters.append(_path_parameter(name, content))
    return "{" + name + "}"


# -- the document ------------------------------------------------------------


def build_openapi(
    resources: list[dict[str, Any]],
    *,
    title: str,
    version: str,
    server_url: str | None = None,
) -> dict[str, Any]:
    """Build an OpenAPI 3.1 document from handler resource descriptions.

    Each resource is ``{"rsc_id", "qual_name", "title", "subtitle",
    "description", "protected", "tag", "patterns", "methods", "container"}``
    where ``patterns`` are full routing regexes (container root included) and
    ``methods`` maps an HTTP method to its docstring (or ``None``). The first
    resource claiming a path and method wins, as in routing.
    """
    paths: dict[str, dict[str, Any]] = {}
    templates: dict[str, str] = {}
    tags: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for resource in resources:
        tag = _resource_tag(resource)
        tags.setdefault(tag, _tag_object(tag, resource))
        for pattern in resource.get("patterns") or []:
            translation = _translate(pattern)
            key = re.sub(r"\{[^}]*\}", "{}", translation.path)
            path = templates.setdefault(key, translation.path)
            item = paths.setdefault(path, _path_item(resource, translation, pattern))
            if path != translation.path:
                continue  # same template with other parameter names: shadowed
            for method, doc in (resource.get("methods") or {}).items():
                verb = str(method).lower()
                if verb not in _OPERATIONS or verb in item:
                    continue
                item[verb] = _operation(resource, verb, doc, tag, translation, operation_ids)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": _components(),
        "tags": list(tags.values()),
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def _resource_tag(resource: dict[str, Any]) -> str:
    return str(resource.get("title") or resource.get("qual_name") or "default")


def _tag_object(tag: str, resource: dict[str, Any]) -> dict[str, Any]:
    description = resource.get("subtitle") or resource.get("qual_name")
    tag_object: dict[str, Any] = {"name": tag}
    if description:
        tag_object["description"] = str(description)
    if resource.get("container"):
        tag_object["x-core4-container"] = str(resource["container"])
    return tag_object


def _path_item(resource: dict[str, Any], translation: _Translation, regex: str) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if resource.get("title"):
        item["summary"] = str(resource["title"])
    description = parse_docstring(resource.get("description"))
    text = "\n\n".join(part for part in (description["summary"], description["body"]) if part)
    if text:
        item["description"] = text
    if translation.parameters:
        item["parameters"] = translation.parameters
    if not translation.exact:
        item["x-core4-regex"] = regex
    return item


def _operation(
    resource: dict[str, Any],
    verb: str,
    doc: str | None,
    tag: str,
    translation: _Translation,
    operation_ids: set[str],
) -> dict[str, Any]:
    parsed = parse_docstring(doc)
    base = f"{resource.get('qual_name') or resource.get('rsc_id') or 'handler'}.{verb}"
    operation_id, number = base, 1
    while operation_id in operation_ids:
        number += 1
        operation_id = f"{base}_{number}"
    operation_ids.add(operation_id)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": parsed["summary"] or _resource_tag(resource),
        "tags": [tag],
    }
    description = _operation_description(parsed)
    if description:
        operation["description"] = description
    fields, seen = [], {p["name"] for p in translation.parameters}
    for section in parsed["sections"]:
        for item in section["items"] if section["name"] == "Parameters" else []:
            if item["name"] not in seen:
                seen.add(item["name"])
                fields.append(item)
    if fields:
        in_body = verb in _BODY_METHODS
        operation["parameters"] = [_query_parameter(item, in_body) for item in fields]
        if in_body:
            operation["requestBody"] = _request_body(fields)
    operation["responses"] = _responses(parsed, bool(resource.get("protected")))
    operation["security"] = [{name: []} for name in SECURITY_SCHEMES] if resource.get("protected") else []
    if resource.get("rsc_id"):
        operation["x-core4-rsc-id"] = str(resource["rsc_id"])
    return operation


def _operation_description(parsed: dict[str, Any]) -> str:
    """A CommonMark description: free text, routes, returns, examples."""
    parts = [parsed["body"]] if parsed["body"] else []
    for section in parsed["sections"]:
        if section["name"] == "Methods":
            parts.extend(
                f"- `{' '.join(filter(None, (item['method'], item['path'])))}`"
                + (f" {item['description']}" if item["description"] else "")
                for item in section["items"]
            )
        elif section["name"] == "Returns" and section["text"]:
            parts.append(f"**Returns:** {section['text']}")
        elif section["name"] == "Examples" and section["text"]:
            parts.append(f"```\n{section['text']}\n```")
    return "\n\n".join(parts)


def _type_words(type_text: str | None) -> tuple[str, bool]:
    """The base type word (lower-case) and whether the text says required."""
    words = re.findall(r"[\w\[\].]+", (type_text or "").lower())
    required = "required" in words
    words = [w for w in words if w not in ("optional", "required", "of")]
    return (words[0].split("[")[0].split(".")[-1] if words else ""), required


def _json_schema(type_text: str | None, *, in_query: bool) -> dict[str, Any]:
    """JSON Schema for a docstring type such as ``int`` or ``list, optional``."""
    word, _ = _type_words(type_text)
    if word in _SCALARS:
        return {"type": _SCALARS[word]}
    if word in _FORMATS:
        return {"type": "string", "format": _FORMATS[word]}
    if word in ("objectid", "oid"):
        return {"type": "string", "pattern": "^[0-9a-f]{24}$"}
    if word in _CONTAINERS:
        if not in_query:
            return {"type": _CONTAINERS[word]}
        content = {"contentSchema": {"type": _CONTAINERS[word]}}
        return {"type": "string", "contentMediaType": "application/json", **content}
    return {"type": "string"}


def _query_parameter(item: dict[str, Any], in_body: bool) -> dict[str, Any]:
    """A query parameter; with a body it may come from there instead."""
    _, required = _type_words(item.get("type"))
    parameter: dict[str, Any] = {
        "name": item["name"],
        "in": "query",
        "required": required and not in_body,
        "schema": _json_schema(item.get("type"), in_query=True),
    }
    description = item.get("description") or ""
    if required and in_body:
        description = f"Required (query string, body or form field). {description}"
    if description.strip():
        parameter["description"] = description.strip()
    return parameter


def _request_body(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON or form body carrying the same arguments as the query string."""
    properties = {}
    for item in fields:
        schema = _json_schema(item.get("type"), in_query=False)
        if item.get("description"):
            schema["description"] = item["description"]
        properties[item["name"]] = schema
    schema = {"type": "object", "properties": properties}
    return {
        "required": False,
        "description": "Arguments may be sent in the query string, as a JSON body or as form fields; the body wins.",
        "content": {
            "application/json": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


def _responses(parsed: dict[str, Any], protected: bool) -> dict[str, Any]:
    """200 with the (page) envelope, error codes from ``Raises`` (+401/403)."""
    returns = " ".join(s["text"] for s in parsed["sections"] if s["name"] == "Returns")
    envelope = "PageEnvelope" if _PAGED.search(returns) else "Envelope"
    responses: dict[str, Any] = {"200": _response("OK", envelope)}
    errors: dict[str, list[str]] = {}
    for section in parsed["sections"]:
        for item in section["items"] if section["name"] == "Raises" else []:
            if item["name"] and _STATUS.match(item["name"]):
                texts = errors.setdefault(item["name"], [])
                if item["description"] and item["description"] not in texts:
                    texts.append(item["description"])
    if protected:
        errors.setdefault("401", ["Unauthorized: no valid credentials"])
        errors.setdefault("403", ["Forbidden: the user lacks the permission"])
    for code in sorted(errors):
        responses[code] = _response("; ".join(errors[code]) or code, "ErrorEnvelope")
    return responses


def _response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF + schema}}},
    }


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _components() -> dict[str, Any]:
    """Envelope schemas and the security schemes core4 logins accept."""
    count = {"type": "integer", "minimum": 0}
    head = {
        "_id": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
        "code": {"type": "integer", "description": "HTTP status code"},
        "message": {"type": "string", "description": "HTTP reason phrase"},
        "timestamp": {"type": "string", "description": "naive UTC ISO-8601 time"},
        "flash": {"type": "array", "items": {"$ref": _REF + "Flash"}},
    }
    levels = {"type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR"]}
    paging = dict.fromkeys(("page", "page_count", "total_count", "per_page", "count"), count)
    envelope = ("_id", "code", "message", "timestamp")
    return {
        "schemas": {
            "Flash": _object({"level": levels, "message": {"type": "string"}}, "level", "message"),
            "Envelope": _object({**head, "data": {"description": "payload"}}, *envelope, "data"),
            "ErrorEnvelope": _object({**head, "error": {"type": "string"}}, *envelope, "error"),
            "PageEnvelope": {"allOf": [{"$ref": _REF + "Envelope"}, _object(paging, *paging)]},
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "token"},
            "basic": {"type": "http", "scheme": "basic"},
        },
    }
