"""Parameter (admin): the dated, versioned calculation parameters and a form for a new version."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from kpi import catalog, fmt
from kpi.metrics.parameters import ParameterError, add_parameter_version, parameter_table
from views._auth import require_role
from views._shared import cached, get_db, page_header

user = require_role("admin")
page_header("Parameter", "Mit welchen Werten rechnet das Cockpit Kosten und Nutzen?")

PERCENT_KEYS = {"discount_rate"}  # entered and shown in percent, stored as a fraction


def value_de(key: str, value: float) -> str:
    """The value with its unit, German number format."""
    if key in PERCENT_KEYS:
        return fmt.pct_de(value, 2)
    unit = catalog.PARAMETER_BY_KEY[key].unit if key in catalog.PARAMETER_BY_KEY else ""
    decimals = 0 if unit == "Stunden" else 2
    return f"{fmt.number_de(value, decimals)} {unit}".strip()


def source_de(is_example: bool, source: str | None) -> str:
    """The source text, marked as example value when it is one."""
    text = source or "–"
    return text if not is_example or text.startswith("Beispielwert") else f"Beispielwert – {text}"


flash = st.session_state.pop("parameter_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")

ORDER = {p.key: i for i, p in enumerate(catalog.PARAMETER_DEFAULTS)}
table = cached(parameter_table)
# catalog order (rate, then wages by career level, …); within a key newest version first
table = table.sort_values(["key", "valid_from", "parameter_id"], ascending=[True, False, False],
                          key=lambda col: col.map(ORDER).fillna(99) if col.name == "key" else col)
st.markdown(
    "Jeder Parameter gilt ab einem Datum. Eine Berechnung für einen Monat verwendet die Version, "
    "die an diesem Tag galt; ältere Versionen bleiben erhalten. Werte mit dem Hinweis "
    "**Beispielwert** sind Voreinstellungen – bitte durch die Werte Ihrer Kommune ersetzen."
)

st.subheader("Heute gültig")
today = table[table["in_force"]]
st.dataframe(
    pd.DataFrame({
        "Parameter": today["label"],
        "Wert": [value_de(k, v) for k, v in zip(today["key"], today["value"], strict=True)],
        "Gültig ab": [fmt.date_de(d) for d in today["valid_from"]],
        "Quelle": [source_de(ex, s) for ex, s in zip(today["is_example"], today["source"], strict=True)],
    }),
    hide_index=True, width="stretch",
)
if bool(today["is_example"].any()):
    st.warning(
        f"{int(today['is_example'].sum())} von {len(today)} Parametern sind noch Beispielwerte. "
        "Die Ergebnisse der Kosten-Nutzen-Rechnung sind erst mit Ihren eigenen Werten belastbar.",
        icon=":material/info:",
    )

st.subheader("Neue Version anlegen")
labels = {p.key: f"{p.label} ({p.unit})" for p in catalog.PARAMETER_DEFAULTS}
key = st.selectbox("Parameter", list(labels), format_func=labels.get, key="param_key")
current = today[today["key"] == key]
current_value = float(current["value"].iloc[0]) if not current.empty else catalog.PARAMETER_BY_KEY[key].value
with st.form("parameter_form", clear_on_submit=False):
    if key in PERCENT_KEYS:
        entered = st.number_input("Wert in Prozent", value=current_value * 100, step=0.1, format="%.2f",
                                  help="z. B. 2,5 für 2,5 %")
    else:
        entered = st.number_input(f"Wert ({catalog.PARAMETER_BY_KEY[key].unit})", value=current_value,
                                  step=0.01, format="%.2f", min_value=0.0)
    valid_from = st.date_input("Gültig ab", value=date.today().replace(month=1, day=1),
                               format="DD.MM.YYYY", min_value=date(1990, 1, 1))
    source = st.text_input("Quelle", placeholder="z. B. BMF-Rundschreiben vom 12.01.2026, Personalamt",
                           max_chars=300)
    submitted = st.form_submit_button("Version speichern", type="primary")

if submitted:
    value = entered / 100 if key in PERCENT_KEYS else entered
    if not source.strip():
        st.error("Bitte eine Quelle angeben (z. B. Rundschreiben, Beschluss oder Personalamt).")
    else:
        try:
            pid = add_parameter_version(get_db(), key, value, valid_from, source.strip(), user=user.name)
        except ParameterError as exc:
            st.error(str(exc))
        else:
            st.session_state["parameter_flash"] = (
                f"Gespeichert: {catalog.PARAMETER_BY_KEY[key].label} = {value_de(key, value)}, "
                f"gültig ab {fmt.date_de(valid_from)} (Version Nr. {pid})."
            )
            st.rerun()

st.subheader("Alle Versionen")
st.dataframe(
    pd.DataFrame({
        "Parameter": table["label"],
        "Wert": [value_de(k, v) for k, v in zip(table["key"], table["value"], strict=True)],
        "Gültig ab": [fmt.date_de(d) for d in table["valid_from"]],
        "Quelle": table["source"].fillna("–"),
        "Beispielwert": ["Beispielwert" if ex else "" for ex in table["is_example"]],
        "Heute gültig": ["✓" if f else "" for f in table["in_force"]],
        "Angelegt": [fmt.datetime_de(t) for t in table["created_at"]],
        "von": table["created_by"],
        "Nr.": table["parameter_id"],
    }),
    hide_index=True, width="stretch",
)
