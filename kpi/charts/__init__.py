"""Altair chart builders: data in, alt.Chart out (no streamlit)."""
