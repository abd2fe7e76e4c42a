"""Plain language for the pages: verdicts in words (with a symbol and a colour class, never colour
alone), fixes as sentences, sources and field paths as a person reads them."""
from __future__ import annotations

import re

VERDICT_WORDS = {
    "supportable": ("Supportable", "✓", "ok"),
    "needs_documentation": ("Needs documentation", "!", "warn"),
    "not_supportable": ("Not supportable", "✗", "bad"),
}


def verdict(name: str) -> dict:
    words, symbol, tone = VERDICT_WORDS.get(name, (name.replace("_", " ").capitalize(), "?", "warn"))
    return {"id": name, "words": words, "symbol": symbol, "tone": tone}


def fix_text(fix: dict, describe) -> str:
    """A fix (wire ``Fix``) as a sentence; ``describe(kind, id)`` gives a vocabulary description."""
    action = fix.get("action")
    if action == "add_documentation":
        if fix.get("one_of"):
            return "Document one of: " + "; ".join(_element(e, describe) for e in fix["one_of"])
        return "Document " + _element(fix.get("element", ""), describe)
    if action == "add_modifier":
        if fix.get("one_of"):
            return "Add one of the modifiers " + ", ".join(fix["one_of"]) + " (if the record supports it)"
        return f"Add modifier {fix.get('modifier')} (if the record supports it)"
    if action == "remove_modifier":
        return f"Remove modifier {fix.get('modifier')}"
    if action == "bill_instead":
        return f"Bill {fix.get('code')} instead"
    if action == "reduce_units":
        return f"Reduce the units to {fix.get('units')}"
    return action.replace("_", " ") if isinstance(action, str) else str(fix)


def _element(element: str, describe) -> str:
    text = describe("documentation", element)
    return f"{text} ({element})" if text else element


def source_text(source: dict | None) -> str:
    if not source:
        return ""
    section = source.get("section")
    return f"{source.get('file', '')} § {section}" if section else source.get("file", "")


_INDEX = re.compile(r"\[(\d+)\]")


def field_label(path: str) -> str:
    """``lines[0].minutes`` -> ``Line 1 › minutes``; ``diagnoses[1]`` -> ``Diagnosis 2``."""
    if not path:
        return "The claim"
    parts = []
    for piece in path.split("."):
        match = _INDEX.search(piece)
        name = _INDEX.sub("", piece)
        if match:
            nice = {"lines": "Line", "diagnoses": "Diagnosis", "documentation": "Documentation",
                    "history": "Visit", "modifiers": "Modifier", "codes": "Code"}.get(name, name.replace("_", " "))
            parts.append(f"{nice} {int(match.group(1)) + 1}")
        else:
            parts.append(name.replace("_", " "))
    return " › ".join(parts)


def problems_text(problems: list[dict]) -> list[str]:
    """Problem items (the wire's one problem shape) as sentences naming the field."""
    out = []
    for p in problems:
        where = p.get("path")
        if where is None and p.get("file"):
            where = ":".join(str(x) for x in (p.get("file"), p.get("line"), p.get("column")) if x is not None)
            out.append(f"{where}: {p.get('message', '')}")
        else:
            out.append(f"{field_label(where or '')}: {p.get('message', '')}")
    return out
