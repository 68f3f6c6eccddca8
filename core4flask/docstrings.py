"""Google-style docstrings of handlers turned into data and into safe HTML.

core4 documents every handler method with a summary, free text and the
sections ``Methods:``, ``Parameters:``, ``Returns:``, ``Raises:`` and
``Examples:`` (a section may repeat, e.g. one ``Methods:`` block per route).
:func:`parse_docstring` turns such text into plain data, :func:`render_docstring_html`
into escaped HTML for the help page, and :func:`method_docs` does both for each
HTTP method a handler class defines. Nothing here raises on bad input:
problems land in the ``errors`` list so the help page can show them.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from typing import Any

from markupsafe import Markup, escape

#: Handler methods documented on the help page, in the order shown there.
HTTP_METHODS = ("get", "post", "put", "delete", "patch", "options", "head")

#: Canonical section names by their singular, lower-case header word.
SECTION_NAMES = {
    "method": "Methods",
    "parameter": "Parameters",
    "param": "Parameters",
    "arg": "Parameters",
    "argument": "Parameters",
    "return": "Returns",
    "raise": "Raises",
    "example": "Examples",
}

#: The ``parts`` key reported for each canonical section name.
PART_KEYS = {
    "Methods": "method",
    "Parameters": "parameter",
    "Returns": "return",
    "Raises": "raise",
    "Examples": "example",
}

_FIELD_SECTIONS = ("Parameters", "Returns", "Raises")
_HEADER = re.compile(r"^([A-Za-z][A-Za-z_]*):\s*$")
_FIELD = re.compile(r"^(?P<name>[\w*.\-\[\]]+)\s*(?:\((?P<type>.*?)\))?\s*:(?:\s+(?P<desc>.*))?$")
_METHOD = re.compile(
    r"^(?:(?P<method>GET|POST|PUT|DELETE|PATCH|OPTIONS|HEAD)\s+)?"
    r"(?P<path>/\S*)(?:\s+[-\u2013\u2014:]+(?:\s+(?P<desc>.*))?)?\s*$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^[-*+]\s+")
_CODE_SPAN = re.compile(r":[\w:+.-]+:`(?P<role>[^`]+)`|``(?P<literal>.+?)``|`(?P<ref>[^`]+)`")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=\S)\*(?![\w*])")
_URL = re.compile(r"\bhttps?://(?:[^\s<>\"'&]|&amp;)*[^\s<>\"'&.,;:!?)]")


def parse_docstring(text: str | None) -> dict[str, Any]:
    """Parse a Google-style docstring into summary, body and sections.

    Returns a dict with ``summary`` (the first paragraph), ``body`` (the other
    free text), ``sections`` (``{"name", "items", "text"}`` in document
    order), ``parts`` (which of the five core4 sections occur),
    ``extra_parts`` (other section names) and ``errors`` (problems found).
    """
    result = _empty_result()
    if not isinstance(text, str) or not text.strip():
        return result
    try:
        _parse_into(result, inspect.cleandoc(text))
    except Exception as exc:  # noqa: BLE001 - a help page must not fail on a docstring
        result["errors"].append(f"docstring could not be parsed: {exc}")
    return result


def render_docstring_html(parsed: dict[str, Any], *, heading_level: int = 4) -> str:
    """Render the result of :func:`parse_docstring` as an HTML fragment.

    All text is escaped; inline ``literals``, ``**strong**`` and ``*em*``
    markup and plain http(s) URLs are the only markup interpreted. Section
    titles use ``<h{heading_level}>``.
    """
    level = min(max(int(heading_level), 1), 6)
    blocks: list[Markup] = []
    if parsed.get("summary"):
        blocks.append(Markup('<p class="doc-summary">{}</p>').format(_inline(parsed["summary"])))
    if parsed.get("body"):
        blocks.append(Markup('<div class="doc-body">{}</div>').format(_render_text(parsed["body"])))
    for section in parsed.get("sections") or []:
        blocks.append(_render_section(section, level))
    return str(Markup("\n").join(blocks))


def method_docs(handler_cls: type) -> list[dict[str, Any]]:
    """Describe each HTTP method function defined directly on ``handler_cls``.

    One entry per method (order get, post, put, delete, patch, options,
    head; inherited methods are skipped): ``{"method", "doc", "html",
    "parser_error", "parts", "extra_parts", "parsed"}``. A method without a
    docstring has ``None`` for everything but ``method``.
    """
    entries: list[dict[str, Any]] = []
    for name in HTTP_METHODS:
        func = vars(handler_cls).get(name)
        if isinstance(func, (staticmethod, classmethod)):
            func = func.__func__
        if func is None or not callable(func):
            continue
        doc = getattr(func, "__doc__", None)
        entry: dict[str, Any] = {
            "method": name.upper(),
            "doc": None,
            "html": None,
            "parser_error": None,
            "parts": None,
            "extra_parts": None,
            "parsed": None,
        }
        if isinstance(doc, str) and doc.strip():
            parsed = parse_docstring(doc)
            entry.update(
                doc=inspect.cleandoc(doc),
                html=render_docstring_html(parsed),
                parser_error=parsed["errors"],
                parts=parsed["parts"],
                extra_parts=parsed["extra_parts"],
                parsed=parsed,
            )
        entries.append(entry)
    return entries


# -- parsing -----------------------------------------------------------------


def _empty_result() -> dict[str, Any]:
    return {
        "summary": "",
        "body": "",
        "sections": [],
        "parts": {key: False for key in PART_KEYS.values()},
        "extra_parts": [],
        "errors": [],
    }


def _section_name(line: str) -> str | None:
    """The canonical section name if ``line`` is a section header."""
    match = _HEADER.match(line)
    if match is None:
        return None
    word = match.group(1)
    key = word.lower()
    singular = key.removesuffix("s")
    return SECTION_NAMES.get(key) or SECTION_NAMES.get(singular) or word


def _parse_into(result: dict[str, Any], text: str) -> None:
    lines = text.expandtabs().splitlines()
    if len(lines) > 1 and _section_name(lines[0]) and lines[1][:1].strip():
        # cleandoc cannot see how far a header on the first line was indented,
        # so its content arrives unindented: it runs until the next header
        end = 1
        while end < len(lines) and _section_name(lines[end]) is None:
            end += 1
        lines[1:end] = ["    " + line if line.strip() else line for line in lines[1:end]]
    free: list[str] = []
    index = 0
    while index < len(lines):
        name = _section_name(lines[index])
        if name is None:
            free.append(lines[index])
            index += 1
            continue
        end = index + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0].isspace()):
            end += 1
        result["sections"].append(_parse_section(name, lines[index + 1 : end], result["errors"]))
        if free and free[-1].strip():
            free.append("")  # keep text after a section apart from text before it
        index = end
    for section in result["sections"]:
        part = PART_KEYS.get(section["name"])
        if part:
            result["parts"][part] = True
        elif section["name"] not in result["extra_parts"]:
            result["extra_parts"].append(section["name"])
    paragraphs = "\n".join(free).strip("\n")
    summary, _, body = paragraphs.partition("\n\n")
    if summary[:1].isspace() or summary.startswith(">>>"):
        summary, body = "", paragraphs
    result["summary"] = " ".join(line.strip() for line in summary.splitlines())
    result["body"] = body.strip("\n")


def _parse_section(name: str, lines: list[str], errors: list[str]) -> dict[str, Any]:
    text = textwrap.dedent("\n".join(lines)).strip("\n")
    section: dict[str, Any] = {"name": name, "items": [], "text": text}
    if not text.strip():
        errors.append(f"{name}: section is empty")
    elif name in _FIELD_SECTIONS:
        section["items"] = _parse_fields(name, text, errors)
    elif name == "Methods":
        section["items"] = _parse_methods(text, errors)
    return section


def _entries(name: str, text: str, errors: list[str]) -> list[tuple[str, list[str]]]:
    """Split section text into (first line, continuation lines) pairs."""
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.strip():
            if entries:
                entries[-1][1].append("")
        elif not line[0].isspace():
            entries.append((line.strip(), []))
        elif entries:
            entries[-1][1].append(line.strip())
        else:
            errors.append(f"{name}: unexpected indentation in line {line.strip()!r}")
    return entries


def _join(first: str | None, more: list[str]) -> str:
    paragraphs: list[list[str]] = [[first] if first else []]
    for line in more:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(words) for words in paragraphs if words)


def _looks_like_field(line: str) -> bool:
    return re.search(r":(\s|$)", line) is not None


def _parse_fields(name: str, text: str, errors: list[str]) -> list[dict[str, Any]]:
    entries = _entries(name, text, errors)
    if not entries:
        return []
    first = entries[0][0]
    if _FIELD.match(first) is None and (name == "Returns" or not _looks_like_field(first)):
        return []  # free text such as "see :meth:`get`"
    items: list[dict[str, Any]] = []
    for head, more in entries:
        match = _FIELD.match(head)
        if match is None:
            errors.append(f"{name}: cannot parse line {head!r} (expected 'name (type): text')")
            continue
        item_name, item_type = match.group("name"), match.group("type")
        if name == "Returns" and item_type is None:
            item_name, item_type = None, item_name  # "dict: the payload"
        items.append(
            {
                "name": item_name,
                "type": item_type.strip() if item_type else None,
                "description": _join(match.group("desc"), more),
            }
        )
    return items


def _parse_methods(text: str, errors: list[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for head, more in _entries("Methods", text, errors):
        match = _METHOD.match(head)
        if match is None:
            errors.append(f"Methods: cannot parse line {head!r} (expected 'METHOD /path - text')")
            continue
        method = match.group("method")
        items.append(
            {
                "method": method.upper() if method else None,
                "path": match.group("path"),
                "description": _join(match.group("desc"), more),
            }
        )
    return items


# -- rendering ---------------------------------------------------------------


def _emphasis(raw: str) -> Markup:
    html = str(escape(raw))
    html = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', html)
    html = _STRONG.sub(r"<strong>\1</strong>", html)
    html = _EMPHASIS.sub(r"<em>\1</em>", html)
    return Markup(html)


def _inline(text: str) -> Markup:
    """Escape ``text`` and render its inline markup."""
    pieces: list[Markup] = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        pieces.append(_emphasis(text[position : match.start()]))
        code = match.group("role") or match.group("literal") or match.group("ref")
        pieces.append(Markup("<code>{}</code>").format(code))
        position = match.end()
    pieces.append(_emphasis(text[position:]))
    return Markup("").join(pieces)


def _paragraphs(text: str) -> list[list[str]]:
    """Blank-line separated paragraphs; adjacent indented blocks stay one."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line.rstrip())
            continue
        if current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    merged: list[list[str]] = []
    for paragraph in paragraphs:
        if merged and _is_code(merged[-1]) and paragraph[0][:1].isspace():
            merged[-1] = [*merged[-1], "", *paragraph]
        else:
            merged.append(paragraph)
    return merged


