"""The shape check of client regular expressions, which reads CPython's private
parser: pinned to the Python versions whose parse trees were checked."""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
import sys

import pytest

from core4flask.store.regex_shape import KNOWN_PYTHON, backtracking_risk

#: The versions whose ``re._parser`` trees this test was run against and
#: found to have the layouts below. A new Python fails here until it is
#: checked and added (here and in regex_shape.KNOWN_PYTHON).
CHECKED = {(3, 11), (3, 12), (3, 13)}


def test_this_python_is_one_whose_parse_trees_were_checked():
    version = sys.version_info[:2]
    assert version in CHECKED, (
        f"the regex shape check reads re._parser, which Python {version[0]}.{version[1]} may have changed: "
        "run this module's tree-layout tests, then add the version to CHECKED and regex_shape.KNOWN_PYTHON"
    )
    assert set(KNOWN_PYTHON) == CHECKED


def test_the_parse_tree_has_the_layout_the_check_reads():
    [(repeat, (low, high, item))] = sre_parse.parse("(a+)+")
    assert repeat is sre.MAX_REPEAT and (low, high) == (1, sre.MAXREPEAT)
    [(subpattern, (group, add_flags, del_flags, inner))] = item
    assert subpattern is sre.SUBPATTERN and group == 1 and (add_flags, del_flags) == (0, 0)
    assert inner[0][0] is sre.MAX_REPEAT
    [(lazy, _)] = sre_parse.parse("a*?")
    [(possessive, _)] = sre_parse.parse("a*+")
    assert (lazy, possessive) == (sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
    [(branch, (nothing, branches))] = sre_parse.parse("ab|cd")
    assert branch is sre.BRANCH and nothing is None and len(branches) == 2
    [(look, (direction, body))] = sre_parse.parse("(?=x)")
    assert look is sre.ASSERT and direction == 1 and body[0][0] is sre.LITERAL
    [(negative, (_, _))] = sre_parse.parse("(?!x)")
    assert negative is sre.ASSERT_NOT
    [(atomic, body)] = sre_parse.parse("(?>x)")
    assert atomic is sre.ATOMIC_GROUP and body[0][0] is sre.LITERAL
    assert sre_parse.parse(r"(a)\1")[1][0] is sre.GROUPREF
    assert sre_parse.parse(r"(?P<x>a)(?(x)b|c)")[1][0] is sre.GROUPREF_EXISTS


@pytest.mark.parametrize(
    ("pattern", "risk"),
    [
        ("(a+)+$", "nests quantifiers"),
        ("(a*?)*", "nests quantifiers"),
        ("(a++)+", "nests quantifiers"),
        ("(?:x(a+))*", "nests quantifiers"),
        ("(?=(a+)+)b", "nests quantifiers"),
        ("(?!(a+)+)b", "nests quantifiers"),
        ("(?>(a+)+)", "nests quantifiers"),
        ("(a|ab)*c", "repeats an alternation"),
        ("(?:(ab|cd)e){2,}", "repeats an alternation"),
        (r"(a)\1", "backreferences"),
        (r"(?P<x>a)(?(x)b|c)", "backreferences"),
    ],
)
def test_exponential_shapes_are_named(pattern, risk):
    assert risk in backtracking_risk(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["", "admin", "a*b*c*", r"[a-z]+@example\.com", "(ab|cd)", "(a+)?", "(?:ab|cd)?x", "(a|b)+", re.escape("a+(b)*")],
)
def test_harmless_shapes_pass(pattern):
    assert backtracking_risk(pattern) is None


def test_flags_are_parsed_with_the_pattern():
    assert backtracking_risk("(A+)+", re.IGNORECASE) is not None
    with pytest.raises(re.error):
        backtracking_risk("(unclosed")
