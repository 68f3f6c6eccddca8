"""Role queries (the safe subset of :mod:`core4flask.store.query`) on every backend, and its pure parts."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from bson import ObjectId
from bson.regex import Regex

from core4flask.store import QueryError, new_id
from core4flask.store.query import match, sort_docs, to_mongo_query, uses_regex, validate_query
from tests.test_store import BACKENDS, T0, make_role, open_backend


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    yield from open_backend(request.param, tmp_path)


# -- role queries ----------------------------------------------------------------


@pytest.fixture
def people(store):
    team = make_role("team", realname="Team", perm=["api://core4flask.api"])
    store.role_insert(team)
    rows = [
        make_role("admin", realname="admin user", perm=["cop"], email="admin@example.com"),
        make_role("liese", realname="Liese", role=[team["_id"]], created=T0 + timedelta(days=1)),
        make_role("lisa", realname="Lisa", role=[team["_id"]], created=T0 + timedelta(days=2), is_active=False),
        make_role("lieselotte", realname="Lieselotte", created=T0 + timedelta(days=3)),
        make_role("norealname", created=T0 + timedelta(days=4)),
    ]
    del rows[-1]["realname"]
    for row in rows:
        store.role_insert(row)
    return {"team": team, **{row["name"]: row for row in rows}}


def names(docs):
    return [doc["name"] for doc in docs]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, ["admin", "liese", "lieselotte", "lisa", "norealname", "team"]),
        ({"name": "lisa"}, ["lisa"]),
        ({"name": "LISA"}, []),
        ({"perm": "cop"}, ["admin"]),
        ({"name": {"$in": ["lisa", "admin", "nobody"]}}, ["admin", "lisa"]),
        ({"name": {"$nin": ["lisa", "admin", "team"]}}, ["liese", "lieselotte", "norealname"]),
        ({"realname": {"$ne": "Lisa"}, "name": {"$regex": "^li"}}, ["liese", "lieselotte"]),
        ({"realname": {"$regex": "^LIE", "$options": "i"}}, ["liese", "lieselotte"]),
        ({"realname": {"$regex": "^LIE"}}, []),
        ({"realname": {"$in": [re.compile("Li*")]}}, ["liese", "lieselotte", "lisa"]),
        ({"realname": {"$in": ["Liese"]}}, ["liese"]),
        (
            {"$and": [{"realname": {"$in": [re.compile("Li*")]}}, {"realname": {"$ne": "Lisa"}}]},
            ["liese", "lieselotte"],
        ),
        ({"$or": [{"name": "lisa"}, {"perm": "cop"}]}, ["admin", "lisa"]),
        ({"$nor": [{"name": "lisa"}, {"perm": "cop"}, {"name": "team"}]}, ["liese", "lieselotte", "norealname"]),
        ({"realname": {"$exists": False}}, ["norealname"]),
        ({"email": {"$exists": True}}, ["admin"]),
        ({"is_active": False}, ["lisa"]),
        ({"created": {"$gt": T0 + timedelta(days=1), "$lte": T0 + timedelta(days=3)}}, ["lieselotte", "lisa"]),
        ({"realname": None}, ["norealname"]),
        ({"perm": {"$regex": "^api://"}}, ["team"]),
    ],
)
def test_role_find_and_count(store, people, query, expected):
    assert sorted(names(store.role_find(query))) == expected
    assert store.role_count(query) == len(expected)


def test_role_find_by_ids(store, people):
    team_id = people["team"]["_id"]
    assert names(store.role_find({"role": team_id})) == sorted(["liese", "lisa"], key=lambda n: people[n]["_id"])
    assert names(store.role_find({"_id": team_id.upper()})) == ["team"]
    assert names(store.role_find({"_id": {"$in": [team_id, people["lisa"]["_id"], "junk"]}})) == sorted(
        ["team", "lisa"], key=lambda n: people[n]["_id"]
    )
    assert store.role_count({"_id": {"$ne": team_id}}) == 5


def test_role_find_sort_skip_limit(store, people):
    # binary collation: upper case before lower case; missing fields first
    ascending = names(store.role_find(sort="realname"))
    assert ascending == ["norealname", "liese", "lieselotte", "lisa", "team", "admin"]
    descending = names(store.role_find(sort="realname", order=-1))
    assert descending == list(reversed(ascending))
    assert names(store.role_find(sort="realname", order=-1, skip=1, limit=2)) == ["team", "lisa"]
    assert names(store.role_find(sort="created", skip=4)) == ["lieselotte", "norealname"]
    assert len(store.role_find(limit=0)) == 6
    default_order = [doc["_id"] for doc in store.role_find()]
    assert default_order == sorted(default_order)


@pytest.mark.parametrize(
    "query",
    [
        {"password": "x"},
        {"password": {"$exists": True}},
        {"$or": [{"name": "admin"}, {"password": {"$regex": "^\\$"}}]},
        {"$and": [{"$nor": [{"password.0": "x"}]}]},
        {"name": {"$where": "1"}},
        {"$where": "sleep(100)"},
        {"avatar": "x"},
        {"name": {"$regex": "("}},
        {"name": {"$regex": "a", "$options": "x"}},
        {"name": {"$options": "i"}},
        {"name": {"first": "x"}},
        {"$or": []},
        {"_id": {"$regex": "^6"}},
        {"created": {"$gt": {"$date": 1}}},
        ["name", "admin"],
        "name",
    ],
)
def test_role_queries_outside_the_safe_subset_are_rejected(store, people, query):
    with pytest.raises(QueryError):
        store.role_find(query)
    with pytest.raises(QueryError):
        store.role_count(query)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"name": {"$regex": "(a+)+$"}}, "nests quantifiers"),
        ({"name": {"$regex": "^(?:a*)*b"}}, "nests quantifiers"),
        ({"name": {"$regex": "(.*a){20}"}}, "nests quantifiers"),
        ({"name": {"$regex": "((ab?)+)x"}}, "nests quantifiers"),
        ({"name": {"$in": [re.compile("(\\w+\\s?)+$")]}}, "nests quantifiers"),
        ({"$or": [{"email": {"$regex": "(?=(a+)+)b"}}]}, "nests quantifiers"),
        ({"name": {"$regex": "(a|aa)+$"}}, "alternation"),
        ({"realname": {"$regex": "^(foo|bar)*$", "$options": "i"}}, "alternation"),
        ({"name": {"$regex": "(a)\\1"}}, "backreferences"),
        ({"name": {"$regex": "(?P<x>a)(?P=x)"}}, "backreferences"),
        ({"name": {"$regex": "(a)?(?(1)b|c)"}}, "backreferences"),
        ({"name": {"$regex": "a" * 513}}, "longer than 512"),
    ],
)
def test_backtracking_regexes_are_refused_alike_by_every_backend(store, people, query, reason):
    for call in (store.role_find, store.role_count):
        with pytest.raises(QueryError, match=reason):
            call(query)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"name": {"$regex": "^li(e|s)"}}, ["liese", "lieselotte", "lisa"]),
        ({"name": {"$regex": "^(li)+[es]+a?$"}}, ["liese", "lisa"]),
        (
            {"name": {"$regex": "^[A-Z]+$", "$options": "i"}},
            ["admin", "liese", "lieselotte", "lisa", "norealname", "team"],
        ),
        ({"email": {"$regex": "^\\w+@example\\.com$"}}, ["admin"]),
        ({"name": {"$regex": "a" * 512}}, []),
    ],
)
def test_regexes_without_nested_repetition_still_work(store, people, query, expected):
    assert sorted(names(store.role_find(query))) == expected
    assert store.role_count(query) == len(expected)


def test_regexes_past_the_deadline_are_a_query_error():
    query = validate_query({"$or": [{"name": {"$regex": "^adm"}}, {"name": {"$in": [re.compile("x")]}}]})
    assert match({"name": "admin"}, query)
    assert not match({"name": "bob"}, query, time.monotonic() + 5)
    with pytest.raises(QueryError, match="took too long"):
        match({"name": "admin"}, query, time.monotonic() - 1)
    with pytest.raises(QueryError, match="took too long"):
        match({"name": "bob"}, validate_query({"name": {"$in": [re.compile("x")]}}), time.monotonic() - 1)


def test_uses_regex_finds_patterns_anywhere():
    assert not uses_regex(validate_query({"name": "a", "$or": [{"realname": {"$in": ["b"]}}]}))
    assert uses_regex(validate_query({"$and": [{"name": "a"}, {"$nor": [{"realname": {"$regex": "b"}}]}]}))
    assert uses_regex(validate_query({"name": {"$nin": ["a", re.compile("b")]}}))


def test_password_is_named_as_the_reason(store, people):
    for query in ({"password": "x"}, {"$or": [{"$and": [{"password": {"$exists": True}}]}]}, {"password.0": "$"}):
        with pytest.raises(QueryError, match="password"):
            store.role_find(query)
    with pytest.raises(QueryError, match="password"):
        store.role_find(sort="password")


def test_role_find_rejects_bad_sort_and_paging(store, people):
    for kwargs in ({"sort": "password"}, {"sort": "nope"}, {"order": 0}, {"skip": -1}, {"limit": -5}):
        with pytest.raises(QueryError):
            store.role_find(**kwargs)


# -- query evaluation (pure) -----------------------------------------------------


def test_match_follows_mongodb_type_rules():
    doc = {"n": 1, "flag": True, "tags": ["a", "b"], "empty": [], "none": None}
    cases = [
        ({"n": 1.0}, True),
        ({"n": True}, False),
        ({"flag": 1}, False),
        ({"tags": "a"}, True),
        ({"tags": ["a", "b"]}, True),
        ({"tags": ["b", "a"]}, False),
        ({"missing": None}, True),
        ({"none": None}, True),
        ({"empty": None}, False),
        ({"missing": {"$gte": None}}, True),
        ({"missing": {"$gt": None}}, False),
        ({"n": {"$gt": "0"}}, False),
        ({"tags": {"$gt": "a"}}, True),
        ({"missing": {"$ne": 1}}, True),
        ({"tags": {"$nin": ["c"]}}, True),
        ({"tags": {"$nin": ["b"]}}, False),
        ({"n": {"$regex": "1"}}, False),
    ]
    for query, expected in cases:
        # validate each condition through an allowed field, then apply it to the test field
        ((field, condition),) = query.items()
        normalized = {field: validate_query({"name": condition})["name"]}
        assert match(doc, normalized) is expected, query


def test_to_mongo_query_converts_ids_and_patterns():
    team = new_id()
    query = validate_query(
        {
            "$or": [{"_id": team.upper()}, {"role": {"$in": [team, "junk"]}}],
            "name": {"$in": [re.compile("^a", re.IGNORECASE), "b"]},
            "realname": team,
        }
    )
    assert to_mongo_query(query) == {
        "$or": [{"_id": {"$eq": ObjectId(team)}}, {"role": {"$in": [ObjectId(team), "junk"]}}],
        "name": {"$in": [Regex("^a", "i"), "b"]},
        "realname": {"$eq": team},
    }


def test_sort_docs_follows_mongodb_order():
    docs = [
        {"_id": "1", "v": [3, 1]},
        {"_id": "2", "v": 2},
        {"_id": "3"},
        {"_id": "4", "v": None},
        {"_id": "5", "v": []},
        {"_id": "6", "v": "a"},
        {"_id": "7", "v": True},
        {"_id": "8", "v": T0},
        {"_id": "9", "v": [5]},
    ]
    assert [d["_id"] for d in sort_docs(docs, "v", 1)] == ["5", "3", "4", "1", "2", "9", "6", "7", "8"]
    assert [d["_id"] for d in sort_docs(docs, "v", -1)] == ["8", "7", "6", "9", "1", "2", "3", "4", "5"]


# -- the rules of other queries (``_info``'s filter) ------------------------------


def test_rules_decide_fields_regexes_dates_and_depth():
    from datetime import datetime

    from core4flask.store.query import QueryRules

    rules = QueryRules(
        date_fields=frozenset(("created_at",)),
        parse_date=lambda text: datetime.fromisoformat(text),
        regex=False,
        regex_hint="search for text instead",
        max_depth=1,
    )
    assert validate_query({"author": "x", "any_name": 1}, rules) == {"author": {"$eq": "x"}, "any_name": {"$eq": 1}}
    assert validate_query({"created_at": {"$gte": "2024-01-01T01:00:00+01:00"}}, rules) == {
        "created_at": {"$gte": datetime(2024, 1, 1)}
    }
    refusals = {
        "mounts.root": {"mounts.root": "/x"},
        "regular expressions are not supported on [author]; search for text instead": {"author": {"$regex": "a"}},
        "not supported on [tag]": {"tag": {"$in": [re.compile("a")]}},
        "nests deeper than 1 levels": {"$or": [{"$and": [{"author": "x"}]}]},
    }
    for message, bad in refusals.items():
        with pytest.raises(QueryError, match=re.escape(message)):
            validate_query(bad, rules)
    # role queries know their fields and never the password
    with pytest.raises(QueryError, match=r"unknown field \[author\]"):
        validate_query({"author": "x"})
    with pytest.raises(QueryError, match=r"field \[password\] cannot be queried"):
        validate_query({"password.x": "y"})
