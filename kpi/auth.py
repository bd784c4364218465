"""Roles, password hashes and role mapping: the pure logic behind sign-in (no streamlit).

Three roles, ordered: viewer (browse, export) < digitallotse (upload, correct, roll back)
< admin (parameters, users, backups). The UI (views/_auth.py) decides who the user is —
OIDC via st.login when `[auth]` is configured, else local accounts with hashed passwords —
and asks this module what that person may do.

`python -m kpi.auth hash` prints a hash for `.streamlit/secrets.toml` (password read without echo).
"""

from __future__ import annotations

import base64
import functools
import getpass
import hashlib
import hmac
import secrets
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ROLES: tuple[str, ...] = ("viewer", "digitallotse", "admin")
ROLE_RANK: dict[str, int] = {r: i for i, r in enumerate(ROLES)}
ROLE_LABEL_DE: dict[str, str] = {
    "viewer": "Lesezugriff",
    "digitallotse": "Digitallotse",
    "admin": "Administration",
}
ROLE_RIGHTS_DE: dict[str, str] = {
    "viewer": "Dashboards ansehen und Daten exportieren",
    "digitallotse": "zusätzlich Daten hochladen, korrigieren und Uploads zurücknehmen",
    "admin": "zusätzlich Parameter, Benutzer, Sicherungen und Protokoll",
}

HASH_SCHEME = "pbkdf2_sha256"
# OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256; ~0.3 s here, paid once per sign-in.
DEFAULT_ITERATIONS = 600_000
MIN_ITERATIONS = 100_000
MIN_PASSWORD_LENGTH = 10


class PasswordPolicyError(ValueError):
    """A new password is too weak (German message)."""


def normalise_role(role: Any) -> str:
    """Return `role` if it is a known role name, else "viewer" (unknown never elevates)."""
    return role if isinstance(role, str) and role in ROLE_RANK else "viewer"


def may(role: str, min_role: str) -> bool:
    """Ensure `role` ranks at least `min_role`; unknown roles count as viewer."""
    return ROLE_RANK[normalise_role(role)] >= ROLE_RANK[min_role]


