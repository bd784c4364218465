"""Fuzzing the upload path: mutated workbooks and CSVs never cause an unhandled exception.

A seeded mutation loop (byte flips, truncation, zip-member XML mutations re-zipped with valid
CRCs so they reach the parsers, cell-text mutations, CSV line edits) runs in a child process
with an address-space limit; for each input: `analyse` returns a result (errors in German) or
the guard refuses it; every 5th input also goes through `kpi ingest` in-process: exit code 0
or 1, never "Unerwarteter Fehler", and the database is unchanged when it says 1.
KPI_FUZZ_EXAMPLES sets the count (CI default 100; full run 5000). Plus a hypothesis property
on the guard alone.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N_EXAMPLES = int(os.environ.get("KPI_FUZZ_EXAMPLES", "100"))
SEED = int(os.environ.get("KPI_FUZZ_SEED", "4711"))
CELL_TEXTS = [
    "1.234,56", "12 %", "1.200 €", "1 234,5", "zwölf", "", " ", "NaN", "inf", "-inf", "1e308", "1e309",
    "-0", "2024-13", "März 2024", "Mrz. 24", "Q5 2024", "1. Quartal 2024", "31.02.2024", "0000-00",
    "#DIV/0!", "#NV", "=1/0", "=HYPERLINK(\"http://x\")", "Summe", "Gesamt", "x" * 12000,
    "Muster\u0007stadt", "\u202eevil", "Kommune", "Kennzahl", "Wert", "fallzahl", "antraege_gesamt",
    "99999999999999999999999", "0,0000001", "<script>alert(1)</script>", "'; DROP TABLE upload; --",
]
XML_INSERTS = [
    b'<c r="XFD1048576"><v>1</v></c>', b'<row r="1048576"><c r="A1048576"><v>1</v></c></row>',
    b"<c><v>1</v></c>", b'<c r="A1" t="s"><v>999999</v></c>', b'<c r="B2" t="e"><v>#DIV/0!</v></c>',
    b"<!DOCTYPE x [<!ENTITY a \"b\">]>", b"&a;", b"<mergeCell ref=\"A1:Z9\"/>", b"</sheetData>",
    b'<c r="A1" t="inlineStr"><is><t>1.234,56</t></is></c>', b'<c r="C3"><f>SUM(A1:A2)</f></c>',
    b'<dimension ref="A1:B2"/>', b"\xff\xfe", b"<v>1e400</v>", b'<c r="0"><v>1</v></c>',
]


def seeds() -> list[tuple[str, bytes]]:
    """Valid inputs to mutate: small workbooks in the user layouts, the template, a CSV."""
    from kpi.ingest.template import template_bytes
    from tests.corpus import make_corpus as mc

    return [
        ("lang.xlsx", mc.valid_xlsx()),
        ("datumstext.xlsx", mc.dates_as_text()),
        ("makro.xlsm", mc.macro_xlsm()),
        ("gross.xlsx", mc.big_xlsx(60)),
        ("vorlage.xlsx", template_bytes()),
        ("daten.csv", mc.valid_csv()),
    ]


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def _mutate_xml(rng: random.Random, xml: bytes) -> bytes:
    op = rng.randrange(5)
    if not xml:
        return rng.choice(XML_INSERTS)
    if op == 0:  # insert a hostile or odd fragment at a tag boundary
        cuts = [m.start() for m in re.finditer(rb"<", xml)] or [0]
        pos = rng.choice(cuts)
        return xml[:pos] + rng.choice(XML_INSERTS) + xml[pos:]
    if op == 1:  # delete a range
        a = rng.randrange(len(xml))
        return xml[:a] + xml[a + rng.randint(1, 200):]
    if op == 2:  # duplicate a range
        a = rng.randrange(len(xml))
        return xml[:a] + xml[a:a + rng.randint(1, 400)] * rng.randint(2, 5) + xml[a:]
    if op == 3:  # change a cell reference
        refs = list(re.finditer(rb'r="([A-Z]+)([0-9]+)"', xml))
        if refs:
            m = rng.choice(refs)
            new = rng.choice([b"XFD", b"A", b"AA", b"SF", b"SG", b"ZZZ", b"a"]) + str(
                rng.choice([0, 1, 2, 500, 65536, 1048576, 1048577, 10**9])).encode()
            return xml[:m.start()] + b'r="' + new + b'"' + xml[m.end():]
        return xml
    return _mutate_bytes(rng, xml)


def _mutate_cells(rng: random.Random, xml: bytes) -> bytes:
    """Replace cell values by hostile or odd texts (as inline strings or numbers)."""
    def repl(m):
        if rng.random() < 0.3:
            text = rng.choice(CELL_TEXTS)
            esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            esc = "".join(ch if ch >= " " or ch in "\t\n" else f"&#{ord(ch)};" for ch in esc)
            return (b'<c r="' + m.group(1) + b'" t="inlineStr"><is><t>' + esc.encode() + b"</t></is></c>")
        return m.group(0)
    return re.sub(rb'<c r="([A-Z]+[0-9]+)"[^>]*?(?:/>|>.*?</c>)', repl, xml, flags=re.S)


def _rezip(data: bytes, rng: random.Random, cells: bool) -> bytes:
    z = zipfile.ZipFile(io.BytesIO(data))
    infos = z.infolist()
    xml_members = [i for i in infos if i.filename.endswith((".xml", ".rels"))]
    sheet_members = [i for i in xml_members if "worksheets/" in i.filename] or xml_members
    target = rng.choice(sheet_members if cells or rng.random() < 0.6 else xml_members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
        for info in infos:
            part = z.read(info)
            if info.filename == target.filename:
                part = _mutate_cells(rng, part) if cells else _mutate_xml(rng, part)
            if rng.random() < 0.02:  # drop a member now and then
                continue
            w.writestr(info.filename, part)
    return out.getvalue()


def _mutate_csv(rng: random.Random, data: bytes) -> bytes:
    lines = data.decode("utf-8", errors="replace").split("\n")
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        op = rng.randrange(4)
        if op == 0:
            cells = lines[i].split(";")
            cells[rng.randrange(len(cells))] = rng.choice(CELL_TEXTS).replace("\n", " ")
            lines[i] = ";".join(cells)
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            lines[i] = lines[i].replace(";", rng.choice([",", "\t", ";;", ""]))
        else:
            del lines[i]
            if not lines:
                lines = [""]
    enc = rng.choice(["utf-8", "utf-8", "cp1252", "utf-8-sig"])
    return "\n".join(lines).encode(enc, errors="replace")


def mutate(rng: random.Random, name: str, data: bytes) -> tuple[str, bytes, str]:
    """Return (file name, mutated bytes, kind of mutation)."""
    if name.endswith(".csv"):
        kind = rng.choice(["csv", "csv", "bytes", "truncate"])
    else:
        kind = rng.choice(["bytes", "truncate", "member", "member", "cells", "cells"])
    if kind == "csv":
        return name, _mutate_csv(rng, data), kind
    if kind == "bytes":
        return name, _mutate_bytes(rng, data), kind
    if kind == "truncate":
        return name, data[: rng.randrange(len(data))] if data else data, kind
    try:
        return name, _rezip(data, rng, cells=kind == "cells"), kind
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError, IndexError,
            NotImplementedError, RuntimeError, zlib.error):  # an earlier mutation broke the zip already
        return name, _mutate_bytes(rng, data), "bytes"


# ----------------------------------------------------------------------------- the child

def _snapshot(db) -> tuple:
    return db.query(
        "SELECT (SELECT count(*) FROM upload), (SELECT count(*) FROM measurement_history),"
        " (SELECT count(*) FROM measurement), (SELECT sum(value) FROM measurement), (SELECT data_version FROM meta),"
        " (SELECT count(*) FROM kommune), (SELECT count(*) FROM massnahme)"
    )[0]


def run_child(n: int, seed: int, out_dir: Path) -> dict:
    import contextlib

    from kpi.cli import main
    from kpi.db import open_database
    from kpi.ingest.guard import UnsafeFileError
    from kpi.ingest.pipeline import IngestRefused, analyse, commit

    rng = random.Random(seed)
    base = seeds()
    db_path = out_dir / "fuzz.duckdb"
    stats = {"tried": 0, "refused_by_guard": 0, "errors_reported": 0, "loaded": 0, "cli_runs": 0,
             "cli_exit_1": 0, "crashes": 0, "crash_files": []}
    for k in range(n):
        name, data = base[k % len(base)]
        for _ in range(rng.choice([1, 1, 1, 2, 3])):  # stacked mutations now and then
            name, data, kind = mutate(rng, name, data)
        stats["tried"] += 1
        sample = out_dir / f"input_{k:05d}_{kind}_{name}"
        try:
            with open_database(db_path) as db:
                res = analyse(data, name, db=db)
                if res.fatal:
                    if any("Datei „" in i.message for i in res.errors):
                        stats["refused_by_guard"] += 1
                    stats["errors_reported"] += 1
                    assert all(i.message for i in res.errors)
                elif res.has_errors:
                    stats["errors_reported"] += 1
                    before = _snapshot(db)
                    try:
                        commit(db, res, user="fuzz")
                        raise AssertionError("commit of a file with errors did not refuse")
                    except IngestRefused:
                        pass
                    assert _snapshot(db) == before
                elif res.n_valid_rows:
                    commit(db, res, user="fuzz")
                    stats["loaded"] += 1
            if k % 5 == 0:
                sample.write_bytes(data)
                with open_database(db_path) as db:
                    before = _snapshot(db)
                err = io.StringIO()
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    rc = main(["ingest", str(sample), "--db", str(db_path), "--user", "fuzz"])
                stats["cli_runs"] += 1
                text = err.getvalue()
                assert rc in (0, 1), (rc, text)
                assert "Unerwarteter Fehler" not in text and "Traceback" not in text, text
                if rc == 1:
                    stats["cli_exit_1"] += 1
                    assert text.strip(), "exit 1 without a message"
                    with open_database(db_path) as db:
                        assert _snapshot(db) == before, "database changed although the CLI said 1"
                sample.unlink()
        except (UnsafeFileError, AssertionError, Exception) as exc:  # noqa: B014 - every escape is a finding
            stats["crashes"] += 1
            sample.write_bytes(data)
            stats["crash_files"].append(f"{sample.name}: {type(exc).__name__}: {str(exc)[:300]}")
        print(json.dumps({"progress": k, "crashes": stats["crashes"], "loaded": stats["loaded"],
                          "refused_by_guard": stats["refused_by_guard"]}), flush=True)
    return stats


def test_mutated_workbooks_never_escape_unhandled(tmp_path):
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(N_EXAMPLES), str(SEED), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=3600,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, f"fuzz child died ({proc.returncode}) after {lines[-2:]}: {proc.stderr[-2000:]}"
    stats = json.loads(lines[-1])
    print(f"\nfuzz: {stats['tried']} inputs (seed {SEED}), {stats['refused_by_guard']} refused by the guard, "
          f"{stats['errors_reported']} with German errors, {stats['loaded']} loaded, {stats['cli_runs']} CLI runs "
          f"({stats['cli_exit_1']} exit 1), {stats['crashes']} crashes")
    assert stats["tried"] == N_EXAMPLES
    assert stats["crashes"] == 0, stats["crash_files"][:10]


def test_guard_never_raises_anything_but_its_german_error():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kpi.ingest.guard import Limits, UnsafeFileError, check_upload
    from tests.corpus import make_corpus as mc

    valid = mc.valid_xlsx()

    @settings(max_examples=min(N_EXAMPLES, 300), deadline=None, derandomize=True)
    @given(st.one_of(st.binary(max_size=4096),
                     st.tuples(st.integers(0, len(valid) - 1), st.binary(min_size=1, max_size=64)).map(
                         lambda t: valid[:t[0]] + t[1] + valid[t[0] + len(t[1]):])),
           st.sampled_from(["a.xlsx", "a.xlsm", "a.xls", "a.csv", "a.txt"]))
    def prop(data, name):
        try:
            warnings = check_upload(data, name, Limits())
            assert isinstance(warnings, list)
        except UnsafeFileError as exc:
            assert "„a." in str(exc)

    prop()


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--child":
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    result = run_child(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    print(json.dumps(result), flush=True)
