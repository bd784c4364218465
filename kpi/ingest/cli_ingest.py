"""`kpi ingest FILE...`: check, report and load files; exit 0 loaded, 1 errors (nothing written), 2 usage."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


def _profile_from_args(args, db):
    from kpi.ingest.profiles import ImportProfile, load_profile, parse_assignments

    inline = any([args.sheet, args.header_row is not None, args.map, args.set, args.where])
    if args.profile:
        profile = load_profile(db, args.profile)
        if inline:  # inline options refine a saved profile
            profile = ImportProfile(
                sheet=args.sheet or profile.sheet,
                header_row=args.header_row if args.header_row is not None else profile.header_row,
                map={**profile.map, **parse_assignments(args.map, "--map")},
                set={**profile.set, **parse_assignments(args.set, "--set")},
                where={**profile.where, **parse_assignments(args.where, "--where")},
            )
        return profile
    if not inline:
        return None
    return ImportProfile(sheet=args.sheet, header_row=args.header_row,
                         map=parse_assignments(args.map, "--map"), set=parse_assignments(args.set, "--set"),
                         where=parse_assignments(args.where, "--where"))


class _OpeningDatabase:
    """The database while a thread opens it: the first use waits until it is open.

    DuckDB opens (and creates) the file without holding the GIL, so the first file's byte check
    runs meanwhile. Errors keep their order: `ready()` before any report raises what opening
    raised (e.g. the CLI's InputError for a busy database), as if the database had been opened first.
    """

    def __init__(self, open_db, args):
        self._db = self._error = None
        self._thread = threading.Thread(target=self._open, args=(open_db, args), daemon=True)
        self._thread.start()

    def _open(self, open_db, args) -> None:
        try:
            self._db = open_db(args)
        except BaseException as exc:  # handed to the main thread by ready()
            self._error = exc

    def ready(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._db

    def __getattr__(self, name):
        return getattr(self.ready(), name)


def run_ingest(args, open_db) -> int:
    """Handler of `kpi ingest`; `open_db(args)` opens the database (raises the CLI's InputError when busy)."""
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            print(f"Fehler: Datei „{f}“ nicht gefunden.", file=sys.stderr)
            return EXIT_USAGE
    db = _OpeningDatabase(open_db, args)
    try:
        return _ingest(args, files, db)
    finally:
        db.ready().close()  # waits for the open; raises what opening raised if it was never used


def _ingest(args, files: list[Path], db: _OpeningDatabase) -> int:
    from kpi.ingest.pipeline import analyse, commit, preview_counts
    from kpi.ingest.profiles import ProfileError, save_profile

    def fail(message: str, code: int) -> int:
        db.ready()  # a database that cannot be opened is reported first, as before
        print(message, file=sys.stderr)
        return code

    user = getattr(args, "user", None) or "cli"
    try:
        profile = _profile_from_args(args, db)
    except ProfileError as exc:
        return fail(f"Fehler: {exc}", EXIT_USAGE)
    if args.save_profile and profile is None:
        return fail("Fehler: --save-profile braucht Angaben (--sheet, --header-row, --map, --set, --where).",
                    EXIT_USAGE)
    results = []
    failed = False
    for f in files:
        try:
            data = f.read_bytes()
        except OSError as exc:
            return fail(f"Fehler: „{f}“ lässt sich nicht lesen: {exc.strerror}", EXIT_INPUT)
        res = analyse(data, f.name, profile, db=db)
        res.profile_name = args.profile or args.save_profile
        results.append(res)
        if res.fatal or res.n_valid_rows == 0 and not _has_reference(res) or (
                res.has_errors and not args.partial):
            failed = True
    db.ready()
    if failed:
        for res in results:
            print(res.report_de(), file=sys.stderr)
        print("Nichts geladen; die Datenbank ist unverändert.", file=sys.stderr)
        return EXIT_INPUT
    for res in results:
        print(_short_report(res))
        if args.dry_run:
            counts = preview_counts(db, res)  # only here: a trial load costs as much as the load
            print(f"  Probelauf: würde {counts.inserted} Werte neu anlegen, {counts.updated} ändern, "
                  f"{counts.unchanged} unverändert lassen (nichts gespeichert).")
            continue
        counts = commit(db, res, partial=args.partial, user=user)
        print("  " + counts.summary_de())
    if args.save_profile and not args.dry_run:
        save_profile(db, args.save_profile, profile, user)
        print(f"Importprofil „{args.save_profile}“ gespeichert.")
    return EXIT_OK


def _has_reference(res) -> bool:
    from kpi.ingest.reference import has_rows

    return has_rows(res.payload)


def _short_report(res) -> str:
    from kpi.fmt import number_de

    lines = [f"Datei „{res.file_name}“: {number_de(res.n_valid_rows)} gültige Werte"
             + (f", {number_de(res.n_error_rows)} Zeilen mit Fehlern übersprungen" if res.n_error_rows else "")]
    lines += [f"  {t}" for t in res.layouts]
    warns = res.warnings
    if warns:
        lines.append(f"  Hinweise ({len(warns)}):")
        lines += [f"    - {i.text_de()}" for i in warns[:20]]
        if len(warns) > 20:
            lines.append(f"    … und {len(warns) - 20} weitere Hinweise")
    if res.errors:
        lines.append(f"  Fehler ({len(res.errors)}), diese Zeilen werden nicht geladen:")
        lines += [f"    - {i.text_de()}" for i in res.errors[:20]]
    return "\n".join(lines)
