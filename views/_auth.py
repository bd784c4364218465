"""Who is using the app and what they may do: OIDC via st.login when `[auth]` is configured,
else local accounts (hashed passwords in secrets) that elevate a read-only visitor.

Without any sign-in configured, KPI_DEV_ROLE (set by `make run` only when no
`.streamlit/secrets.toml` exists) gives a development role with a visible warning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from kpi import auth

_SESSION_KEY = "kpi_local_account"

# Pages live in views/, not pages/: a pages/ folder would make Streamlit serve its files
# directly ("multipage v1") on a freshly started server, past app.py's role filter.


@dataclass(frozen=True)
class User:
    name: str
    role: str  # viewer | digitallotse | admin
    source: str = "anonym"  # anonym | lokal | oidc | entwicklung


def secrets_dict() -> dict:
    # st.secrets raises when no secrets file exists; that simply means "nothing configured".
    try:
        return st.secrets.to_dict()
    except Exception:
        return {}


def settings() -> auth.AuthSettings:
    """The sign-in settings from `.streamlit/secrets.toml` (parsed on every run: cheap)."""
    return auth.parse_settings(secrets_dict())


@st.cache_resource(show_spinner=False)
def _throttle() -> auth.LoginThrottle:
    return auth.LoginThrottle()


def _audit(user: str, action: str, detail: str) -> None:
    from kpi.db import audit
    from views._shared import get_db

    try:
        with get_db().transaction() as cur:
            audit(cur, user, action, detail)
    except Exception:  # an unwritable log must not lock people out; the server log keeps the error
        import logging

        logging.getLogger(__name__).exception("Audit entry could not be written")


def current_user() -> User:
    """Return the user of this session (a viewer unless signed in or in development mode)."""
    cfg = settings()
    if cfg.oidc:
        if st.user.get("is_logged_in"):
            email = st.user.get("email")
            role = auth.role_for_identity(cfg, email, st.user.get("email_verified"))
            user = User(name=str(email or st.user.get("name") or "unbekannt"), role=role, source="oidc")
            if role != "viewer" and st.session_state.get("kpi_oidc_logged") != user.name:
                # once per session: who used elevated rights, and when
                st.session_state["kpi_oidc_logged"] = user.name
                _audit(user.name, "login", f"Anmeldung (OIDC) mit Rolle {auth.ROLE_LABEL_DE[role]}")
            return user
        if cfg.require_login:
            _login_screen(cfg)
        return User(name="Gast", role="viewer")
    account_name = st.session_state.get(_SESSION_KEY)
    if account_name:
        account = cfg.local_accounts.get(account_name)
        if account is not None:  # re-checked every run: an account removed from secrets ends at once
            return User(name=account.name, role=account.role, source="lokal")
        del st.session_state[_SESSION_KEY]
    role = auth.dev_role(os.environ, cfg)
    if role:
        return User(name="entwicklung", role=role, source="entwicklung")
    return User(name="Gast", role="viewer")


def _login_screen(cfg: auth.AuthSettings) -> None:
    st.title("KPI-Cockpit")
    st.info("Bitte melden Sie sich mit Ihrem Dienstkonto an.")
    if st.button("Anmelden", type="primary"):
        st.login(cfg.oidc_provider)
    st.stop()


def require_role(min_role: str) -> User:
    """Stop the page with a German message unless the user has at least `min_role`."""
    user = current_user()
    if auth.may(user.role, min_role):
        return user
    st.error(
        f"Diese Seite ist nur mit der Rolle „{auth.ROLE_LABEL_DE[min_role]}“ zugänglich. "
        "Bitte melden Sie sich in der Seitenleiste mit einem berechtigten Konto an."
    )
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises; keeps type checkers honest


def render_account_box(user: User) -> None:
    """Sidebar: who is signed in, with which role; sign-in and sign-out."""
    cfg = settings()
    if user.source == "entwicklung":
        st.warning(
            "Entwicklungsmodus: keine Anmeldung eingerichtet – alle Besucher haben die Rolle "
            f"„{auth.ROLE_LABEL_DE[user.role]}“. Für den Betrieb Anmeldung in "
            "`.streamlit/secrets.toml` einrichten (siehe README).",
            icon=":material/warning:",
        )
    box = st.sidebar.container(border=True)
    box.caption(f"Angemeldet als **{user.name}** · Rolle: {auth.ROLE_LABEL_DE[user.role]}"
                if user.source != "anonym" else "Lesezugriff (nicht angemeldet)")
    if cfg.oidc:
        if user.source == "oidc":
            if box.button("Abmelden", key="kpi_logout"):
                st.logout()
        elif box.button("Anmelden", key="kpi_login", type="primary"):
            st.login(cfg.oidc_provider)
    elif user.source == "lokal":
        if box.button("Abmelden", key="kpi_logout"):
            _audit(user.name, "logout", "Abmeldung")
            del st.session_state[_SESSION_KEY]
            st.rerun()
    elif cfg.local_accounts:
        with box.expander("Anmelden (Upload, Verwaltung)"):
            _local_login_form(cfg)
    if user.role == "admin" and cfg.problems:
        for problem in cfg.problems:
            st.sidebar.warning(f"Anmeldeeinstellungen: {problem}")


def _local_login_form(cfg: auth.AuthSettings) -> None:
    with st.form("kpi_login_form", clear_on_submit=True, border=False):
        name = st.text_input("Anmeldename", autocomplete="username", key="kpi_login_name")
        password = st.text_input("Passwort", type="password", autocomplete="current-password",
                                 key="kpi_login_password")
        submitted = st.form_submit_button("Anmelden", type="primary", key="kpi_login_submit")
    if not submitted:
        return
    account, reason = auth.authenticate(cfg, name, password, _throttle())
    if account is None:
        _audit(name.strip()[:80] or "(leer)", "login_failed", reason)
        st.error(reason)
        return
    st.session_state[_SESSION_KEY] = account.name
    _audit(account.name, "login", f"Anmeldung mit Rolle {auth.ROLE_LABEL_DE[account.role]}")
    st.rerun()
