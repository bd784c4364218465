"""Built-in reference data: the KPI catalog, Handlungsfelder, example parameters (DOMAIN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str
    family: str
    polarity: str  # higher | lower | none
    aggregation: str  # sum | mean | wmean_fallzahl | last
    min_value: float | None
    max_value: float | None


KPIS: tuple[Kpi, ...] = (
    Kpi("papier_seiten", "Gedruckte / versandte Seiten", "Seiten", "papier", "lower", "sum", 0, None),
    Kpi("papier_kosten_eur", "Papier-, Druck-, Porto- und Archivkosten", "€", "papier", "lower", "sum", 0, None),
    Kpi("fallzahl", "Fälle (Anträge, Vorgänge)", "Anzahl", "bearbeitung", "none", "sum", 0, None),
    Kpi("online_faelle", "davon online eingegangen", "Anzahl", "nutzung", "higher", "sum", 0, None),
    Kpi("bearbeitungszeit_min", "Ø Bearbeitungszeit je Fall (Arbeitszeit)", "Minuten", "bearbeitung", "lower", "wmean_fallzahl", 0, None),
    Kpi("durchlaufzeit_tage", "Ø Durchlaufzeit (Antrag bis Bescheid)", "Tage", "bearbeitung", "lower", "wmean_fallzahl", 0, None),
    Kpi("bitv_score", "BITV-Test-Ergebnis (0–100 Punkte)", "Punkte", "barrierefreiheit", "higher", "last", 0, 100),
    Kpi("bitv_pruefschritte_pct", "erfüllte BITV-Prüfschritte", "%", "barrierefreiheit", "higher", "last", 0, 100),
    Kpi("wcag_verstoesse", "offene Barrieren (WCAG-Verstöße)", "Anzahl", "barrierefreiheit", "lower", "last", 0, None),
    Kpi("lighthouse_a11y", "Lighthouse-Barrierefreiheitswert (automatisch)", "Punkte", "barrierefreiheit", "higher", "last", 0, 100),
    Kpi("kosten_investition_eur", "Investitionskosten (einmalig)", "€", "kosten", "lower", "sum", 0, None),
    Kpi("kosten_betrieb_eur", "Betriebs- und Lizenzkosten (laufend)", "€", "kosten", "lower", "sum", 0, None),
    Kpi("kosten_personal_eur", "Personalkosten des Vorhabens", "€", "kosten", "lower", "sum", 0, None),
    Kpi("einsparung_sonstige_eur", "sonstige belegte Einsparungen", "€", "kosten", "higher", "sum", 0, None),
    Kpi("zufriedenheit", "Nutzerzufriedenheit", "1–5", "nutzung", "higher", "mean", 1, 5),
    Kpi("ozg_reifegrad", "OZG-Reifegrad (Modell 1.1, Stufe 0–4)", "Stufe", "nutzung", "higher", "last", 0, 4),
    Kpi("ozg_reifegrad_2", "OZG-Reifegrad (Modell 2.0, Stufe 0–7)", "Stufe", "nutzung", "higher", "last", 0, 7),
)

KPI_BY_KEY = {k.key: k for k in KPIS}

FAMILIES: dict[str, str] = {
    "papier": "Papier & Porto",
    "bearbeitung": "Bearbeitungszeiten & Fallzahlen",
    "barrierefreiheit": "Barrierefreiheit",
    "kosten": "Kosten & Einsparungen",
    "nutzung": "Nutzung & Zufriedenheit",
}

HANDLUNGSFELDER: tuple[str, ...] = (
    "Verwaltung",
    "Bildung",
    "Mobilität/Verkehr",
    "Gesundheit",
    "Bürgerbeteiligung",
    "Wirtschaft/Tourismus",
    "Kultur/Freizeit",
    "Umwelt/Energie",
    "Sicherheit/Notfallmanagement",
    "Infrastruktur",
)

LAUFBAHNEN: dict[str, str] = {
    "einfach": "einfacher Dienst",
    "mittel": "mittlerer Dienst",
    "gehoben": "gehobener Dienst",
    "hoeher": "höherer Dienst",
}

GRANULARITIES: dict[str, str] = {"month": "Monat", "quarter": "Quartal", "year": "Jahr"}


@dataclass(frozen=True)
class ParameterDefault:
    key: str
    label: str
    unit: str
    value: float
    source: str


# Example values, marked as such in the UI: each Kommune sets its own, dated.
PARAMETER_DEFAULTS: tuple[ParameterDefault, ...] = (
    ParameterDefault("discount_rate", "Kalkulationszinssatz", "Anteil (0,03 = 3 %)", 0.03,
                     "Beispielwert; maßgeblich ist das jeweils gültige BMF-Rundschreiben zu Personalkostensätzen/Kalkulationszinssätzen"),
    ParameterDefault("wage_rate_einfach", "Lohnkostensatz einfacher Dienst", "€/Stunde", 35.00,
                     "Beispielwert (Größenordnung Lohnkostentabelle Destatis/Normenkontrollrat)"),
    ParameterDefault("wage_rate_mittel", "Lohnkostensatz mittlerer Dienst", "€/Stunde", 41.80,
                     "Beispielwert (Größenordnung Lohnkostentabelle Destatis/Normenkontrollrat)"),
    ParameterDefault("wage_rate_gehoben", "Lohnkostensatz gehobener Dienst", "€/Stunde", 51.30,
                     "Beispielwert (Größenordnung Lohnkostentabelle Destatis/Normenkontrollrat)"),
    ParameterDefault("wage_rate_hoeher", "Lohnkostensatz höherer Dienst", "€/Stunde", 70.50,
                     "Beispielwert (Größenordnung Lohnkostentabelle Destatis/Normenkontrollrat)"),
    ParameterDefault("cost_per_page_eur", "Kosten je Seite (Papier, Druck, Porto, Archiv)", "€/Seite", 0.95,
                     "Beispielwert"),
    ParameterDefault("fte_hours_per_year", "Netto-Jahresarbeitszeit je Vollzeitstelle", "Stunden", 1600.0,
                     "Beispielwert"),
    ParameterDefault("material_cost_per_case_eur", "Sachkosten je Fall", "€/Fall", 0.0,
                     "Beispielwert"),
)

PARAMETER_BY_KEY = {p.key: p for p in PARAMETER_DEFAULTS}
PARAMETER_DEFAULT_VALID_FROM = date(2000, 1, 1)

# Suggested starter criteria for the Nutzwertanalyse (DOMAIN.md §4), weights in percent.
DEFAULT_CRITERIA: tuple[tuple[str, float], ...] = (
    ("Bürgerfreundlichkeit", 25.0),
    ("Barrierefreiheit", 20.0),
    ("Mitarbeiterzufriedenheit", 15.0),
    ("Datenschutz/IT-Sicherheit", 15.0),
    ("Strategische Bedeutung", 15.0),
    ("Externe Effekte", 10.0),
)

SIZE_CLASSES: tuple[tuple[str, int, int | None], ...] = (
    ("unter 5.000", 0, 5_000),
    ("5.000 bis 20.000", 5_000, 20_000),
    ("20.000 bis 100.000", 20_000, 100_000),
    ("über 100.000", 100_000, None),
)


def size_class(einwohner: int | None) -> str | None:
    """Return the German size-class label of a population; None when unknown."""
    if einwohner is None:
        return None
    for label, low, high in SIZE_CLASSES:
        if einwohner >= low and (high is None or einwohner < high):
            return label
    return None
