"""Maßnahme im Detail: figures with 'Wie berechnet?', KPI success, and the raw values with their upload."""

import streamlit as st

from kpi import fmt, overview
from kpi.filters import filter_options
from kpi.metrics import success
from views._chart_block import chart_block
from views._filters import filter_panel
from views._shared import cached, page_header, require_data

page_header("Maßnahme im Detail", "Was hat diese Maßnahme gekostet und bewirkt – und woher stammen die Zahlen?")
require_data()
filters = filter_panel(fields=("kommune", "massnahme"))
st.page_link("views/ueberblick.py", label="Zurück zum Überblick", icon=":material/arrow_back:")

options = [(k, m) for k, m in cached(filter_options)["massnahmen"]
           if (not filters.kommune or k in filters.kommune) and (not filters.massnahme or m in filters.massnahme)]
if not options:
    st.info("Zur Auswahl in der Seitenleiste passt keine Maßnahme. Bitte Kommune oder Maßnahme ändern.")
    st.stop()
kommune, massnahme = st.selectbox("Maßnahme", options, format_func=lambda km: f"{km[1]} ({km[0]})",
                                  key="massnahme_pick") if len(options) > 1 else options[0]
drill = cached(overview.drilldown, kommune, massnahme)
result = drill.result

st.header(f"{fmt.md_escape(massnahme)} – {fmt.md_escape(kommune)}")
st.caption(f"Handlungsfeld: {fmt.md_escape(result.handlungsfeld or '–')} · Inbetriebnahme: {fmt.month_de(result.golive)} · "
           f"Kalkulationszinssatz {fmt.pct_de(result.discount_rate, 1)}")
for reason in result.not_computable:
    st.warning(f"Nicht berechenbar: {fmt.md_escape(reason)}")

FIGURES = [
    ("costs_eur", "Kosten", fmt.eur_short_de(result.costs_eur)),
    ("benefits_eur", "Nutzen (gesamt)", fmt.eur_short_de(result.benefits_eur)),
    ("benefits_budget_eur", "davon haushaltswirksam", fmt.eur_short_de(result.benefits_budget_eur)),
    ("net_benefit_eur", "Nettonutzen", fmt.eur_short_de(result.net_benefit_eur)),
    ("npv_eur", f"Kapitalwert (Zins {fmt.pct_de(result.discount_rate, 1)})", fmt.eur_short_de(result.npv_eur)),
    ("payback_month", "Amortisation", fmt.month_de(result.payback_month) if result.payback_month
     else "noch nicht" if result.npv_eur is not None else "nicht berechenbar"),
]


def how_computed(key: str) -> None:
    """The engine's explanation of one figure: formula in words, inputs with sources, parameter versions."""
    ex = result.explanations.get(key)
    if ex is None:
        return
    with st.expander("Wie berechnet?"):
        st.markdown(ex.formula_de)
        rows = overview.explanation_rows(ex)
        if not rows.empty:
            st.dataframe(rows, hide_index=True, width="stretch", key=f"expl_{key}")
        if ex.parameter_versions:
            st.caption("Parameter-Versionen: " + ", ".join(
                f"{k} Nr. {', '.join(str(i) for i in ids)}" for k, ids in ex.parameter_versions.items()))


for row in (FIGURES[:3], FIGURES[3:]):
    cols = st.columns(3)
    for box, (key, label, text) in zip(cols, row, strict=True):
        with box.container(border=True):
            st.metric(label, text)
            how_computed(key)

if drill.chart is not None:
    chart_block(drill.chart, drill.chart_summary, drill.chart_table, "massnahme_kosten_nutzen",
                title="Kosten und Nutzen über die Zeit",
                note="Kumuliert, nicht abgezinst; Nutzen ab der Inbetriebnahme.")

st.subheader("Wirkung je Kennzahl")
table = drill.success
if table.empty:
    st.info("Für diese Maßnahme liegen keine Kennzahlen vor.")
    st.stop()
st.dataframe(table.drop(columns=["kpi"]), hide_index=True, width="stretch", key="massnahme_success",
             column_config={"Status": st.column_config.TextColumn(help=success.RULE_TARGET_DE + " "
                                                                   + success.RULE_NO_TARGET_DE)})

st.subheader("Rohdaten einer Kennzahl")
labels = dict(zip(table["kpi"], table["Kennzahl"], strict=True))
kpi = st.selectbox("Kennzahl", list(labels), format_func=labels.get, key="massnahme_kpi")
raw = cached(overview.raw_measurements, kommune, massnahme, kpi)
st.caption(f"{len(raw)} gespeicherte Werte, neueste zuerst; jeder mit dem Upload, aus dem er stammt.")
st.dataframe(raw, hide_index=True, width="stretch", key="massnahme_raw",
             column_config={"Wert": st.column_config.TextColumn(alignment="right")})
