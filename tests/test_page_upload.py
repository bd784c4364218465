"""AppTest of the upload page: upload → report → preview → commit, partial, profile, rollback, editor."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = Path(__file__).parent.parent / "app.py"
PAGE = Path(__file__).parent.parent / "views" / "upload.py"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ("Kommune", "Maßnahme", "Kennzahl", "Zeitraum", "Wert")
GOOD_ROWS = [
    ("Teststadt", "E-Akte", "fallzahl", "2024-01", 120),
    ("Teststadt", "E-Akte", "fallzahl", "2024-02", 130),
    ("Teststadt", "E-Akte", "online_faelle", "2024-01", 40),
]


def workbook(rows: list[tuple], header: tuple = HEADER, sheet: str = "Daten") -> bytes:
    """An .xlsx with one sheet: header row, then `rows` (as a Digitallotse would type them)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    path = tmp_path / "kpi.duckdb"
    monkeypatch.setenv("KPI_DB", str(path))
    monkeypatch.setenv("KPI_DEV_ROLE", "digitallotse")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield path
    shared_db().close()  # release the file before the next test's database
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def page(db_path):
    """The upload page on its own (the router is covered by the first test): faster."""
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def shared_db():
    """The page's own cached Database (a second connection to the file would be refused)."""
    from views._shared import get_db

    return get_db()


def values(db_path) -> list[tuple]:
    """Current values (kommune, massnahme, kpi, period, value), sorted."""
    return shared_db().query("SELECT kommune, massnahme, kpi, period, value FROM v_measurement ORDER BY ALL")


def uploads(db_path) -> list[tuple]:
    return shared_db().query("SELECT upload_id, kind, status, uploaded_by FROM upload ORDER BY upload_id")