def _is_code(paragraph: list[str]) -> bool:
    return paragraph[0][:1].isspace() or paragraph[0].startswith(">>>")


def _render_text(text: str) -> Markup:
    """Render free text: paragraphs, bullet lists and literal blocks."""
    blocks: list[Markup] = []
    for paragraph in _paragraphs(text):
        if _is_code(paragraph):
            code = textwrap.dedent("\n".join(paragraph))
            blocks.append(Markup("<pre><code>{}</code></pre>").format(code))
        elif _BULLET.match(paragraph[0]):
            items: list[list[str]] = []
            for line in paragraph:
                if _BULLET.match(line) or not items:
                    items.append([_BULLET.sub("", line)])
                else:
                    items[-1].append(line.strip())
            rendered = Markup("").join(Markup("<li>{}</li>").format(_inline(" ".join(item))) for item in items)
            blocks.append(Markup("<ul>{}</ul>").format(rendered))
        else:
            joined = " ".join(line.strip() for line in paragraph)
            if joined.endswith("::"):
                joined = joined[:-1]
            blocks.append(Markup("<p>{}</p>").format(_inline(joined)))
    return Markup("\n").join(blocks)


def _render_section(section: dict[str, Any], level: int) -> Markup:
    name = str(section.get("name") or "")
    items = section.get("items") or []
    text = section.get("text") or ""
    if name == "Methods" and items:
        content = Markup("\n").join(_render_method(item) for item in items)
    elif name in _FIELD_SECTIONS and items:
        content = _render_fields(name, items)
    elif name == "Examples":
        content = Markup('<pre class="doc-example"><code>{}</code></pre>').format(text)
    else:
        content = _render_text(text)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "section"
    return Markup(
        '<section class="doc-section doc-{slug}"><h{level} class="doc-section-title">'
        "{name}</h{level}>\n{content}</section>"
    ).format(slug=slug, level=level, name=name, content=content)


