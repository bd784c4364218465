"""Versioned store: one transaction per load, idempotent re-upload, replace + history + rollback."""

from __future__ import annotations

from datetime import date

import pytest

from kpi import store
from tests.conftest import frame


def current(db):
    return db.query(
        "SELECT kommune, massnahme, kpi, period, value FROM v_measurement ORDER BY ALL"
    )


def test_first_upload_inserts_and_counts(fresh_db):
    counts = store.apply(
        fresh_db,
        frame([("Musterstadt", "E-Akte", "fallzahl", "2024-01", 10.0),
               ("Musterstadt", None, "fallzahl", "2024-01", 99.0)]),
        file_name="a.xlsx", raw_bytes=b"a",
    )
    assert (counts.inserted, counts.updated, counts.unchanged) == (2, 0, 0)
    assert counts.new_kommunen == 1 and counts.new_massnahmen == 1
    assert current(fresh_db) == [
        ("Musterstadt", "E-Akte", "fallzahl", date(2024, 1, 1), 10.0),
        ("Musterstadt", None, "fallzahl", date(2024, 1, 1), 99.0),
    ]


def test_reupload_of_same_file_changes_nothing(fresh_db):
    f = frame([("A", "M", "fallzahl", "2024-01", 10.0)])
    first = store.apply(fresh_db, f, file_name="a.xlsx", raw_bytes=b"same")
    version = fresh_db.data_version()
    again = store.apply(fresh_db, f, file_name="a.xlsx", raw_bytes=b"same")
    assert again.upload_id is None and again.duplicate_of == first.upload_id
    assert again.unchanged == 1 and again.changes == 0
    assert fresh_db.query("SELECT count(*) FROM upload")[0][0] == 1
    assert fresh_db.query("SELECT count(*) FROM measurement_history")[0][0] == 1
    assert fresh_db.data_version() == version + 1  # the no-op transaction only bumps the counter


def test_preview_counts_without_writing(fresh_db):
    store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 10.0)]), file_name="a")
    counts = store.preview(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 11.0),
                                            ("A", "M", "fallzahl", "2024-02", 12.0),
                                            ("B", "X", "fallzahl", "2024-02", 1.0)]))
    assert (counts.inserted, counts.updated, counts.unchanged) == (2, 1, 0)
    assert counts.new_kommunen == 1
    assert current(fresh_db) == [("A", "M", "fallzahl", date(2024, 1, 1), 10.0)]
    assert fresh_db.query("SELECT count(*) FROM kommune")[0][0] == 1


def test_correction_replaces_value_and_keeps_history_and_rollback_restores(fresh_db):
    first = store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 10.0)]), file_name="a")
    second = store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 12.5)]), file_name="b")
    assert second.updated == 1
    assert current(fresh_db)[0][-1] == 12.5
    hist = store.value_history(fresh_db, "A", "M", "fallzahl", date(2024, 1, 1))
    assert list(hist["value"]) == [12.5, 10.0]
    assert store.rollback(fresh_db, second.upload_id) == 1
    assert current(fresh_db)[0][-1] == 10.0
    assert current(fresh_db) and fresh_db.query(
        "SELECT upload_id FROM measurement")[0][0] == first.upload_id
    with pytest.raises(store.RollbackError, match="bereits zurückgenommen"):
        store.rollback(fresh_db, second.upload_id)


def test_rolling_back_an_older_upload_keeps_the_newer_value(fresh_db):
    a = store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 1.0)]), file_name="a")
    store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 2.0)]), file_name="b")
    store.rollback(fresh_db, a.upload_id)
    assert current(fresh_db)[0][-1] == 2.0


def test_rolling_back_the_only_upload_removes_its_values(fresh_db):
    a = store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 1.0)]), file_name="a")
    store.rollback(fresh_db, a.upload_id)
    assert current(fresh_db) == []


def test_none_value_deletes_and_is_undoable(fresh_db):
    store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 1.0)]), file_name="a")
    d = store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", None)]), file_name="edit")
    assert d.deleted == 1 and current(fresh_db) == []
    store.rollback(fresh_db, d.upload_id)
    assert current(fresh_db)[0][-1] == 1.0


