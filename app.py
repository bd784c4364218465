"""KPI-Cockpit entry: page config, navigation by role, nothing else."""

from pathlib import Path

import streamlit as st

from views._auth import current_user, render_account_box
from views._i18n import inject_german_chrome
from views._ops import ensure_daily_backup, ensure_inbox_watcher, ensure_warmup
from views._shared import stand_text

ROOT = Path(__file__).parent

# (file, title, icon, section, lowest role that may open it)
PAGES = [
    ("views/ueberblick.py", "Überblick", ":material/dashboard:", "Cockpit", "viewer"),
    ("views/kosten_nutzen.py", "Kosten & Nutzen", ":material/euro:", "Cockpit", "viewer"),
    ("views/bearbeitung.py", "Bearbeitungszeiten & Fallzahlen", ":material/timer:", "Cockpit", "viewer"),
    ("views/papier.py", "Papier & Porto", ":material/description:", "Cockpit", "viewer"),
    ("views/barrierefreiheit.py", "Barrierefreiheit", ":material/accessibility:", "Cockpit", "viewer"),
    ("views/nutzung.py", "Nutzung & Zufriedenheit", ":material/group:", "Cockpit", "viewer"),
    ("views/qualitativ.py", "Qualitative Bewertung", ":material/checklist:", "Cockpit", "viewer"),
    ("views/vergleich.py", "Vergleich der Kommunen", ":material/compare_arrows:", "Cockpit", "viewer"),
    ("views/massnahme.py", "Maßnahme im Detail", ":material/search:", "Cockpit", "viewer"),
    ("views/sitzung.py", "Sitzungsmodus", ":material/slideshow:", "Cockpit", "viewer"),
    ("views/daten_export.py", "Daten & Export", ":material/download:", "Auswertung", "viewer"),
    ("views/upload.py", "Daten hochladen", ":material/upload_file:", "Daten pflegen", "digitallotse"),
    ("views/einstellungen.py", "Parameter", ":material/tune:", "Verwaltung", "admin"),
    ("views/verwaltung.py", "Benutzer, Sicherung & Protokoll", ":material/admin_panel_settings:",
     "Verwaltung", "admin"),
]
ROLE_RANK = {"viewer": 0, "digitallotse": 1, "admin": 2}

st.set_page_config(
    page_title="KPI-Cockpit",
    page_icon=str(ROOT / "static" / "favicon.png") if (ROOT / "static" / "favicon.png").exists() else "📊",
    layout="wide",
    initial_sidebar_state="expanded",
)

user = current_user()
sections: dict[str, list] = {}
for file, title, icon, section, min_role in PAGES:
    if not (ROOT / file).exists() or ROLE_RANK[user.role] < ROLE_RANK[min_role]:
        continue  # pages a role may not use are not in its navigation, so their URL does not resolve
    page = st.Page(file, title=title, icon=icon, default=(file == "views/ueberblick.py"))
    sections.setdefault(section, []).append(page)

nav = st.navigation(sections, expanded=True)  # no English "View more" toggle
st.sidebar.markdown(f"**{stand_text()}**")  # the data date, always visible
render_account_box(user)
inject_german_chrome()  # German texts for Streamlit's uploader and help buttons (views/_i18n.py)
ensure_daily_backup()  # once per process, when backup_time is configured (views/_ops.py)
ensure_inbox_watcher()  # once per process, when the import folder exists (views/_ops.py)
ensure_warmup()  # once per process: dashboards' shared results computed in the background (views/_ops.py)
nav.run()