def _render_method(item: dict[str, Any]) -> Markup:
    method = item.get("method")
    badge = Markup("")
    if method:
        badge = Markup('<span class="http-method http-{}">{}</span> ').format(method.lower(), method)
    description = Markup("")
    if item.get("description"):
        description = Markup(' <span class="doc-rubric-text">\u2013 {}</span>').format(_inline(item["description"]))
    return Markup('<p class="doc-rubric">{}<code>{}</code>{}</p>').format(badge, item.get("path") or "", description)


def _render_fields(section: str, items: list[dict[str, Any]]) -> Markup:
    with_name = any(item.get("name") for item in items)
    with_type = any(item.get("type") for item in items)
    headers = []
    if with_name:
        headers.append("Status" if section == "Raises" else "Name")
    if with_type:
        headers.append("Type")
    headers.append("Description")
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(h) for h in headers)
    rows: list[Markup] = []
    for item in items:
        cells: list[Markup] = []
        if with_name:
            cells.append(Markup("<td><code>{}</code></td>").format(item.get("name") or ""))
        if with_type:
            cells.append(Markup("<td>{}</td>").format(item.get("type") or ""))
        cells.append(Markup("<td>{}</td>").format(_inline(item.get("description") or "")))
        rows.append(Markup("<tr>{}</tr>").format(Markup("").join(cells)))
    return Markup('<table class="doc-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(
        head, Markup("\n").join(rows)
    )
