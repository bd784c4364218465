"""Nutzung & Zufriedenheit: nutzen die Bürgerinnen und Bürger die Online-Dienste, und sind sie zufrieden?"""

from kpi.charts.panels import kpi_panels, online_share_panel, ozg_panel
from views._chart_block import panel_block
from views._filters import filter_panel, kommune_or_all
from views._shared import cached, page_header, require_data

page_header("Nutzung & Zufriedenheit",
            "Nutzen Bürgerinnen und Bürger die Online-Dienste – und sind sie zufrieden?")
require_data()
filters = filter_panel(fields=("kommune", "massnahme", "period", "granularity"))

panel_block(cached(online_share_panel, filters))
for panel in cached(kpi_panels, filters, ("zufriedenheit",)):
    panel_block(panel)
panel_block(cached(ozg_panel, kommune_or_all(filters)))
