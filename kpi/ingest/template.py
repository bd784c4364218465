"""The Excel template (`kpi template OUT.xlsx`, download button): German instructions, master data,
one long sheet per KPI family, targets, baselines, plan, parameters, Nutzwertanalyse, catalog.

Example rows carry the Kommune „Beispielstadt“ (grey, italic): the importer recognises and
skips them, so a template filled below the examples loads without deleting them first.
Parameter, Kriterien and Kennzahlen are prefilled with the real defaults (not examples).
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from kpi import catalog as cat
from kpi.ingest.validate import EXAMPLE_KOMMUNE

ROWS = 2000  # rows covered by data validation
FAMILY_SHEETS = {"papier": "Papier", "bearbeitung": "Bearbeitung", "barrierefreiheit": "Barrierefreiheit",
                 "kosten": "Kosten", "nutzung": "Nutzung"}
POLARITY_DE = {"higher": "höher ist besser", "lower": "niedriger ist besser", "none": "neutral"}
AGGREGATION_DE = {"sum": "Summe", "mean": "Mittelwert", "last": "letzter Wert",
                  "wmean_fallzahl": "gewichtet nach Fallzahl"}
DATA_HEADER = ["Kommune", "Maßnahme", "Kennzahl", "Zeitraum", "Wert", "Bemerkung"]
EXAMPLE_VALUES = {"papier": ("papier_seiten", 1200), "bearbeitung": ("fallzahl", 140),
                  "barrierefreiheit": ("bitv_score", 87), "kosten": ("kosten_betrieb_eur", 1250.5),
                  "nutzung": ("online_faelle", 96)}

_HEAD_FONT = Font(bold=True, color="FFFFFF")
_HEAD_FILL = PatternFill("solid", fgColor="1F4E79")
_EXAMPLE_FONT = Font(italic=True, color="7F7F7F")

INSTRUCTIONS = [
    "KPI-Cockpit – Vorlage für Kennzahlen",
    "",
    "So füllen Sie die Vorlage aus:",
    "1. „Kommunen“: Name, Amtlicher Gemeindeschlüssel (8 Ziffern, optional) und Einwohnerzahl.",
    "2. „Maßnahmen“: je Digitalisierungsvorhaben Kommune, Name, Handlungsfeld (Auswahlliste), Start und "
    "Inbetriebnahme (Datum). Die Inbetriebnahme trennt „vorher“ von „nachher“.",
    "3. Blätter „Papier“, „Bearbeitung“, „Barrierefreiheit“, „Kosten“, „Nutzung“: eine Zeile je Wert – "
    "Kommune, Maßnahme (leer = gilt für die ganze Kommune), Kennzahl (Auswahlliste), Zeitraum, Wert.",
    "   Zeitraum: 2024-03, 03/2024, März 2024, Q1 2024, 1. Quartal 2024, 2024 oder ein Datum (= dieser Monat).",
    "   Wert: eine Zahl in der Einheit der Kennzahl (siehe Blatt „Kennzahlen“), z. B. 1.234,56. "
    "Leer, „-“ oder „.“ bedeutet: kein Wert (nicht 0).",
    "4. „Ziele“, „Ausgangswerte“, „Plan“: Zielwerte, Ausgangswerte vor der Einführung, geplante Kosten und "
    "Nutzen je Jahr (für die Erfolgskontrolle nach WiBe).",
    "5. „Parameter“: Kalkulationszins, Lohnkostensätze, Kosten je Seite … mit Gültig-ab-Datum und Quelle. "
    "Die vorbelegten Werte sind Beispielwerte – bitte durch Ihre eigenen ersetzen.",
    "6. „Kriterien“ und „Bewertung“: Nutzwertanalyse – Gewichte (zusammen 100 %) und Punkte 0–10 je Maßnahme.",
    "7. „Kennzahlen“: der Katalog. Eigene Kennzahlen unten anhängen (Schlüssel aus Kleinbuchstaben, Ziffern "
    "und _, Bezeichnung, Einheit, Familie, Polarität).",
    "",
    f"Zeilen mit der Kommune „{EXAMPLE_KOMMUNE}“ sind Beispiele (grau) und werden beim Hochladen übersprungen.",
    "Summenzeilen („Summe“, „Gesamt“) werden übersprungen – Summen berechnet das Programm selbst.",
    "Beim Hochladen wird jede Zeile geprüft; Fehler werden mit Blatt und Zelle gemeldet. Eine Datei mit Fehlern "
    "wird nur geladen, wenn Sie ausdrücklich „nur gültige Zeilen laden“ wählen.",
    "Dieselbe Datei erneut hochzuladen ändert nichts; korrigierte Werte ersetzen die alten (die Historie bleibt, "
    "jeder Upload kann zurückgenommen werden).",
]


def _sheet(wb: Workbook, title: str, header: list[str], widths: list[int] | None = None):
    ws = wb.create_sheet(title)
    ws.append(header)
    for i, _h in enumerate(header, start=1):
        c = ws.cell(row=1, column=i)
        c.font, c.fill = _HEAD_FONT, _HEAD_FILL
        c.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(i)].width = (widths or [])[i - 1] if widths and i <= len(widths) else 22
    ws.freeze_panes = "A2"
    return ws


def _example(ws, values: list) -> None:
    ws.append(values)
    for cell in ws[ws.max_row]:
        cell.font = _EXAMPLE_FONT


def _validate_list(ws, formula: str, col: str, prompt: str, strict: bool = True) -> None:
    dv = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=True,
                        errorStyle="stop" if strict else "warning",
                        errorTitle="Ungültiger Eintrag", error="Bitte einen Eintrag aus der Liste wählen.",
                        promptTitle="Auswahl", prompt=prompt, showInputMessage=True)
    dv.add(f"{col}2:{col}{ROWS}")
    ws.add_data_validation(dv)


def _validate_number(ws, col: str, low: float | None, high: float | None, whole: bool = False,
                     prompt: str = "") -> None:
    kind = "whole" if whole else "decimal"
    if low is not None and high is not None:
        dv = DataValidation(type=kind, operator="between", formula1=str(low), formula2=str(high))
        msg = f"Bitte eine Zahl von {low} bis {high} eingeben."
    else:
        dv = DataValidation(type=kind, operator="greaterThanOrEqual", formula1=str(low or 0))
        msg = f"Bitte eine Zahl ab {low or 0} eingeben."
    dv.allow_blank = True
    dv.showErrorMessage, dv.errorStyle = True, "warning"  # warning: the user may still confirm
    dv.errorTitle, dv.error = "Wert prüfen", msg
    if prompt:
        dv.showInputMessage, dv.promptTitle, dv.prompt = True, "Hinweis", prompt
    dv.add(f"{col}2:{col}{ROWS}")
    ws.add_data_validation(dv)


def build_template() -> Workbook:
    """Build the template workbook (openpyxl)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Anleitung"
    ws.column_dimensions["A"].width = 120
    for line in INSTRUCTIONS:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=14)
    for row in ws.iter_rows(min_row=2):
        row[0].alignment = Alignment(wrap_text=True)

    # hidden list sheet for dropdowns (keys per family, Handlungsfelder, Laufbahnen, …)
    lists = wb.create_sheet("Listen")
    columns = {
        "A": list(cat.HANDLUNGSFELDER),
        "B": list(cat.LAUFBAHNEN.values()),
        "C": [k.key for k in cat.KPIS],
        "D": list(cat.FAMILIES),
        "E": list(POLARITY_DE.values()),
        "F": ["Summe", "Mittelwert", "letzter Wert"],
        "G": [name for name, _w in cat.DEFAULT_CRITERIA],
    }
    fam_cols = {}
    for i, fam in enumerate(cat.FAMILIES):
        col = get_column_letter(8 + i)
        columns[col] = [k.key for k in cat.KPIS if k.family == fam]
        fam_cols[fam] = col
    for col, values in columns.items():
        for r, v in enumerate(values, start=1):
            lists[f"{col}{r}"] = v
    lists.sheet_state = "hidden"

    def ref(col: str, n: int | None = None) -> str:
        return f"Listen!${col}$1:${col}${n or len(columns[col])}"

    ws = _sheet(wb, "Kommunen", ["Kommune", "AGS", "Einwohner"], [28, 14, 14])
    _example(ws, [EXAMPLE_KOMMUNE, "01234567", 12500])
    ws.column_dimensions["B"].number_format = "@"  # AGS as text: keeps the leading zero
    _validate_number(ws, "C", 1, None, whole=True, prompt="Einwohnerzahl (ganze Zahl)")

    ws = _sheet(wb, "Maßnahmen", ["Kommune", "Maßnahme", "Handlungsfeld", "Start", "Inbetriebnahme",
                                  "Laufbahn", "Geplanter Kapitalwert (€)"], [22, 30, 26, 14, 16, 20, 24])
    _example(ws, [EXAMPLE_KOMMUNE, "Online-Antrag Wohngeld", "Verwaltung", date(2023, 1, 1),
                  date(2023, 10, 1), cat.LAUFBAHNEN["gehoben"], 25000])
    _validate_list(ws, ref("A"), "C", "Handlungsfeld der digitalen Agenda")
    _validate_list(ws, ref("B"), "F", "Laufbahn der Bearbeitenden (für den Lohnkostensatz)")
    for col in "DE":  # column styles, not cells: appended rows stay right below the data
        ws.column_dimensions[col].number_format = "DD.MM.YYYY"

    for fam, title in FAMILY_SHEETS.items():
        ws = _sheet(wb, title, DATA_HEADER, [22, 30, 26, 16, 14, 40])
        key, value = EXAMPLE_VALUES[fam]
        _example(ws, [EXAMPLE_KOMMUNE, "Online-Antrag Wohngeld", key, "2024-03", value,
                      "Beispielzeile – wird beim Import übersprungen"])
        _validate_list(ws, ref(fam_cols[fam]), "C",
                       f"Kennzahl der Familie „{cat.FAMILIES[fam]}“ (Bedeutung: Blatt „Kennzahlen“)",
                       strict=False)
        lows = [k.min_value for k in cat.KPIS if k.family == fam]
        _validate_number(ws, "E", min(v for v in lows if v is not None), None,
                         prompt="Zahl in der Einheit der Kennzahl, z. B. 1234,5")

    ws = _sheet(wb, "Ziele", ["Kommune", "Maßnahme", "Kennzahl", "Zielwert", "Zieldatum", "Startwert"],
                [22, 30, 26, 12, 14, 12])
    _example(ws, [EXAMPLE_KOMMUNE, "Online-Antrag Wohngeld", "online_faelle", 150, date(2025, 12, 31), 20])
    _validate_list(ws, ref("C"), "C", "Kennzahl (Schlüssel)", strict=False)

    ws = _sheet(wb, "Ausgangswerte", ["Kommune", "Maßnahme", "Kennzahl", "Ausgangswert", "Quelle"],
                [22, 30, 26, 14, 40])
    _example(ws, [EXAMPLE_KOMMUNE, "Online-Antrag Wohngeld", "bearbeitungszeit_min", 45,
                  "Zeiterfassung 2022"])
    _validate_list(ws, ref("C"), "C", "Kennzahl (Schlüssel)", strict=False)

    ws = _sheet(wb, "Plan", ["Kommune", "Maßnahme", "Jahr", "Geplante Kosten (€)", "Geplanter Nutzen (€)"],
                [22, 30, 8, 20, 20])
    _example(ws, [EXAMPLE_KOMMUNE, "Online-Antrag Wohngeld", 2024, 30000, 12000])
    _validate_number(ws, "C", 1990, 2100, whole=True, prompt="Kalenderjahr")

    ws = _sheet(wb, "Parameter", ["Schlüssel", "Bezeichnung", "Einheit", "Wert", "Gültig ab", "Quelle"],
                [26, 44, 18, 10, 12, 60])
    for p in cat.PARAMETER_DEFAULTS:
        ws.append([p.key, p.label, p.unit, p.value, cat.PARAMETER_DEFAULT_VALID_FROM, p.source])
        ws.cell(row=ws.max_row, column=5).number_format = "DD.MM.YYYY"

    ws = _sheet(wb, "Kriterien", ["Kriterium", "Gewicht (%)"], [34, 14])
    for name, w in cat.DEFAULT_CRITERIA:
        ws.append([name, w])
    _validate_number(ws, "B", 0, 100, prompt="Gewicht in Prozent; alle zusammen 100")

    ws = _sheet(wb, "Bewertung", ["Kommune", "Maßnahme", "Kriterium", "Punkte (0–10)"], [22, 30, 30, 14])
    _example(ws, [EXAMPLE_KOMMUNE, "Online-Antrag Wohngeld", cat.DEFAULT_CRITERIA[0][0], 8])
    _validate_list(ws, ref("G"), "C", "Kriterium der Nutzwertanalyse", strict=False)
    _validate_number(ws, "D", 0, 10, prompt="Punkte von 0 (schlecht) bis 10 (sehr gut)")

    ws = _sheet(wb, "Kennzahlen", ["Schlüssel", "Bezeichnung", "Einheit", "Familie", "Polarität",
                                   "Aggregation", "Minimum", "Maximum"], [26, 46, 10, 18, 20, 22, 10, 10])
    for k in cat.KPIS:
        ws.append([k.key, k.label, k.unit, k.family, POLARITY_DE[k.polarity],
                   AGGREGATION_DE[k.aggregation], k.min_value, k.max_value])
    _validate_list(ws, ref("D"), "D", "Familie: " + ", ".join(cat.FAMILIES))
    _validate_list(ws, ref("E"), "E", "Ist ein höherer oder ein niedrigerer Wert besser?")
    _validate_list(ws, ref("F"), "F", "Wie Monatswerte zu Quartal/Jahr zusammengefasst werden")
    wb.move_sheet("Listen", offset=len(wb.sheetnames))
    return wb


def template_bytes() -> bytes:
    """The template as .xlsx bytes (for the download button)."""
    buf = io.BytesIO()
    build_template().save(buf)
    return buf.getvalue()


def write_template(path: Path | str) -> Path:
    """Write the template to `path` (.xlsx)."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(template_bytes())
    return path
