"""The ICD-10-CM hierarchy, from the maintained `simple-icd-10-cm` package (not a hand-typed list).

Used to validate encounter diagnoses and by the ``@icd10_within`` builtin, which asks whether a
diagnosis falls under a chapter, block or category (``I63.9`` is within ``I60-I69`` and within
``I63``). Chapters can be named by their code range as printed in ICD-10-CM (``G00-G99``); the
package names them by number, so the range is mapped onto it.

The package parses its code set on first use (about two seconds), so it is loaded lazily, once,
under a lock.
"""
from __future__ import annotations

import re
import threading
import warnings
from functools import lru_cache

_lock = threading.Lock()
_module = None
_CHAPTER_RANGE = re.compile(r"\(([A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z])\)\s*$")


def _icd():
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the package uses a deprecated importlib API
                    import simple_icd_10_cm as icd
                    icd.is_valid_item("A00")  # forces the code set to be parsed now
                _module = icd
    return _module


@lru_cache(maxsize=None)
def _chapters_by_range() -> dict[str, str]:
    icd = _icd()
    out = {}
    for number in range(1, 30):
        chapter = str(number)
        if icd.is_valid_item(chapter) and icd.is_chapter(chapter):
            found = _CHAPTER_RANGE.search(icd.get_description(chapter))
            if found:
                out[found.group(1)] = chapter
    return out


def resolve(item: str) -> str | None:
    """The package's name for a code, block, category or chapter range; None if ICD-10-CM has none."""
    if not isinstance(item, str) or not item:
        return None
    icd = _icd()
    if item in _chapters_by_range():
        return _chapters_by_range()[item]
    if "-" not in item and item.isdigit():
        return None  # bare chapter numbers are the package's internals; name chapters by range
    return item if icd.is_valid_item(item) else None


def is_known(code: str) -> bool:
    """True if ``code`` is an ICD-10-CM code, category or block in the current code set."""
    return resolve(code) is not None


@lru_cache(maxsize=4096)
def is_within(code: str, group: str) -> bool:
    """True if ``code`` is ``group`` or one of its descendants (group: chapter range, block, category)."""
    target, where = resolve(code), resolve(group)
    if target is None or where is None:
        return False
    return target == where or _icd().is_descendant(target, where)


@lru_cache(maxsize=4096)
def describe(item: str) -> str:
    found = resolve(item)
    return _icd().get_description(found) if found else ""
