"""Parsing and rendering of Google-style handler docstrings."""

from __future__ import annotations

import pytest

from core4flask.apps.docstrings import method_docs, parse_docstring, render_docstring_html

JOB_DOC = """
    Paginated job listing with ``/jobs``, and single job details with
    ``/jobs/<_id>``.

    The listing is sorted by ``_id`` unless told otherwise.

    Methods:
        GET /jobs - jobs listing

    Parameters:
        per_page (int): number of jobs per page
        page (int): requested page (starts counting with ``0``)
        order(int): sort direction (``1`` for ascending, ``-1`` for
            descending)

    Returns:
        data element with list of job attributes as dictionaries. For
        pagination the following top level attributes are returned:

        - **total_count**: the total number of records
        - **page_count**: the total number of pages

    Raises:
        401: Unauthorized

    Examples:
        >>> from requests import get
        >>> rv = get(url + "/jobs?per_page=10", headers=h)
        >>> rv.json()
        {
            'code': 200,
        }

    Methods:
        /jobs/<_id> - job details

    Parameters:
        _id (str): job _id to get details

    Raises:
        400: failed to parse job _id
        404: job not found
    """


def test_nothing_to_parse() -> None:
    for text in (None, "", "   \n  "):
        parsed = parse_docstring(text)
        assert parsed["summary"] == "" and parsed["body"] == ""
        assert parsed["sections"] == [] and parsed["errors"] == []
        assert parsed["parts"] == dict.fromkeys(("method", "parameter", "return", "raise", "example"), False)
        assert parsed["extra_parts"] == []


def test_summary_body_and_parts() -> None:
    parsed = parse_docstring(JOB_DOC)
    assert parsed["summary"] == ("Paginated job listing with ``/jobs``, and single job details with ``/jobs/<_id>``.")
    assert parsed["body"] == "The listing is sorted by ``_id`` unless told otherwise."
    assert parsed["parts"] == dict.fromkeys(("method", "parameter", "return", "raise", "example"), True)
    assert parsed["extra_parts"] == []
    assert parsed["errors"] == []


def test_sections_keep_document_order_and_repeat() -> None:
    names = [s["name"] for s in parse_docstring(JOB_DOC)["sections"]]
    assert names == [
        "Methods",
        "Parameters",
        "Returns",
        "Raises",
        "Examples",
        "Methods",
        "Parameters",
        "Raises",
    ]


def test_parameter_items_with_continuation_lines() -> None:
    sections = parse_docstring(JOB_DOC)["sections"]
    assert sections[1]["items"] == [
        {"name": "per_page", "type": "int", "description": "number of jobs per page"},
        {"name": "page", "type": "int", "description": "requested page (starts counting with ``0``)"},
        {"name": "order", "type": "int", "description": "sort direction (``1`` for ascending, ``-1`` for descending)"},
    ]
    assert sections[6]["items"] == [{"name": "_id", "type": "str", "description": "job _id to get details"}]


def test_raises_items_are_named_by_status_code() -> None:
    sections = parse_docstring(JOB_DOC)["sections"]
    assert sections[3]["items"] == [{"name": "401", "type": None, "description": "Unauthorized"}]
    assert [i["name"] for i in sections[7]["items"]] == ["400", "404"]


def test_methods_items_with_and_without_http_method() -> None:
    sections = parse_docstring(JOB_DOC)["sections"]
    assert sections[0]["items"] == [{"method": "GET", "path": "/jobs", "description": "jobs listing"}]
    assert sections[5]["items"] == [{"method": None, "path": "/jobs/<_id>", "description": "job details"}]
    parsed = parse_docstring("Do.\n\nMethods:\n    post /x/<a>\n    DELETE /y - drop it\n        for good")
    assert parsed["sections"][0]["items"] == [
        {"method": "POST", "path": "/x/<a>", "description": ""},
        {"method": "DELETE", "path": "/y", "description": "drop it for good"},
    ]


def test_free_text_returns_has_no_items_and_no_error() -> None:
    parsed = parse_docstring(JOB_DOC)
    returns = parsed["sections"][2]
    assert returns["items"] == []
    assert returns["text"].startswith("data element with list")
    assert "- **page_count**: the total number of pages" in returns["text"]


