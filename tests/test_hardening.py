"""DuckDB hardening: SQL cannot reach files, configuration is locked, Python registration works,
CHECK constraints catch what DuckDB would otherwise coerce silently."""

from __future__ import annotations

import math

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from kpi import store
from kpi.db import open_database
from kpi.export import export_tmp_root
from tests.conftest import frame


@pytest.fixture
def file_db(tmp_path):
    db = open_database(tmp_path / "kpi.duckdb")
    yield db
    db.close()


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "COPY measurement TO '/etc/kpi_evil.csv'",
    "COPY measurement TO '/tmp/kpi_evil.csv'",
    "ATTACH '/tmp/kpi_evil.duckdb' AS evil",
    "INSTALL httpfs",
    "LOAD httpfs",
])
def test_sql_cannot_reach_the_file_system(file_db, sql):
    with pytest.raises(duckdb.Error) as info:
        file_db.cursor().execute(sql)
    assert "root:" not in str(info.value)


def test_path_traversal_out_of_the_allowed_directory_is_refused(file_db):
    with pytest.raises(duckdb.PermissionException):
        file_db.cursor().execute(f"SELECT * FROM read_csv('{export_tmp_root()}/../../etc/passwd')")


def test_configuration_is_locked(file_db):
    for sql in ("SET enable_external_access = true", "SET lock_configuration = false",
                "SET allowed_directories = ['/']", "RESET enable_external_access"):
        with pytest.raises(duckdb.Error, match="locked"):
            file_db.cursor().execute(sql)
    settings = dict(file_db.query(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration')"))
    assert settings == {"enable_external_access": "false", "lock_configuration": "true"}


def test_copy_into_the_private_export_directory_still_works(file_db):
    store.apply(file_db, frame([("Musterstadt", None, "fallzahl", "2024-01", 7.0)]), file_name="a.csv")
    target = export_tmp_root() / "probe.csv"
    try:
        file_db.cursor().execute(f"COPY (SELECT kommune, value FROM v_measurement) TO '{target}'")
        assert target.read_text(encoding="utf-8").splitlines() == ["kommune,value", "Musterstadt,7.0"]
    finally:
        target.unlink(missing_ok=True)


def test_python_registration_of_arrow_and_pandas_still_works(file_db):
    cur = file_db.cursor()
    cur.register("arrow_in", pa.table({"x": [1.5, 2.5]}))
    cur.register("pandas_in", pd.DataFrame({"x": [3.0]}))
    assert cur.execute("SELECT (SELECT sum(x) FROM arrow_in) + (SELECT sum(x) FROM pandas_in)").fetchone()[0] == 7.0
    # a load (which registers Arrow tables internally) works end to end on the hardened connection
    counts = store.apply(file_db, frame([("Musterstadt", None, "fallzahl", "2024-02", 4.0)]), file_name="b.csv")
    assert counts.inserted == 1


def test_data_survives_reopen_and_checkpoint(tmp_path):
    path = tmp_path / "kpi.duckdb"
    with open_database(path) as db:
        store.apply(db, frame([("Musterstadt", None, "fallzahl", "2024-03", 9.0)]), file_name="c.csv")
        assert db.checkpoint() is True
    with open_database(path) as db:
        assert db.query("SELECT value FROM v_measurement")[0][0] == 9.0


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_check_constraints_refuse_non_finite_values(fresh_db, bad):
    # as Arrow (pandas would turn NaN into a missing value, see below), so NaN reaches SQL as NaN
    table = store.to_arrow(frame([("Musterstadt", None, "fallzahl", "2024-01", 1.0)]))
    table = table.set_column(5, "value", pa.array([bad], pa.float64()))
    with pytest.raises(duckdb.ConstraintException):
        store.apply(fresh_db, table, file_name="x.csv")
    # all or nothing: neither the upload row nor the new Kommune stayed
    assert fresh_db.query("SELECT count(*) FROM upload")[0][0] == 0
    assert fresh_db.query("SELECT count(*) FROM kommune")[0][0] == 0


@pytest.mark.parametrize("sql", [
    "INSERT INTO plan VALUES (1, 1989, 0, 0)",
    "INSERT INTO score VALUES (1, 'Nutzen', 11)",
    "INSERT INTO criterion VALUES ('x', 101, 1)",
    "INSERT INTO parameter (key, value, valid_from) VALUES ('k', 'inf'::DOUBLE, DATE '2024-01-01')",
    "INSERT INTO kommune (name, ags) VALUES ('X', '123')",
    "INSERT INTO kommune (name) VALUES ('   ')",
    "INSERT INTO upload (file_name, status) VALUES ('x', 'halb')",
])
def test_check_constraints_refuse_out_of_range_rows(fresh_db, sql):
    with pytest.raises(duckdb.ConstraintException):
        with fresh_db.transaction() as cur:
            cur.execute(sql)


def test_integer_coercion_is_why_plan_year_is_checked(fresh_db):
    # DuckDB rounds 2024.7 into an INTEGER column (2025) instead of refusing: the range CHECK
    # cannot see the fraction, so loaders must validate years before SQL (documented here).
    with fresh_db.transaction() as cur:
        cur.execute("INSERT INTO plan VALUES (1, 2024.7, 0, 0)")
    assert fresh_db.query("SELECT year FROM plan")[0][0] == 2025


def test_nan_from_pandas_is_a_missing_value_not_a_number(fresh_db):
    counts = store.apply(fresh_db, frame([("Musterstadt", None, "fallzahl", "2024-01", math.nan)]),
                         file_name="x.csv")
    assert counts.upload_id is None  # nothing to load: a missing value deletes nothing that exists
    assert fresh_db.query("SELECT count(*) FROM measurement")[0][0] == 0
