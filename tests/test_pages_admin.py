"""AppTests: navigation by role, refused direct access, sign-in, and the admin pages."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from kpi import auth
from kpi.audit import audit_log
from views._shared import get_db

ROOT = Path(__file__).parent.parent
APP = str(ROOT / "app.py")
PASSWORD = "lotsen-passwort-123"
HASH = auth.hash_password(PASSWORD, iterations=auth.MIN_ITERATIONS)
LOCAL = {"kpi": {"local_users": {
    "lotse": {"role": "digitallotse", "password_hash": HASH},
    "chefin": {"role": "admin", "password_hash": HASH},
}}}
VIEWER_PAGES = ["ueberblick", "kosten_nutzen", "bearbeitung", "papier", "daten_export"]


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    """A fresh database file for the pages; caches cleared so get_db() opens it."""
    path = tmp_path / "kpi.duckdb"
    monkeypatch.setenv("KPI_DB", str(path))
    monkeypatch.delenv("KPI_DEV_ROLE", raising=False)
    monkeypatch.delenv("KPI_BACKUP_DIR", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield path
    st.cache_resource.clear()
    st.cache_data.clear()


def _app(secrets=None, session=None, user=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = secrets or {"kpi": {"require_login": False}}  # never the developer's real secrets
    for k, v in (session or {}).items():
        at.session_state[k] = v
    if user is not None:
        at.user = user
    return at


def _rerun(at: AppTest) -> AppTest:
    """Run again through app.py's router, as a browser session does once the server has routed
    one request (AppTest starts every run in Streamlit's views/-folder fallback; a rerun of the
    page it just showed would run that page file alone)."""
    at._finished_page_script_hash = ""
    return at.run()


def _page_files(at: AppTest) -> set[str]:
    # pages st.navigation registered in the last run (what the menu shows and the router resolves)
    return {Path(str(info["script_path"])).stem for info in at._registered_pages.values()}


def _need_viewer_page():
    if not any((ROOT / "views" / f"{p}.py").exists() for p in VIEWER_PAGES):
        pytest.skip("no viewer page exists yet to serve as the default page")


def test_viewer_has_no_upload_or_admin_pages_in_navigation(db_path):
    _need_viewer_page()
    at = _app().run()
    assert not at.exception
    pages = _page_files(at)
    assert pages and not pages & {"upload", "einstellungen", "verwaltung"}
    assert "Lesezugriff (nicht angemeldet)" in at.sidebar.caption[-1].value or any(
        "Lesezugriff" in c.value for c in at.sidebar.caption)


def test_viewer_cannot_switch_or_jump_to_a_restricted_page(db_path):
    _need_viewer_page()
    at = _app().run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/einstellungen.py")
    # What a browser sends for /einstellungen: the page hash an admin's session registers for it.
    # Not registered for a viewer → the router shows the default page instead.
    admin = _app(LOCAL, {"kpi_local_account": "chefin"}).run()
    hashes = {Path(str(i["script_path"])).stem: h for h, i in admin._registered_pages.items()}
    for page in ("einstellungen", "verwaltung", "upload"):
        if page not in hashes:
            continue
        at._page_hash = hashes[page]
        at.run()
        assert not at.exception
        assert not [t for t in at.title if t.value in ("Parameter", "Daten hochladen",
                                                       "Benutzer, Sicherung & Protokoll")]
        assert not any(b.label == "Version speichern" for b in at.button)
        # either the router fell back to the default page, or (views/-folder fallback of a fresh
        # server, which AppTest reproduces) the page file ran alone and its guard stopped it
        assert any("nur mit der Rolle" in e.value for e in at.error) or at.title


def test_restricted_pages_refuse_when_opened_directly_as_viewer(db_path):
    for page, role_label in (("einstellungen", "Administration"), ("verwaltung", "Administration"),
                             ("upload", "Digitallotse")):
        if not (ROOT / "views" / f"{page}.py").exists():
            continue
        at = AppTest.from_file(str(ROOT / "views" / f"{page}.py"), default_timeout=60)
        at.secrets = {"kpi": {"require_login": False}}
        at.run()
        assert not at.exception
        assert [e.value for e in at.error] == [
            f"Diese Seite ist nur mit der Rolle „{role_label}“ zugänglich. Bitte melden Sie sich "
            "in der Seitenleiste mit einem berechtigten Konto an."]
        assert not at.title  # stopped before anything of the page was drawn


def test_digitallotse_gets_upload_but_not_parameters(db_path):
    at = _app(LOCAL, {"kpi_local_account": "lotse"}).run()
    assert not at.exception
    pages = _page_files(at)
    assert "einstellungen" not in pages and "verwaltung" not in pages
    if (ROOT / "views" / "upload.py").exists():
        assert "upload" in pages


def test_admin_gets_every_page(db_path):
    at = _app(LOCAL, {"kpi_local_account": "chefin"}).run()
    assert not at.exception
    assert {"einstellungen", "verwaltung"} <= _page_files(at)


def test_local_sign_in_elevates_and_is_logged(db_path):
    _need_viewer_page()
    at = _app(LOCAL).run()
    at.text_input(key="kpi_login_name").input("lotse")
    at.text_input(key="kpi_login_password").input("falsch-falsch")
    at.button(key="kpi_login_submit").click()
    _rerun(at)
    assert [e.value for e in at.error] == ["Anmeldename oder Passwort ist falsch."]
    assert "upload" not in _page_files(at)
    at.text_input(key="kpi_login_name").input("lotse")
    at.text_input(key="kpi_login_password").input(PASSWORD)
    at.button(key="kpi_login_submit").click()
    _rerun(at)
    assert not at.exception
    assert at.session_state["kpi_local_account"] == "lotse"
    assert any("Angemeldet als **lotse**" in c.value for c in at.sidebar.caption)
    log = audit_log(get_db())  # the app's own connection (a second one to the file is refused)
    assert list(log["action"][:2]) == ["login", "login_failed"]
    assert list(log["user_name"][:2]) == ["lotse", "lotse"]


def test_removed_account_loses_its_role_at_once(db_path):
    _need_viewer_page()
    at = _app(LOCAL, {"kpi_local_account": "chefin"}).run()
    assert "verwaltung" in _page_files(at)
    at.secrets = {"kpi": {"local_users": {"lotse": LOCAL["kpi"]["local_users"]["lotse"]}}}
    _rerun(at)
    assert "verwaltung" not in _page_files(at)


def test_oidc_role_from_mapping_and_anonymous_is_viewer(db_path):
    secrets = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x",
                        "client_id": "kpi", "client_secret": "y",
                        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"},
               "kpi": {"roles": {"admin": ["chefin@kommune.example"]}}}
    at = _app(secrets, user={"is_logged_in": True, "email": "Chefin@Kommune.example", "name": "C"}).run()
    assert not at.exception
    assert {"einstellungen", "verwaltung"} <= _page_files(at)
    assert any(b.label == "Abmelden" for b in at.sidebar.button)
    _rerun(at)
    logins = audit_log(get_db(), action="login")
    assert list(logins["user_name"]) == ["Chefin@Kommune.example"]  # once per session, not per run
    assert logins["detail"].iloc[0] == "Anmeldung (OIDC) mit Rolle Administration"
    _need_viewer_page()
    anon = _app(secrets, user={"is_logged_in": False}).run()
    assert not anon.exception
    assert not _page_files(anon) & {"einstellungen", "verwaltung", "upload"}
    assert any(b.label == "Anmelden" for b in anon.sidebar.button)


def test_dev_mode_warns_and_is_ignored_once_sign_in_is_configured(db_path, monkeypatch):
    monkeypatch.setenv("KPI_DEV_ROLE", "admin")
    at = _app().run()
    assert not at.exception
    assert "verwaltung" in _page_files(at)
    assert any(w.value.startswith("Entwicklungsmodus: keine Anmeldung eingerichtet") for w in at.warning)
    _need_viewer_page()
    configured = _app(LOCAL).run()
    assert "verwaltung" not in _page_files(configured)


def _admin_page(name: str, db_path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "views" / f"{name}.py"), default_timeout=60)
    at.secrets = LOCAL
    at.session_state["kpi_local_account"] = "chefin"
    return at.run()


def test_settings_page_adds_a_parameter_version_with_audit_entry(db_path):
    at = _admin_page("einstellungen", db_path)
    assert not at.exception
    versions_before = len(at.dataframe[-1].value)
    assert "Beispielwert" in set(at.dataframe[-1].value["Beispielwert"])
    at.selectbox(key="param_key").set_value("discount_rate").run()
    at.number_input[0].set_value(2.5)
    at.text_input[0].set_value("BMF-Rundschreiben vom 12.01.2026")
    next(b for b in at.button if b.label == "Version speichern").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("Gespeichert: Kalkulationszinssatz = 2,50\u00a0%, gültig ab 01.01.")
    versions = at.dataframe[-1].value
    assert len(versions) == versions_before + 1
    row = versions[versions["Quelle"] == "BMF-Rundschreiben vom 12.01.2026"].iloc[0]
    assert row["Wert"] == "2,50\u00a0%" and row["von"] == "chefin" and row["Beispielwert"] == ""
    today = at.dataframe[0].value
    assert today[today["Parameter"] == "Kalkulationszinssatz"]["Wert"].iloc[0] == "2,50\u00a0%"
    entry = audit_log(get_db(), action="parameter").iloc[0]
    stored = get_db().query("SELECT value FROM parameter WHERE source = 'BMF-Rundschreiben vom 12.01.2026'")
    assert entry["user_name"] == "chefin" and "discount_rate = 0,025" in entry["detail"]
    assert stored == [(0.025,)]  # entered in percent, stored as a fraction: 2,5 / 100


def test_settings_page_requires_a_source(db_path):
    at = _admin_page("einstellungen", db_path)
    next(b for b in at.button if b.label == "Version speichern").click().run()
    assert at.error[0].value.startswith("Bitte eine Quelle angeben")


def test_admin_page_backup_button_and_log(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_BACKUP_DIR", str(tmp_path / "sicherungen"))
    at = _admin_page("verwaltung", db_path)
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Benutzer und Rollen", "Sicherung", "Protokoll"]
    users = at.tabs[0].dataframe[0].value
    assert set(users["Anmeldename"]) == {"lotse", "chefin"}
    next(b for b in at.button if b.label == "Jetzt sichern").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Sicherung geschrieben: kpi-sicherung-")
    assert len(list((tmp_path / "sicherungen").glob("kpi-sicherung-*/manifest.json"))) == 1
    log = at.tabs[2].dataframe[0].value
    assert list(log.columns) == ["Zeitpunkt", "Benutzer", "Aktion", "Details"]
    assert log.iloc[0]["Aktion"] == "Sicherung" and log.iloc[0]["Benutzer"] == "chefin"


def test_admin_page_hash_helper_outputs_a_verifiable_toml_entry(db_path):
    at = _admin_page("verwaltung", db_path)
    tab = at.tabs[0]
    tab.text_input[0].input("kaemmerei")
    tab.text_input[1].input("ein-langes-passwort")
    tab.text_input[2].input("ein-langes-passwort")
    next(b for b in at.button if b.label == "Hash erzeugen").click().run()
    code = at.code[0].value
    assert code.startswith('[kpi.local_users.kaemmerei]\nrole = "digitallotse"\npassword_hash = "pbkdf2_sha256$')
    encoded = code.split('password_hash = "')[1].rstrip('"')
    assert auth.verify_password("ein-langes-passwort", encoded)


def test_server_settings_are_known_options_with_safe_values():
    import tomllib

    from streamlit import config

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    known = config.get_config_options()
    unknown = [f"{s}.{k}" for s, kv in settings.items() for k in kv if f"{s}.{k}" not in known]
    assert unknown == []  # a misspelt key is silently ignored by Streamlit
    assert settings["server"]["maxUploadSize"] == 20
    assert settings["server"]["enableXsrfProtection"] is True
    assert settings["browser"]["gatherUsageStats"] is False
    assert settings["client"]["showErrorDetails"] in ("none", "type")  # never tracebacks/paths
    assert settings["client"]["toolbarMode"] == "viewer"


def test_no_unescaped_user_text_in_unsafe_html():
    # Pages may use unsafe_allow_html for styling only; any f-string there must escape its values.
    import re

    offenders = []
    for path in sorted((ROOT / "views").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"unsafe_allow_html\s*=\s*True", text):
            call_start = text.rfind("st.", 0, m.start())
            call = text[call_start:m.end()]
            if re.search(r"f[\"']", call) and "escape(" not in call and "_html(" not in call:
                offenders.append(f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}")
    assert offenders == []


def _app_pages() -> list[tuple]:
    import ast

    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    return next(ast.literal_eval(n.value) for n in ast.walk(tree)
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES")


def test_every_restricted_page_guards_itself_before_drawing():
    # The router hides restricted pages, but a direct request can still reach the file (see
    # test_fresh_server_refuses_direct_urls), so each one must call require_role first.
    import ast

    checked = 0
    for file, _title, _icon, _section, min_role in _app_pages():
        path = ROOT / file
        if min_role == "viewer" or not path.exists():
            continue
        body = ast.parse(path.read_text(encoding="utf-8")).body

        def draws_or_guards(node) -> bool:
            for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
                f = call.func
                if isinstance(f, ast.Name) and f.id == "require_role":
                    return True
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "st":
                    return True
            return False

        # the first top-level statement that calls st.* or require_role must be the guard
        # (function definitions only run when called, so they are skipped)
        first = next((n for n in body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))
                      and draws_or_guards(n)), None)
        assert first is not None and f"require_role('{min_role}')" in ast.unparse(first), file
        checked += 1
    assert checked >= 2  # at least the two admin pages


def test_fresh_server_refuses_direct_urls(tmp_path):
    """Against a real `streamlit run app.py`: a first request straight to /einstellungen, and later
    ones to /verwaltung and /upload, never show those pages to a visitor (viewer)."""
    import asyncio
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("KPI_DEV_ROLE",)}
    env["KPI_DB"] = str(tmp_path / "kpi.duckdb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType",
         "none", "--secrets.files", str(tmp_path / "keine-secrets.toml")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def visit(page: str) -> list[str]:
        async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream",
                                      subprotocols=["streamlit"], max_size=2**26) as ws:
            msg = BackMsg()
            msg.rerun_script.page_name = page
            await ws.send(msg.SerializeToString())
            shown = []
            while True:
                fwd = ForwardMsg()
                fwd.ParseFromString(await asyncio.wait_for(ws.recv(), 60))
                if fwd.WhichOneof("type") == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                    el = fwd.delta.new_element
                    kind = el.WhichOneof("type")
                    if kind == "heading":
                        shown.append(el.heading.body)
                    elif kind == "alert":
                        shown.append(el.alert.body)
                elif fwd.WhichOneof("type") == "script_finished" and fwd.script_finished != 2:
                    return shown

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.3)
        for page in ("einstellungen", "verwaltung", "upload", "einstellungen"):
            shown = asyncio.run(visit(page))
            assert shown, page
            assert not {"Parameter", "Daten hochladen", "Benutzer, Sicherung & Protokoll"} & set(shown)
            # with no pages/ folder Streamlit never serves a page file on its own, so even the first request goes through app.py's router and
            # the visitor lands on the start page with the normal navigation
            assert "Überblick" in shown and not any("nur mit der Rolle" in s for s in shown), shown
    finally:
        server.terminate()
        server.wait(10)


def test_oidc_require_login_shows_only_the_sign_in_button(db_path):
    secrets = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x",
                        "client_id": "kpi", "client_secret": "y",
                        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"},
               "kpi": {"require_login": True}}
    at = _app(secrets, user={"is_logged_in": False}).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Anmelden"]
    assert at.info[0].value == "Bitte melden Sie sich mit Ihrem Dienstkonto an."
    assert not at.dataframe and not at.metric and not at.sidebar.caption


def test_daily_backup_runs_in_the_app_process(db_path, tmp_path, monkeypatch):
    import time as _time

    from kpi import backup

    calls = []

    def soon(now, hour, minute):  # first wait: none; then an hour (the test ends long before)
        calls.append((hour, minute))
        return 0 if len(calls) == 1 else 3600

    monkeypatch.setattr(backup, "seconds_until", soon)
    monkeypatch.setenv("KPI_BACKUP_TIME", "02:30")
    monkeypatch.setenv("KPI_BACKUP_DIR", str(tmp_path / "nachts"))
    at = _admin_page("verwaltung", db_path)
    assert any(c.value.startswith("Automatische Sicherung: täglich um 02:30 Uhr") for c in at.caption)
    _app(LOCAL, {"kpi_local_account": "chefin"}).run()  # app.py starts the worker
    deadline = _time.monotonic() + 90  # generous: a loaded 2-core machine
    # the audit line is the worker's last step (after the manifest)
    while audit_log(get_db(), action="backup").empty:
        assert _time.monotonic() < deadline, "no automatic backup written"
        _time.sleep(0.2)
    assert list((tmp_path / "nachts").glob("kpi-sicherung-*/manifest.json"))
    assert calls[0] == (2, 30)
    assert list(audit_log(get_db(), action="backup")["user_name"]) == ["automatisch"]
