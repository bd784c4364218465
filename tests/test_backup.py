"""Backup/restore round trip, overwrite protection, and the audit log's read side."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from kpi import audit as audit_log_mod
from kpi import backup, store
from kpi.cli import main
from kpi.db import audit, open_database, raw_dir
from tests.conftest import frame

TABLES_TO_COMPARE = ["measurement", "measurement_history", "upload", "kommune", "massnahme",
                     "parameter", "target", "audit", "kpi"]


@pytest.fixture
def small_db(tmp_path):
    """A file database with two uploads (one rolled back) and a raw file beside it."""
    db = open_database(tmp_path / "live" / "kpi.duckdb")
    store.apply(db, frame([("Neustadt", "E-Akte", "fallzahl", "2024-01", 10.0),
                           ("Neustadt", "E-Akte", "fallzahl", "2024-02", 12.5)]),
                file_name="jan.xlsx", user="lotse", raw_bytes=b"PK-fake-workbook-1")
    store.apply(db, frame([("Neustadt", "E-Akte", "fallzahl", "2024-02", 99.0)]),
                file_name="korrektur.xlsx", user="lotse", raw_bytes=b"PK-fake-workbook-2")
    store.rollback(db, 2, user="lotse")
    yield db
    db.close()


def _snapshot(con, table):
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = $t ORDER BY column_index",
        {"t": table}).fetchall()]
    return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr), cols


def test_backup_then_restore_gives_same_tables_rows_and_values(small_db, tmp_path):
    before = {t: _snapshot(small_db.cursor(), t) for t in TABLES_TO_COMPARE}
    folder = backup.backup(small_db, tmp_path / "sicherungen", user="admin")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tables"]["measurement"] == 2 and manifest["tables"]["upload"] == 2
    assert manifest["raw_files"] == 2

    target = backup.restore(folder, tmp_path / "neu" / "kpi.duckdb", user="admin")
    with open_database(target) as restored:
        cur = restored.cursor()
        for table in TABLES_TO_COMPARE:
            rows, cols = _snapshot(cur, table)
            if table == "audit":  # the restore adds its own entry on top of the copied ones
                assert rows[: len(before[table][0])] == before[table][0] or set(before[table][0]) <= set(rows)
                assert len(rows) == len(before[table][0]) + 1
            else:
                assert (rows, cols) == before[table], table
        assert cur.execute("SELECT value FROM measurement WHERE period_start = DATE '2024-02-01'"
                           ).fetchall() == [(12.5,)]  # the rollback survived the round trip
        # sequences continue after the restored ids: a new upload does not collide
        store.apply(restored, frame([("Neustadt", "E-Akte", "fallzahl", "2024-03", 7.0)]),
                    file_name="maerz.xlsx", user="lotse")
        assert cur.execute("SELECT max(upload_id) FROM upload").fetchone()[0] == 3
    assert sorted(p.name for p in raw_dir(target).iterdir()) == sorted(
        p.name for p in raw_dir(small_db.path).iterdir())


def test_restore_refuses_to_overwrite_without_force(small_db, tmp_path):
    folder = backup.backup(small_db, tmp_path / "s")
    existing = tmp_path / "other.duckdb"
    with open_database(existing) as other:
        store.apply(other, frame([("Altstadt", None, "fallzahl", "2023-01", 1.0)]), file_name="x.csv")
    size = existing.stat().st_size
    with pytest.raises(backup.BackupError, match="existiert bereits"):
        backup.restore(folder, existing)
    assert existing.stat().st_size == size
    assert not existing.with_name("other.duckdb.bak").exists()


def test_restore_with_force_keeps_the_old_file_as_bak(small_db, tmp_path):
    folder = backup.backup(small_db, tmp_path / "s")
    existing = tmp_path / "other.duckdb"
    with open_database(existing) as other:
        store.apply(other, frame([("Altstadt", None, "fallzahl", "2023-01", 1.0)]), file_name="x.csv")
    backup.restore(folder, existing, force=True)
    with open_database(existing) as db:
        assert [r[0] for r in db.query("SELECT name FROM kommune")] == ["Neustadt"]
    with open_database(existing.with_name("other.duckdb.bak")) as old:
        assert [r[0] for r in old.query("SELECT name FROM kommune")] == ["Altstadt"]


def test_restore_refuses_while_the_database_is_open(small_db, tmp_path):
    folder = backup.backup(small_db, tmp_path / "s")
    with pytest.raises(backup.BackupError, match="wird gerade verwendet"):
        backup.restore(folder, small_db.path, force=True)
    assert small_db.query("SELECT count(*) FROM measurement")[0][0] == 2


def test_incomplete_backup_is_refused_and_target_untouched(small_db, tmp_path):
    folder = backup.backup(small_db, tmp_path / "s")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["tables"]["measurement"] = 3  # as if a file had been truncated
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    target = tmp_path / "neu.duckdb"
    with pytest.raises(backup.BackupError, match="unvollständig.*measurement: 2 statt 3"):
        backup.restore(folder, target)
    assert not target.exists()


def test_restore_from_zip(small_db, tmp_path):
    folder = backup.backup(small_db, tmp_path / "s")
    zpath = backup.zip_backup(folder)
    target = backup.restore(zpath, tmp_path / "ausZip.duckdb")
    with open_database(target) as db:
        assert db.query("SELECT count(*) FROM measurement")[0][0] == 2


def test_backup_works_when_the_live_connection_has_no_file_access(tmp_path):
    # The hardened app connection may not touch files; the backup copies the file in Python and
    # exports from the copy through its own connection.
    db = open_database(tmp_path / "hart.duckdb")
    store.apply(db, frame([("Neustadt", None, "fallzahl", "2024-01", 3.0)]), file_name="a.csv")
    try:
        db.cursor().execute("SET enable_external_access = false")
    except duckdb.Error:
        pass  # open_database already hardened the connection and locked the configuration
    with pytest.raises(duckdb.Error):
        db.cursor().execute(f"COPY measurement TO '{tmp_path / 'x.csv'}'")
    folder = backup.backup(db, tmp_path / "s")
    assert json.loads((folder / "manifest.json").read_text())["tables"]["measurement"] == 1
    db.close()


def test_cli_backup_and_restore_exit_codes(small_db, tmp_path, capsys):
    path = small_db.path
    small_db.close()
    assert main(["backup", str(tmp_path / "s"), "--db", path, "--user", "admin"]) == 0
    with open_database(path) as db:  # logged in the live database (the backup predates its entry)
        assert list(audit_log_mod.audit_log(db, action="backup")["user_name"]) == ["admin"]
    folder = next((tmp_path / "s").iterdir())
    assert main(["restore", str(folder), "--db", path]) == 1
    assert "existiert bereits" in capsys.readouterr().err
    assert main(["restore", str(folder), "--db", path, "--force"]) == 0
    assert main(["restore", str(tmp_path / "fehlt"), "--db", str(tmp_path / "n.duckdb")]) == 1
    assert "nicht gefunden" in capsys.readouterr().err
    with open_database(path) as db:
        assert audit_log_mod.audit_log(db, action="backup").empty
        assert audit_log_mod.audit_log(db, action="restore")["detail"].iloc[0].startswith(
            "Wiederhergestellt aus kpi-sicherung-")


def test_audit_log_has_rollback_newest_first_and_german_table(small_db):
    log = audit_log_mod.audit_log(small_db)
    assert list(log["action"][:3]) == ["rollback", "upload", "upload"]
    assert log["user_name"].iloc[0] == "lotse"
    assert "Upload 2 zurückgenommen" in log["detail"].iloc[0]
    assert list(audit_log_mod.audit_log(small_db, limit=1)["action"]) == ["rollback"]
    assert list(audit_log_mod.audit_log(small_db, action="upload")["action"]) == ["upload", "upload"]
    table = audit_log_mod.audit_table_de(log)
    assert list(table.columns) == ["Zeitpunkt", "Benutzer", "Aktion", "Details"]
    assert table["Aktion"].iloc[0] == "Upload zurückgenommen"
    assert table["Zeitpunkt"].iloc[0][2] == "." and table["Zeitpunkt"].iloc[0][5] == "."
    today = date.today()
    assert table["Zeitpunkt"].iloc[0].startswith(f"{today:%d.%m.%Y}")


def test_audit_log_filter_is_a_bound_parameter(small_db):
    with small_db.transaction() as cur:
        audit(cur, "x", "export", "a.csv")
    assert audit_log_mod.audit_log(small_db, action="' OR 1=1 --").empty
    assert audit_log_mod.actions(small_db)[0] == "upload"


def test_restore_refuses_while_another_process_holds_the_database(small_db, tmp_path):
    import subprocess
    import sys

    folder = backup.backup(small_db, tmp_path / "s")
    path = small_db.path
    small_db.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('offen', flush=True); time.sleep(30)", path],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "offen"
        with pytest.raises(backup.BackupError, match="wird gerade verwendet"):
            backup.restore(folder, path, force=True)
        assert not (tmp_path / "live" / "kpi.duckdb.bak").exists()
    finally:
        holder.kill()
        holder.wait()


def test_backup_during_concurrent_uploads_holds_each_upload_whole(tmp_path):
    import threading

    db = open_database(tmp_path / "busy.duckdb")
    stop = threading.Event()
    errors = []

    def writer():
        month = 0
        while not stop.is_set() and month < 120:
            month += 1
            y, m = 2000 + month // 12, month % 12 + 1
            rows = [("Neustadt", f"M{i}", "fallzahl", f"{y}-{m:02d}", float(month)) for i in range(5)]
            try:
                store.apply(db, frame(rows), file_name=f"f{month}.csv", user="lotse")
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        folders = [backup.backup(db, tmp_path / "s", user="admin") for _ in range(2)]
    finally:
        stop.set()
        t.join()
    assert errors == []
    for i, folder in enumerate(folders):
        with open_database(backup.restore(folder, tmp_path / f"r{i}.duckdb")) as r:
            n_uploads = r.query("SELECT count(*) FROM upload")[0][0]
            # every upload carries exactly 5 values: a torn snapshot would break this equality
            assert r.query("SELECT count(*) FROM measurement_history")[0][0] == 5 * n_uploads
            assert r.query("SELECT count(*) FROM measurement")[0][0] == 5 * n_uploads
    db.close()


def test_prune_keeps_the_newest_complete_backups(small_db, tmp_path):
    out = tmp_path / "s"
    made = [backup.backup(small_db, out) for _ in range(3)]
    backup.zip_backup(made[0])
    (out / "kpi-sicherung-00000000-000000").mkdir()  # incomplete (no manifest): never touched
    deleted = backup.prune_backups(out, keep=2)
    assert deleted == [made[0]]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["kpi-sicherung-00000000-000000", made[1].name, made[2].name])


@pytest.mark.parametrize("text,expected", [
    ("02:30", (2, 30)), (" 23:59 ", (23, 59)), ("0:05", (0, 5)),
    ("24:00", None), ("2.30", None), ("", None), (None, None), ("ab:cd", None), ("12:60", None),
])
def test_parse_daily_time(text, expected):
    assert backup.parse_daily_time(text) == expected


def test_seconds_until_next_daily_time():
    from datetime import datetime

    assert backup.seconds_until(datetime(2026, 3, 1, 2, 0, 0), 2, 30) == 30 * 60
    # already past today: tomorrow, 23 h 30 min later
    assert backup.seconds_until(datetime(2026, 3, 1, 3, 0, 0), 2, 30) == 23.5 * 3600
    assert backup.seconds_until(datetime(2026, 3, 1, 2, 30, 0), 2, 30) == 24 * 3600
