"""Sign-in logic: password hashes, secrets parsing, role mapping, throttling (no streamlit)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kpi import auth

FAST = auth.MIN_ITERATIONS  # keeps the suite quick; the default is 600 000


@pytest.fixture(scope="module")
def lotse_hash():
    return auth.hash_password("richtig-langes-passwort", iterations=FAST)


def test_hash_verifies_the_right_password_only(lotse_hash):
    assert lotse_hash.startswith("pbkdf2_sha256$100000$")
    assert auth.verify_password("richtig-langes-passwort", lotse_hash)
    assert not auth.verify_password("richtig-langes-passwort ", lotse_hash)
    assert not auth.verify_password("", lotse_hash)


def test_same_password_gets_a_different_salt_each_time():
    a = auth.hash_password("noch-ein-passwort", iterations=FAST)
    b = auth.hash_password("noch-ein-passwort", iterations=FAST)
    assert a != b
    assert auth.verify_password("noch-ein-passwort", a) and auth.verify_password("noch-ein-passwort", b)


def test_hash_matches_pbkdf2_computed_independently():
    import base64
    import hashlib

    encoded = auth.hash_password("zehn-zeichen", iterations=FAST, salt=b"0123456789abcdef")
    expected = hashlib.pbkdf2_hmac("sha256", b"zehn-zeichen", b"0123456789abcdef", FAST)
    assert encoded.split("$")[3] == base64.b64encode(expected).decode().rstrip("=")


@pytest.mark.parametrize("stored", [
    "richtig-langes-passwort",                       # plaintext in secrets is never accepted
    "pbkdf2_sha256$1000$c2FsdHNhbHQ$AAAA",           # too few iterations, short hash
    "md5$100000$c2FsdHNhbHQ$" + "A" * 43,
    "pbkdf2_sha256$abc$c2FsdA$AAAA",
    "", None, 42,
])
def test_malformed_or_plaintext_hash_never_verifies(stored):
    assert not auth.is_password_hash(stored)
    assert not auth.verify_password("richtig-langes-passwort", stored)


def test_short_password_is_refused_with_german_message():
    with pytest.raises(auth.PasswordPolicyError, match="mindestens 10 Zeichen"):
        auth.hash_password("kurz")


def test_verify_uses_constant_time_compare(monkeypatch, lotse_hash):
    calls = []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    auth.verify_password("falsch-falsch-falsch", lotse_hash)
    assert calls == [1]


def test_role_rank_and_allowed_pages():
    pages = [("a.py", "viewer"), ("upload.py", "digitallotse"), ("param.py", "admin")]
    assert [p[0] for p in auth.allowed_pages("viewer", pages)] == ["a.py"]
    assert [p[0] for p in auth.allowed_pages("digitallotse", pages)] == ["a.py", "upload.py"]
    assert [p[0] for p in auth.allowed_pages("admin", pages)] == ["a.py", "upload.py", "param.py"]
    assert [p[0] for p in auth.allowed_pages("superuser", pages)] == ["a.py"]  # unknown = viewer


def test_app_role_rank_matches_auth_roles():
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).parent.parent / "app.py").read_text(encoding="utf-8"))
    ranks = next(ast.literal_eval(n.value) for n in ast.walk(tree)
                 if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "ROLE_RANK")
    assert ranks == auth.ROLE_RANK


def _secrets(lotse_hash):
    return {
        "kpi": {
            "roles": {
                "admin": ["Chefin@Kommune.example"],
                "digitallotse": ["lotse@kommune.example", "@digital.kommune.example", "chefin@kommune.example"],
                "superuser": ["x@y.example"],
            },
            "local_users": {
                "lotse": {"role": "digitallotse", "password_hash": lotse_hash},
                "klartext": {"role": "admin", "password_hash": "geheim123456"},
                "komisch": {"role": "kaiser", "password_hash": lotse_hash},
            },
        }
    }


def test_parse_settings_keeps_valid_accounts_and_reports_bad_ones(lotse_hash):
    cfg = auth.parse_settings(_secrets(lotse_hash))
    assert set(cfg.local_accounts) == {"lotse"}
    assert cfg.local_accounts["lotse"].role == "digitallotse"
    assert cfg.configured and not cfg.oidc
    text = " ".join(cfg.problems)
    assert "klartext" in text and "kein gültiger Hash" in text
    assert "kaiser" in text and "superuser" in text


def test_role_mapping_exact_address_then_domain_else_viewer(lotse_hash):
    cfg = auth.parse_settings(_secrets(lotse_hash))
    # listed as admin and as digitallotse: the higher role wins; case does not matter
    assert auth.role_for_identity(cfg, "chefin@kommune.example") == "admin"
    assert auth.role_for_identity(cfg, "LOTSE@kommune.example") == "digitallotse"
    assert auth.role_for_identity(cfg, "neu@digital.kommune.example") == "digitallotse"
    assert auth.role_for_identity(cfg, "neu@kommune.example") == "viewer"
    assert auth.role_for_identity(cfg, "x@y.example") == "viewer"
    assert auth.role_for_identity(cfg, None) == "viewer"
    assert auth.role_for_identity(cfg, "chefin@kommune.example", email_verified=False) == "viewer"


def test_oidc_detected_for_default_and_named_provider():
    shared = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x"}
    default = auth.parse_settings({"auth": {**shared, "client_id": "a", "client_secret": "b",
                                            "server_metadata_url": "https://idp/.well-known"}})
    assert default.oidc and default.oidc_provider is None
    named = auth.parse_settings({"auth": {**shared, "keycloak": {"client_id": "a"}}})
    assert named.oidc and named.oidc_provider == "keycloak"
    incomplete = auth.parse_settings({"auth": shared})
    assert not incomplete.oidc and incomplete.problems


def test_dev_role_only_when_nothing_is_configured(lotse_hash):
    empty = auth.parse_settings({})
    assert auth.dev_role({"KPI_DEV_ROLE": "admin"}, empty) == "admin"
    assert auth.dev_role({"KPI_DEV_ROLE": "kaiser"}, empty) is None
    assert auth.dev_role({}, empty) is None
    configured = auth.parse_settings(_secrets(lotse_hash))
    assert auth.dev_role({"KPI_DEV_ROLE": "admin"}, configured) is None
    # a secrets file whose accounts are all invalid still switches development mode off
    broken = auth.parse_settings({"kpi": {"local_users": {"a": {"role": "admin", "password_hash": "x"}}}})
    assert not broken.local_accounts and auth.dev_role({"KPI_DEV_ROLE": "admin"}, broken) is None


def test_example_secrets_file_parses_and_placeholders_are_refused():
    import tomllib
    from pathlib import Path

    example = Path(__file__).parent.parent / ".streamlit" / "secrets.example.toml"
    cfg = auth.parse_settings(tomllib.loads(example.read_text(encoding="utf-8")))
    assert cfg.local_accounts == {} and len(cfg.problems) == 2 and cfg.configured
    assert not cfg.oidc and cfg.require_login is False


def test_authenticate_same_message_for_unknown_name_and_wrong_password(lotse_hash):
    cfg = auth.parse_settings(_secrets(lotse_hash))
    ok, reason = auth.authenticate(cfg, " lotse ", "richtig-langes-passwort")
    assert ok is not None and ok.role == "digitallotse" and reason == ""
    _, wrong_pw = auth.authenticate(cfg, "lotse", "falsch")
    _, unknown = auth.authenticate(cfg, "niemand", "richtig-langes-passwort")
    assert wrong_pw == unknown == "Anmeldename oder Passwort ist falsch."


def test_throttle_blocks_after_five_failures_and_releases_after_window(lotse_hash):
    now = [1000.0]
    throttle = auth.LoginThrottle(max_failures=5, window_s=300, clock=lambda: now[0])
    cfg = auth.parse_settings(_secrets(lotse_hash))
    for _ in range(5):
        assert auth.authenticate(cfg, "lotse", "falsch", throttle)[0] is None
    account, reason = auth.authenticate(cfg, "lotse", "richtig-langes-passwort", throttle)
    assert account is None and "Zu viele Fehlversuche" in reason
    now[0] += 301
    account, _ = auth.authenticate(cfg, "lotse", "richtig-langes-passwort", throttle)
    assert account is not None
    assert throttle.blocked_seconds("lotse") == 0


def test_hash_command_prints_a_verifiable_hash():
    out = subprocess.run([sys.executable, "-m", "kpi.auth", "hash"], input="ein-gutes-passwort\n",
                         capture_output=True, text=True, check=True).stdout.strip()
    assert auth.verify_password("ein-gutes-passwort", out)
    short = subprocess.run([sys.executable, "-m", "kpi.auth", "hash"], input="kurz\n",
                           capture_output=True, text=True)
    assert short.returncode == 1 and "mindestens 10 Zeichen" in short.stderr
