"""Ratsvorlage: a printable German PDF for the council with filters, headline figures, charts,
one table per Maßnahme and a method box.

fpdf2 writes the PDF with an embedded DejaVu Sans (umlauts, €). Accessibility: fpdf2 tags
images with alternative text (structure tree with /Figure), sets the document language and
title and writes an outline (bookmarks) from the section headings; it does not tag
paragraphs and tables, so the file is not a full PDF/UA document.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from kpi import catalog
from kpi.db import Database, audit_now, latest_upload_time
from kpi.filters import Filters
from kpi.fmt import date_de, datetime_de, eur_de, month_de, number_de, pct_de

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

INK = (26, 26, 26)
MUTED = (89, 89, 89)
ACCENT = (0, 114, 178)  # Okabe–Ito blue, as in the charts
BOX = (238, 242, 247)
LINE = (200, 200, 200)


class ReportError(ValueError):
    """A report that cannot be made (German message)."""


def font_paths() -> dict[str, Path]:
    """Return the DejaVu Sans regular/bold files; ReportError (German) when the font is missing."""
    for folder in FONT_DIRS:
        paths = {style: folder / name for style, name in FONT_FILES.items()}
        if all(p.is_file() for p in paths.values()):
            return paths
    raise ReportError("Die Schrift DejaVu Sans fehlt (Debian-Paket „fonts-dejavu-core“); "
                      "ohne sie kann die Ratsvorlage keine Umlaute und kein €-Zeichen darstellen.")


# ---------------------------------------------------------------- data

def report_data(db: Database, filters: Filters, discount_rate: float | None = None) -> dict:
    """Collect everything the report shows: results per Maßnahme, the total, series, parameters."""
    from kpi.metrics import engine

    kommunen = list(filters.kommune) or [None]
    results = []
    for k in kommunen:
        results += engine.compute_all(db, kommune=k, discount_rate=discount_rate)
    if filters.massnahme:
        results = [r for r in results if r.massnahme in filters.massnahme]
    if filters.handlungsfeld:
        results = [r for r in results if r.handlungsfeld in filters.handlungsfeld]
    total = engine.aggregate(results, "overall")[0] if results else None
    series = engine.series_frame(results)
    return {
        "results": results,
        "total": total,
        "series": series,
        "parameters": parameter_table(db),
        "stand": latest_upload_time(db),
    }


def parameter_table(db: Database, on: date | None = None) -> list[tuple[str, float, date, str]]:
    """Return (label, value, valid_from, source) of the discount rate and wage rates in force on `on`."""
    on = on or date.today()
    keys = ["discount_rate"] + [f"wage_rate_{lb}" for lb in catalog.LAUFBAHNEN] + ["cost_per_page_eur"]
    rows = db.query(
        """
        SELECT key, value, valid_from, coalesce(source, '') FROM parameter
        WHERE key IN (SELECT unnest($keys)) AND valid_from <= $on
        QUALIFY row_number() OVER (PARTITION BY key ORDER BY valid_from DESC, parameter_id DESC) = 1
        """,
        {"keys": keys, "on": on},
    )
    by_key = {r[0]: r for r in rows}
    out = []
    for key in keys:
        if key in by_key:
            _, value, valid_from, source = by_key[key]
            out.append((catalog.PARAMETER_BY_KEY[key].label, float(value), valid_from, source))
    return out


def _param_text(label: str, value: float) -> str:
    if label.startswith("Kalkulationszins"):
        return pct_de(value, 1)
    if label.startswith("Lohnkostensatz"):
        return eur_de(value, 2) + " je Stunde"
    return eur_de(value, 2)


# ---------------------------------------------------------------- charts

def _png(chart, width: int) -> bytes:
    """Render a Vega-Lite chart (Altair object or spec dict) at a fixed width to PNG."""
    import vl_convert as vlc

    spec = dict(chart) if isinstance(chart, dict) else chart.to_dict()
    spec["width"] = width  # the app's charts say width "container", which has no meaning in a PDF
    return vlc.vegalite_to_png(spec, scale=2)


def _charts(data: dict) -> list[tuple[str, bytes, str]]:
    """Return (heading, PNG, alternative text) of the main charts; empty when there is nothing to draw."""
    from kpi.charts import costbenefit

    out = []
    series: pd.DataFrame = data["series"]
    total = data["total"]
    if not series.empty:
        monthly = (series.groupby("month", as_index=False)[["costs_eur", "benefits_eur"]].sum(min_count=1)
                   .sort_values("month"))
        monthly["cum_costs_eur"] = monthly["costs_eur"].fillna(0).cumsum()
        monthly["cum_benefits_eur"] = monthly["benefits_eur"].fillna(0).cumsum()
        break_even = total.payback_month if total else None
        chart = costbenefit.cumulative_chart(monthly, break_even, height=260, font_size=12)
        alt_text = costbenefit.cumulative_summary_de(monthly, break_even, "Alle ausgewählten Maßnahmen")
        legend = ("Blaue durchgezogene Linie: Nutzen (kumuliert); orange gestrichelte Linie: Kosten "
                  "(kumuliert); grüne senkrechte Linie: Gewinnschwelle. ")
        out.append(("Kosten und Nutzen über die Zeit", _png(chart, 640), legend + alt_text))
    frame = pd.DataFrame([{"massnahme": _label(r, data), "npv_eur": r.npv_eur} for r in data["results"]])
    if not frame.empty and frame["npv_eur"].notna().any():
        rate = total.discount_rate if total else None
        chart = costbenefit.npv_bars(frame, discount_rate=rate, height=max(120, 26 * len(frame)), font_size=12)
        best = frame.dropna().sort_values("npv_eur", ascending=False).iloc[0]
        alt_text = (f"Kapitalwert je Maßnahme; am höchsten: {best['massnahme']} mit {eur_de(best['npv_eur'])}. "
                    "Die Werte stehen auch in den Tabellen je Maßnahme.")
        out.append(("Kapitalwert je Maßnahme", _png(chart, 560), alt_text))
    return out


def _label(r, data: dict) -> str:
    several = len({x.kommune for x in data["results"]}) > 1
    return f"{r.massnahme} ({r.kommune})" if several else r.massnahme


# ---------------------------------------------------------------- PDF

def _new_pdf(footer_left: str) -> FPDF:
    """An A4 page set-up whose footer reads `footer_left` and the page number.

    fpdf is imported here, not with the module: it takes ~0,5 s, and the Daten & Export page
    imports this module for the file name on its first render.
    """
    from fpdf import FPDF

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-13)
            self.set_font("DejaVu", "", 8)
            self.set_text_color(*MUTED)
            self.cell(0, 5, footer_left, align="L")
            self.set_x(self.l_margin)
            self.cell(0, 5, f"Seite {self.page_no()} von {{nb}}", align="R")

    return _Pdf(orientation="P", unit="mm", format="A4")


def _heading(pdf: FPDF, text: str, size: int = 14) -> None:
    from fpdf.enums import XPos, YPos

    if pdf.get_y() > pdf.h - 50:
        pdf.add_page()
    pdf.ln(3)
    pdf.start_section(text, level=0 if size >= 14 else 1)
    pdf.set_font("DejaVu", "B", size)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)


def _para(pdf: FPDF, text: str, size: float = 10, color=INK) -> None:
    from fpdf.enums import XPos, YPos

    pdf.set_font("DejaVu", "", size)
    pdf.set_text_color(*color)
    pdf.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _rows_height(rows: Sequence[tuple[str, str]], size: float) -> float:
    """Estimate the height (mm) of a two-column table: wrapped lines of the longer column."""
    lines = sum(max(1 + len(label) // 30, 1 + len(value) // 55) for label, value in rows)
    return lines * size * 0.5 + len(rows) * 2.6


def _kv_table(pdf: FPDF, rows: Sequence[tuple[str, str]], widths=(62, 112), size: float = 9.5) -> None:
    """A two-column table (label, value) with thin rules, kept on one page when it fits on one."""
    needed = _rows_height(rows, size)
    if pdf.get_y() + needed > pdf.h - pdf.b_margin and needed < pdf.h - 60:
        pdf.add_page()
    pdf.set_font("DejaVu", "", size)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(*LINE)
    with pdf.table(col_widths=widths, first_row_as_headings=False, line_height=size * 0.5,
                   borders_layout="HORIZONTAL_LINES", padding=1.2, text_align="LEFT") as table:
        for label, value in rows:
            row = table.row()
            row.cell(label)
            row.cell(value)


def _tiles(pdf: FPDF, tiles: list[tuple[str, str, str]]) -> None:
    """Big headline numbers in boxes: (label, figure, small note)."""
    gap = 4
    w = (pdf.w - pdf.l_margin - pdf.r_margin - gap * (len(tiles) - 1)) / len(tiles)
    y = pdf.get_y()
    h = 30
    for i, (label, figure, note) in enumerate(tiles):
        x = pdf.l_margin + i * (w + gap)
        pdf.set_fill_color(*BOX)
        pdf.rect(x, y, w, h, style="F")
        pdf.set_xy(x + 3, y + 3)
        pdf.set_font("DejaVu", "", 8.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(w - 6, 4, label)
        pdf.set_xy(x + 3, y + 9)
        pdf.set_font("DejaVu", "B", 15 if len(figure) < 14 else 11.5)
        pdf.set_text_color(*INK)
        pdf.cell(w - 6, 8, figure)
        pdf.set_xy(x + 3, y + 19)
        pdf.set_font("DejaVu", "", 7.5)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(w - 6, 3.4, note, align="L")
    pdf.set_xy(pdf.l_margin, y + h + 4)


def _money(x) -> str:
    return eur_de(x) if x is not None else "nicht berechenbar"


def _headline(total, n: int) -> list[tuple[str, str, str]]:
    if total is None:
        return []
    rate = pct_de(total.discount_rate, 1)
    payback = total.payback_text_de
    if payback.startswith("amortisiert im "):
        payback_fig, payback_note = payback.removeprefix("amortisiert im "), "amortisiert (dynamisch, abgezinst)"
    else:
        payback_fig, payback_note = payback, "kumulierter abgezinster Nettonutzen"
    return [
        ("Nettonutzen", _money(total.net_benefit_eur),
         f"Nutzen {eur_de(total.benefits_eur)} − Kosten {eur_de(total.costs_eur)}"),
        ("Kapitalwert", _money(total.npv_eur), f"abgezinst mit {rate} je Jahr"),
        ("Amortisation", payback_fig, payback_note),
        ("Maßnahmen", number_de(n), f"davon haushaltswirksam: {_money(total.net_benefit_budget_eur)} netto"),
    ]


def _massnahme_rows(r) -> list[tuple[str, str]]:
    rows = [
        ("Kommune", r.kommune),
        ("Handlungsfeld", r.handlungsfeld or "–"),
        ("Go-live", month_de(r.golive) if r.golive else "–"),
        ("Kosten", eur_de(r.costs_eur)),
        ("Nutzen (gesamt)", _money(r.benefits_eur)),
        ("  davon haushaltswirksam", _money(r.benefits_budget_eur)),
        ("Nettonutzen", _money(r.net_benefit_eur)),
        ("Kapitalwert", f"{_money(r.npv_eur)} (Zinssatz {pct_de(r.discount_rate, 1)})"),
        ("Rendite (ROI)", pct_de(r.roi, 1) if r.roi is not None else "–"),
        ("Amortisation", r.payback_text_de),
        ("Eingesparte Arbeitsstunden", number_de(r.hours_saved) if r.hours_saved is not None else "–"),
    ]
    for kpi, b in r.baseline.items():
        label = catalog.KPI_BY_KEY[kpi].label if kpi in catalog.KPI_BY_KEY else kpi
        value = number_de(b.value, 1) + " – " if b.value is not None else ""
        rows.append((f"Ausgangswert: {label}", value + b.text_de))
    for reason in r.not_computable:
        rows.append(("Nicht berechenbar", reason))
    for note in r.notes:
        rows.append(("Hinweis", note))
    return rows


METHOD_TEXT = (
    "Nutzen zählen ab dem Monat der Inbetriebnahme (Go-live). Ausgangswert ist der Mittelwert der bis zu "
    "12 Monate vor dem Go-live, sonst ein ausdrücklich angegebener Wert. "
    "Papierersparnis = (Ausgangswert Seiten − Seiten) × Kosten je Seite bzw. Ausgangswert € − €. "
    "Zeitersparnis (Standardkostenmodell) = Fälle × (Ausgangs-Minuten − Minuten) / 60 × Lohnkostensatz der "
    "Laufbahn. Papier- und sonstige Einsparungen sind haushaltswirksam, freigewordene Arbeitszeit nicht. "
    "Nettonutzen = Summe der Nutzen − Summe der Kosten. Kapitalwert = Summe der jährlichen Nettowerte, "
    "jeweils abgezinst mit (1 + Zinssatz) hoch t; t = 0 ist das erste Jahr mit Kosten oder Nutzen. "
    "Amortisation (dynamisch) = erster Monat, ab dem der kumulierte abgezinste Nettonutzen dauerhaft "
    "mindestens null ist."
)


def build_pdf(db: Database, filters: Filters, user: str = "unbekannt",
              discount_rate: float | None = None) -> tuple[bytes, int]:
    """Return the Ratsvorlage as PDF bytes and its page count."""
    fonts = font_paths()
    data = report_data(db, filters, discount_rate)
    results, total = data["results"], data["total"]
    stand = data["stand"]
    kommune_text = ", ".join(filters.kommune) or (
        ", ".join(sorted({r.kommune for r in results})) if results else "alle Kommunen")

    from fpdf.enums import XPos, YPos

    pdf = _new_pdf(f"KPI-Cockpit · {kommune_text} · Stand: {date_de(stand) if stand else '–'}")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 16, 18)
    pdf.add_font("DejaVu", "", str(fonts[""]))
    pdf.add_font("DejaVu", "B", str(fonts["B"]))
    pdf.set_lang("de-DE")
    title = f"Ratsvorlage: Wirkung der Digitalisierung – {kommune_text}"
    pdf.set_title(title)
    pdf.set_author(user)
    pdf.set_creator("KPI-Cockpit")
    pdf.set_creation_date(datetime.now().astimezone())
    pdf.add_page()

    # title block
    pdf.set_font("DejaVu", "", 10)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 5, "Ratsvorlage · Digitalisierung", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.start_section("Wirkung der Digitalisierung", level=0)
    pdf.set_font("DejaVu", "B", 20)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 9, "Wirkung der Digitalisierung", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 7, kommune_text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    _para(pdf, f"Stand: {date_de(stand) if stand else 'noch keine Daten'} · erstellt am "
               f"{datetime_de(datetime.now())} von {user}", 9.5, MUTED)
    pdf.ln(3)

    # active filters
    _heading(pdf, "Auswahl", 12)
    _kv_table(pdf, filters.describe_de())
    if filters.period_from or filters.period_to or filters.kpi or filters.family:
        _para(pdf, "Kosten-Nutzen-Kennzahlen umfassen stets die gesamte Laufzeit und alle Kennzahlen der "
                   "ausgewählten Maßnahmen; Zeitraum und Kennzahl-Auswahl gelten für die Datentabellen.",
              8.5, MUTED)
    pdf.ln(2)

    if not results:
        _heading(pdf, "Ergebnis")
        _para(pdf, "Für diese Auswahl liegen keine Maßnahmen mit Kosten- oder Nutzenwerten vor.")
    else:
        _heading(pdf, "Auf einen Blick")
        _tiles(pdf, _headline(total, len(results)))
        if total.incomplete:
            _para(pdf, "Nicht vollständig berechenbar: " + "; ".join(total.incomplete), 8.5, MUTED)
        for heading, png, alt_text in _charts(data):
            if pdf.get_y() > pdf.h - 90:
                pdf.add_page()
            _heading(pdf, heading, 12)
            pdf.image(io.BytesIO(png), w=pdf.w - pdf.l_margin - pdf.r_margin, alt_text=alt_text)
            _para(pdf, alt_text, 8.5, MUTED)

        if pdf.get_y() > pdf.h - 80:
            pdf.add_page()
        _heading(pdf, "Maßnahmen im Überblick")
        _overview_table(pdf, results, data)
        for r in results:
            rows = _massnahme_rows(r)
            if pdf.get_y() + 16 + _rows_height(rows, 9.5) > pdf.h - pdf.b_margin:
                pdf.add_page()  # heading and table together
            _heading(pdf, _label(r, data), 12)
            _kv_table(pdf, rows)
            pdf.ln(2)

    _method_box(pdf, data["parameters"], total)
    pdf_bytes = bytes(pdf.output())
    return pdf_bytes, pdf.pages_count


def _overview_table(pdf: FPDF, results, data) -> None:
    from fpdf.fonts import FontFace

    pdf.set_font("DejaVu", "", 8.5)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(*LINE)
    heads = ("Maßnahme", "Kosten", "Nutzen", "Nettonutzen", "Kapitalwert", "Amortisation")
    with pdf.table(col_widths=(52, 22, 22, 24, 24, 30), line_height=4.3, padding=1.2,
                   text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
                   borders_layout="HORIZONTAL_LINES",
                   headings_style=FontFace(emphasis="BOLD", fill_color=BOX)) as table:
        head = table.row()
        for h in heads:
            head.cell(h)
        for r in results:
            row = table.row()
            row.cell(_label(r, data))
            row.cell(eur_de(r.costs_eur))
            row.cell(_money(r.benefits_eur) if r.benefits_eur is not None else "–")
            row.cell(eur_de(r.net_benefit_eur) if r.net_benefit_eur is not None else "–")
            row.cell(eur_de(r.npv_eur) if r.npv_eur is not None else "–")
            row.cell(r.payback_text_de)


def _method_box(pdf: FPDF, parameters, total) -> None:
    from fpdf.enums import XPos, YPos

    if pdf.get_y() > pdf.h - 110:
        pdf.add_page()
    _heading(pdf, "Methode")
    pdf.set_fill_color(*BOX)
    pdf.set_font("DejaVu", "", 9)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 4.4, METHOD_TEXT, fill=True, padding=3, align="L", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.ln(2)
    rows = [(label, f"{_param_text(label, value)} · gültig ab {date_de(valid_from)}")
            for label, value, valid_from, _ in parameters]
    if total is not None and not any(lbl.startswith("Kalkulationszins") for lbl, *_ in parameters):
        rows.insert(0, ("Kalkulationszinssatz", pct_de(total.discount_rate, 1)))
    _kv_table(pdf, rows, widths=(74, 100), size=9)
    sources = sorted({s for *_, s in parameters if s})
    if sources:
        pdf.ln(1)
        _para(pdf, "Quellen der Parameter: " + "; ".join(sources), 8, MUTED)


def write_report(db: Database, out_path: Path, filters: Filters, user: str = "unbekannt") -> int:
    """Write the Ratsvorlage PDF to `out_path` (atomically) and return its page count."""
    out_path = Path(out_path)
    if not out_path.parent.exists():
        raise ReportError(f"Der Ordner „{out_path.parent}“ existiert nicht.")
    data, pages = build_pdf(db, filters, user=user)
    with tempfile.NamedTemporaryFile(dir=out_path.parent, suffix=".pdf.tmp", delete=False) as tmp:
        tmp.write(data)
    shutil.move(tmp.name, out_path)
    audit_now(db, user, "report", f"Ratsvorlage ({pages} Seiten) nach {out_path.name}")
    return pages


def report_file_name(filters: Filters) -> str:
    """Return 'ratsvorlage_<kommune>_<from>_<to>.pdf'."""
    from kpi.export import slug

    kommune = slug("-".join(filters.kommune)) if filters.kommune else "alle"
    part_from = filters.period_from.strftime("%Y-%m") if filters.period_from else "beginn"
    part_to = filters.period_to.strftime("%Y-%m") if filters.period_to else "ende"
    return f"ratsvorlage_{kommune}_{part_from}_{part_to}.pdf"
