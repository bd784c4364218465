"""Kosten & Nutzen (WiBe): Kapitalwert, ROI, Nutzen-Kosten-Verhältnis, Amortisation, Plan/Ist, Sensitivität."""

import streamlit as st

from kpi import fmt, overview
from kpi.charts import costbenefit
from kpi.metrics import engine, sensitivity
from pages._chart_block import chart_block
from pages._filters import filter_panel, kommune_or_all
from pages._shared import cached, page_header, require_data

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

st.markdown(f"**{view.scope}** · {t.n_massnahmen} Maßnahmen · Kalkulationszinssatz **{rate_text}** "
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
        st.markdown("\n".join(f"- {line}" for line in t.incomplete[:50]))

st.subheader("Kapitalwert je Maßnahme")
if view.npv["npv_eur"].notna().any():
    npv = view.npv.dropna()
    best = npv.loc[npv["npv_eur"].idxmax()]
    chart_block(costbenefit.npv_bars(npv, discount_rate=view.discount_rate),
                f"Den höchsten Kapitalwert hat {best['massnahme']} mit {fmt.eur_de(best['npv_eur'])} "
                f"(Zinssatz {rate_text}); {int((npv['npv_eur'] < 0).sum())} von {len(npv)} sind negativ.",
                npv.rename(columns={"massnahme": "Maßnahme", "npv_eur": "Kapitalwert (€)"}), "kn_npv",
                note=view.npv_note or None)
st.dataframe(view.table, hide_index=True, width="stretch", key="kn_table")

st.subheader("Eine Maßnahme genauer: Plan und Ist, Sensitivität")
options = list(zip(view.table["Kommune"], view.table["Maßnahme"], strict=True))
k, m = st.selectbox("Maßnahme", options, format_func=lambda km: f"{km[1]} ({km[0]})", key="kn_massnahme")
result = cached(engine.compute_massnahme, k, m)
plan = overview.plan_actual_frame(result)
if plan.empty:
    st.info("Für diese Maßnahme ist kein Plan (ex ante) erfasst – Plan/Ist-Vergleich nicht möglich.")
else:
    table = overview.plan_actual_table(result)
    total = table.iloc[-1]
    chart_block(costbenefit.plan_vs_actual_chart(plan),
                f"Plan/Ist {m}: geplant {total['Plan Nettonutzen']}, erreicht {total['Ist Nettonutzen']} "
                f"Nettonutzen in den Planjahren mit Ist-Werten (Abweichung {total['Abweichung']}).",
                table, "kn_plan_ist", title="Plan und Ist je Jahr (WiBe-Erfolgskontrolle)")

if result.npv_eur is None:
    st.info("Der Kapitalwert ist nicht berechenbar: " + "; ".join(result.not_computable))
else:
    for b in cached(sensitivity.break_even, k, m):
        st.markdown(f"- {b.sentence_de}")
    tornado = cached(sensitivity.tornado, k, m)
    chart_block(costbenefit.tornado_chart(tornado, result.npv_eur),
                costbenefit.tornado_summary_de(tornado, result.npv_eur),
                costbenefit.tornado_table(tornado),
                "kn_tornado", title=f"Was wäre, wenn? Kapitalwert bei ±20 % ({rate_text})")
