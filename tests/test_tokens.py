"""Token making and verification, cookies, and the token secret."""

from __future__ import annotations

import base64
import datetime
import json
import time

import flask
import jwt
import pytest
from flask_jwt_extended import JWTManager

from core4flask.auth.secret import (
    KEPT_KEY,
    KEPT_NAMESPACE,
    SecretError,
    check_algorithm,
    production_mode,
    resolve_secret,
    signing_key,
)
from core4flask.auth.tokens import (
    REQUIRED_CLAIMS,
    TokenService,
    expired_token_cookie,
    expires_at,
    token_cookie,
)
from core4flask.config import load_config
from core4flask.store import SQLiteStore

KEY = signing_key("a test secret of decent length", "HS512")
CLAIMS = {"name": "alice", "timestamp": 0.0, "auth_time": 0.0, "sid": "s1", "pwv": "tag"}


@pytest.fixture
def jwt_app():
    """A bare Flask app whose JWTManager signs with KEY (as install() sets it up)."""
    app = flask.Flask(__name__)
    app.config.update(JWT_ALGORITHM="HS512", JWT_DECODE_ALGORITHMS=["HS512"])
    manager = JWTManager(app)
    manager.encode_key_loader(lambda _identity: KEY)
    with app.app_context():
        yield app


def _claims(**extra):
    now = time.time()
    return {**CLAIMS, "timestamp": now, "auth_time": now, **extra}


def _unsigned(header: dict, payload: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def test_issued_token_carries_core4_and_session_claims(jwt_app):
    service = TokenService(KEY, "HS512")
    token = service.issue("0123456789abcdef01234567", _claims(), 60)
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    claims = service.decode(token)
    assert claims is not None
    for name in REQUIRED_CLAIMS:
        assert name in claims
    assert claims["sub"] == "0123456789abcdef01234567"
    assert claims["name"] == "alice"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["type"] == "access"


def test_decode_refuses_a_forged_signature(jwt_app):
    token = TokenService(KEY, "HS512").issue("u1", _claims(), 60)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert TokenService(KEY, "HS512").decode(forged) is None
    other_key = signing_key("another secret of decent length", "HS512")
    assert TokenService(other_key, "HS512").decode(token) is None


def test_decode_refuses_alg_none_and_other_algorithms(jwt_app):
    service = TokenService(KEY, "HS512")
    payload = {**_claims(), "sub": "u1", "jti": "j1", "iat": int(time.time()), "exp": int(time.time()) + 60}
    assert service.decode(_unsigned({"alg": "none", "typ": "JWT"}, payload)) is None
    hs256 = jwt.encode(payload, KEY, algorithm="HS256")
    assert service.decode(hs256) is None
    assert service.decode(jwt.encode(payload, KEY, algorithm="HS512")) is not None


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "eyJhbGciOiJIUzUxMiJ9..", "x" * 9000, None, 42, "é.é.é"],
)
def test_decode_of_malformed_tokens_is_none(token):
    assert TokenService(KEY, "HS512").decode(token) is None


def test_decode_refuses_tokens_lacking_a_claim_or_of_another_type():
    service = TokenService(KEY, "HS512")
    base = {**_claims(), "sub": "u1", "jti": "j1", "iat": int(time.time()), "exp": int(time.time()) + 60}
    assert service.decode(jwt.encode(base, KEY, algorithm="HS512")) is not None
    for missing in ("sid", "timestamp", "pwv", "sub"):
        partial = {k: v for k, v in base.items() if k != missing}
        assert service.decode(jwt.encode(partial, KEY, algorithm="HS512")) is None, missing
    refresh_type = {**base, "type": "refresh"}
    assert service.decode(jwt.encode(refresh_type, KEY, algorithm="HS512")) is None
    wrong_type = {**base, "timestamp": "yesterday"}
    assert service.decode(jwt.encode(wrong_type, KEY, algorithm="HS512")) is None


def test_expired_tokens_are_refused_even_from_the_cache():
    now = [1000.0]
    service = TokenService(KEY, "HS512", clock=lambda: now[0])
    exp = int(time.time()) + 60
    token = jwt.encode(
        {**_claims(), "sub": "u1", "jti": "j1", "iat": int(time.time()), "exp": exp}, KEY, algorithm="HS512"
    )
    now[0] = time.time()
    assert service.decode(token) is not None  # verified and cached
    now[0] = exp + 1
    assert service.decode(token) is None
    expired = jwt.encode(
        {**_claims(), "sub": "u1", "jti": "j2", "iat": int(time.time()) - 100, "exp": int(time.time()) - 10},
        KEY,
        algorithm="HS512",
    )
    assert TokenService(KEY, "HS512").decode(expired) is None


