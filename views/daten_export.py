"""Daten & Export: the filtered long data and the metrics per Maßnahme, downloads in every format, Ratsvorlage."""

import functools

import streamlit as st

from kpi import export, fmt, report
from views._auth import current_user
from views._filters import filter_panel
from views._shared import cached, get_db, page_header, require_data

PREVIEW_ROWS = 1000

page_header("Daten & Export", "Welche Zahlen stehen hinter den Grafiken – und wie kommen sie nach Excel?")
require_data()
user = current_user()
filters = filter_panel()
db = get_db()

summary = cached(export.selection_summary, filters)
n_rows = cached(export.count_rows, filters)
c = st.columns(4)
c[0].metric("Messwerte", fmt.number_de(summary["values"]), border=True)
c[1].metric("Kommunen", fmt.number_de(summary["kommunen"]), border=True)
c[2].metric("Maßnahmen", fmt.number_de(summary["massnahmen"]), border=True)
c[3].metric("Kennzahlen", fmt.number_de(summary["kpis"]), border=True)
if summary["first"] is not None:
    st.caption(f"Zeitraum der Auswahl: {fmt.month_de(summary['first'])} bis {fmt.month_de(summary['last'])} · "
               f"Zeitraster: {dict(filters.describe_de())['Zeitraster']} · {fmt.number_de(n_rows)} Zeilen im Export")
else:
    st.info("Diese Auswahl enthält keine Messwerte. Bitte die Filter in der Seitenleiste lockern.")


def _download(label: str, fmt_key: str, what: str, key: str, disabled: bool = False) -> None:
    """A download button whose file is produced only when clicked (large exports stay off the page run)."""
    name = export.export_file_name(filters, fmt_key, what, summary["first"], summary["last"])
    make = functools.partial(_make, fmt_key, what)
    st.download_button(label, data=make, file_name=name, mime=export.FORMATS[fmt_key][1], key=key,
                       disabled=disabled, on_click="ignore", icon=":material/download:")


def _make(fmt_key: str, what: str) -> bytes:
    return export.export_bytes(db, fmt_key, filters, what=what, user=user.name)[0]


def _make_report() -> bytes:
    return report.build_pdf(db, filters, user=user.name)[0]


# Only the open tab runs (on_change="rerun"): the metrics per Maßnahme need the cost-benefit engine,
# which the Messwerte tab does not.
tab_data, tab_metrics, tab_report = st.tabs(["Messwerte", "Kennzahlen je Maßnahme", "Ratsvorlage (PDF)"],
                                            key="export_tab", on_change="rerun")

if tab_data.open:
    with tab_data:
        st.subheader("Messwerte (lange Tabelle)")
        preview = cached(export.preview_de, filters, limit=PREVIEW_ROWS)
        if n_rows > PREVIEW_ROWS:
            st.caption(f"Angezeigt: die ersten {fmt.number_de(PREVIEW_ROWS)} von {fmt.number_de(n_rows)} Zeilen; "
                       "die Downloads enthalten alle Zeilen.")
        st.dataframe(preview, hide_index=True, width="stretch", key="export_preview",
                     column_config={"Wert": st.column_config.TextColumn(alignment="right"),
                                    "Werte": st.column_config.NumberColumn(
                                        help="Anzahl zusammengefasster Einzelwerte (bei Quartal oder Jahr)")})
        st.markdown("**Herunterladen**")
        too_many = n_rows > export.XLSX_MAX_DATA_ROWS
        cols = st.columns(4)
        with cols[0]:
            _download("CSV für Excel (Deutsch)", "csv-de", "data", "dl_data_csvde", disabled=n_rows == 0)
        with cols[1]:
            _download("Excel (XLSX)", "xlsx", "data", "dl_data_xlsx", disabled=n_rows == 0 or too_many)
        with cols[2]:
            _download("CSV (Standard)", "csv", "data", "dl_data_csv", disabled=n_rows == 0)
        with cols[3]:
            _download("Parquet", "parquet", "data", "dl_data_parquet", disabled=n_rows == 0)
        note = (f"Excel fasst höchstens {fmt.number_de(export.XLSX_MAX_DATA_ROWS)} Datenzeilen je Blatt "
                "(1.048.576 Zeilen mit Kopfzeile).")
        if too_many:
            st.warning(f"{note} Diese Auswahl hat {fmt.number_de(n_rows)} Zeilen: bitte einschränken, ein gröberes "
                       "Zeitraster wählen oder CSV bzw. Parquet verwenden.", icon=":material/warning:")
        else:
            st.caption(note)
        st.caption("„CSV für Excel (Deutsch)“: Semikolon, Dezimalkomma, Datum TT.MM.JJJJ, UTF-8 mit BOM – öffnet "
                   "sich per Doppelklick richtig in deutschem Excel. „CSV (Standard)“: Komma, Dezimalpunkt, "
                   f"ISO-Datum – für Programme. Exporte mit mehr als {fmt.number_de(export.SORT_ROWS_MAX)} "
                   "Zeilen bleiben unsortiert (schneller). Die Excel-Datei enthält ein Blatt „Info“ mit Filtern, Datenstand "
                   "und verwendeten Uploads. Texte, die mit =, +, -, @ beginnen, werden mit ' entschärft.")

if tab_metrics.open:
    with tab_metrics:
        st.subheader("Kosten-Nutzen-Kennzahlen je Maßnahme")
        metrics = cached(export.metrics_de, filters)
        if metrics.empty:
            st.info("Für diese Auswahl sind keine Maßnahmen erfasst.")
        else:
            st.caption("Dieselben Zahlen wie `kpi metrics --json`; sie umfassen die gesamte Laufzeit der "
                       "Maßnahmen (Zeitraum- und Kennzahl-Filter gelten nur für die Messwerte).")
            st.dataframe(metrics, hide_index=True, width="stretch", key="export_metrics",
                         column_config={c: st.column_config.TextColumn(alignment="right")
                                        for c in ("Kosten", "Nutzen", "Nettonutzen", "Kapitalwert", "Rendite (ROI)",
                                                  "Eingesparte Stunden")})
            cols = st.columns(4)
            for col, (fmt_key, label) in zip(cols, (("csv-de", "CSV für Excel (Deutsch)"), ("xlsx", "Excel (XLSX)"),
                                                     ("csv", "CSV (Standard)"), ("parquet", "Parquet")), strict=True):
                with col:
                    _download(label, fmt_key, "metrics", f"dl_metrics_{fmt_key}")

if tab_report.open:
    with tab_report:
        st.subheader("Ratsvorlage")
        st.markdown("Ein druckfertiges PDF für die Sitzung: Titel, Kommune, Datenstand, die aktiven Filter, "
                    "Kennzahlen auf einen Blick, Grafiken, eine Tabelle je Maßnahme und ein Methodenkasten mit "
                    "Kalkulationszinssatz und Lohnkostensätzen.")
        st.download_button(
            "Ratsvorlage als PDF", data=_make_report,
            file_name=report.report_file_name(filters), mime="application/pdf", key="dl_report",
            on_click="ignore", icon=":material/picture_as_pdf:", type="primary",
        )
        st.caption("Das Erstellen dauert einige Sekunden (Grafiken werden gezeichnet).")
