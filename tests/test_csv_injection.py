"""CSV answers open safely in a spreadsheet (OWASP's CSV injection advice),
and text answers say their charset. Over HTTP against ``serve()``; the
configuration switch with the test client."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from core4flask import CoreApiContainer, CoreRequestHandler
from tests import live
from tests.fixtures import make_client

SCRIPT = textwrap.dedent(
    """
    import pandas as pd

    from core4flask import CoreApiContainer, CoreRequestHandler, serve

    NAMES = ["=HYPERLINK(\\"http://evil.example\\")", "+1+1", "-2", "@SUM(A1)", "\\tTab", "ok"]
    ROWS = {"name": NAMES, "value": [-1, 2, -3, 4, 5, 6]}


    class ReportHandler(CoreRequestHandler):
        protected = False

        def get(self):
            self.reply(pd.DataFrame(ROWS))


    class RawReportHandler(ReportHandler):
        csv_injection_guard = False


    class CsvServer(CoreApiContainer):
        root = "/csv"
        rules = [(r"/report", ReportHandler), (r"/raw", RawReportHandler)]


    if __name__ == "__main__":
        serve(CsvServer)
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("csv")
    (tmp / "csvserver.py").write_text(SCRIPT, encoding="utf-8")
    running = live.python_script(tmp, tmp / "csvserver.py", ready="/csv/report")
    yield running
    running.stop()


@pytest.mark.e2e
def test_formula_cells_are_quoted_in_csv_answers(server):
    response = server.get("/csv/report", headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.text.splitlines()
    assert lines[1] == '0,"\'=HYPERLINK(""http://evil.example"")",-1'
    assert lines[2] == "1,'+1+1,2" and lines[3] == "2,'-2,-3" and lines[4] == "3,'@SUM(A1),4"
    assert lines[5] == "4,'\tTab,5" and lines[6] == "5,ok,6"


@pytest.mark.e2e
def test_a_handler_may_turn_the_guard_off(server):
    response = server.get("/csv/raw", params={"content_type": "csv"})
    assert response.text.splitlines()[2] == "1,+1+1,2"


@pytest.mark.e2e
def test_text_answers_carry_a_charset(server):
    for accept, kind in (("text/plain", "text/plain"), ("text/html", "text/html")):
        response = server.get("/csv/report", headers={"Accept": accept})
        assert response.headers["Content-Type"] == f"{kind}; charset=utf-8"


class FrameHandler(CoreRequestHandler):
    protected = False

    def get(self):
        self.reply(pd.DataFrame({"a": ["=1+1"]}))


class GuardedFrameHandler(FrameHandler):
    csv_injection_guard = True


class FrameServer(CoreApiContainer):
    root = "/frames"
    rules = [(r"/plain", FrameHandler), (r"/guarded", GuardedFrameHandler)]


def test_the_configuration_turns_the_guard_off_and_a_handler_back_on(tmp_path):
    client = make_client(tmp_path, FrameServer, config={"api": {"csv": {"neutralise": False}}})
    assert client.get("/frames/plain?content_type=csv").get_data(as_text=True) == ",a\n0,=1+1\n"
    assert client.get("/frames/guarded?content_type=csv").get_data(as_text=True) == ",a\n0,'=1+1\n"
