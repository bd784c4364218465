"""German texts for the few parts of Streamlit's own interface that have no locale setting.

Streamlit 1.67 labels its file uploader ("Upload", "20MB per file", "Remove x.xlsx", "23.1KB"), the
help buttons ("Help for …"), the toolbar over tables and charts ("Download as CSV", "Search",
"Fullscreen", and their tooltips), the sidebar and menu buttons and the empty select box
("Choose an option") in English. A small script, injected once per page view from app.py, puts
German texts into the DOM — visible text and the labels screen readers announce — and repeats
that whenever React redraws those parts. Text nodes are changed in place (nodeValue), so React
keeps its references; nothing else is touched.
"""

from __future__ import annotations

import json

import streamlit as st

from kpi import fmt

_SCRIPT = """
<script>
(() => {
  if (window.kpiGermanChrome) return;
  window.kpiGermanChrome = true;
  const HINT = %s;
  const GERMAN = %s;
  const setText = (el, text) => {
    const node = el && el.firstChild;
    if (node && node.nodeType === 3 && node.nodeValue !== text) node.nodeValue = text;
  };
  const setLabel = (el, text) => { if (el.getAttribute("aria-label") !== text) el.setAttribute("aria-label", text); };
  const germanSize = (s) => s.replace(/^([0-9.]+)\\s*([KMG]?B)$/, (_, n, u) => (u === "B" ? n.replace(/\\.0$/, "") : n).replace(".", ",") + " " + u);
  const fix = () => {
    for (const zone of document.querySelectorAll('[data-testid="stFileUploader"]')) {
      const button = zone.querySelector('[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p');
      if (button && button.textContent === "Upload") setText(button, "Datei auswählen");
      const hint = zone.querySelector('[data-testid="stFileUploaderDropzoneInstructions"] span');
      if (hint && hint.textContent.includes("per file")) setText(hint, HINT);
      const input = zone.querySelector('[data-testid="stFileUploaderDropzoneInput"]');
      if (input) setLabel(input, "Datei hochladen");
      for (const chip of zone.querySelectorAll('[data-testid="stFileChip"]')) {
        const name = chip.querySelector('[data-testid="stFileChipName"]');
        const size = name && name.nextElementSibling;
        if (size) setText(size, germanSize(size.textContent));
        if (name) setLabel(chip, name.textContent + (size ? ", " + size.textContent : ""));
        const remove = chip.querySelector('[data-testid="stFileChipDeleteBtn"] button');
        if (remove && name) setLabel(remove, "„" + name.textContent + "“ entfernen");
      }
      for (const add of zone.querySelectorAll('button[aria-label="Add files"]')) setLabel(add, "Andere Datei wählen");
    }
    // Streamlit's own buttons, tooltips and placeholders (exact English texts only)
    for (const el of document.querySelectorAll("[aria-label], [title], input[placeholder]")) {
      for (const attr of ["aria-label", "title", "placeholder"]) {
        const de = GERMAN[el.getAttribute(attr)];
        if (de) el.setAttribute(attr, de);
      }
    }
    for (const p of document.querySelectorAll('[data-testid="stTooltipContent"] p, [role="option"], [data-testid="stFileUploaderDropzoneInstructions"] span')) {
      const de = GERMAN[p.textContent];
      if (de) setText(p, de);
    }
    // the "?" next to a widget or metric label
    for (const help of document.querySelectorAll('button[aria-label^="Help for "]')) {
      setLabel(help, "Hilfe zu " + help.getAttribute("aria-label").slice("Help for ".length));
    }
  };
  new MutationObserver(fix).observe(document.body, {childList: true, subtree: true, characterData: true});
  fix();
})();
</script>
"""


# Streamlit's English interface texts (aria-label, title, placeholder, tooltip, menu option) → German
GERMAN = {
    "Show/hide columns": "Spalten ein-/ausblenden",
    "Download as CSV": "Als CSV herunterladen",
    "Search": "Suchen",
    "Fullscreen": "Vollbild",
    "Close fullscreen": "Vollbild schließen",
    "Collapse sidebar": "Seitenleiste einklappen",
    "Expand sidebar": "Seitenleiste ausklappen",
    "Main menu": "Hauptmenü",
    "Link to heading": "Link zu dieser Überschrift",
    "App pages": "Seiten",
    "Sidebar": "Seitenleiste",
    "Open": "Öffnen",
    "Clear all": "Alle entfernen",
    "Clear value": "Auswahl entfernen",
    "Choose an option": "Bitte wählen",
    "Choose options": "Bitte wählen",
    "No results": "Keine Treffer",
    "Drag and drop file here": "Datei hierher ziehen",
    "Drag and drop files here": "Dateien hierher ziehen",
}


def german_chrome_script() -> str:
    """The script, with the upload size hint („höchstens 20 MB je Datei“ from server.maxUploadSize)."""
    max_mb = int(st.get_option("server.maxUploadSize"))
    hint = f"höchstens {fmt.number_de(max_mb, 0)} MB je Datei"  # Streamlit appends " • XLSX, …"
    return _SCRIPT % (json.dumps(hint, ensure_ascii=False), json.dumps(GERMAN, ensure_ascii=False))


def inject_german_chrome() -> None:
    """Add the script to the page (in the sidebar, so the main area gets no empty element)."""
    st.sidebar.html(german_chrome_script(), unsafe_allow_javascript=True)
