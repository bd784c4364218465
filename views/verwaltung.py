"""Benutzer, Sicherung & Protokoll (admin): who may do what, backups, and the audit log."""

from __future__ import annotations

import os
from datetime import datetime

import pandas as pd
import streamlit as st

from kpi import auth, backup, fmt
from kpi.audit import ACTION_LABEL_DE, actions, audit_log, audit_table_de
from kpi.db import audit
from views._auth import require_role, secrets_dict, settings
from views._shared import get_db, page_header

user = require_role("admin")
page_header("Benutzer, Sicherung & Protokoll")
cfg = settings()
db = get_db()

users_tab, backup_tab, log_tab = st.tabs(["Benutzer und Rollen", "Sicherung", "Protokoll"])

with users_tab:
    st.markdown("\n".join(f"- **{auth.ROLE_LABEL_DE[r]}**: {auth.ROLE_RIGHTS_DE[r]}" for r in auth.ROLES))
    if cfg.oidc:
        provider = f"Anbieter „{cfg.oidc_provider}“" if cfg.oidc_provider else "Standardanbieter"
        st.info(f"Anmeldung über OpenID Connect ({provider}). Rollen kommen aus `[kpi.roles]` in "
                "`.streamlit/secrets.toml`; wer dort nicht steht, hat Lesezugriff.")
        mapping = pd.DataFrame(
            [{"E-Mail-Adresse oder Domain": k, "Rolle": auth.ROLE_LABEL_DE[r]}
             for k, r in sorted(cfg.role_by_email.items(), key=lambda kv: (-auth.ROLE_RANK[kv[1]], kv[0]))]
            or [{"E-Mail-Adresse oder Domain": "–", "Rolle": "–"}]
        )
        st.dataframe(mapping, hide_index=True, width="stretch")
    elif cfg.local_accounts:
        st.info("Lokale Anmeldung: Besucher haben Lesezugriff; die folgenden Konten melden sich in der "
                "Seitenleiste an. Konten werden in `.streamlit/secrets.toml` unter `[kpi.local_users]` "
                "gepflegt.")
        st.dataframe(
            pd.DataFrame([{"Anmeldename": a.name, "Rolle": auth.ROLE_LABEL_DE[a.role]}
                          for a in cfg.local_accounts.values()]),
            hide_index=True, width="stretch",
        )
    else:
        st.warning("Es ist keine Anmeldung eingerichtet. Ohne `.streamlit/secrets.toml` haben alle "
                   "Besucher nur Lesezugriff (außer im Entwicklungsmodus von `make run`).")
    for problem in cfg.problems:
        st.error(problem)

    st.subheader("Passwort-Hash für ein lokales Konto erzeugen")
    st.caption("Das Passwort wird nicht gespeichert. Den angezeigten Abschnitt in "  # no code span: grey on grey fails AA
               "„.streamlit/secrets.toml“ einfügen; die App liest ihn beim nächsten Seitenaufruf.")
    with st.form("hash_form", clear_on_submit=True):
        c1, c2 = st.columns(2)
        new_name = c1.text_input("Anmeldename", max_chars=40)
        new_role = c2.selectbox("Rolle", ["digitallotse", "admin", "viewer"], format_func=auth.ROLE_LABEL_DE.get)
        pw1 = c1.text_input("Passwort", type="password", autocomplete="new-password")
        pw2 = c2.text_input("Passwort wiederholen", type="password", autocomplete="new-password")
        make_hash = st.form_submit_button("Hash erzeugen")
    if make_hash:
        name_ok = new_name.strip().replace("_", "").replace("-", "").isalnum() and new_name.strip().isascii()
        if not name_ok:
            st.error("Anmeldename: nur Buchstaben a–z, Ziffern, - und _ (ohne Umlaute und Leerzeichen).")
        elif pw1 != pw2:
            st.error("Die Passwörter stimmen nicht überein.")
        else:
            try:
                encoded = auth.hash_password(pw1)
            except auth.PasswordPolicyError as exc:
                st.error(str(exc))
            else:
                st.code(f'[kpi.local_users.{new_name.strip()}]\nrole = "{new_role}"\n'
                        f'password_hash = "{encoded}"', language="toml")

