"""Password hashing, core4 pbkdf2_sha256 compatibility and gevent offloading."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import argon2
import pytest

from core4flask.auth import passwords
from core4flask.auth.passwords import (
    ARGON2_MEMORY_COST,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    PASSWORD_ALPHABET,
    hash_password,
    needs_rehash,
    random_password,
    run_off_loop,
    verify_password,
)

ROOT = Path(__file__).resolve().parents[1]


def ab64(raw: bytes) -> str:
    """passlib's adapted base64: "." instead of "+", no padding."""
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def passlib_pbkdf2_sha256(plain: str, salt: bytes, rounds: int = 29000) -> str:
    """Build a hash in passlib's pbkdf2_sha256 format without passlib."""
    checksum = hashlib.pbkdf2_hmac("sha256", plain.encode(), salt, rounds)
    return f"$pbkdf2-sha256${rounds}${ab64(salt)}${ab64(checksum)}"


# --- argon2id ---


def test_hash_is_argon2id_with_owasp_parameters():
    assert (ARGON2_MEMORY_COST, ARGON2_TIME_COST, ARGON2_PARALLELISM) == (19456, 2, 1)
    stored = hash_password("hans")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "hans" not in stored


def test_hashes_are_salted():
    assert hash_password("hans") != hash_password("hans")


def test_verify_argon2():
    stored = hash_password("hans")
    assert verify_password("hans", stored)
    assert not verify_password("Hans", stored)
    assert not verify_password("hans ", stored)
    assert not verify_password("", stored)


def test_unicode_passwords():
    stored = hash_password("Ιωάννης ☃")
    assert verify_password("Ιωάννης ☃", stored)
    assert not verify_password("Ιωαννης ☃", stored)


def test_empty_or_non_string_password_is_not_hashed():
    with pytest.raises(ValueError):
        hash_password("")
    with pytest.raises(TypeError):
        hash_password(None)
    with pytest.raises(TypeError):
        hash_password(b"bytes")


def test_fresh_argon2_hash_needs_no_rehash():
    assert not needs_rehash(hash_password("hans"))


def test_argon2_with_outdated_parameters_needs_rehash_but_verifies():
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    stored = weak.hash("hans")
    assert verify_password("hans", stored)
    assert needs_rehash(stored)


def test_argon2i_hash_verifies_and_needs_rehash():
    old = argon2.PasswordHasher(type=argon2.Type.I)
    stored = old.hash("hans")
    assert verify_password("hans", stored)
    assert needs_rehash(stored)


# --- core4's pbkdf2_sha256 ---


def test_verify_self_made_passlib_hash():
    stored = passlib_pbkdf2_sha256("hans", os.urandom(16))
    assert stored.startswith("$pbkdf2-sha256$29000$")
    assert verify_password("hans", stored)
    assert not verify_password("hansi", stored)
    assert not verify_password("", stored)


def test_adapted_base64_dot_is_plus():
    # find a salt whose standard base64 has a "+" so the "." path is exercised
    salt = next(s for s in (bytes([i]) * 16 for i in range(256)) if "+" in base64.b64encode(s).decode())
    stored = passlib_pbkdf2_sha256("hans", salt, rounds=1000)
    assert "." in stored.split("$")[3]
    assert verify_password("hans", stored)


def test_passlib_published_vectors():
    # the known-correct pbkdf2_sha256 hashes from passlib's own test suite
    assert verify_password(
        "password",
        "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ",
    )
    assert verify_password(
        "\u0399\u03c9\u03b1\u03bd\u03bd\u03b7\u03c2",
        "$pbkdf2-sha256$1212$3SABFJGDtyhrQMVt1uABPw$WyaUoqCLgvz97s523nF4iuOqZNbp5Nt8do/cuaa7AiI",
    )


def test_pbkdf2_rounds_and_salt_matter():
    salt = b"0123456789abcdef"
    stored = passlib_pbkdf2_sha256("hans", salt, rounds=1000)
    _, scheme, rounds, salt_text, checksum = stored.split("$")
    assert verify_password("hans", stored)
    assert not verify_password("hans", f"${scheme}$1001${salt_text}${checksum}")
    other_salt = ab64(b"0123456789abcdeg")
    assert not verify_password("hans", f"${scheme}${rounds}${other_salt}${checksum}")


