"""`kpi ingest` / `kpi template` as a public contract: exit codes, German output, no traceback."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kpi.cli import main
from kpi.db import open_database, raw_dir
from tests.test_ingest_layouts import make_xlsx

ROOT = Path(__file__).resolve().parent.parent
HEAD = ("Kommune", "Maßnahme", "Kennzahl", "Monat", "Wert")


@pytest.fixture
def dbpath(tmp_path):
    return str(tmp_path / "kpi.duckdb")


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def values(dbpath):
    with open_database(dbpath) as db:
        return db.query("SELECT kommune, kpi, period, value FROM v_measurement ORDER BY ALL")


def write(tmp_path, name, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_good_file_loads_and_reupload_changes_nothing(tmp_path, dbpath, capsys):
    f = write(tmp_path, "gut.xlsx", make_xlsx({"D": [HEAD, ("A", "M", "fallzahl", "2024-01", 5),
                                                     ("A", "M", "fallzahl", "2024-02", 6)]}))
    code, out, err = run(capsys, "ingest", f, "--db", dbpath)
    assert code == 0, err
    assert "Upload 1: 2 neu, 0 geändert, 0 unverändert." in out
    assert "Blatt „D“: lange Tabelle (Kopfzeile 1)" in out
    code, out, _ = run(capsys, "ingest", f, "--db", dbpath)
    assert code == 0 and "bereits geladen (Upload 1)" in out
    assert len(values(dbpath)) == 2


def test_file_with_errors_exits_1_and_leaves_database_untouched(tmp_path, dbpath, capsys):
    f = write(tmp_path, "fehler.xlsx", make_xlsx({"Kosten": [HEAD, ("A", "M", "fallzahl", "2024-01", 5),
                                                             ("A", "M", "fallzahl", "2024-02", "zwölf")]}))
    code, out, err = run(capsys, "ingest", f, "--db", dbpath)
    assert code == 1
    assert "Blatt „Kosten“, Zelle E3: „zwölf“ ist keine Zahl" in err
    assert "Nichts geladen; die Datenbank ist unverändert." in err
    assert "Traceback" not in err and out == ""
    assert values(dbpath) == []
    code, out, err = run(capsys, "ingest", f, "--db", dbpath, "--partial")
    assert code == 0 and "1 neu" in out and "Zelle E3" in out
    assert len(values(dbpath)) == 1


def test_dry_run_writes_nothing(tmp_path, dbpath, capsys):
    f = write(tmp_path, "gut.xlsx", make_xlsx({"D": [HEAD, ("A", "M", "fallzahl", "2024-01", 5)]}))
    code, out, _ = run(capsys, "ingest", f, "--db", dbpath, "--dry-run")
    assert code == 0 and "Probelauf: würde 1 Werte neu anlegen" in out
    assert values(dbpath) == []


def test_several_files_all_or_nothing(tmp_path, dbpath, capsys):
    good = write(tmp_path, "a.xlsx", make_xlsx({"D": [HEAD, ("A", "M", "fallzahl", "2024-01", 5)]}))
    bad = write(tmp_path, "b.xlsx", make_xlsx({"D": [HEAD, ("A", "M", "fallzahl", "2024-01", "x y")]}))
    code, _out, err = run(capsys, "ingest", good, bad, "--db", dbpath)
    assert code == 1 and "„x y“ ist keine Zahl" in err
    assert values(dbpath) == []


def _truncated_zip() -> bytes:
    data = make_xlsx({"D": [HEAD, ("A", "M", "fallzahl", "2024-01", 5)]})
    return data[: len(data) // 2]


def _empty_workbook() -> bytes:
    buf = io.BytesIO()
    openpyxl.Workbook().save(buf)
    return buf.getvalue()


def _zip_without_workbook() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hallo.txt", "kein Excel")
    return buf.getvalue()


BROKEN = {
    "abgeschnitten.xlsx": _truncated_zip(),
    "bild.xlsx": b"\x89PNG\r\n\x1a\n" + bytes(200),
    "leer.xlsx": _empty_workbook(),
    "ohne_kopf.xlsx": make_xlsx({"D": [(1, 2, 3), (4, 5, 6)]}),
    "null.csv": b"",
    "binaer.csv": bytes(range(256)) * 4,
    "kein_excel.xlsx": _zip_without_workbook(),
    "text.pdf": b"%PDF-1.4 nichts",
    "nur_kopf.csv": b"Kommune;Kennzahl;Monat;Wert\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_exit_1_with_german_message_never_traceback(tmp_path, dbpath, capsys, name):
    f = write(tmp_path, name, BROKEN[name])
    code, out, err = run(capsys, "ingest", f, "--db", dbpath)
    assert code == 1, (out, err)
    assert "Traceback" not in err and "Unerwarteter Fehler" not in err, err
    assert "Nichts geladen" in err
    assert values(dbpath) == []


def test_usage_errors_exit_2(tmp_path, dbpath, capsys):
    f = write(tmp_path, "gut.xlsx", make_xlsx({"D": [HEAD, ("A", "M", "fallzahl", "2024-01", 5)]}))
    assert run(capsys, "ingest", str(tmp_path / "fehlt.xlsx"), "--db", dbpath)[0] == 2
    code, _o, err = run(capsys, "ingest", f, "--db", dbpath, "--map", "wert")
    assert code == 2 and "--map erwartet NAME=WERT" in err
    code, _o, err = run(capsys, "ingest", f, "--db", dbpath, "--set", "farbe=rot")
    assert code == 2 and "Unbekanntes Feld „farbe“" in err
    code, _o, err = run(capsys, "ingest", f, "--db", dbpath, "--profile", "gibtsnicht")
    assert code == 2 and "Importprofil „gibtsnicht“ gibt es nicht" in err
    with pytest.raises(SystemExit) as exc:
        main(["ingest", "--db", dbpath])
    assert exc.value.code == 2


def test_inline_profile_saved_and_reused(tmp_path, dbpath, capsys):
    csv = "Amt;Jahr;Art;Betrag\nIT;2023;Ist;1.000,50\nIT;2023;Plan;9.999,00\nIT;2024;Ist;2.000,00\n"
    f = write(tmp_path, "haushalt.csv", csv.encode("cp1252"))
    code, out, err = run(capsys, "ingest", f, "--db", dbpath, "--set", "kommune=Hamburg",
                         "--set", "kpi=kosten_betrieb_eur", "--map", "massnahme=Amt", "--map", "value=Betrag",
                         "--map", "period=Jahr", "--where", "Art=Ist", "--save-profile", "haushalt")
    assert code == 0, err
    assert "Importprofil „haushalt“ gespeichert." in out
    assert [(k, str(p), v) for k, _kpi, p, v in values(dbpath)] == [
        ("Hamburg", "2023-01-01", 1000.5), ("Hamburg", "2024-01-01", 2000.0)]
    f2 = write(tmp_path, "haushalt2.csv", (csv + "IT;2025;Ist;3.000,00\n").encode("cp1252"))
    code, out, err = run(capsys, "ingest", f2, "--db", dbpath, "--profile", "haushalt")
    assert code == 0, err
    assert "1 neu, 0 geändert, 2 unverändert" in out


def test_template_command_writes_a_loadable_workbook(tmp_path, dbpath, capsys):
    out_path = tmp_path / "vorlage.xlsx"
    code, out, _ = run(capsys, "template", str(out_path))
    assert code == 0 and "Vorlage geschrieben" in out
    assert "Anleitung" in openpyxl.load_workbook(out_path).sheetnames


def test_whole_process_never_shows_a_traceback(tmp_path):
    f = write(tmp_path, "abgeschnitten.xlsx", _truncated_zip())
    proc = subprocess.run([sys.executable, "-m", "kpi", "ingest", f, "--db", str(tmp_path / "x.duckdb")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Fehler" in proc.stderr


def test_ingest_process_exit_keeps_everything_written(tmp_path):
    # `kpi` ends the process without the interpreter's teardown (kpi.cli.run): the database, the
    # kept raw file and the printed summary must all be complete when the process has ended
    from bench.xlsxgen import write_long_workbook

    long_file = tmp_path / "lang.xlsx"
    write_long_workbook(long_file, 3_000)
    db_path = tmp_path / "k.duckdb"
    proc = subprocess.run([sys.executable, "-m", "kpi", "ingest", str(long_file), "--db", str(db_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "3.000 neu" in proc.stdout
    assert proc.stderr == ""  # nothing from extension modules' teardown either
    with open_database(db_path) as db:
        assert db.query("SELECT count(*) FROM measurement")[0][0] == 3000
        assert db.query("SELECT count(*) FROM measurement_history")[0][0] == 3000
    assert len(list(raw_dir(db_path).iterdir())) == 1


def test_fast_exit_runs_exit_handlers_and_keeps_the_exit_code(tmp_path):
    # handlers registered while a command runs (e.g. removing the export temp folder) still run,
    # buffered output is flushed, and the exit code is main()'s
    marker = tmp_path / "handler-ran"
    code = (
        "import atexit, sys\n"
        "from kpi import cli\n"
        "def fake_main():\n"
        f"    atexit.register(lambda: open({str(marker)!r}, 'w').write('ja'))\n"
        "    sys.stdout.write('ohne Zeilenende')\n"
        "    return 1\n"
        "cli.main = fake_main\n"
        "sys.exit(cli.run())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout == "ohne Zeilenende"
    assert marker.read_text() == "ja"


def test_ingest_process_needs_neither_pandas_nor_openpyxl(tmp_path):
    # start-up time: pandas alone takes ~0,4 s to import, openpyxl ~0,2 s (issue #2, process target)
    from bench.xlsxgen import write_long_workbook

    long_file = tmp_path / "lang.xlsx"
    write_long_workbook(long_file, 2_000)
    typed = write(tmp_path, "text.xlsx", make_xlsx({"D": [HEAD, ("A", "M", "fallzahl", "2024-01", 5),
                                                          ("A", None, "Fälle (Anträge, Vorgänge)", "Feb 2024", "1.234,5")]}))
    code = (
        "import sys\n"
        "from kpi.cli import main\n"
        f"rc = main(['ingest', {str(long_file)!r}, {typed!r}, '--db', {str(tmp_path / 'k.duckdb')!r}])\n"
        "heavy = [m for m in ('pandas', 'openpyxl', 'kpi.export', 'streamlit', 'polars') if m in sys.modules]\n"
        "print('RESULT', rc, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "RESULT 0 []" in proc.stdout, proc.stdout + proc.stderr
