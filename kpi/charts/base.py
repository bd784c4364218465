"""Shared chart conventions: German locale in every spec, a colour-blind-safe palette, status symbols."""

from __future__ import annotations

import altair as alt

from kpi.fmt import D3_FORMAT_DE, D3_TIME_FORMAT_DE

# Okabe–Ito palette (colour-blind safe); text contrast checked against white.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
COST_COLOR = "#D55E00"  # vermilion
BENEFIT_COLOR = "#0072B2"  # blue
NET_COLOR = "#009E73"  # bluish green
TARGET_COLOR = "#000000"
MUTED = "#595959"  # 7:1 on white

# Status never by colour alone: each has a symbol and a word.
STATUS = {
    "gruen": ("#009E73", "✔", "im Plan"),
    "gelb": ("#E69F00", "▲", "gefährdet"),
    "rot": ("#D55E00", "✖", "nicht im Plan"),
    None: ("#767676", "–", "ohne Bewertung"),
}

# d3 formats used in axes and tooltips (with the German locale: 1.234,5 and 1.234 €)
FMT_EUR = "$,.0f"
FMT_NUM = ",.0f"
FMT_NUM1 = ",.1f"
FMT_PCT = ".0%"
FMT_MONTH = "%B %Y"  # März 2024
FMT_MONTH_SHORT = "%b %Y"


def german(chart: alt.TopLevelMixin, *, height: int | None = None, font_size: int = 13) -> alt.TopLevelMixin:
    """Attach the German number/time locale and readable defaults to a top-level chart."""
    chart = chart.configure(
        locale={"number": D3_FORMAT_DE, "time": D3_TIME_FORMAT_DE},
        font="Source Sans Pro, Arial, sans-serif",
    ).configure_axis(
        labelFontSize=font_size, titleFontSize=font_size, labelColor="#1a1a1a", titleColor="#1a1a1a",
        gridColor="#e6e6e6",
    ).configure_legend(
        labelFontSize=font_size, titleFontSize=font_size, orient="bottom", labelLimit=320,
    ).configure_view(strokeWidth=0).configure_range(category=PALETTE)
    if height is not None:
        chart = chart.properties(height=height)
    return chart