def texts(at) -> str:
    """All visible text of the page (markdown, alerts, captions, metrics) as one string."""
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption]
    parts += [e.value for e in at.error] + [e.value for e in at.warning]
    parts += [e.value for e in at.info] + [e.value for e in at.success]
    parts += [f"{m.label}={m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def metric(at, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}: {[m.label for m in at.metric]}"
    return found[0]


def upload(at, data: bytes, name: str = "kennzahlen.xlsx"):
    at.file_uploader(key="up_file").set_value((name, data, XLSX)).run()
    assert not at.exception, at.exception
    return at


def test_page_renders_in_the_app_for_digitallotse_with_template_and_uploader(db_path):
    page = AppTest.from_file(str(APP), default_timeout=60)
    page.run()
    page.switch_page("views/upload.py").run()
    assert not page.exception, page.exception
    assert page.title[0].value == "Daten hochladen"
    assert [t.label for t in page.tabs] == ["Datei hochladen", "Einzelne Werte korrigieren",
                                            "Verlauf & Rücknahme"]
    assert page.file_uploader(key="up_file").allowed_type == [".xlsx", ".xlsm", ".csv", ".xls"]
    template = page.download_button(key="up_template")
    assert template.label == "Vorlage herunterladen"
    assert "Noch keine Uploads." in texts(page)


def test_viewer_cannot_use_the_page(db_path, monkeypatch):
    monkeypatch.setenv("KPI_DEV_ROLE", "viewer")
    at = AppTest.from_file(str(PAGE), default_timeout=30)
    at.run()
    assert at.error and "Digitallotse" in at.error[0].value
    assert not at.file_uploader


def test_valid_workbook_shows_preview_then_loads_and_reupload_changes_nothing(page, db_path):
    data = workbook(GOOD_ROWS)
    upload(page, data)
    assert metric(page, "Fehler") == "0"
    assert metric(page, "neu") == "3"
    assert metric(page, "unverändert") == "0"
    assert metric(page, "neue Kommunen / Maßnahmen") == "1 / 1"
    assert values(db_path) == []  # nothing before the commit

    page.button(key="up_commit").click().run()
    assert any("3 neu, 0 geändert, 0 unverändert" in m.value for m in page.success)
    assert values(db_path) == [
        ("Teststadt", "E-Akte", "fallzahl", date(2024, 1, 1), 120.0),
        ("Teststadt", "E-Akte", "fallzahl", date(2024, 2, 1), 130.0),
        ("Teststadt", "E-Akte", "online_faelle", date(2024, 1, 1), 40.0),
    ]

    upload(page, data)  # the very same file once more
    assert metric(page, "neu") == "0" and metric(page, "unverändert") == "3"
    assert "beim Laden ändert sich nichts" in texts(page)
    page.button(key="up_commit").click().run()
    assert "Diese Datei wurde bereits geladen (Upload 1); es wurde nichts geändert." in texts(page)
    assert len(uploads(db_path)) == 1


def test_broken_workbook_shows_german_report_and_loads_nothing(page, db_path):
    upload(page, workbook(GOOD_ROWS + [("Teststadt", "E-Akte", "fallzahl", "2024-03", "zwölf")]))
    assert metric(page, "Fehler") == "1"
    report = texts(page)
    assert "Blatt „Daten“, Zelle E5" in report and "zwölf" in report
    assert "So wird nichts geladen" in report
    assert not [b for b in page.button if b.key == "up_commit"]  # no commit without the tick
    assert values(db_path) == [] and uploads(db_path) == []


def test_partial_tick_loads_only_the_valid_rows(page, db_path):
    upload(page, workbook(GOOD_ROWS + [("Teststadt", "E-Akte", "fallzahl", "2024-03", "zwölf")]))
    page.checkbox(key="up_partial").check().run()
    assert metric(page, "neu") == "3"
    page.button(key="up_commit").click().run()
    assert [v for *_, v in values(db_path)] == [120.0, 130.0, 40.0]
    assert uploads(db_path) == [(1, "file", "active", "entwicklung")]


FOREIGN_HEADER = ("Haushaltsstelle", "Buchungstext", "Rechnungsergebnis", "Werttyp", "Buchungsperiode")
FOREIGN_ROWS = [
    ("1.1.1.01", "Lizenzen Fachverfahren", 1500, "Ist", "2024-01"),
    ("1.1.1.01", "Lizenzen Fachverfahren", 1800, "Plan", "2024-01"),
    ("1.1.1.01", "Lizenzen Fachverfahren", 1550, "Ist", "2024-02"),
]


def test_unrecognised_layout_offers_profile_step_and_loads_with_mapping(page, db_path):
    data = workbook(FOREIGN_ROWS, header=FOREIGN_HEADER, sheet="Export")
    upload(page, data, "haushalt.xlsx")
    assert "nicht erkannt" in texts(page)
    assert not [b for b in page.button if b.key == "up_commit"]
    grid = page.dataframe[0].value
    assert list(grid.columns) == ["A", "B", "C", "D", "E"] and grid.loc[1, "C"] == "Rechnungsergebnis"

    page.selectbox(key="pf_map_kommune_0_1").set_value("(fester Wert)").run()
    page.text_input(key="pf_set_kommune").input("Teststadt").run()
    page.selectbox(key="pf_map_kpi_0_1").set_value("(fester Wert)").run()
    page.selectbox(key="pf_set_kpi").set_value("kosten_betrieb_eur").run()
    page.selectbox(key="pf_map_period_0_1").set_value("E").run()
    page.selectbox(key="pf_map_value_0_1").set_value("C").run()
    page.selectbox(key="pf_where_col_0").set_value("D").run()
    page.text_input(key="pf_where_val_0").input("Ist").run()
    page.button(key="pf_apply").click().run()
    assert not page.exception, page.exception
    assert metric(page, "Fehler") == "0" and metric(page, "neu") == "2"

    page.text_input(key="pf_name").input("Haushalt Kämmerei").run()
    page.button(key="pf_save").click().run()
    assert "Importprofil „Haushalt Kämmerei“ gespeichert" in texts(page)

    page.button(key="up_commit").click().run()
    assert values(db_path) == [
        ("Teststadt", None, "kosten_betrieb_eur", date(2024, 1, 1), 1500.0),
        ("Teststadt", None, "kosten_betrieb_eur", date(2024, 2, 1), 1550.0),
    ]


def test_saved_profile_is_offered_for_next_months_file(page, db_path):
    from kpi.ingest import profiles

    profiles.save_profile(shared_db(), "Haushalt Kämmerei", profiles.ImportProfile(
        sheet="Export", header_row=1, map={"period": "E", "value": "C"},
        set={"kommune": "Teststadt", "kpi": "kosten_betrieb_eur"}, where={"D": "Ist"}), "lotse")
    page.run()
    page.selectbox(key="up_profile_pick").set_value("Haushalt Kämmerei").run()
    upload(page, workbook([("1.1.1.01", "Lizenzen", 1700, "Ist", "2024-03")], header=FOREIGN_HEADER,
                          sheet="Export"), "haushalt_maerz.xlsx")
    assert metric(page, "neu") == "1"
    page.toggle(key="up_manual").set_value(True).run()  # the saved mapping can be adjusted
    assert page.selectbox(key="pf_map_period_0_1").value == "E"
    assert page.selectbox(key="pf_map_kommune_0_1").value == "(fester Wert)"
    assert page.text_input(key="pf_set_kommune").value == "Teststadt"
    assert page.selectbox(key="pf_set_kpi").value == "kosten_betrieb_eur"
    assert (page.selectbox(key="pf_where_col_0").value, page.text_input(key="pf_where_val_0").value) == ("D", "Ist")
    page.button(key="up_commit").click().run()
    assert values(db_path) == [("Teststadt", None, "kosten_betrieb_eur", date(2024, 3, 1), 1700.0)]
    assert shared_db().query("SELECT profile FROM upload") == [("Haushalt Kämmerei",)]


def test_rollback_from_history_with_confirmation(page, db_path):
    upload(page, workbook(GOOD_ROWS))
    page.button(key="up_commit").click().run()
    assert len(values(db_path)) == 3

    history = page.dataframe[-1].value
    assert history["Status"].tolist() == ["aktiv"] and history["Art"].tolist() == ["Datei"]
    page.button(key="rb_ask").click().run()
    assert "Die Werte dieses Uploads werden entfernt" in texts(page)
    assert len(values(db_path)) == 3  # nothing happens before the confirmation
    page.button(key="rb_yes").click().run()
    assert not page.exception, page.exception
    assert values(db_path) == []
    assert uploads(db_path) == [(1, "file", "rolled_back", "entwicklung")]
    assert "Upload 1 zurückgenommen (3 Werte betroffen)." in texts(page)
    assert page.dataframe[-1].value["Status"].tolist() == ["zurückgenommen"]


def test_rollback_can_be_cancelled(page, db_path):
    upload(page, workbook(GOOD_ROWS))
    page.button(key="up_commit").click().run()
    page.button(key="rb_ask").click().run()
    page.button(key="rb_no").click().run()
    assert "Die Werte dieses Uploads werden entfernt" not in texts(page)
    assert uploads(db_path)[0][2] == "active"


def _editor(at):
    eds = at.data_editor
    assert len(eds) == 1, "expected exactly one editor"
    return eds[0]


def test_editor_saves_an_editor_upload_that_can_be_rolled_back(page, db_path):
    upload(page, workbook(GOOD_ROWS))
    page.button(key="up_commit").click().run()

    page.selectbox(key="ed_kommune").set_value("Teststadt").run()
    page.selectbox(key="ed_massnahme").set_value("E-Akte").run()
    page.selectbox(key="ed_kpi").set_value("fallzahl").run()
    page.selectbox(key="ed_hist_period").set_value("Februar 2024").run()
    assert page.dataframe[-2].value["Wert"].tolist() == ["130"]  # cached until the next save
    editor = _editor(page)
    assert editor.value["Zeitraum"].tolist() == ["Januar 2024", "Februar 2024"]
    page.session_state[editor.key] = {
        "edited_rows": {1: {"Wert": 135.0, "Bemerkung": "nachgezählt"}},
        "added_rows": [{"Zeitraum": "März 2024", "Wert": 150.0}],
        "deleted_rows": [],
    }
    page.run()
    assert "Beim Speichern: 1 neuer Wert, 1 geänderter Wert, 0 gelöschte Werte." in texts(page)
    page.button(key="ed_save").click().run()
    assert not page.exception, page.exception
    assert "Gespeichert als Upload 2" in texts(page)
    fallzahl = [(p, v) for _, _, k, p, v in values(db_path) if k == "fallzahl"]
    assert fallzahl == [(date(2024, 1, 1), 120.0), (date(2024, 2, 1), 135.0), (date(2024, 3, 1), 150.0)]
    assert uploads(db_path)[-1] == (2, "editor", "active", "entwicklung")

    # the value's history shows both versions
    page.selectbox(key="ed_hist_period").set_value("Februar 2024").run()
    hist = page.dataframe[-2].value
    assert hist["Wert"].tolist() == ["135", "130"]

    assert [s for s in page.selectbox if s.label == "Upload zurücknehmen"][0].value == 2  # newest first
    page.button(key="rb_ask").click().run()
    page.button(key="rb_yes").click().run()
    fallzahl = [(p, v) for _, _, k, p, v in values(db_path) if k == "fallzahl"]
    assert fallzahl == [(date(2024, 1, 1), 120.0), (date(2024, 2, 1), 130.0)]


def test_editor_refuses_value_outside_range(page, db_path):
    upload(page, workbook(GOOD_ROWS))
    page.button(key="up_commit").click().run()
    page.selectbox(key="ed_kpi").set_value("bitv_score").run()
    editor = _editor(page)
    page.session_state[editor.key] = {"edited_rows": {}, "added_rows": [{"Zeitraum": "März 2024", "Wert": 150.0}],
                                      "deleted_rows": []}
    page.run()
    assert any("außerhalb des zulässigen Bereichs (0 bis 100 Punkte)" in e.value for e in page.error)
    assert page.button(key="ed_save").disabled


HAMBURG_CSV = (
    '"ID";"EPL";"AB";"PG";"Betrag";"Berichtsjahr";"Werttyp";"Erlöse_Kosten"\n'
    '20401;"Senat";"Senatskanzlei";"IT und Digitalisierung";185000,00;"2019";"Plan";"Erlöse"\n'
    '20402;"Senat";"Senatskanzlei";"IT und Digitalisierung";12325874,00;"2019";"Plan";"Kosten"\n'
    '20410;"Senat";"Senatskanzlei";"IT und Digitalisierung";11800000,50;"2017";"Ist";"Kosten"\n'
    '20411;"Senat";"Senatskanzlei";"Bürgerschaftskanzlei";999,00;"2017";"Ist";"Kosten"\n'
).encode()


def test_budget_csv_profile_prefills_recognised_columns_and_filters_rows(page, db_path):
    """Hamburg-style budget export: Betrag/Berichtsjahr are recognised, Kommune and KPI are set,
    and only Ist costs of one Produktgruppe are kept (three filters)."""
    page.file_uploader(key="up_file").set_value(("hamburg.csv", HAMBURG_CSV, "text/csv")).run()
    assert "nicht erkannt" in texts(page)
    assert page.selectbox(key="pf_map_value_0_1").value == "E"  # Betrag
    assert page.selectbox(key="pf_map_period_0_1").value == "F"  # Berichtsjahr
    page.selectbox(key="pf_map_kommune_0_1").set_value("(fester Wert)").run()
    page.text_input(key="pf_set_kommune").input("Hamburg").run()
    page.selectbox(key="pf_map_kpi_0_1").set_value("(fester Wert)").run()
    page.selectbox(key="pf_set_kpi").set_value("kosten_betrieb_eur").run()
    for i, (col, val) in enumerate([("G", "Ist"), ("H", "Kosten"), ("D", "IT und Digitalisierung")]):
        page.selectbox(key=f"pf_where_col_{i}").set_value(col).run()
        page.text_input(key=f"pf_where_val_{i}").input(val).run()
    page.button(key="pf_apply").click().run()
    assert metric(page, "Fehler") == "0" and metric(page, "neu") == "1"
    page.button(key="up_commit").click().run()
    assert values(db_path) == [("Hamburg", None, "kosten_betrieb_eur", date(2017, 1, 1), 11800000.5)]


def test_partial_choice_does_not_carry_over_to_the_next_file(page, db_path):
    broken = GOOD_ROWS + [("Teststadt", "E-Akte", "fallzahl", "2024-03", "zwölf")]
    upload(page, workbook(broken))
    page.checkbox(key="up_partial").check().run()
    upload(page, workbook(broken + [("Teststadt", "E-Akte", "fallzahl", "2024-04", "?")]), "andere.xlsx")
    assert page.checkbox(key="up_partial").value is False
    assert not [b for b in page.button if b.key == "up_commit"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("kaputt.xlsx", workbook(GOOD_ROWS)[:700]),  # truncated zip
        ("bild.xlsx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),  # not a workbook at all
        ("leer.csv", b""),
    ],
)
def test_unreadable_file_is_refused_in_german_without_traceback(page, db_path, name, data):
    upload(page, data, name)
    assert not page.exception
    assert page.error, "a German refusal is expected"
    assert not [b for b in page.button if b.key == "up_commit"]
    assert uploads(db_path) == []