def test_failure_mid_load_leaves_nothing(fresh_db, monkeypatch):
    def boom(cur, upload_id, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_apply_current", boom)
    with pytest.raises(RuntimeError):
        store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", 1.0)]), file_name="a")
    for table in ("kommune", "massnahme", "upload", "measurement_history", "measurement", "audit"):
        assert fresh_db.query(f"SELECT count(*) FROM {table}")[0][0] == 0, table


def test_current_values_always_equal_newest_active_version_in_history(fresh_db):
    """The fast path of a load and the full recompute of a rollback agree with the history."""
    import random

    rng = random.Random(7)
    ids = []
    for n in range(30):
        rows = [("A", rng.choice(["M1", "M2", None]), "fallzahl", f"2024-{rng.randint(1, 4):02d}",
                 rng.choice([None, 1.0, 2.0, float(n)])) for _ in range(6)]
        counts = store.apply(fresh_db, frame(rows), file_name=f"f{n}")
        if counts.upload_id:
            ids.append(counts.upload_id)
        if ids and rng.random() < 0.3:
            store.rollback(fresh_db, ids.pop(rng.randrange(len(ids))))
    expected = fresh_db.query(
        """
        SELECT kommune_id, massnahme_id, kpi, period_start, value FROM (
            SELECT h.*, row_number() OVER (PARTITION BY kommune_id, coalesce(massnahme_id, -1), kpi,
                   period_start, granularity ORDER BY h.upload_id DESC) AS rn
            FROM measurement_history h JOIN upload u USING (upload_id) WHERE u.status = 'active')
        WHERE rn = 1 AND value IS NOT NULL ORDER BY ALL
        """
    )
    actual = fresh_db.query(
        "SELECT kommune_id, massnahme_id, kpi, period_start, value FROM measurement ORDER BY ALL")
    assert actual == expected and len(actual) > 0


def test_nonfinite_values_are_refused_by_the_schema(fresh_db):
    import duckdb

    with pytest.raises(duckdb.ConstraintException):
        store.apply(fresh_db, frame([("A", "M", "fallzahl", "2024-01", float("inf"))]), file_name="a")
    assert fresh_db.query("SELECT count(*) FROM upload")[0][0] == 0


def test_reference_data_upserts_master_data(fresh_db):
    import pandas as pd

    p = store.Payload(
        kommunen=pd.DataFrame({"name": ["A"], "ags": ["09162000"], "einwohner": [1500]}),
        massnahmen=pd.DataFrame({"kommune": ["A"], "name": ["M"], "handlungsfeld": ["Verwaltung"],
                                 "start_date": [date(2023, 1, 1)], "golive_date": [date(2023, 6, 1)]}),
    )
    store.apply_payload(fresh_db, p, file_name="stamm.xlsx")
    assert fresh_db.query("SELECT name, ags, einwohner FROM kommune") == [("A", "09162000", 1500)]
    assert fresh_db.query("SELECT name, golive_date, laufbahn FROM massnahme") == [
        ("M", date(2023, 6, 1), "gehoben")]


def test_last_row_of_a_repeated_key_wins_within_one_frame(fresh_db):
    f = frame([("A", "M", "fallzahl", "2024-01", 1.0), ("A", None, "fallzahl", "2024-01", 5.0),
               ("A", "M", "fallzahl", "2024-01", 2.0), ("A", None, "fallzahl", "2024-01", 6.0)])
    counts = store.apply(fresh_db, f, file_name="a.xlsx")
    assert (counts.rows, counts.inserted) == (4, 2)
    assert current(fresh_db) == [("A", "M", "fallzahl", date(2024, 1, 1), 2.0),
                                 ("A", None, "fallzahl", date(2024, 1, 1), 6.0)]
    assert fresh_db.query("SELECT count(*) FROM measurement_history")[0][0] == 2


def test_frame_known_to_have_unique_keys_loads_alike(fresh_db):
    rows = [("A", "M", "fallzahl", "2024-01", 1.0), ("A", None, "fallzahl", "2024-01", 5.0),
            ("B", "M", "fallzahl", "2024-02", 2.0)]
    assert store.preview(fresh_db, frame(rows), keys_unique=True).inserted == 3
    counts = store.apply_payload(fresh_db, store.Payload(measurements=frame(rows)), file_name="a.xlsx",
                                 keys_unique=True)
    assert counts.inserted == 3 and len(current(fresh_db)) == 3


def test_validation_tells_whether_keys_repeat():
    from kpi.ingest.pipeline import analyse
    from tests.test_ingest_layouts import make_xlsx

    head = ("Kommune", "Maßnahme", "Kennzahl", "Monat", "Wert")
    once = analyse(make_xlsx({"D": [head, ("A", "M", "fallzahl", "2024-01", 1),
                                    ("A", "M", "fallzahl", "2024-02", 2)]}), "a.xlsx")
    twice = analyse(make_xlsx({"D": [head, ("A", "M", "fallzahl", "2024-01", 1),
                                     ("A", "M", "fallzahl", "Jan 2024", 2)]}), "b.xlsx")
    assert once.keys_unique and not twice.keys_unique
