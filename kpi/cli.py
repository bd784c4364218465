"""The `kpi` command line: parses arguments, calls kpi/ functions, prints German results.

A public contract for automation: exit 0 success, 1 the input has errors (German report on
stderr, database untouched), 2 usage error. No Python traceback escapes, whatever the file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments (German message); exit code 2."""


class InputError(Exception):
    """Bad input data or state (German message); exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 with usage; keep that, in German words
        self.print_usage(sys.stderr)
        print(f"Fehler in den Argumenten: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _open_db(args, wait: float | None = None):
    from kpi.db import DatabaseBusyError, open_database

    try:
        return open_database(args.db, wait_seconds=args.wait if wait is None else wait)
    except DatabaseBusyError as exc:
        raise InputError(str(exc)) from exc


def cmd_template(args) -> int:
    from kpi.ingest.template import write_template

    write_template(Path(args.out))
    print(f"Vorlage geschrieben: {args.out}")
    return EXIT_OK


def cmd_demo(args) -> int:
    from kpi import demo

    with _open_db(args) as db:
        if args.if_empty and db.query("SELECT count(*) FROM measurement")[0][0] > 0:
            print("Datenbank enthält bereits Daten; Demodaten nicht geladen.")
            return EXIT_OK
        counts = demo.load_demo(db)
    print(f"Demodaten geladen: {counts.summary_de()}")
    return EXIT_OK


def cmd_ingest(args) -> int:
    from kpi.ingest.cli_ingest import run_ingest

    return run_ingest(args, _open_db)


def cmd_uploads(args) -> int:
    from kpi import store
    from kpi.fmt import datetime_de

    with _open_db(args) as db:
        df = store.list_uploads(db)
    if df.empty:
        print("Noch keine Uploads.")
        return EXIT_OK
    status_de = {"active": "aktiv", "rolled_back": "zurückgenommen"}
    print(f"{'Nr.':>5}  {'Zeitpunkt':<20} {'Status':<15} {'neu':>7} {'geändert':>9}  Datei (Benutzer)")
    for r in df.itertuples():
        print(f"{r.upload_id:>5}  {datetime_de(r.uploaded_at):<20} {status_de[r.status]:<15} "
              f"{r.n_inserted:>7} {r.n_updated:>9}  {r.file_name} ({r.uploaded_by})")
    return EXIT_OK


def cmd_rollback(args) -> int:
    from kpi import store

    with _open_db(args) as db:
        try:
            n = store.rollback(db, args.upload_id, user=args.user)
        except store.RollbackError as exc:
            raise InputError(str(exc)) from exc
    print(f"Upload {args.upload_id} zurückgenommen; {n} Werte auf den vorherigen Stand gesetzt.")
    return EXIT_OK


def _filters(args):
    from kpi.filters import Filters
    from kpi.fmt import parse_month

    def month(text, name):
        if text is None:
            return None
        parsed = parse_month(text)
        if parsed is None:
            raise UsageError(f"{name} erwartet einen Monat als JJJJ-MM, nicht „{text}“.")
        return parsed

    return Filters(
        kommune=tuple(args.kommune or ()),
        massnahme=tuple(getattr(args, "massnahme", None) or ()),
        kpi=tuple(getattr(args, "kpi", None) or ()),
        period_from=month(getattr(args, "date_from", None), "--from"),
        period_to=month(getattr(args, "date_to", None), "--to"),
        granularity=getattr(args, "granularity", "month"),
    )


def cmd_export(args) -> int:
    from kpi import export

    filters = _filters(args)
    with _open_db(args) as db:
        try:
            n = export.export_file(db, Path(args.out), args.format, filters, what=args.what, user=args.user)
        except export.ExportError as exc:
            raise InputError(str(exc)) from exc
    print(f"{n:,} Zeilen exportiert nach {args.out}".replace(",", "."))
    return EXIT_OK


def cmd_metrics(args) -> int:
    from kpi.metrics import engine

    if args.discount_rate is not None and not (-0.5 < args.discount_rate < 1):
        raise UsageError("--discount-rate ist ein Anteil, z. B. 0.03 für 3 %.")
    with _open_db(args) as db:
        known = {r[0] for r in db.query("SELECT name FROM kommune")}
        unknown = [k for k in (args.kommune or []) if k not in known]
        if unknown:
            raise InputError(f"Die Kommune „{unknown[0]}“ gibt es in der Datenbank nicht.")
        try:
            if args.kommune:
                results = [r for k in dict.fromkeys(args.kommune)
                           for r in engine.compute_all(db, kommune=k, discount_rate=args.discount_rate)]
            else:
                results = engine.compute_all(db, discount_rate=args.discount_rate)
        except engine.MetricsError as exc:
            raise InputError(str(exc)) from exc
        # inside the with: the explanations read their uploads from the database on first use
        if args.json:
            print(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
        else:
            print(engine.table_de(results))
    return EXIT_OK


def cmd_report(args) -> int:
    from kpi import report

    filters = _filters(args)
    with _open_db(args) as db:
        try:
            pages = report.write_report(db, Path(args.out), filters, user=args.user)
        except report.ReportError as exc:
            raise InputError(str(exc)) from exc
    print(f"Ratsvorlage geschrieben: {args.out} ({pages} Seiten)")
    return EXIT_OK


def cmd_backup(args) -> int:
    from kpi import backup

    with _open_db(args) as db:
        try:
            out = backup.backup(db, Path(args.out_dir), user=args.user)
        except backup.BackupError as exc:
            raise InputError(str(exc)) from exc
    print(f"Sicherung geschrieben: {out}")
    return EXIT_OK


def cmd_restore(args) -> int:
    from kpi import backup

    try:
        target = backup.restore(Path(args.dir), Path(args.db) if args.db else None, force=args.force)
    except backup.BackupError as exc:
        raise InputError(str(exc)) from exc
    print(f"Sicherung wiederhergestellt nach {target}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kpi", description="KPI-Cockpit: Kennzahlen der Digitalisierung einer Kommune.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def with_db(sp):
        sp.add_argument("--db", help="Pfad der Datenbank (Standard: $KPI_DB oder data/kpi.duckdb)")
        sp.add_argument("--wait", type=float, default=30.0,
                        help="Sekunden warten, wenn die Datenbank belegt ist (Standard 30)")
        sp.add_argument("--user", default="cli", help="Benutzername für Historie und Protokoll")
        return sp

    sp = sub.add_parser("template", help="Excel-Vorlage schreiben")
    sp.add_argument("out", help="Zieldatei, z. B. vorlage.xlsx")
    sp.set_defaults(func=cmd_template)

    sp = with_db(sub.add_parser("demo", help="Demodaten (fiktive Kommunen) laden"))
    sp.add_argument("--if-empty", action="store_true", help="nur laden, wenn noch keine Messwerte da sind")
    sp.set_defaults(func=cmd_demo)

    sp = with_db(sub.add_parser("ingest", help="Excel-/CSV-Dateien prüfen und laden"))
    sp.add_argument("files", nargs="+", metavar="FILE")
    sp.add_argument("--dry-run", action="store_true", help="nur prüfen, nichts speichern")
    sp.add_argument("--partial", action="store_true", help="bei Fehlern nur die gültigen Zeilen laden")
    sp.add_argument("--profile", help="gespeichertes Importprofil verwenden")
    sp.add_argument("--save-profile", metavar="NAME", help="die Angaben als Importprofil speichern")
    sp.add_argument("--sheet", help="Tabellenblatt")
    sp.add_argument("--header-row", type=int, help="Zeile der Spaltenköpfe (1 = erste Zeile; 0 = keine)")
    sp.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                    help="Feld einer Spalte zuordnen (Kopftext oder Spaltenbuchstabe)")
    sp.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="festen Wert für ein Feld setzen")
    sp.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                    help="nur Zeilen übernehmen, deren Spalte diesen Wert hat")
    sp.set_defaults(func=cmd_ingest)

    sp = with_db(sub.add_parser("uploads", help="Upload-Historie zeigen"))
    sp.set_defaults(func=cmd_uploads)

    sp = with_db(sub.add_parser("rollback", help="einen Upload zurücknehmen"))
    sp.add_argument("upload_id", type=int)
    sp.set_defaults(func=cmd_rollback)

    def with_filters(sp):
        sp.add_argument("--kommune", action="append")
        sp.add_argument("--massnahme", action="append")
        sp.add_argument("--kpi", action="append")
        sp.add_argument("--from", dest="date_from", metavar="YYYY-MM")
        sp.add_argument("--to", dest="date_to", metavar="YYYY-MM")
        sp.add_argument("--granularity", default="month", choices=["month", "quarter", "year"],
                        help="Zeitraster: Monatswerte oder nach Quartal/Jahr verdichtet")
        return sp

    sp = with_filters(with_db(sub.add_parser("export", help="Daten exportieren")))
    sp.add_argument("--out", required=True)
    sp.add_argument("--format", default="csv", choices=["csv", "csv-de", "xlsx", "parquet"])
    sp.add_argument("--what", default="data", choices=["data", "metrics"],
                    help="data: Messwerte (lang); metrics: Kennzahlen je Maßnahme")
    sp.set_defaults(func=cmd_export)

    sp = with_db(sub.add_parser("metrics", help="Kosten-Nutzen und Erfolg je Maßnahme"))
    sp.add_argument("--kommune", action="append")
    sp.add_argument("--discount-rate", type=float, help="Kalkulationszins als Anteil (0.03 = 3 %%)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_metrics)

    sp = with_filters(with_db(sub.add_parser("report", help="Ratsvorlage als PDF")))
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_report)

    sp = with_db(sub.add_parser("backup", help="Datenbank sichern"))
    sp.add_argument("out_dir")
    sp.set_defaults(func=cmd_backup)

    sp = sub.add_parser("restore", help="Sicherung wiederherstellen")
    sp.add_argument("dir")
    sp.add_argument("--db")
    sp.add_argument("--force", action="store_true", help="vorhandene Datenbank ersetzen")
    sp.set_defaults(func=cmd_restore)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("Abgebrochen.", file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:  # the contract: never a traceback
        print(f"Unerwarteter Fehler ({type(exc).__name__}): {exc}", file=sys.stderr)
        return EXIT_INPUT


def run() -> int:
    """Entry of the `kpi` process (console script and `python -m kpi`): main(), then a fast exit.

    After the exit handlers, the interpreter frees every object numpy, pyarrow and DuckDB made
    on import: 60-100 ms of a `kpi ingest` run, for memory the operating system frees anyway.
    `_end_process` is registered first, so it runs last of the exit handlers (they run in reverse
    order: e.g. the export temp folder is still removed, logging still flushed); it flushes
    the standard streams and ends the process with main()'s exit code. Output, the database (closed
    by each command) and files are complete by then. main() itself stays a plain function for
    in-process callers (tests).
    """
    import atexit

    code: list[int] = []
    atexit.register(_end_process, code)
    code.append(main())
    return code[0]


def _end_process(code: list[int]) -> None:
    if not code:  # main() did not return (e.g. --help ends with SystemExit): the usual teardown
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (kpi uploads | head): nothing left to say
            pass
    os._exit(code[0])


if __name__ == "__main__":
    sys.exit(run())