def test_cache_is_bounded():
    service = TokenService(KEY, "HS512", cache_size=3)
    tokens = [
        jwt.encode(
            {**_claims(), "sub": "u1", "jti": f"j{i}", "iat": int(time.time()), "exp": int(time.time()) + 60},
            KEY,
            algorithm="HS512",
        )
        for i in range(5)
    ]
    for token in tokens:
        assert service.decode(token) is not None
    assert len(service._cache) == 3
    assert all(service.decode(token) is not None for token in tokens)


def test_token_cookie_flags():
    cookie = token_cookie("abc.def.ghi", 28800, secure=False)
    assert cookie.startswith("token=abc.def.ghi;")
    parts = {p.strip().split("=")[0].lower() for p in cookie.split(";")}
    assert {"httponly", "path", "max-age", "samesite"} <= parts
    assert "Max-Age=28800" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    assert "Secure" in token_cookie("abc", 10, secure=True)
    cleared = expired_token_cookie(secure=False)
    assert cleared.startswith("token=;") and "Max-Age=0" in cleared


def test_expires_at_is_naive_utc():
    moment = expires_at({"exp": 0})
    assert moment == datetime.datetime(1970, 1, 1) and moment.tzinfo is None


# -- the secret ----------------------------------------------------------------------


@pytest.fixture
def empty_local(tmp_path):
    """An empty local configuration file (no ~/.core4/local.yaml influence)."""
    path = tmp_path / "local.yaml"
    path.write_text("")
    return path


def _config(local, **overrides):
    return load_config(overrides or None, environ={}, local_file=local)


def test_configured_secret_wins_and_short_ones_are_refused(empty_local):
    def fail():
        raise AssertionError("the store is not needed")

    configured = _config(empty_local, api={"token": {"secret": "s" * 20}})
    assert resolve_secret(configured, fail, environ={}) == "s" * 20
    with pytest.raises(SecretError, match="at least 16"):
        resolve_secret(_config(empty_local, api={"token": {"secret": "short"}}), fail, environ={})


def test_embedded_store_generates_one_secret_for_all_workers(tmp_path, empty_local):
    path = str(tmp_path / "db.sqlite3")
    first, second = SQLiteStore(path), SQLiteStore(path)
    try:
        one = resolve_secret(_config(empty_local), lambda: first, environ={})
        two = resolve_secret(_config(empty_local), lambda: second, environ={})
        assert one == two and len(one) >= 64
        assert first.kv_get(KEPT_NAMESPACE, KEPT_KEY) == one
    finally:
        first.close()
        second.close()


def test_mongodb_without_a_secret_refuses_to_start(empty_local):
    config = _config(empty_local, mongo_url="mongodb://127.0.0.1:1/x")
    with pytest.raises(SecretError, match="api.token.secret is not set"):
        resolve_secret(config, lambda: None, environ={})


def test_production_uses_a_kept_secret_but_never_generates_one(tmp_path, empty_local):
    store = SQLiteStore(str(tmp_path / "db.sqlite3"))
    production = {"CORE4_PRODUCTION": "1"}
    try:
        with pytest.raises(SecretError, match="CORE4_PRODUCTION"):
            resolve_secret(_config(empty_local), lambda: store, environ=production)
        assert store.kv_get(KEPT_NAMESPACE, KEPT_KEY) is None
        kept = resolve_secret(_config(empty_local), lambda: store, environ={})
        assert resolve_secret(_config(empty_local), lambda: store, environ=production) == kept
    finally:
        store.close()
    assert production_mode({"CORE4_PRODUCTION": "yes"}) and not production_mode({"CORE4_PRODUCTION": "0"})


def test_tokens_verify_with_the_configured_secret():
    # any JWT tool given api.token.secret can verify our tokens
    import jwt

    secret = "a-configured-secret-of-some-length"
    assert signing_key(secret, "HS512") == secret.encode()
    token = jwt.encode({"name": "admin"}, signing_key(secret, "HS512"), algorithm="HS512")
    assert jwt.decode(token, secret, algorithms=["HS512"]) == {"name": "admin"}
    with pytest.raises(SecretError):
        signing_key(secret, "none")


@pytest.mark.parametrize("algorithm", ["none", "RS256", "ES256", "hs512", None])
def test_only_hmac_algorithms_are_accepted(algorithm):
    with pytest.raises(SecretError, match="not supported"):
        check_algorithm(algorithm)
    assert check_algorithm("HS384") == "HS384"
