"""KPI-Cockpit entry: page config, navigation by role, nothing else."""

from pathlib import Path

import streamlit as st

from pages._auth import current_user, render_account_box
from pages._ops import ensure_daily_backup
from pages._shared import stand_text

ROOT = Path(__file__).parent

# (file, title, icon, section, lowest role that may open it)
PAGES = [
    ("pages/ueberblick.py", "Überblick", ":material/dashboard:", "Cockpit", "viewer"),
    ("pages/kosten_nutzen.py", "Kosten & Nutzen", ":material/euro:", "Cockpit", "viewer"),
    ("pages/bearbeitung.py", "Bearbeitungszeiten & Fallzahlen", ":material/timer:", "Cockpit", "viewer"),
    ("pages/papier.py", "Papier & Porto", ":material/description:", "Cockpit", "viewer"),
    ("pages/barrierefreiheit.py", "Barrierefreiheit", ":material/accessibility:", "Cockpit", "viewer"),
    ("pages/nutzung.py", "Nutzung & Zufriedenheit", ":material/group:", "Cockpit", "viewer"),
    ("pages/qualitativ.py", "Qualitative Bewertung", ":material/checklist:", "Cockpit", "viewer"),
    ("pages/vergleich.py", "Vergleich der Kommunen", ":material/compare_arrows:", "Cockpit", "viewer"),
    ("pages/massnahme.py", "Maßnahme im Detail", ":material/search:", "Cockpit", "viewer"),
    ("pages/sitzung.py", "Sitzungsmodus", ":material/slideshow:", "Cockpit", "viewer"),
    ("pages/daten_export.py", "Daten & Export", ":material/download:", "Auswertung", "viewer"),
    ("pages/upload.py", "Daten hochladen", ":material/upload_file:", "Daten pflegen", "digitallotse"),
    ("pages/einstellungen.py", "Parameter", ":material/tune:", "Verwaltung", "admin"),
    ("pages/verwaltung.py", "Benutzer, Sicherung & Protokoll", ":material/admin_panel_settings:",
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
    page = st.Page(file, title=title, icon=icon, default=(file == "pages/ueberblick.py"))
    sections.setdefault(section, []).append(page)

nav = st.navigation(sections)
st.sidebar.markdown(f"**{stand_text()}**")  # the data date, always visible
render_account_box(user)
ensure_daily_backup()  # once per process, when backup_time is configured (pages/_ops.py)
nav.run()
