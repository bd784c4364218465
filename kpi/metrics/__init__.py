"""Metrics: cost-benefit (WiBe-style), quantitative and qualitative success, traceable explanations.

Modules: `engine` (cost-benefit per Maßnahme/Kommune/overall, monthly series), `parameters`
(dated parameter versions), `success` (KPI change, target progress, status), `qualitative`
(Nutzwertanalyse), `accessibility` (BITV/OZG summaries), `peers` (peer comparison),
`sensitivity` (break-even values, tornado data). No streamlit here.
"""
