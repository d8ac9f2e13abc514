"""The card type shared by every component: an id, a variant, LaTeX bound to stored columns, prose."""
from __future__ import annotations

import re

from unipo.algorithms.formula_terms import t, term_entries

__all__ = ["card", "t"]

_TERM = re.compile(r"\\htmlClass\{t-([a-z_]+)\}")


def card(card_id: str, variant: str, title: str, latex: str, explanation: str, *, citation: str = "") -> dict:
    """A formula card; `terms` lists the glossary entries its LaTeX binds, in order of appearance."""
    made = {"id": card_id, "variant": variant, "title": title, "latex": latex, "explanation": explanation,
            "terms": term_entries(_TERM.findall(latex))}
    if citation:
        made["citation"] = citation
    return made
