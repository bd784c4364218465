"""Speed of the byte-level upload guard next to what it protects: plain decompression and calamine.

Prints, side by side in one run, for generated long workbooks of 10.000 / 100.000 / 500.000 rows:
guard check, zlib decompress of the sheet alone, python-calamine reading all cells, and ratios.
"""

from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from python_calamine import CalamineWorkbook  # noqa: E402

from kpi.ingest.guard import check_upload  # noqa: E402
from tests.corpus.make_corpus import big_xlsx  # noqa: E402


def best(fn, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    print(f"{'Zeilen':>8} {'Datei':>8} {'Blatt-XML':>10} {'Wächter':>9} {'entpacken':>10} {'calamine':>9} "
          f"{'W./entp.':>9} {'W./calam.':>10}")
    for rows in (10_000, 100_000, 500_000):
        data = big_xlsx(rows)
        z = zipfile.ZipFile(io.BytesIO(data))
        info = z.getinfo("xl/worksheets/sheet1.xml")
        n = 3 if rows <= 100_000 else 1
        g = best(lambda: check_upload(data, "gross.xlsx"), n)  # noqa: B023
        d = best(lambda: z.read(info), n)  # noqa: B023
        c = best(lambda: CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python(), n)  # noqa: B023
        print(f"{rows:>8} {len(data) / 2**20:>6.1f}MB {info.file_size / 2**20:>8.1f}MB {g:>8.3f}s {d:>9.3f}s "
              f"{c:>8.3f}s {g / d:>8.1f}x {g / c:>9.2f}x")


if __name__ == "__main__":
    main()
