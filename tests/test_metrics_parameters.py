"""Dated parameter versions: in force on a date, validation with German messages, audit."""

from __future__ import annotations

from datetime import date

import pytest

from kpi.metrics import parameters as p


def test_seeded_example_values_are_marked(fresh_db):
    cur = p.current_parameters(fresh_db)
    assert cur["discount_rate"].value == 0.03 and cur["discount_rate"].is_example
    assert "(Beispielwert)" in cur["wage_rate_gehoben"].source_de


def test_version_in_force_by_date(fresh_db):
    pid = p.add_parameter_version(fresh_db, "wage_rate_gehoben", 60.0, date(2024, 1, 1), "Tabelle 2024", "anna")
    assert p.current_parameters(fresh_db, date(2023, 12, 31))["wage_rate_gehoben"].value == 51.30
    v = p.current_parameters(fresh_db, date(2024, 1, 1))["wage_rate_gehoben"]
    assert (v.parameter_id, v.value, v.is_example) == (pid, 60.0, False)
    # same valid_from again: the newer version wins
    p.add_parameter_version(fresh_db, "wage_rate_gehoben", 61.0, date(2024, 1, 1), "Korrektur", "anna")
    assert p.current_parameters(fresh_db, date(2024, 6, 1))["wage_rate_gehoben"].value == 61.0
    table = p.parameter_table(fresh_db)
    assert len(table[table["key"] == "wage_rate_gehoben"]) == 3
    assert fresh_db.query("SELECT count(*) FROM audit WHERE action = 'parameter'")[0][0] == 2


@pytest.mark.parametrize("key, value, message", [
    ("discount_rate", 3, "als Anteil"),
    ("wage_rate_mittel", 0, "größer als 0"),
    ("cost_per_page_eur", -1, "nicht negativ"),
    ("fte_hours_per_year", 9000, "zwischen 0 und 8.760"),
    ("zins", 0.03, "Unbekannter Parameter"),
    ("discount_rate", "drei", "keine Zahl"),
])
def test_invalid_values_are_rejected_in_german(fresh_db, key, value, message):
    with pytest.raises(p.ParameterError, match=message):
        p.add_parameter_version(fresh_db, key, value, date(2024, 1, 1), None, "anna")
    assert fresh_db.query("SELECT count(*) FROM parameter WHERE created_by = 'anna'")[0][0] == 0