def test_pbkdf2_always_needs_rehash():
    assert needs_rehash(passlib_pbkdf2_sha256("hans", os.urandom(16), rounds=1000))


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "hans",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$bad",
        "$argon2id$v=19$m=19456,t=2,p=1$!!!!$!!!!",
        "$pbkdf2-sha256$",
        "$pbkdf2-sha256$29000$N2YMIWQsZU2pNcY4R0gphQ",
        "$pbkdf2-sha256$0$N2YMIWQsZU2pNcY4R0gphQ$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNagEc",
        "$pbkdf2-sha256$029000$N2YMIWQsZU2pNcY4R0gphQ$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNagEc",
        "$pbkdf2-sha256$99999999999$N2YMIWQsZU2pNcY4R0gphQ$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNagEc",
        "$pbkdf2-sha256$x$N2YMIWQsZU2pNcY4R0gphQ$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNagEc",
        "$pbkdf2-sha256$29000$N2YMI$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNagEc",
        "$pbkdf2-sha256$29000$N2Y+IWQsZU2pNcY4R0gphQ$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNagEc",
        "$pbkdf2-sha256$29000$N2YMIWQsZU2pNcY4R0gphQ$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNag",
        "$pbkdf2-sha256$29000$N2YMIWQsZU2pNcY4R0gphQ$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNagEc$",
        "$pbkdf2-sha512$29000$N2YMIWQsZU2pNcY4R0gphQ$UjFmVSYGkDHRp13DhPkaUlOd0/0Y76nxO/1Y3QNagEc",
        "$1$des$crypt",
        b"$argon2id$bytes",
        12345,
    ],
)
def test_malformed_hashes_are_false_and_need_rehash(stored):
    assert verify_password("hans", stored) is False
    assert needs_rehash(stored) is True


def test_non_string_plain_is_false():
    stored = hash_password("hans")
    assert verify_password(None, stored) is False
    assert verify_password(b"hans", stored) is False


# --- random passwords ---


def test_random_password():
    first = random_password()
    assert len(first) == 32
    assert set(first) <= set(PASSWORD_ALPHABET)
    assert len(random_password(8)) == 8
    assert first != random_password()
    assert not set("0O1lIo") & set(PASSWORD_ALPHABET)
    with pytest.raises(ValueError):
        random_password(0)


# --- running off the event loop ---


def test_run_off_loop_calls_directly_without_gevent_patching():
    caller = threading.get_ident()
    assert run_off_loop(lambda a, b: (a + b, threading.get_ident()), 1, 2) == (
        3,
        caller,
    )


def test_run_off_loop_propagates_exceptions():
    def fail():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_off_loop(fail)


GEVENT_SCRIPT = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()

    import json

    import gevent

    from core4flask.auth import passwords

    get_ident = monkey.get_original("threading", "get_ident")
    ticks = 0


    def ticker():
        global ticks
        while True:
            ticks += 1
            gevent.sleep(0.001)


    def ticks_during(fn, *args):
        gevent.sleep(0.01)
        before = ticks
        result = fn(*args)
        return ticks - before, result


    gevent.spawn(ticker)
    stored = passwords.hash_password("hans")
    report = {
        "hash": ticks_during(passwords.hash_password, "hans")[0],
        "verify": ticks_during(passwords.verify_password, "hans", stored),
        "direct": ticks_during(passwords._HASHER.hash, "hans")[0],
        "main_thread": get_ident(),
        "pool_thread": passwords.run_off_loop(get_ident),
    }
    print(json.dumps(report))
    """
)


def test_hashing_runs_in_gevent_threadpool_when_patched():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", GEVENT_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["pool_thread"] != report["main_thread"]
    # the other greenlet kept running while argon2 worked in the pool ...
    assert report["hash"] > 0
    assert report["verify"][0] > 0
    assert report["verify"][1] is True
    # ... which it cannot do when the same work blocks the loop
    assert report["direct"] == 0


def test_module_constants_match_hasher():
    params = argon2.extract_parameters(hash_password("x"))
    assert params.memory_cost == passwords.ARGON2_MEMORY_COST
    assert params.time_cost == passwords.ARGON2_TIME_COST
    assert params.parallelism == passwords.ARGON2_PARALLELISM
    assert params.type is argon2.Type.ID


_RETAINED_SCRIPT = """
import threading
from core4flask._malloc import return_large_blocks
from core4flask.auth.passwords import hash_password

