"""Cells the readers hide are reported, never silently dropped: uncached formulas, error values, long names."""

from __future__ import annotations

from kpi.ingest.pipeline import analyse
from tests.corpus import make_corpus as corpus


def texts(result, level):
    return [i.text_de() for i in result.issues if i.level == level]


def test_formula_without_cached_value_is_named_with_its_cell():
    result = analyse(corpus.formulas_uncached(), "formeln.xlsx")
    assert texts(result, "warning") == [
        "Blatt „Daten“, Zelle E2: Formel ohne gespeicherten Wert: der Wert fehlt. Datei in Excel öffnen, "
        "neu berechnen lassen und speichern.",
        "Blatt „Daten“, Zelle E3: Formel ohne gespeicherten Wert: der Wert fehlt. Datei in Excel öffnen, "
        "neu berechnen lassen und speichern.",
    ]
    assert result.n_rows_read == 4  # the two rows without a value are not loaded as 0


def test_error_cells_are_named_with_their_error_value():
    result = analyse(corpus.error_cells(), "fehler.xlsx")
    assert texts(result, "warning") == [
        "Blatt „Daten“, Zelle E2: Fehlerwert „#DIV/0!“ in der Zelle: kein Wert übernommen.",
        "Blatt „Daten“, Zelle E3: Fehlerwert „#N/A“ in der Zelle: kein Wert übernommen.",
    ]


def test_a_text_pasted_as_name_is_an_error_in_its_cell():
    result = analyse(corpus.long_strings(), "lang.xlsx")
    assert texts(result, "error") == [
        "Blatt „Daten“, Zelle B2: Name der Maßnahme ist 20.009 Zeichen lang (höchstens 200); "
        "steht hier ein Text statt eines Namens?"
    ]
    assert result.has_errors


def test_plain_workbook_has_no_cell_findings():
    result = analyse(corpus.valid_xlsx(), "gut.xlsx")
    assert not result.issues


def test_guard_tells_which_sheets_need_no_second_look():
    from kpi.ingest.cells import workbook_cell_findings
    from kpi.ingest.guard import inspect_upload

    sheet = "xl/worksheets/sheet1.xml"
    assert sheet in inspect_upload(corpus.valid_xlsx(), "gut.xlsx").plain_parts
    for data in (corpus.formulas_uncached(), corpus.error_cells()):
        plain = inspect_upload(data, "f.xlsx").plain_parts
        assert sheet not in plain
        assert workbook_cell_findings(data, plain) == workbook_cell_findings(data)


def test_a_tag_split_between_scan_pieces_is_never_called_plain(monkeypatch):
    from kpi.ingest import guard

    # a long run without '<' forces the guard to cut inside a tag: it must not vouch for that part
    monkeypatch.setattr(guard, "_CHUNK", 64)
    rows = corpus.valid_rows() + [["Musterstadt", "M" * 300, "fallzahl", "2024-01", 1]]
    data = corpus.xlsx({"Daten": corpus.sheet_xml(rows)})
    assert "xl/worksheets/sheet1.xml" not in guard.inspect_upload(data, "x.xlsx").plain_parts
