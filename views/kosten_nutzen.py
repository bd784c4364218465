"""Kosten & Nutzen (WiBe): Kapitalwert, ROI, Nutzen-Kosten-Verhältnis, Amortisation, Plan/Ist, Sensitivität."""

import streamlit as st

from kpi import fmt, overview
from kpi.charts import costbenefit
from views._chart_block import chart_block
from views._filters import filter_panel, kommune_or_all
from views._shared import cached, page_header, require_data

page_header("Kosten & Nutzen", "Lohnt sich die Digitalisierung wirtschaftlich (WiBe)?")
require_data()
filters = filter_panel(fields=("kommune",))
kommune = kommune_or_all(filters)
view = cached(overview.wibe, kommune)
rate_text = fmt.pct_de(view.discount_rate, 1)
t = view.total
if t is None:
    st.info("Für diese Auswahl sind keine Maßnahmen erfasst.")
    st.stop()

st.markdown(f"**{fmt.md_escape(view.scope)}** · {t.n_massnahmen} Maßnahmen · Kalkulationszinssatz **{rate_text}** "
            "(Parameter, siehe Seite „Parameter“)")
c = st.columns(4)
c[0].metric("Kosten", fmt.eur_short_de(t.costs_eur), border=True)
c[1].metric("Nutzen gesamt", fmt.eur_short_de(t.benefits_eur), border=True,
            help="Papier, Porto, sonstige Einsparungen und freigewordene Arbeitszeit (bewertet mit Lohnkostensätzen)")
c[2].metric("Nettonutzen", fmt.eur_short_de(t.net_benefit_eur), border=True, help="Nutzen − Kosten, nicht abgezinst")
c[3].metric(f"Kapitalwert (Zins {rate_text})", fmt.eur_short_de(t.npv_eur), border=True,
            help="Summe der abgezinsten jährlichen Nettonutzen; t = 0 ist das erste Jahr mit Kosten oder Nutzen")
c = st.columns(4)
c[0].metric("Rendite (ROI)", fmt.pct_de(t.roi, 0), border=True, help="Nettonutzen / Kosten")
c[1].metric("Nutzen-Kosten-Verhältnis", fmt.number_de(t.bcr, 2), border=True,
            help="Barwert des Nutzens / Barwert der Kosten; über 1 heißt: wirtschaftlich")
c[2].metric("Amortisation (dynamisch)", fmt.month_de(t.payback_month) if t.payback_month else t.payback_text_de,
            border=True, help=f"Erster Monat, ab dem der abgezinste kumulierte Nettonutzen ≥ 0 bleibt ({rate_text})")
c[3].metric("Eingesparte Arbeitszeit", f"{fmt.number_de(t.hours_saved)} Std.", border=True,
            help="Entspricht " + (f"{fmt.number_de(t.fte_saved, 1)} Vollzeitstellen (VZÄ)" if t.fte_saved else "–"))

st.subheader("Haushaltswirksam oder nicht")
st.caption("Papier-, Porto- und sonstige belegte Einsparungen entlasten den Haushalt; freigewordene Arbeitszeit "
           "nicht, solange keine Stellen entfallen. Beide Sichten nebeneinander:")
st.dataframe(
    [
        {"Sicht": "alle Nutzen", "Nutzen": fmt.eur_de(t.benefits_eur), "Nettonutzen": fmt.eur_de(t.net_benefit_eur),
         f"Kapitalwert ({rate_text})": fmt.eur_de(t.npv_eur),
         "Amortisation": fmt.month_de(t.payback_month) if t.payback_month else "noch nicht"},
        {"Sicht": "nur haushaltswirksam", "Nutzen": fmt.eur_de(t.benefits_budget_eur),
         "Nettonutzen": fmt.eur_de(t.net_benefit_budget_eur), f"Kapitalwert ({rate_text})": fmt.eur_de(t.npv_budget_eur),
         "Amortisation": fmt.month_de(t.payback_month_budget) if t.payback_month_budget else "noch nicht"},
    ],
    hide_index=True, width="stretch", key="kn_split",
)
if t.incomplete:
    with st.expander(f"{len(t.incomplete)} Hinweise: nicht berechenbare Nutzen"):
        st.markdown("\n".join(f"- {fmt.md_escape(line)}" for line in t.incomplete[:50]))

st.subheader("Kapitalwert je Maßnahme")
spec, summary, table, note = cached(costbenefit.wibe_npv_block, kommune)
if spec is not None:
    chart_block(spec, summary, table, "kn_npv", note=note or None)
st.dataframe(view.table, hide_index=True, width="stretch", key="kn_table")

st.subheader("Eine Maßnahme genauer: Plan und Ist, Sensitivität")
options = list(zip(view.table["Kommune"], view.table["Maßnahme"], strict=True))
k, m = st.selectbox("Maßnahme", options, format_func=lambda km: f"{km[1]} ({km[0]})", key="kn_massnahme")
spec, summary, table = cached(costbenefit.plan_block, k, m)
if spec is None:
    st.info("Für diese Maßnahme ist kein Plan (ex ante) erfasst – Plan/Ist-Vergleich nicht möglich.")
else:
    chart_block(spec, summary, table, "kn_plan_ist", title="Plan und Ist je Jahr (WiBe-Erfolgskontrolle)")

spec, summary, table, sentences = cached(costbenefit.sensitivity_block, k, m)
st.subheader(f"Was wäre, wenn? Sensitivität ({rate_text})")
if spec is None:
    st.info(summary)
else:
    st.markdown("\n".join(f"- {fmt.md_escape(line)}" for line in sentences))
    chart_block(spec, summary, table, "kn_tornado", note="Kapitalwert, wenn eine Eingangsgröße um 20 % niedriger "
                "oder höher ausfällt; die schwarze Linie ist der Kapitalwert mit den erfassten Werten.")
