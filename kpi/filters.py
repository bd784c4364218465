"""The one filter panel's state: to/from URL query parameters and to a parameterised SQL WHERE clause."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date

from kpi.fmt import month_de, parse_month


@dataclass(frozen=True)
class Filters:
    """What the analyst selected; None means 'all'. Periods are first days of months."""

    kommune: tuple[str, ...] = ()
    handlungsfeld: tuple[str, ...] = ()
    massnahme: tuple[str, ...] = ()
    family: tuple[str, ...] = ()
    kpi: tuple[str, ...] = ()
    period_from: date | None = None
    period_to: date | None = None
    granularity: str = "month"  # month | quarter | year: how charts and exports aggregate

    # Column of v_measurement each list filter applies to (fixed allow-list).
    _COLUMNS = {
        "kommune": "kommune",
        "handlungsfeld": "handlungsfeld",
        "massnahme": "massnahme",
        "family": "family",
        "kpi": "kpi",
    }

    def where_sql(self, alias: str = "") -> tuple[str, dict]:
        """Return ('WHERE …' or '', params) for v_measurement-shaped rows; values are bound, never formatted."""
        if alias not in ("", "v", "me"):
            raise ValueError(f"unknown alias {alias!r}")
        prefix = f"{alias}." if alias else ""
        parts: list[str] = []
        params: dict = {}
        for name, column in self._COLUMNS.items():
            values = getattr(self, name)
            if values:
                parts.append(f"{prefix}{column} IN (SELECT unnest(${name}))")
                params[name] = list(values)
        if self.period_from is not None:
            parts.append(f"{prefix}period >= $period_from")
            params["period_from"] = self.period_from
        if self.period_to is not None:
            parts.append(f"{prefix}period <= $period_to")
            params["period_to"] = self.period_to
        return ("WHERE " + " AND ".join(parts) if parts else ""), params

    def to_query_params(self) -> dict[str, str]:
        """Return the state as URL query parameters (lists comma-joined, months as YYYY-MM)."""
        out: dict[str, str] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple) and v:
                out[f.name] = ",".join(v)
            elif isinstance(v, date):
                out[f.name] = v.strftime("%Y-%m")
            elif f.name == "granularity" and v != "month":
                out[f.name] = v
        return out

    @classmethod
    def from_query_params(cls, params: dict) -> Filters:
        """Rebuild filters from URL query parameters; unknown or malformed values are ignored."""
        kwargs: dict = {}
        for name in cls._COLUMNS:
            raw = params.get(name)
            if raw:
                kwargs[name] = tuple(v for v in str(raw).split(",") if v)
        for name in ("period_from", "period_to"):
            raw = params.get(name)
            if raw:
                parsed = parse_month(str(raw))
                if parsed is not None:
                    kwargs[name] = parsed
        g = params.get("granularity")
        if g in ("month", "quarter", "year"):
            kwargs["granularity"] = g
        return cls(**kwargs)

    def describe_de(self) -> list[tuple[str, str]]:
        """Return (label, value) pairs in German for reports and the export's Info sheet."""

        labels = {
            "kommune": "Kommune",
            "handlungsfeld": "Handlungsfeld",
            "massnahme": "Maßnahme",
            "family": "Kennzahlen-Familie",
            "kpi": "Kennzahl",
        }
        out = [(label, ", ".join(getattr(self, n)) or "alle") for n, label in labels.items()]
        out.append(("Zeitraum von", month_de(self.period_from) if self.period_from else "Beginn"))
        out.append(("Zeitraum bis", month_de(self.period_to) if self.period_to else "Ende"))
        out.append(("Zeitraster", {"month": "Monat", "quarter": "Quartal", "year": "Jahr"}[self.granularity]))
        return out

    def as_dict(self) -> dict:
        return asdict(self)


def filter_options(db) -> dict:
    """Return what the filter panel offers: Kommunen, Handlungsfelder, Maßnahmen per Kommune, KPIs, months."""
    kommunen = [r[0] for r in db.query("SELECT name FROM kommune ORDER BY name")]
    felder = [r[0] for r in db.query(
        "SELECT DISTINCT handlungsfeld FROM massnahme WHERE handlungsfeld IS NOT NULL ORDER BY 1")]
    massnahmen = db.query(
        "SELECT k.name, m.name FROM massnahme m JOIN kommune k USING (kommune_id) ORDER BY 1, 2")
    kpis = db.query(
        "SELECT key, label, family, unit FROM kpi WHERE key IN (SELECT DISTINCT kpi FROM measurement) "
        "ORDER BY sort_order, key")
    first, last = db.query("SELECT min(period_start), max(period_start) FROM measurement")[0]
    return {
        "kommunen": kommunen,
        "handlungsfelder": felder,
        "massnahmen": massnahmen,  # (kommune, massnahme)
        "kpis": kpis,  # (key, label, family, unit)
        "first": first,
        "last": last,
    }
