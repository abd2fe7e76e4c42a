"""Reading a corpus of encounters.

A corpus is a ``.jsonl`` file (one encounter per line) or a folder of ``*.json`` (one encounter
each) and ``*.jsonl`` files, read in name order, not recursively. An encounter that is not JSON or
does not parse is counted and listed with its location and first problem; it does not stop the
run. Every encounter is decided under the payer given, whatever its own ``payer`` field says.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .model import ImpactError, InvalidEncounter


@dataclass
class CorpusItem:
    location: str        # file:line for a JSON-lines file, the file for a .json file
    text: str            # kept as text and decoded when decided: thousands of decoded documents held
                         # at once would slow every garbage collection of the run


@dataclass
class Corpus:
    source: str
    items: list[CorpusItem]
    invalid: list[InvalidEncounter]      # files that could not be read
    files: int

    @property
    def read(self) -> int:
        return len(self.items)


def read_corpus(path: Path, max_encounters: int | None = None) -> Corpus:
    """Read a ``.jsonl`` file, a ``.json`` file or a folder of them (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".json", ".jsonl"))
    elif path.is_file():
        files = [path]
    else:
        raise ImpactError("unreadable_corpus", f"no file or folder `{path}`")
    items: list[CorpusItem] = []
    invalid: list[InvalidEncounter] = []
    for f in files:
        if max_encounters is not None and len(items) >= max_encounters:
            break
        try:
            text = f.read_text(encoding="utf-8-sig")      # a leading byte-order mark is accepted, as over HTTP
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            if f is path:
                raise ImpactError("unreadable_corpus", f"cannot read `{f}`: {reason}") from None
            invalid.append(InvalidEncounter(str(f), None, "unreadable_file", f"cannot read the file: {reason}"))
            continue
        if f.suffix == ".json":
            items.append(CorpusItem(str(f), text))
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            if max_encounters is not None and len(items) >= max_encounters:
                break
            if line.strip():
                items.append(CorpusItem(f"{f}:{n}", line))
    return Corpus(str(path), items, invalid, len(files))


def decode_item(item: CorpusItem) -> tuple[object, InvalidEncounter | None]:
    try:
        return json.loads(item.text), None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if "\n" in item.text.strip() else f"column {exc.colno}"
        return None, InvalidEncounter(item.location, None, "invalid_json", f"invalid JSON at {where}: {exc.msg}")
    except RecursionError:
        return None, InvalidEncounter(item.location, None, "invalid_json", "invalid JSON: nested too deeply")
    except ValueError as exc:  # e.g. an integer longer than Python's conversion limit
        return None, InvalidEncounter(item.location, None, "invalid_json", f"invalid JSON: {exc}")