def allowed_pages(role: str, pages: Iterable[tuple]) -> list[tuple]:
    """Return the page entries (… , min_role as last item) that `role` may open, in order."""
    return [p for p in pages if may(role, p[-1])]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """Return `pbkdf2_sha256$ITER$SALT$HASH` (base64) for `password`; raises on a too short one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein."
        )
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"iterations must be at least {MIN_ITERATIONS}")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def is_password_hash(encoded: Any) -> bool:
    """Ensure `encoded` looks like a hash this module made (so plaintext in secrets is refused)."""
    if not isinstance(encoded, str):
        return False
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != HASH_SCHEME or not parts[1].isdigit():
        return False
    try:
        return int(parts[1]) >= MIN_ITERATIONS and len(_unb64(parts[2])) >= 8 and len(_unb64(parts[3])) == 32
    except (ValueError, TypeError):
        return False


def verify_password(password: str, encoded: str) -> bool:
    """Check `password` against a stored hash in constant time; False for a malformed hash."""
    if not is_password_hash(encoded):
        return False
    _, iterations, salt, expected = encoded.split("$")
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), _unb64(salt), int(iterations))
    return hmac.compare_digest(digest, _unb64(expected))


@dataclass(frozen=True)
class LocalAccount:
    name: str
    role: str
    password_hash: str


@dataclass(frozen=True)
class AuthSettings:
    """What `.streamlit/secrets.toml` says about sign-in (parsed, validated)."""

    oidc: bool = False                      # an [auth] section with a provider exists
    oidc_provider: str | None = None        # named provider ([auth.NAME]) or None for the default
    require_login: bool = False             # OIDC: anonymous visitors see only the sign-in button
    role_by_email: dict[str, str] = field(default_factory=dict)   # lower-case address or "@domain"
    local_accounts: dict[str, LocalAccount] = field(default_factory=dict)
    problems: tuple[str, ...] = ()          # German messages for ignored entries
    attempted: bool = False                 # [auth] or [kpi.local_users] present, even if invalid

    @property
    def configured(self) -> bool:
        """True when sign-in is set up, even wrongly (then a development role is never used)."""
        return self.oidc or bool(self.local_accounts) or self.attempted


_OIDC_SHARED_KEYS = {"redirect_uri", "cookie_secret", "expose_tokens"}


def parse_settings(secrets_dict: Mapping[str, Any] | None) -> AuthSettings:
    """Read the sign-in settings from a secrets mapping; bad entries are skipped with a message."""
    secrets_dict = secrets_dict or {}
    problems: list[str] = []
    auth = secrets_dict.get("auth") or {}
    oidc = False
    provider = None
    if isinstance(auth, Mapping) and auth:
        if "client_id" in auth:
            oidc = True
        else:
            named = [k for k, v in auth.items() if k not in _OIDC_SHARED_KEYS and isinstance(v, Mapping)]
            if named:
                oidc, provider = True, sorted(named)[0]
        if not oidc:
            problems.append("Abschnitt [auth] ohne Anbieter (client_id fehlt): Anmeldung per OIDC ist aus.")
    kpi_section = secrets_dict.get("kpi") or {}
    if not isinstance(kpi_section, Mapping):
        kpi_section = {}
    role_by_email: dict[str, str] = {}
    roles = kpi_section.get("roles") or {}
    # Ascending rank so a person listed twice gets the higher role.
    for role in ROLES:
        entries = roles.get(role, []) if isinstance(roles, Mapping) else []
        if isinstance(entries, str):
            entries = [entries]
        for entry in entries:
            if isinstance(entry, str) and entry.strip():
                role_by_email[entry.strip().lower()] = role
    for role in (roles if isinstance(roles, Mapping) else {}):
        if role not in ROLE_RANK:
            problems.append(f"[kpi.roles]: unbekannte Rolle „{role}“ wird ignoriert.")
    accounts: dict[str, LocalAccount] = {}
    local = kpi_section.get("local_users") or {}
    for name, spec in (local.items() if isinstance(local, Mapping) else []):
        if not isinstance(spec, Mapping):
            problems.append(f"[kpi.local_users.{name}]: erwartet role und password_hash.")
            continue
        role, pw_hash = spec.get("role"), spec.get("password_hash")
        if role not in ROLE_RANK:
            problems.append(f"[kpi.local_users.{name}]: unbekannte Rolle „{role}“; Konto ignoriert.")
        elif not is_password_hash(pw_hash):
            problems.append(
                f"[kpi.local_users.{name}]: password_hash ist kein gültiger Hash "
                "(mit `python -m kpi.auth hash` erzeugen); Konto ignoriert."
            )
        else:
            accounts[str(name)] = LocalAccount(str(name), role, pw_hash)
    return AuthSettings(
        oidc=oidc,
        oidc_provider=provider,
        require_login=bool(kpi_section.get("require_login", False)),
        role_by_email=role_by_email,
        local_accounts=accounts,
        problems=tuple(problems),
        attempted=bool(auth) or bool(local),
    )


def role_for_identity(settings: AuthSettings, email: Any, email_verified: Any = None) -> str:
    """Return the role for a signed-in OIDC identity: exact address, then "@domain", else viewer.

    An address the provider marks as unverified (email_verified false) stays a viewer.
    """
    if not isinstance(email, str) or "@" not in email or email_verified is False:
        return "viewer"
    address = email.strip().lower()
    if address in settings.role_by_email:
        return settings.role_by_email[address]
    return settings.role_by_email.get("@" + address.rsplit("@", 1)[1], "viewer")


def dev_role(env: Mapping[str, str], settings: AuthSettings) -> str | None:
    """Return the development role from KPI_DEV_ROLE, only when no sign-in is configured."""
    role = env.get("KPI_DEV_ROLE")
    if settings.configured or role not in ROLE_RANK:
        return None
    return role


class LoginThrottle:
    """Refuse sign-in for a name after `max_failures` failed attempts within `window_s` seconds.

    Process-wide (all sessions share it), so a new browser tab does not reset the count.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 300.0, clock=time.monotonic):
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, name: str) -> list[float]:
        now = self._clock()
        kept = [t for t in self._failures.get(name, []) if now - t < self.window_s]
        self._failures[name] = kept
        return kept

    def blocked_seconds(self, name: str) -> float:
        """Return how long `name` must still wait (0 when sign-in is allowed)."""
        with self._lock:
            recent = self._recent(name)
            if len(recent) < self.max_failures:
                return 0.0
            return max(0.0, self.window_s - (self._clock() - recent[-self.max_failures]))

    def record(self, name: str, ok: bool) -> None:
        """Count a failure, or clear the count after a success."""
        with self._lock:
            if ok:
                self._failures.pop(name, None)
            else:
                self._recent(name).append(self._clock())


def authenticate(settings: AuthSettings, name: str, password: str,
                 throttle: LoginThrottle | None = None) -> tuple[LocalAccount | None, str]:
    """Check a local sign-in; return (account, "") or (None, German reason).

    The same reason is given for an unknown name and a wrong password; an unknown name still
    costs one hash computation so timing does not reveal which names exist.
    """
    name = (name or "").strip()
    if throttle is not None:
        wait = throttle.blocked_seconds(name)
        if wait > 0:
            return None, (f"Zu viele Fehlversuche. Bitte in {int(wait // 60) + 1} Minuten erneut "
                          "versuchen.")
    account = settings.local_accounts.get(name)
    if account is None:  # same work as for a real account, so timing does not reveal names
        rounds = max((int(a.password_hash.split("$")[1]) for a in settings.local_accounts.values()),
                     default=DEFAULT_ITERATIONS)
        verify_password(password or "", _dummy_hash(rounds))
    ok = account is not None and verify_password(password or "", account.password_hash)
    if throttle is not None:
        throttle.record(name, ok)
    if not ok:
        return None, "Anmeldename oder Passwort ist falsch."
    return account, ""


@functools.cache
def _dummy_hash(iterations: int) -> str:
    return hash_password(secrets.token_urlsafe(16), iterations=iterations)


def _main(argv: list[str]) -> int:
    if not argv or argv[0] != "hash":
        print("Aufruf: python -m kpi.auth hash   (fragt das Passwort ab und gibt den Hash aus)",
              file=sys.stderr)
        return 2
    if sys.stdin.isatty():
        password = getpass.getpass("Passwort: ")
        if getpass.getpass("Passwort wiederholen: ") != password:
            print("Fehler: Die Passwörter stimmen nicht überein.", file=sys.stderr)
            return 1
    else:  # piped: first line (for scripts)
        password = sys.stdin.readline().rstrip("\n")
    try:
        print(hash_password(password))
    except PasswordPolicyError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
