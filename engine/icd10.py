"""The ICD-10-CM hierarchy: which codes exist, and which chapter, block and category each is under.

The code set is the CMS tabular list that the maintained ``simple-icd-10-cm`` package ships (the
April 2026 release with the pinned version), not a hand-typed list. It is read here with a
streaming parser into a compact index (code -> parent, code -> title) instead of through the
package's own API: the package keeps a node object per code, about 180 MB and 600,000 objects the
garbage collector must scan (full collections of 150-250 ms, measured with bench/), while this
index is a few dictionaries of strings. ``tests/test_icd10.py`` checks, against the package's
API, that both see the same codes and the same parents.

Names: codes with their dot (``I63.9``), blocks by range (``I60-I69``), chapters by the range in
their title (``G00-G99``). Codes with a 7th character (``S06.0X0A``) are expanded from their
category's 7th-character definitions, as the package does, each under its six-character code.

Two tiers, each built on first use, once, under a lock, and never at import:

* the code list (``codes()``, about 40 ms, 8 MB): the release, every code and which are billable,
  from the package's code list (one code a line, in the tabular list's order, so a code is a
  header exactly when the next line extends it). ``is_known`` of a code, ``is_billable`` and
  ``release`` read only this, so deciding an encounter whose rules call ``@icd10_billable`` (the
  base's) needs no more;
* the hierarchy (``code_set()``, about 0.5 s to parse, 40 MB): parents and titles from the tabular
  list, for ``is_within``, ``describe``, ``ancestors`` and chapter ranges and blocks. The parsed
  index is kept as JSON beside this module's bytecode (``__pycache__``, like the grammar's tables),
  named by a hash of the data files' names, sizes and times, the package's version and the index's
  format: reading it takes about a fifth of parsing the XML. A cache that is missing, stale,
  unreadable or not the expected shape is rebuilt from the XML; a folder that cannot be written to
  costs only the parse.

``tests/test_icd10.py`` checks that the two tiers agree on every code. The server loads both in
its master process before forking its workers (``warm``), so workers share them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
import importlib.util
from pathlib import Path

_CHAPTER_RANGE = re.compile(r"\(([A-Z][0-9A-Z]{2}-[A-Z][0-9A-Z]{2})\)\s*$")


@dataclass(frozen=True)
class CodeSet:
    version: str
    parent: dict[str, str | None]    # code, block or chapter -> the item it is under (None for chapters)
    title: dict[str, str]            # titles of codes, blocks and chapters (7th-character codes included)
    billable: frozenset[str] = frozenset()   # codes valid for submission (leaves of the tabular list), no dot


def _data_files() -> tuple[Path, Path]:
    """The tabular list (XML) and the list of every valid code (which 7th-character codes exist)."""
    # Located without importing the package: importing it builds its own (large) tree.
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the simple-icd-10-cm package is not installed (see requirements.lock)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    tabular = [f for f in folder.iterdir() if f.name.startswith("icd10c-tabular") and f.name.endswith(".xml")]
    listing = [f for f in folder.iterdir() if f.name.startswith("code-list") and f.name.endswith(".txt")]
    if len(tabular) != 1 or len(listing) != 1:
        raise RuntimeError(f"expected one ICD-10-CM tabular file and one code list in {folder}")
    return tabular[0], listing[0]


def _with_extension(code: str, char: str) -> str:
    """``S13.4`` + ``A`` -> ``S13.4XXA``: pad to six characters with the placeholder X, then the 7th."""
    bare = code.replace(".", "")
    bare = bare + "X" * (6 - len(bare)) + char
    return bare[:3] + "." + bare[3:]


def load_code_set() -> CodeSet:
    parent: dict[str, str | None] = {}
    title: dict[str, str] = {}
    version = ""
    chapter_key: str | None = None
    chapter_title = ""
    section: str | None = None
    # one frame per open <diag>: [code, has_child_diag, seven_character_definitions]
    stack: list[list] = []
    seven_stack: list[dict | None] = []
    tabular, listing = _data_files()
    # Some 7th characters do not apply to some codes (a rule stated in notes, not in the XML's
    # structure); the code list says which extended codes really exist.
    with listing.open(encoding="utf-8") as lines:
        listed = {line.split(" ", 1)[0].strip() for line in lines}
    with tabular.open("rb") as handle:
        path: list[str] = []
        for event, element in ET.iterparse(handle, events=("start", "end")):
            tag = element.tag
            if event == "start":
                path.append(tag)
                if tag == "chapter":
                    chapter_key, chapter_title = None, ""
                elif tag == "section":
                    section = element.get("id")
                elif tag == "diag":
                    if stack:
                        stack[-1][1] = True
                    stack.append([None, False, None])
                continue
            path.pop()
            parent_tag = path[-1] if path else ""
            text = (element.text or "").strip()
            if tag == "version" and parent_tag == "ICD10CM.tabular":
                version = text
            elif tag == "desc" and parent_tag == "chapter":
                chapter_title = text
                found = _CHAPTER_RANGE.search(text)
                chapter_key = found.group(1) if found else None
                if chapter_key:
                    parent[chapter_key], title[chapter_key] = None, text
            elif tag == "desc" and parent_tag == "section" and section:
                parent[section], title[section] = chapter_key, text
            elif tag == "name" and parent_tag == "diag":
                code = text
                stack[-1][0] = code
                above = stack[-2][0] if len(stack) > 1 else section
                if above != code:  # a category named like its block (B99, M99) is that block
                    parent[code] = above
            elif tag == "desc" and parent_tag == "diag":
                title[stack[-1][0]] = text
            elif tag == "extension" and parent_tag == "sevenChrDef":
                if stack[-1][2] is None:
                    stack[-1][2] = {}
                stack[-1][2][element.get("char")] = text
            elif tag == "diag":
                code, has_children, seven = stack.pop()
                inherited = seven or next((f[2] for f in reversed(stack) if f[2]), None)
                if not has_children and inherited:
                    for char, meaning in inherited.items():
                        extended = _with_extension(code, char)
                        if extended.replace(".", "") not in listed:
                            continue
                        parent[extended] = code
                        title[extended] = f"{title.get(code, '')}, {meaning}"
            if tag in ("diag", "section", "chapter", "sectionIndex", "introduction"):
                element.clear()
    # Billable (valid for submission): a code that is not subdivided, the leaves of the tabular list
    # (the CMS order file's flag 1); a category or subcategory with codes under it is a header.
    headers = set(parent.values())
    billable = frozenset(c.replace(".", "") for c in parent if "-" not in c and c not in headers)
    return CodeSet(version=version, parent=parent, title=title, billable=billable)


_CACHE_FORMAT = 1


def _cache_path() -> Path | None:
    """The hierarchy's cache file for the installed data files (None when it cannot be named)."""
    try:
        files = _data_files()
        h = hashlib.sha256(f"format {_CACHE_FORMAT}".encode())
        for f in files:
            st = f.stat()
            h.update(f"|{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        return Path(__file__).resolve().parent / "__pycache__" / f"icd10-{h.hexdigest()[:16]}.json"
    except (OSError, RuntimeError):
        return None


def _read_cache(path: Path) -> CodeSet | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != _CACHE_FORMAT:
            return None
        parent, title, billable = data["parent"], data["title"], data["billable"]
        if not (isinstance(parent, dict) and isinstance(title, dict) and isinstance(billable, list)
                and isinstance(data["version"], str) and parent):
            return None
        return CodeSet(version=data["version"], parent=parent, title=title, billable=frozenset(billable))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_cache(path: Path, found: CodeSet) -> None:
    """Written whole under a temporary name, then renamed: a reader never sees half a file."""
    try:
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"format": _CACHE_FORMAT, "version": found.version, "parent": found.parent,
                                         "title": found.title, "billable": sorted(found.billable)},
                                        separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass


def cached_code_set() -> CodeSet:
    """The hierarchy from its cache file when that is current and sound, else parsed (and cached)."""
    path = _cache_path()
    found = _read_cache(path) if path is not None and path.is_file() else None
    if found is None:
        found = load_code_set()
        if path is not None:
            _write_cache(path, found)
    return found


@dataclass(frozen=True)
class CodeList:
    """The first tier: the release and every code (no dot), billable or not; no blocks or chapters."""
    version: str
    codes: frozenset[str]
    billable: frozenset[str]


_VERSION = re.compile(rb"<version>\s*([^<]*?)\s*</version>")


def load_code_list() -> CodeList:
    tabular, listing = _data_files()
    with tabular.open("rb") as handle:
        found = _VERSION.search(handle.read(4096))     # the release, at the top of the tabular list
    items = [item for item in listing.read_text(encoding="utf-8").split() if not item.isdigit()]  # no chapters
    codes, billable = set(), set()
    for item, after in zip(items, items[1:] + [""]):
        if "-" in item:                               # a block
            continue
        codes.add(item)
        if not after.startswith(item):                # nothing under it: valid for submission
            billable.add(item)
    return CodeList(found.group(1).decode() if found else "", frozenset(codes), frozenset(billable))


_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    # in a forked child only the forking thread lives: a lock another thread held would never be released
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)
_code_set: CodeSet | None = None
_code_list: CodeList | None = None


def code_set() -> CodeSet:
    """The hierarchy (the second tier), built on first use."""
    global _code_set
    if _code_set is None:
        with _lock:
            if _code_set is None:
                _code_set = cached_code_set()
    return _code_set


def code_list() -> CodeList:
    """The code list (the first tier), built on first use."""
    global _code_list
    if _code_list is None:
        with _lock:
            if _code_list is None:
                _code_list = load_code_list()
    return _code_list


def loaded() -> dict[str, bool]:
    """Which tiers this process has built (the start-up bench and tests read it)."""
    return {"code_list": _code_list is not None, "hierarchy": _code_set is not None}


def warm() -> None:
    """Build both tiers now (the server's master, before it forks its workers)."""
    code_list()
    code_set()


def release() -> str:
    """The ICD-10-CM release diagnoses are checked against (``2026``)."""
    return code_list().version


def is_known(item: str) -> bool:
    """True if ``item`` is an ICD-10-CM code (billable or not), block or chapter range."""
    if not isinstance(item, str):
        return False
    if "-" in item:                                   # a block or chapter range: the hierarchy knows
        return item in code_set().parent
    bare = item.replace(".", "")
    return (item == (bare[:3] + "." + bare[3:] if len(bare) > 3 else bare)) and bare in code_list().codes


@lru_cache(maxsize=8192)
def is_within(code: str, group: str) -> bool:
    """True if ``code`` is ``group`` or lies under it (group: chapter range, block, category...)."""
    parents = code_set().parent
    if code not in parents or group not in parents:
        return False
    return code == group or group in ancestors(code)


def is_billable(code: str) -> bool:
    """True if ``code`` is valid for submission in the shipped release: a full-length code with no
    codes under it, not a category or header (the CMS order file's billable flag)."""
    return isinstance(code, str) and code.replace(".", "") in code_list().billable


def describe(item: str) -> str:
    return code_set().title.get(item, "")


def ancestors(code: str) -> list[str]:
    """The items ``code`` lies under, nearest first (its category, ..., block, chapter range)."""
    parents = code_set().parent
    out, current = [], parents.get(code)
    while current is not None and current not in out and current != code:
        out.append(current)
        current = parents.get(current)
    return out
