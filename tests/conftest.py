"""What every test of this repository shares."""

from __future__ import annotations

from collections.abc import Iterator

import argon2
import pytest

from core4flask.auth import passwords

#: the hasher core4flask runs with (OWASP's argon2id: 19 MiB, 2 passes)
_PRODUCTION_HASHER = passwords._HASHER
#: argon2id at its lowest cost
_FAST_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=32, salt_len=16)


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashes() -> Iterator[None]:
    """Make and check the suite's passwords with argon2id at its lowest cost.

    The tests hash and verify about a thousand passwords; at the production
    cost those took half the time of ``pytest -m "not e2e"``. Every code
    path stays the same, only the hasher's parameters differ. The servers of
    the end-to-end tests run with the production parameters, and so does
    ``tests/test_passwords.py`` (see :func:`production_password_hashes`).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_HASHER", _FAST_HASHER)
        yield


@pytest.fixture(autouse=True)
def production_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests of the hasher itself check the production parameters."""
    if request.module.__name__.rpartition(".")[2] == "test_passwords":
        monkeypatch.setattr(passwords, "_HASHER", _PRODUCTION_HASHER)