def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

assert return_large_blocks()
before = resident_mib()
worker = threading.Thread(target=lambda: [hash_password("correct horse") for _ in range(3)])
worker.start()
worker.join()
hash_password("battery staple")
print(round(resident_mib() - before, 1))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator setting is Linux-only")
def test_serving_processes_give_argon2_memory_back():
    """After hashes in a thread and in the main thread, a serving process
    keeps none of argon2's 19 MiB buffers."""
    result = subprocess.run([sys.executable, "-c", _RETAINED_SCRIPT], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 8, f"{result.stdout.strip()} MiB kept after hashing"


# -- the password policy (NIST SP 800-63B) ------------------------------------------------------


def refused_rule(password, **kwargs):
    with pytest.raises(passwords.WeakPassword) as caught:
        passwords.enforce_password_policy(password, **kwargs)
    assert f"rule [{caught.value.rule}]" in str(caught.value)
    return caught.value.rule


@pytest.mark.parametrize(
    ("password", "names", "rule"),
    [
        ("a", (), "min_length"),
        ("1", (), "min_length"),
        ("seven77", (), "min_length"),
        ("x" * 257, (), "max_length"),
        ("password", (), "common"),
        ("PASSWORD1", (), "common"),
        ("12345678", (), "common"),
        ("qwertyuiop", (), "common"),
        ("iloveyou", (), "common"),
        ("alice-in-chains", ("alice",), "user_name"),
        ("My-BOB-is-strong", ("Bob",), "user_name"),
        ("theodora", ("Theodora", None), "user_name"),
    ],
)
def test_policy_refuses_naming_the_rule(password, names, rule):
    assert refused_rule(password, user_names=names) == rule


@pytest.mark.parametrize(
    ("password", "names"),
    [
        ("Lantern-Orbit-4711", ("nobody",)),
        ("kiwi7rain", ()),
        ("x" * 256, ()),
        ("ohne Großbuchstaben und Ziffern", ("anna",)),
        ("jolly-rancher-fields", ("jo",)),
        ("        spaces  ", ()),
    ],
)
def test_policy_accepts_any_composition(password, names):
    passwords.enforce_password_policy(password, user_names=names)


def test_policy_lengths_count_code_points_and_follow_the_configuration():
    policy = passwords.PasswordPolicy.from_config({"api": {"password": {"min_length": 12, "max_length": 64}}})
    assert (policy.min_length, policy.max_length) == (12, 64)
    assert refused_rule("Lantern-Orb", policy=policy) == "min_length"
    passwords.enforce_password_policy("Lantern-Orbi", policy=policy)
    passwords.enforce_password_policy("ü" * 64, policy=policy)
    assert refused_rule("ü" * 65, policy=policy) == "max_length"
    assert passwords.PasswordPolicy.from_config({}) == passwords.PasswordPolicy(8, 256)


@pytest.mark.parametrize(("low", "high"), [(7, 256), (1, 256), (8, 63), (100, 64)])
def test_policy_bounds_cannot_be_configured_away(low, high):
    with pytest.raises(ValueError, match="min_length"):
        passwords.PasswordPolicy(low, high)


def test_common_passwords_list():
    common = passwords.common_passwords()
    # ASVS 6.2.4: at least the 3,000 most common passwords that the length rule lets through
    assert len(common) >= 3000
    assert all(len(entry) >= passwords.MIN_LENGTH_FLOOR for entry in common)
    assert all(entry == entry.casefold() for entry in common)
    assert {"password", "12345678", "baseball", "trustno1", "1qaz2wsx"} <= common
    assert passwords.COMMON_PASSWORDS_FILE.stat().st_size < 100_000


def test_generated_passwords_pass_the_policy():
    for _ in range(20):
        passwords.enforce_password_policy(random_password(), user_names=("admin",))


def test_current_policy_is_the_applications(tmp_path):
    from core4flask import create_app

    app = create_app(config={"api": {"password": {"min_length": 20}}}, instance_path=str(tmp_path))
    assert passwords.current_password_policy() == passwords.PasswordPolicy()
    with app.app_context():
        assert passwords.current_password_policy().min_length == 20