with backup_tab:
    configured = os.environ.get("KPI_BACKUP_DIR") or (secrets_dict().get("kpi") or {}).get("backup_dir")
    target_dir = backup.backup_dir(db.path, configured)
    st.markdown(f"Sicherungen werden in **`{target_dir}`** abgelegt (einstellbar über `KPI_BACKUP_DIR` "
                "oder `backup_dir` in `[kpi]` der secrets.toml). Eine Sicherung enthält alle Tabellen "
                "(als Parquet, lesbar auch von neueren DuckDB-Versionen) und die hochgeladenen "
                "Originaldateien.")
    from views._ops import backup_settings

    _, daily, keep = backup_settings()
    if daily:
        st.caption(f"Automatische Sicherung: täglich um {daily[0]:02d}:{daily[1]:02d} Uhr; die neuesten "
                   f"{keep} Sicherungen bleiben erhalten.")
    else:
        st.caption("Automatische Sicherung: aus (einschalten mit `backup_time = \"02:30\"` in `[kpi]` "
                   "der secrets.toml oder `KPI_BACKUP_TIME`).")
    if st.button("Jetzt sichern", type="primary", icon=":material/backup:"):
        try:
            with st.spinner("Sicherung läuft …"):
                folder = backup.backup(db, target_dir, user=user.name)
        except (backup.BackupError, OSError) as exc:
            st.error(f"Sicherung fehlgeschlagen: {exc}")
        else:
            st.success(f"Sicherung geschrieben: {folder.name}", icon=":material/check_circle:")

    found = backup.list_backups(target_dir) if target_dir.is_dir() else []
    if not found:
        st.info("Noch keine Sicherung in diesem Ordner.")
    else:
        st.dataframe(
            pd.DataFrame([{
                "Sicherung": f.name,
                "Erstellt": fmt.datetime_de(datetime.fromisoformat(m["created_at"]))
                if m.get("created_at") else "–",
                "von": m.get("created_by", ""),
                "Aktuelle Werte": fmt.number_de(m["tables"].get("measurement", 0)),
                "Uploads": fmt.number_de(m["tables"].get("upload", 0)),
                "Originaldateien": fmt.number_de(m.get("raw_files", 0)),
                "DuckDB": m.get("duckdb_version", ""),
            } for f, m in found]),
            hide_index=True, width="stretch",
        )
        by_name = {f.name: f for f, _ in found}
        chosen = st.selectbox("Sicherung zum Herunterladen", list(by_name))

        def _zip_and_log() -> bytes:
            data = backup.zip_bytes(by_name[chosen])
            with db.transaction() as cur:
                audit(cur, user.name, "export", f"Sicherung {chosen} als Zip heruntergeladen")
            return data

        st.download_button("Als Zip herunterladen", data=_zip_and_log, file_name=f"{chosen}.zip",
                           mime="application/zip", on_click="ignore", icon=":material/download:")
        with st.expander("Wiederherstellen"):
            st.markdown(
                "Die laufende App hält die Datenbank geöffnet; wiederhergestellt wird deshalb auf der "
                "Kommandozeile des Servers:\n"
                "1. App beenden.\n"
                "2. Befehl ausführen (die bisherige Datenbank bleibt als `.bak` erhalten):"
            )
            st.code(f"kpi restore {by_name[chosen]} --db {db.path} --force", language="bash")
            st.markdown("3. App wieder starten. Die Wiederherstellung steht dann im Protokoll.")

with log_tab:
    c1, c2 = st.columns([2, 1])
    options = [None, *actions(db)]
    action = c1.selectbox("Aktion", options,
                          format_func=lambda a: "alle" if a is None else ACTION_LABEL_DE.get(a, a))
    limit = c2.number_input("Anzahl Einträge", min_value=10, max_value=5000, value=200, step=50)
    log = audit_log(db, limit=int(limit), action=action)
    if log.empty:
        st.info("Noch keine Einträge.")
    else:
        st.dataframe(audit_table_de(log), hide_index=True, width="stretch")
        st.caption(f"{fmt.number_de(len(log))} Einträge, neueste zuerst.")
