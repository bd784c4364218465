"""AppTests for the cockpit pages: Überblick, Kosten & Nutzen, Maßnahme im Detail, Sitzungsmodus."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).parent.parent
APP = str(ROOT / "app.py")
MY_PAGES = ["views/ueberblick.py", "views/kosten_nutzen.py", "views/massnahme.py", "views/sitzung.py"]


# fixtures demo_file, demo_env, empty_env: tests/conftest.py


def _open(page: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets = {"kpi": {"require_login": False}}
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page != "views/ueberblick.py":
        at.switch_page(page)
        at.run()
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [s.value for s in at.subheader] + [h.value for h in at.header] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", MY_PAGES)
def test_page_renders_on_demo_data(demo_env, page):
    if not (ROOT / page).exists():
        pytest.skip(f"{page} not written yet")
    at = _open(page)
    assert not at.exception, at.exception
    assert "Stand: " in _texts(at)


@pytest.mark.parametrize("page", ["views/ueberblick.py", "views/kosten_nutzen.py", "views/massnahme.py",
                                  "views/sitzung.py"])
def test_empty_database_shows_start_screen_with_upload_link(empty_env, page):
    if not (ROOT / page).exists():
        pytest.skip(f"{page} not written yet")
    at = _open(page)
    assert not at.exception, at.exception
    assert any("Noch keine Kennzahlen geladen" in i.value for i in at.info)
    # page_link is an UnknownElement in AppTest: check its proto
    assert [(p.proto.page, p.proto.label) for p in at.get("page_link")] == [("upload", "Zur Upload-Seite")]


def test_ueberblick_shows_six_tiles_in_german(demo_env):
    at = _open("views/ueberblick.py")
    labels = [m.label for m in at.metric]
    assert labels == ["Nettonutzen bisher", "Amortisation", "Ø Bearbeitungszeit je Fall",
                      "Eingesparte Papierkosten", "BITV-Ergebnis", "Online-Quote"]
    values = {m.label: m.value for m in at.metric}
    assert values["Nettonutzen bisher"].endswith("\u00a0€")
    assert "," in values["Ø Bearbeitungszeit je Fall"]  # decimal comma
    # status as symbol and word (never colour alone), rule in the help text
    badges = [str(b.proto) for b in at.get("badge")] if at.get("badge") else []
    text = _texts(at) + "\n".join(badges)
    assert "im Plan" in text
    assert all(m.help.startswith("Ampel: ") for m in at.metric)
    assert "alle Kommunen" in _texts(at)


def test_ueberblick_kommune_and_period_selectors(demo_env):
    at = _open("views/ueberblick.py")
    before = {m.label: m.value for m in at.metric}
    at.multiselect(key=next(w.key for w in at.multiselect if w.label == "Kommune")).select("Musterhausen").run()
    assert not at.exception
    assert "**Musterhausen**" in _texts(at)
    after = {m.label: m.value for m in at.metric}
    assert after["Nettonutzen bisher"] != before["Nettonutzen bisher"]
    to = next(w for w in at.selectbox if w.label == "Zeitraum bis")
    assert "Dezember 2024" in to.options  # offered as German month names
    to.set_value(date(2024, 12, 1)).run()
    assert not at.exception
    assert "Werte bis Dezember 2024" in _texts(at)
    assert at.query_params["kommune"] == "Musterhausen"  # shareable link


def test_massnahme_drilldown_from_query_params(demo_env):
    at = _open("views/massnahme.py", {"kommune": "Musterstadt", "massnahme": "E-Akte Bauamt"})
    assert not at.exception, at.exception
    assert any(h.value.replace("\\", "") == "E-Akte Bauamt – Musterstadt" for h in at.header)  # names md-escaped
    assert [m.label for m in at.metric][:2] == ["Kosten", "Nutzen (gesamt)"]
    assert sum(1 for e in at.expander if e.label == "Wie berechnet?") >= 6
    kpi = next(w for w in at.selectbox if w.label == "Kennzahl")
    kpi.set_value("bearbeitungszeit_min").run()
    raw = at.dataframe[-1].value
    assert {"Zeitraum", "Wert", "Upload", "Datei", "Hochgeladen von", "Hochgeladen am"} <= set(raw.columns)
    assert raw["Datei"].iloc[0] == "Demodaten (fiktiv)"
    assert raw["Zeitraum"].iloc[0] == "September 2026"


def test_sitzung_start_next_previous_and_exit(demo_env):
    at = _open("views/sitzung.py")
    assert not at.exception, at.exception
    at.selectbox(key="sitzung_kommune").set_value("Musterstadt")
    at.button(key="sitzung_start").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Was hat die Digitalisierung gekostet und gebracht?"
    footer = next(m.value for m in at.markdown if "Folie" in m.value)
    assert footer.startswith("**Stand: ") and "Musterstadt · Folie 1 von 5" in footer
    assert at.button(key="sitzung_prev").disabled
    at.button(key="sitzung_next").click().run()
    assert at.title[0].value == "Wo stehen wir bei den Zielen?"
    at.button(key="sitzung_next").click().run()
    assert at.title[0].value == "Wie schnell werden Anträge bearbeitet?"
    at.button(key="sitzung_prev").click().run()
    assert at.title[0].value == "Wo stehen wir bei den Zielen?"
    at.button(key="sitzung_exit").click().run()
    assert at.title[0].value == "Sitzungsmodus"
    assert at.button(key="sitzung_start")