def test_typed_returns_item() -> None:
    parsed = parse_docstring("Do.\n\nReturns:\n    dict: the payload\n        with details")
    assert parsed["sections"][0]["items"] == [{"name": None, "type": "dict", "description": "the payload with details"}]


def test_examples_keep_raw_text() -> None:
    examples = parse_docstring(JOB_DOC)["sections"][4]
    assert examples["items"] == []
    assert examples["text"].splitlines() == [
        ">>> from requests import get",
        '>>> rv = get(url + "/jobs?per_page=10", headers=h)',
        ">>> rv.json()",
        "{",
        "    'code': 200,",
        "}",
    ]


def test_aliases_and_extra_sections() -> None:
    parsed = parse_docstring("Do it.\n\nArgs:\n    x (int): a number\n\nNote:\n    careful\n\nTodo:\n    more")
    assert [s["name"] for s in parsed["sections"]] == ["Parameters", "Note", "Todo"]
    assert parsed["parts"]["parameter"] is True
    assert parsed["extra_parts"] == ["Note", "Todo"]
    assert parsed["sections"][1]["text"] == "careful"


def test_singular_headers_count_as_parts() -> None:
    parsed = parse_docstring("Example:\n    >>> 1\n\nReturn:\n    nothing")
    assert parsed["parts"]["example"] and parsed["parts"]["return"]
    assert [s["name"] for s in parsed["sections"]] == ["Examples", "Returns"]


def test_text_after_a_section_goes_to_the_body() -> None:
    parsed = parse_docstring("Summary.\n\nParameters:\n    a (int): x\nTrailing words.")
    assert parsed["summary"] == "Summary."
    assert parsed["body"] == "Trailing words."
    assert parsed["sections"][0]["items"][0]["name"] == "a"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Do.\n\nParameters:\n    a (int): fine\n    this is not a parameter line", "Parameters: cannot parse line"),
        ("Do.\n\nParameters:\n    a int: broken", "Parameters: cannot parse line 'a int: broken'"),
        ("Do.\n\nRaises:\n    401: Unauthorized\n    Unknown failure", "Raises: cannot parse line 'Unknown failure'"),
        ("Do.\n\nMethods:\n    list the jobs", "Methods: cannot parse line 'list the jobs'"),
        ("Do.\n\nParameters:\n        a (int): deeper\n    b (int): shallower", "Parameters: unexpected indentation"),
        ("Do.\n\nParameters:\n\nReturns:\n    x", "Parameters: section is empty"),
    ],
)
def test_problems_are_reported_not_raised(text: str, message: str) -> None:
    parsed = parse_docstring(text)
    assert any(error.startswith(message) for error in parsed["errors"]), parsed["errors"]


def test_free_text_reference_is_not_an_error() -> None:
    parsed = parse_docstring("Raises:\n    see :meth:`.get`\n\nParameters:\n    same as GET")
    assert parsed["errors"] == []
    assert [s["items"] for s in parsed["sections"]] == [[], []]


def test_tabs_and_odd_input_never_raise() -> None:
    for text in ("\tParameters:\n\t\tx (int:\n\t(", "Methods:\n" + "(" * 50, "Returns:\n  :\n", "::\n    code"):
        parsed = parse_docstring(text)
        assert isinstance(parsed["errors"], list)


def test_html_escapes_everything() -> None:
    parsed = parse_docstring(
        "Title <script>alert(1)</script>\n\nBody & <b>bold</b>\n\n"
        "Parameters:\n    x (<i>): desc <img src=x onerror=alert(1)>\n\n"
        "Examples:\n    >>> get('<script>')"
    )
    html = render_docstring_html(parsed)
    assert "<script>" not in html and "<img" not in html and "<i>" not in html and "<b>" not in html
    assert "Title &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Body &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "desc &lt;img src=x onerror=alert(1)&gt;" in html
    assert '<pre class="doc-example"><code>&gt;&gt;&gt; get(&#39;&lt;script&gt;&#39;)</code></pre>' in html


