"""Single-value editor: edited table → changed rows → 'editor' upload, in history, undoable."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from kpi import editing, store
from tests.conftest import frame

SERIES = editing.Series("Musterstadt", "E-Akte", "fallzahl")
TODAY = date(2025, 6, 15)


@pytest.fixture
def db(fresh_db):
    """Musterstadt / E-Akte with fallzahl Jan–Mar 2024 (10, 20, 30) and a BITV score."""
    store.apply(
        fresh_db,
        frame([
            ("Musterstadt", "E-Akte", "fallzahl", "2024-01", 10.0),
            ("Musterstadt", "E-Akte", "fallzahl", "2024-02", 20.0),
            ("Musterstadt", "E-Akte", "fallzahl", "2024-03", 30.0),
            ("Musterstadt", None, "bitv_score", "2024-01", 70.0),
        ]),
        file_name="start.xlsx", user="lotse",
    )
    return fresh_db


def table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(editing.EDITOR_COLUMNS))


def plan(db, edited: pd.DataFrame, series=SERIES) -> editing.EditPlan:
    original = editing.load_series(db, series)
    return editing.plan_edit(series, original, edited, editing.kpi_info(db, series.kpi), today=TODAY)


def current(db, kpi="fallzahl"):
    return db.query(
        "SELECT period, value, note FROM v_measurement WHERE kpi = $k ORDER BY period", {"k": kpi})


def test_load_series_shows_german_periods_oldest_first(db):
    t = editing.load_series(db, SERIES)
    assert list(t.columns) == ["Zeitraum", "Wert", "Bemerkung"]
    assert t["Zeitraum"].tolist() == ["Januar 2024", "Februar 2024", "März 2024"]
    assert t["Wert"].tolist() == [10.0, 20.0, 30.0]


def test_load_series_of_kommune_wide_value_does_not_mix_in_massnahme_values(db):
    t = editing.load_series(db, editing.Series("Musterstadt", None, "bitv_score"))
    assert t["Wert"].tolist() == [70.0]
    assert len(editing.load_series(db, editing.Series("Musterstadt", None, "fallzahl"))) == 0


def test_unchanged_table_plans_nothing(db):
    p = plan(db, editing.load_series(db, SERIES))
    assert p.n_rows == 0 and not p.can_save and p.errors == []


def test_unchanged_plan_is_the_plan_of_the_stored_table_against_itself(db):
    store.apply(db, frame([("Musterstadt", "E-Akte", "fallzahl", "2025-07", 40.0)]), file_name="x.xlsx",
                user="lotse")
    unchanged = editing.plan_unchanged(db, SERIES, TODAY)
    p = plan(db, editing.load_series(db, SERIES))
    assert unchanged.warnings == p.warnings == ["Zeile 4 (Juli 2025): Der Zeitraum liegt in der Zukunft."]
    assert (unchanged.errors, unchanged.n_rows, unchanged.can_save) == (p.errors, p.n_rows, p.can_save)
    pd.testing.assert_frame_equal(unchanged.frame, p.frame)


def test_changed_and_added_rows_become_a_frame_of_only_those_rows(db):
    edited = table([
        ("Januar 2024", 10.0, None),
        ("Februar 2024", 25.0, "nachgezählt"),  # changed
        ("März 2024", 30.0, None),
        ("2024-04", "1.234,5", None),  # new, German text number
    ])
    p = plan(db, edited)
    assert (p.n_new, p.n_changed, p.n_deleted) == (1, 1, 0)
    assert p.errors == [] and p.can_save
    rows = p.frame.sort_values("period_start").to_dict("records")
    assert [(r["period_start"], r["granularity"], r["value"]) for r in rows] == [
        (date(2024, 2, 1), "month", 25.0),
        (date(2024, 4, 1), "month", 1234.5),
    ]
    assert rows[0]["note"] == "nachgezählt" and pd.isna(rows[1]["note"])
    assert {r["kommune"] for r in rows} == {"Musterstadt"} and {r["massnahme"] for r in rows} == {"E-Akte"}


def test_a_changed_note_alone_is_a_change(db):
    edited = editing.load_series(db, SERIES)
    edited.loc[0, "Bemerkung"] = "geprüft"
    p = plan(db, edited)
    assert p.n_changed == 1 and p.frame["note"].tolist() == ["geprüft"]


def test_emptied_value_and_removed_row_delete_values(db):
    edited = table([("Januar 2024", None, None), ("Februar 2024", 20.0, None)])  # März removed
    p = plan(db, edited)
    assert p.n_deleted == 2 and p.can_save
    assert p.frame["value"].isna().all()
    assert sum("wird gelöscht" in w for w in p.warnings) == 2


def test_editors_empty_new_row_is_ignored(db):
    edited = editing.load_series(db, SERIES)
    edited.loc[len(edited)] = [None, None, None]
    assert plan(db, edited).n_rows == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("Mätz 2024", 5.0, None), "Zeile 4: „Mätz 2024“ ist kein Zeitraum"),
        ((None, 5.0, None), "Zeile 4: Der Zeitraum fehlt"),
        (("April 2024", "zwölf", None), "Zeile 4 (April 2024): „zwölf“ ist keine Zahl."),
        (("April 2024", None, None), "Zeile 4 (April 2024): Der Wert fehlt."),
        (("2024-01", 11.0, None), "Zeile 4 (Januar 2024): Der Zeitraum steht schon in Zeile 1."),
        (("April 2024", -3.0, None), "Zeile 4 (April 2024): −3 liegt außerhalb des zulässigen Bereichs (ab 0 Anzahl)"),
    ],
)
def test_bad_rows_give_german_errors_and_nothing_to_save(db, row, message):
    edited = pd.concat([editing.load_series(db, SERIES), table([row])], ignore_index=True)
    p = plan(db, edited)
    assert not p.can_save and len(p.frame) == 0
    assert any(e.startswith(message) for e in p.errors), p.errors


def test_value_above_kpi_maximum_is_an_error(db):
    series = editing.Series("Musterstadt", None, "bitv_score")  # range 0..100 Punkte
    p = plan(db, table([("Januar 2024", 120.0, None)]), series)
    assert p.errors == [
        "Zeile 1 (Januar 2024): 120 liegt außerhalb des zulässigen Bereichs (0 bis 100 Punkte) "
        "für „BITV-Test-Ergebnis (0–100 Punkte)“."
    ]


def test_quarter_and_year_periods_keep_their_granularity(db):
    edited = pd.concat(
        [editing.load_series(db, SERIES), table([("1. Quartal 2023", 60.0, None), ("2022", 200.0, None)])],
        ignore_index=True,
    )
    p = plan(db, edited)
    assert sorted(zip(p.frame["period_start"], p.frame["granularity"], strict=True)) == [
        (date(2022, 1, 1), "year"), (date(2023, 1, 1), "quarter")]


def test_future_period_is_a_warning_not_an_error(db):
    edited = pd.concat([editing.load_series(db, SERIES), table([("Juli 2025", 5.0, None)])],
                       ignore_index=True)
    p = plan(db, edited)
    assert p.can_save and p.warnings == ["Zeile 4 (Juli 2025): Der Zeitraum liegt in der Zukunft."]


def test_save_creates_editor_upload_in_history_and_rollback_restores(db):
    edited = table([("Januar 2024", 10.0, None), ("Februar 2024", 22.0, None), ("März 2024", 30.0, None),
                    ("April 2024", 40.0, None)])
    p = plan(db, edited)
    counts = editing.save_edit(db, SERIES, p, user="Frau Lotse")
    assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 0)
    assert [v for _, v, _ in current(db)] == [10.0, 22.0, 30.0, 40.0]

    uploads = store.list_uploads(db)
    newest = uploads.iloc[0]
    assert (newest["kind"], newest["uploaded_by"], newest["upload_id"]) == ("editor", "Frau Lotse", counts.upload_id)
    assert newest["file_name"] == "Eingabe im Browser: Musterstadt / E-Akte / fallzahl"

    history = store.value_history(db, "Musterstadt", "E-Akte", "fallzahl", date(2024, 2, 1))
    assert history["value"].tolist() == [22.0, 20.0]

    store.rollback(db, counts.upload_id, user="Frau Lotse")
    assert [v for _, v, _ in current(db)] == [10.0, 20.0, 30.0]


def test_save_refuses_a_plan_with_errors(db):
    p = plan(db, table([("Quatsch", 1.0, None)]))
    with pytest.raises(ValueError, match="nichts gespeichert"):
        editing.save_edit(db, SERIES, p, user="x")
    assert len(store.list_uploads(db)) == 1


def test_uploads_table_is_german(db):
    uid = store.apply(db, frame([("Musterstadt", "E-Akte", "fallzahl", "2024-01", 11.0)]),
                      file_name="korrektur.xlsx", user="lotse").upload_id
    store.rollback(db, uid, user="chef")
    t = editing.uploads_de(store.list_uploads(db))
    assert list(t.columns) == ["Nr.", "Zeitpunkt", "Datei / Quelle", "Art", "Von", "Zeilen", "neu",
                               "geändert", "unverändert", "Warnungen", "Status", "zurückgenommen"]
    assert t["Status"].tolist() == ["zurückgenommen", "aktiv"]
    assert t["Art"].tolist() == ["Datei", "Datei"]
    assert t.loc[0, "zurückgenommen"].endswith(" Uhr von chef")
    assert t.loc[1, "zurückgenommen"] == ""
    assert t.loc[1, "Zeitpunkt"][2] == "." and t.loc[1, "Zeitpunkt"].endswith(" Uhr")


def test_value_history_table_marks_deletion(db):
    p = plan(db, table([("Januar 2024", None, None), ("Februar 2024", 20.0, None), ("März 2024", 30.0, None)]))
    editing.save_edit(db, SERIES, p, user="lotse")
    t = editing.value_history_de(store.value_history(db, "Musterstadt", "E-Akte", "fallzahl", date(2024, 1, 1)))
    assert t["Wert"].tolist() == ["gelöscht", "10"]
    assert t["Status"].tolist() == ["aktiv", "aktiv"]


def test_value_counts_per_kpi_for_one_massnahme(db):
    assert editing.value_counts(db, "Musterstadt", "E-Akte") == {"fallzahl": 3}
    assert editing.value_counts(db, "Musterstadt", None) == {"bitv_score": 1}
    assert editing.value_counts(db, "Nirgendwo", None) == {}
