"""Ratsvorlage PDF: pages, German text, filter values, headline figures, method box, CLI."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from kpi import report
from kpi.cli import main
from kpi.db import open_database
from kpi.filters import Filters
from kpi.fmt import date_de, eur_de, pct_de

pytestmark = pytest.mark.skipif(
    not any((d / "DejaVuSans.ttf").is_file() for d in report.FONT_DIRS),
    reason="DejaVu Sans not installed (Debian fonts-dejavu-core)",
)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    """A demo database file shared by this module's tests (the PDF build renders charts: slow-ish)."""
    from kpi import demo

    path = tmp_path_factory.mktemp("report") / "demo.duckdb"
    db = open_database(path)
    demo.load_demo(db)
    db.close()
    return path


@pytest.fixture(scope="module")
def musterstadt_pdf(demo_file):
    db = open_database(demo_file)
    try:
        kommune = "Musterstadt"
        filters = Filters(kommune=(kommune,))
        data, pages = report.build_pdf(db, filters, user="Frau Beispiel")
        facts = report.report_data(db, filters)
        stand = db.query("SELECT max(uploaded_at) FROM upload WHERE status = 'active'")[0][0]
    finally:
        db.close()
    return data, pages, facts, stand


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def _squash(text: str) -> str:
    # text extraction may break lines and turn non-breaking spaces into plain ones
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def test_pdf_page_count_and_numbers_agree(musterstadt_pdf):
    data, pages, _, _ = musterstadt_pdf
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == pages
    assert 2 <= pages <= 8
    text = _squash(_text(data))
    assert f"Seite 1 von {pages}" in text and f"Seite {pages} von {pages}" in text


def test_pdf_names_kommune_stand_and_filters(musterstadt_pdf):
    data, _, _, stand = musterstadt_pdf
    text = _squash(_text(data))
    assert "Wirkung der Digitalisierung" in text and "Musterstadt" in text
    assert f"Stand: {date_de(stand)}" in text
    for label in ("Kommune", "Handlungsfeld", "Maßnahme", "Zeitraum von", "Zeitraster"):
        assert label in text
    assert "Frau Beispiel" in text


def test_pdf_shows_the_headline_figures_of_the_engine(musterstadt_pdf):
    data, _, facts, _ = musterstadt_pdf
    text = _squash(_text(data))
    total = facts["total"]
    assert _squash(eur_de(total.net_benefit_eur)) in text
    assert _squash(eur_de(total.npv_eur)) in text
    assert f"abgezinst mit {_squash(pct_de(total.discount_rate, 1))}" in text
    for r in facts["results"]:
        assert r.massnahme in text
        assert _squash(eur_de(r.costs_eur)) in text


def test_pdf_method_box_lists_discount_and_wage_rates_with_dates(musterstadt_pdf):
    data, _, facts, _ = musterstadt_pdf
    text = _squash(_text(data))
    assert "Methode" in text and "Standardkostenmodell" in text
    for label, _value, valid_from, _ in facts["parameters"]:
        assert label.split(" (")[0] in text
        assert f"gültig ab {date_de(valid_from)}" in text
    assert "Lohnkostensatz gehobener Dienst" in text
    assert "Kalkulationszinssatz" in text


def test_pdf_is_german_with_title_language_and_chart_alt_texts(musterstadt_pdf):
    data, _, _, _ = musterstadt_pdf
    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "de-DE"
    assert reader.metadata.title.startswith("Ratsvorlage")
    raw = data.decode("latin-1")
    assert "/StructTreeRoot" in raw and "/Figure" in raw  # charts carry alternative text
    assert "€" in _text(data) and "ß" in _text(data)


def test_parameter_table_uses_version_in_force(fresh_db):
    from datetime import date

    fresh_db.query("INSERT INTO parameter (key, value, valid_from, source) "
                   "VALUES ('discount_rate', 0.025, DATE '2030-01-01', 'künftig')")
    rows = {label: (value, vf) for label, value, vf, _ in report.parameter_table(fresh_db, date(2026, 1, 1))}
    assert rows["Kalkulationszinssatz"] == (0.03, date(2000, 1, 1))
    rows = {label: (value, vf) for label, value, vf, _ in report.parameter_table(fresh_db, date(2031, 1, 1))}
    assert rows["Kalkulationszinssatz"] == (0.025, date(2030, 1, 1))


def test_report_without_matching_massnahmen_still_has_filters_and_method(fresh_db):
    data, pages = report.build_pdf(fresh_db, Filters(kommune=("Nirgendwo",)))
    text = _squash(_text(data))
    assert pages >= 1 and "Nirgendwo" in text and "keine Maßnahmen" in text and "Methode" in text


def test_cli_report_writes_pdf_and_reports_pages(demo_file, tmp_path, capsys):
    out = tmp_path / "rat.pdf"
    code = main(["report", "--db", str(demo_file), "--out", str(out), "--kommune", "Musterstadt",
                 "--massnahme", "E-Akte Bauamt"])
    assert code == 0
    msg = capsys.readouterr().out
    pages = len(PdfReader(out).pages)
    assert f"({pages} Seiten)" in msg
    text = _squash(_text(out.read_bytes()))
    assert "E-Akte Bauamt" in text and "Online-Antrag Wohngeld" not in text
    assert main(["report", "--db", str(demo_file), "--out", str(tmp_path / "nope" / "x.pdf")]) == 1
    assert "existiert nicht" in capsys.readouterr().err


def test_importing_the_module_leaves_fpdf_for_the_first_pdf():
    # Daten & Export imports kpi.report on its first render; fpdf takes ~0,5 s to import
    import subprocess
    import sys

    code = "import sys, kpi.report; print('fpdf' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
