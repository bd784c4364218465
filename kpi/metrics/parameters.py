"""Dated, versioned calculation parameters: the version in force on a date, the history, adding a version."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd

from kpi import catalog
from kpi.db import Database, audit
from kpi.fmt import number_de


class ParameterError(ValueError):
    """An invalid parameter value (German message)."""


@dataclass(frozen=True)
class ParameterVersion:
    """One stored version of a parameter."""

    parameter_id: int
    key: str
    value: float
    valid_from: date
    source: str | None
    is_example: bool

    @property
    def source_de(self) -> str:
        """Return 'Parameter wage_rate_gehoben (Nr. 4), gültig ab 01.01.2000 (Beispielwert)'."""
        text = f"Parameter {self.key} (Nr. {self.parameter_id}), gültig ab {self.valid_from:%d.%m.%Y}"
        return text + (" (Beispielwert)" if self.is_example else "")


# The version in force on a date: newest valid_from <= date, ties broken by the newest parameter_id.
_IN_FORCE_SQL = """
    SELECT parameter_id, key, value, valid_from, source, is_example
    FROM parameter
    WHERE valid_from <= $on
    QUALIFY row_number() OVER (PARTITION BY key ORDER BY valid_from DESC, parameter_id DESC) = 1
"""


def current_parameters(db: Database, on: date | None = None) -> dict[str, ParameterVersion]:
    """Return key -> version in force on `on` (default today); keys without a version then are absent."""
    rows = db.query(_IN_FORCE_SQL, {"on": on or date.today()})
    return {r[1]: ParameterVersion(int(r[0]), r[1], float(r[2]), r[3], r[4], bool(r[5])) for r in rows}


def versions_by_id(db: Database) -> dict[int, ParameterVersion]:
    """Return every stored version by parameter_id (for explanations)."""
    rows = db.query("SELECT parameter_id, key, value, valid_from, source, is_example FROM parameter")
    return {int(r[0]): ParameterVersion(int(r[0]), r[1], float(r[2]), r[3], r[4], bool(r[5])) for r in rows}


def parameter_table(db: Database) -> pd.DataFrame:
    """Return every stored version (per key newest first) with German label, unit and 'in force today'."""
    df = db.df(
        """
        SELECT p.parameter_id, p.key, p.value, p.valid_from, p.source, p.is_example,
               p.created_at, p.created_by,
               p.parameter_id IN (SELECT parameter_id FROM (""" + _IN_FORCE_SQL + """)) AS in_force
        FROM parameter p
        ORDER BY p.key, p.valid_from DESC, p.parameter_id DESC
        """,
        {"on": date.today()},
    )
    df.insert(2, "label", [catalog.PARAMETER_BY_KEY[k].label if k in catalog.PARAMETER_BY_KEY else k
                           for k in df["key"]])
    df.insert(3, "unit", [catalog.PARAMETER_BY_KEY[k].unit if k in catalog.PARAMETER_BY_KEY else ""
                          for k in df["key"]])
    return df


def validate_parameter(key: str, value: float) -> list[str]:
    """Return German errors for a parameter value (empty when valid)."""
    if key not in catalog.PARAMETER_BY_KEY:
        known = ", ".join(sorted(catalog.PARAMETER_BY_KEY))
        return [f"Unbekannter Parameter „{key}“. Bekannt sind: {known}."]
    label = catalog.PARAMETER_BY_KEY[key].label
    try:
        v = float(value)
    except (TypeError, ValueError):
        return [f"{label}: „{value}“ ist keine Zahl."]
    if not math.isfinite(v):
        return [f"{label}: „{value}“ ist keine endliche Zahl."]
    if key == "discount_rate":
        if v >= 1 or v <= -0.5:
            return [f"{label}: {number_de(v, 4)} ist kein Anteil. Bitte als Anteil eingeben, "
                    "z. B. 0,03 für 3 %."]
    elif key.startswith("wage_rate_") and v <= 0:
        return [f"{label}: muss größer als 0 €/Stunde sein (eingegeben: {number_de(v, 2)})."]
    elif key == "fte_hours_per_year" and not (0 < v <= 8760):
        return [f"{label}: muss zwischen 0 und 8.760 Stunden liegen (eingegeben: {number_de(v, 1)})."]
    elif v < 0:
        return [f"{label}: darf nicht negativ sein (eingegeben: {number_de(v, 2)})."]
    return []


def add_parameter_version(db: Database, key: str, value: float, valid_from: date,
                          source: str | None, user: str) -> int:
    """Store a new version (validated, audited, one transaction); returns its parameter_id."""
    errors = validate_parameter(key, value)
    if not isinstance(valid_from, date):
        errors.append(f"Gültig ab: „{valid_from}“ ist kein Datum.")
    if errors:
        raise ParameterError(" ".join(errors))
    with db.transaction() as cur:
        pid = cur.execute(
            """
            INSERT INTO parameter (key, value, valid_from, source, is_example, created_by)
            VALUES ($k, $v, $d, $s, false, $u) RETURNING parameter_id
            """,
            {"k": key, "v": float(value), "d": valid_from, "s": source, "u": user},
        ).fetchone()[0]
        audit(cur, user, "parameter",
              f"Parameter {key} = {number_de(float(value), 4)} gültig ab {valid_from:%d.%m.%Y} "
              f"(Nr. {pid}, Quelle: {source or '–'})")
    return int(pid)
