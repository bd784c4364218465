"""The one filter panel every page shares; its state lives in the URL (st.query_params).

Switching pages keeps the state (session), and a copied URL restores the view.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from kpi import catalog, fmt
from kpi.filters import Filters, filter_options
from views._shared import cached

ALL_FIELDS = ("kommune", "handlungsfeld", "massnahme", "family", "kpi", "period", "granularity")
_STATE = "kpi_filters"
_URL_SEEN = "kpi_filters_url"


def _months(first: date, last: date) -> list[date]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _initial_state() -> Filters:
    """Adopt the URL when it changed since we last wrote it (bookmark, shared link); else the session."""
    url = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if url and url != st.session_state.get(_URL_SEEN):
        return Filters.from_query_params(url)
    return st.session_state.get(_STATE, Filters())


def filter_panel(fields: tuple[str, ...] = ALL_FIELDS, where=st.sidebar) -> Filters:
    """Draw the filter widgets named in `fields`; return the full filter state (others kept as they are)."""
    opts = cached(filter_options)
    state = _initial_state()
    values = state.as_dict()
    box = where.container()
    box.markdown("**Auswahl**")

    def multi(name: str, label: str, options: list, fmt_func=None):
        chosen = [v for v in values[name] if v in options]
        picked = box.multiselect(
            label, options, default=chosen, format_func=fmt_func or str,
            placeholder="alle", key=f"flt_{name}_{_sig(options)}",
        )
        values[name] = tuple(picked)

    if "kommune" in fields:
        multi("kommune", "Kommune", opts["kommunen"])
    if "handlungsfeld" in fields and opts["handlungsfelder"]:
        multi("handlungsfeld", "Handlungsfeld", opts["handlungsfelder"])
    if "massnahme" in fields:
        names = sorted({m for k, m in opts["massnahmen"] if not values["kommune"] or k in values["kommune"]})
        multi("massnahme", "Maßnahme", names)
    if "family" in fields:
        multi("family", "Kennzahlen-Familie", list(catalog.FAMILIES), catalog.FAMILIES.get)
    if "kpi" in fields:
        labels = {k: label for k, label, fam, _ in opts["kpis"] if not values["family"] or fam in values["family"]}
        multi("kpi", "Kennzahl", list(labels), labels.get)
    if "period" in fields and opts["first"] is not None:
        months = _months(opts["first"], opts["last"])
        lo = values["period_from"] if values["period_from"] in months else months[0]
        hi = values["period_to"] if values["period_to"] in months else months[-1]
        if len(months) > 1:
            # two selectboxes, not a select_slider: keyboard-friendly, and AppTest can drive them
            # stacked, not in two columns: "September 2026" must fit the sidebar
            lo = box.selectbox("Zeitraum von", months, index=months.index(lo), format_func=fmt.month_de,
                               key=f"flt_from_{_sig(months)}")
            hi = box.selectbox("Zeitraum bis", months, index=months.index(hi), format_func=fmt.month_de,
                               key=f"flt_to_{_sig(months)}")
            if hi < lo:
                lo, hi = hi, lo
        values["period_from"] = None if lo == months[0] else lo
        values["period_to"] = None if hi == months[-1] else hi
    if "granularity" in fields:
        # a radio, not segmented_control: AppTest cannot drive the latter
        options = list(catalog.GRANULARITIES)
        values["granularity"] = box.radio(
            "Zeitraster", options=options, index=options.index(values["granularity"]),
            format_func=catalog.GRANULARITIES.get, horizontal=True, key="flt_granularity",
        )

    filters = Filters(**values)
    st.session_state[_STATE] = filters
    params = filters.to_query_params()
    if params != {k: st.query_params.get(k) for k in st.query_params.keys()}:
        st.query_params.from_dict(params)
    st.session_state[_URL_SEEN] = params
    return filters


def _sig(options: list) -> int:
    """Widget keys change when the offered options change (new upload), so stale selections reset."""
    return hash(tuple(str(o) for o in options)) & 0xFFFF


def kommune_or_all(filters: Filters) -> str | None:
    """The single selected Kommune, or None for 'all' (several selected counts as all)."""
    return filters.kommune[0] if len(filters.kommune) == 1 else None
