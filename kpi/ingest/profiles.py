"""Import profiles: how to read a file in a foreign layout (sheet, header row, column map, constants, filter)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

FIELDS = ("kommune", "massnahme", "kpi", "period", "value", "unit")
FIELD_DE = {"kommune": "Kommune", "massnahme": "Maßnahme", "kpi": "Kennzahl", "period": "Zeitraum",
            "value": "Wert", "unit": "Einheit"}


class ProfileError(ValueError):
    """An invalid or unknown profile (German message)."""


@dataclass
class ImportProfile:
    """sheet None = every sheet; header_row 1-based, 0 = no header row, None = detect.

    map: field -> column (header text or Excel letter); set: field -> constant;
    where: column -> required value (only matching rows are kept).
    """

    sheet: str | None = None
    header_row: int | None = None
    map: dict[str, str] = field(default_factory=dict)
    set: dict[str, str] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in list(self.map) + list(self.set):
            if name not in FIELDS:
                raise ProfileError(
                    f"Unbekanntes Feld „{name}“. Möglich sind: " + ", ".join(FIELDS) + "."
                )
        if self.header_row is not None and self.header_row < 0:
            raise ProfileError("Die Kopfzeile ist eine Zeilennummer ab 1 (0 = keine Kopfzeile).")
        both = set(self.map) & set(self.set)
        if both:
            raise ProfileError(f"Feld „{sorted(both)[0]}“ ist zugleich zugeordnet und fest gesetzt.")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> ImportProfile:
        try:
            d = json.loads(s)
            return cls(sheet=d.get("sheet"), header_row=d.get("header_row"), map=dict(d.get("map") or {}),
                       set=dict(d.get("set") or {}), where=dict(d.get("where") or {}))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ProfileError(f"Importprofil ist beschädigt: {exc}") from exc

    def describe_de(self) -> str:
        parts = []
        if self.sheet:
            parts.append(f"Blatt „{self.sheet}“")
        if self.header_row is not None:
            parts.append("ohne Kopfzeile" if self.header_row == 0 else f"Kopfzeile {self.header_row}")
        parts += [f"{FIELD_DE[k]} = Spalte „{v}“" for k, v in self.map.items()]
        parts += [f"{FIELD_DE[k]} = „{v}“ (fest)" for k, v in self.set.items()]
        parts += [f"nur Zeilen mit {k} = „{v}“" for k, v in self.where.items()]
        return "; ".join(parts) or "leeres Profil"


def parse_assignments(items: list[str], what: str) -> dict[str, str]:
    """['kpi=fallzahl', …] → dict; ProfileError for items without '='."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ProfileError(f"{what} erwartet NAME=WERT, nicht „{item}“.")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def save_profile(db, name: str, profile: ImportProfile, user: str = "unbekannt") -> None:
    """Save (or replace) a profile by name."""
    name = (name or "").strip()
    if not name:
        raise ProfileError("Ein Importprofil braucht einen Namen.")
    with db.transaction() as cur:
        cur.execute("DELETE FROM import_profile WHERE name = $n", {"n": name})
        cur.execute(
            "INSERT INTO import_profile (name, spec_json, created_by) VALUES ($n, $s, $u)",
            {"n": name, "s": profile.to_json(), "u": user},
        )
        cur.execute("INSERT INTO audit (user_name, action, detail) VALUES ($u, 'profile', $d)",
                    {"u": user, "d": f"Importprofil „{name}“ gespeichert"})


def load_profile(db, name: str) -> ImportProfile:
    """The profile saved under `name`; ProfileError (German) if unknown."""
    rows = db.query("SELECT spec_json FROM import_profile WHERE name = $n", {"n": name})
    if not rows:
        known = list_profiles(db)
        hint = ("Vorhanden: " + ", ".join(f"„{n}“" for n in known) + ".") if known else "Es gibt noch keine."
        raise ProfileError(f"Importprofil „{name}“ gibt es nicht. {hint}")
    return ImportProfile.from_json(rows[0][0])


def list_profiles(db) -> list[str]:
    return [r[0] for r in db.query("SELECT name FROM import_profile ORDER BY name")]


def raw_preview(data: bytes, file_name: str, sheet: str | None = None,
                nrows: int = 15) -> tuple[list[str], list[list[str]]]:
    """Sheet names and the first `nrows` rows of a sheet as text, row i = Excel row i+1, column j = letter j.

    Raises ReadError / UnsafeFileError (German) for files that cannot be read.
    """
    from kpi.ingest.pipeline import _check
    from kpi.ingest.read import open_book

    _check(data, file_name, None)
    book = open_book(data, file_name)
    names = list(book.sheet_names)
    if not names:
        return names, []
    grid = book.grid(sheet if sheet in names else names[0])
    n_rows = max(0, min(nrows - (grid.row0 - 1), grid.n_rows))
    width = grid.col0 + grid.n_cols
    rows = [[""] * width for _ in range(grid.row0 - 1)][:nrows]
    for r in range(n_rows):
        rows.append([""] * grid.col0 + [grid.cell(r, c) or "" for c in range(grid.n_cols)])
    return names, rows[:nrows]