def test_html_structure() -> None:
    html = render_docstring_html(parse_docstring(JOB_DOC))
    assert '<p class="doc-summary">Paginated job listing with <code>/jobs</code>' in html
    assert '<span class="http-method http-get">GET</span> <code>/jobs</code>' in html
    assert '<h4 class="doc-section-title">Parameters</h4>' in html
    assert "<td><code>per_page</code></td><td>int</td><td>number of jobs per page</td>" in html
    assert '<th scope="col">Status</th>' in html and "<td><code>401</code></td>" in html
    assert "<li><strong>total_count</strong>: the total number of records</li>" in html
    assert html.count("<section") == 8


def test_html_heading_level_and_links() -> None:
    parsed = parse_docstring(
        "Visit https://example.com/a?b=1&c=2 now.\n\nNot javascript:alert(1)\n\nNote:\n    *careful* **now**"
    )
    html = render_docstring_html(parsed, heading_level=3)
    assert '<a href="https://example.com/a?b=1&amp;c=2">https://example.com/a?b=1&amp;c=2</a> now.' in html
    assert '<a href="javascript' not in html
    assert '<h3 class="doc-section-title">Note</h3>' in html
    assert "<em>careful</em> <strong>now</strong>" in html


def test_literal_block_in_body() -> None:
    parsed = parse_docstring("Summary.\n\nUse it like this::\n\n    x = <1>\n\n    y = 2\n\nDone.")
    html = render_docstring_html(parsed)
    assert "<p>Use it like this:</p>" in html
    assert "<pre><code>x = &lt;1&gt;\n\ny = 2</code></pre>" in html
    assert "<p>Done.</p>" in html


def test_header_on_the_first_line() -> None:
    class Handler:
        def delete(self) -> None:
            """Methods:
                DELETE /jobs/<_id> - delete a job
                    for good

            Raises:
                404: job not found
            """

        def put(self) -> None:
            """Parameters:
            a (int): first
                continued
            """

    put, delete = (entry["parsed"] for entry in method_docs(Handler))
    assert delete["errors"] == [] and put["errors"] == []
    assert delete["sections"][0]["items"] == [
        {"method": "DELETE", "path": "/jobs/<_id>", "description": "delete a job for good"}
    ]
    assert delete["sections"][1]["items"][0]["name"] == "404"
    assert put["sections"][0]["items"] == [{"name": "a", "type": "int", "description": "first continued"}]
    assert parse_docstring("Raises:\n    401: Unauthorized")["sections"][0]["items"][0]["name"] == "401"


class _Base:
    def get(self) -> None:
        """Inherited, never listed."""

    def delete(self) -> None:
        """Inherited delete."""


class _Handler(_Base):
    async def post(self) -> None:
        """Create a thing.

        Parameters:
            name (str): the name
            oops
        """

    def get(self) -> None:
        """Read a thing.

        Returns:
            the thing
        """

    def put(self) -> None:
        pass

    def helper(self) -> None:
        """Not an HTTP method."""


def test_method_docs_order_and_inheritance() -> None:
    entries = method_docs(_Handler)
    assert [e["method"] for e in entries] == ["GET", "POST", "PUT"]
    assert method_docs(_Base)[1]["method"] == "DELETE"
    assert method_docs(type("Empty", (_Base,), {})) == []


def test_method_docs_entries() -> None:
    get, post, put = method_docs(_Handler)
    assert get["doc"] == "Read a thing.\n\nReturns:\n    the thing"
    assert get["parts"]["return"] is True and get["parts"]["parameter"] is False
    assert get["parser_error"] == [] and get["extra_parts"] == []
    assert '<p class="doc-summary">Read a thing.</p>' in get["html"]
    assert get["parsed"]["summary"] == "Read a thing."
    assert post["parser_error"] == ["Parameters: cannot parse line 'oops' (expected 'name (type): text')"]
    assert put == {
        "method": "PUT",
        "doc": None,
        "html": None,
        "parser_error": None,
        "parts": None,
        "extra_parts": None,
        "parsed": None,
    }
