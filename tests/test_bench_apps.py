"""The benchmark's two applications answer the same payloads, scenario by scenario.

No timing here: ``bench/run.py`` measures; these tests make sure it compares
like with like (and that it reads wrk's output correctly).
"""

from __future__ import annotations

import re

import pytest

from bench.apps import FRAME, FRAME_ROWS, create_bare_app, create_core4_app
from bench.run import SCENARIOS, parse_duration_ms, parse_wrk, wrk_command

SECRET = "bench-test-secret-" + "0123456789abcdef" * 4  # HS512 wants >= 64 bytes
CONFIG = {"api": {"admin_password": "hans", "token": {"secret": SECRET}}}
ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@pytest.fixture(scope="module")
def bare():
    return create_bare_app().test_client()


@pytest.fixture(scope="module")
def core4_app(tmp_path_factory):
    app = create_core4_app(str(tmp_path_factory.mktemp("bench")), config=CONFIG)
    app.extensions["core4flask"].prepare_serving()
    return app


@pytest.fixture(scope="module")
def core4(core4_app):
    # no cookie jar: the login's cookie must not stand in for the Bearer token
    return core4_app.test_client(use_cookies=False)


@pytest.fixture(scope="module")
def token(core4):
    response = core4.get("/core4/api/v1/login", query_string={"username": "admin", "password": "hans"})
    assert response.status_code == 200, response.text
    return response.json["data"]["token"]


def test_hello_world_is_the_same_data_inside_the_envelope(bare, core4):
    plain, enveloped = bare.get("/bench/hello"), core4.get("/bench/hello")
    assert plain.status_code == enveloped.status_code == 200
    assert plain.json == {"data": "hello world"}
    body = enveloped.json
    assert list(body) == ["_id", "code", "message", "timestamp", "data"]
    assert (body["code"], body["message"], body["data"]) == (200, "OK", "hello world")
    assert enveloped.headers["Access-Control-Allow-Origin"] == "*"


def test_frame_json_is_pandas_records_byte_for_byte(bare, core4):
    plain, enveloped = bare.get("/bench/frame"), core4.get("/bench/frame")
    assert plain.status_code == enveloped.status_code == 200
    assert plain.mimetype == enveloped.mimetype == "application/json"
    # for this frame core4flask's records are pandas' records, byte for byte
    assert enveloped.data.endswith(b'"data":' + plain.data + b"}")
    records = enveloped.json["data"]
    assert records == plain.json
    assert len(records) == FRAME_ROWS and set(records[0]) == {"id", "value", "name", "created", "score"}


def test_frame_json_has_null_for_nan_and_iso_dates(core4):
    records = core4.get("/bench/frame").json["data"]
    missing = FRAME.index[FRAME["value"].isna()]
    assert len(missing) > 0
    assert all(records[i]["value"] is None for i in missing[:50])
    assert all(ISO_SECONDS.fullmatch(record["created"]) for record in records[:100])
    assert records[0]["created"] == FRAME["created"][0].isoformat()


def test_frame_csv_is_the_same_bytes(bare, core4):
    plain = bare.get("/bench/frame.csv")
    negotiated = core4.get("/bench/frame", headers={"Accept": "text/csv"})
    assert plain.status_code == negotiated.status_code == 200
    assert plain.mimetype == negotiated.mimetype == "text/csv"
    assert negotiated.data == plain.data == FRAME.to_csv().encode()


def test_protected_hello_needs_a_token_and_then_answers_like_hello(core4, token):
    assert core4.get("/bench/protected").status_code == 401
    response = core4.get("/bench/protected", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json["data"] == "hello world"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_scenario_of_the_runner_answers_200_on_both_sides(scenario, bare, core4, token):
    headers = dict(scenario.core4_headers)
    if scenario.needs_auth:
        headers["Authorization"] = f"Bearer {token}"
    assert bare.get(scenario.bare_path).status_code == 200
    assert core4.get(scenario.core4_path, headers=headers).status_code == 200


WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:40111/bench/hello
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.31ms    2.10ms  31.20ms   80.00%
    Req/Sec     3.10k   210.00     3.50k    70.00%
  Latency Distribution
     50%  812.00us
     75%    6.10ms
     90%    8.00ms
     99%    1.02s
  9300 requests in 3.00s, 1.20MB read
  Non-2xx or 3xx responses: 7
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:   3098.52
Transfer/sec:    410.00KB
"""


def test_wrk_output_is_read_with_units_and_failures():
    result = parse_wrk(WRK_OUTPUT)
    assert result.rps == pytest.approx(3098.52)
    assert result.p50_ms == pytest.approx(0.812)
    assert result.p99_ms == pytest.approx(1020.0)
    assert result.requests == 9300
    assert (result.bad_responses, result.socket_errors) == (7, 3)
    assert not result.clean


def test_wrk_output_without_failures_is_clean():
    clean = "\n".join(
        line for line in WRK_OUTPUT.splitlines() if not line.lstrip().startswith(("Non-2xx", "Socket errors"))
    )
    assert parse_wrk(clean).clean


def test_unexpected_wrk_output_is_an_error():
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
    with pytest.raises(ValueError):
        parse_duration_ms("12 parsecs")


def test_wrk_command_is_one_thread_with_latency_and_headers():
    command = wrk_command("http://127.0.0.1:1/x", 64, 3, (("Accept", "text/csv"),))
    assert command[:5] == ["wrk", "-t1", "-c64", "-d3s", "--latency"]
    assert command[-3:] == ["-H", "Accept: text/csv", "http://127.0.0.1:1/x"]
