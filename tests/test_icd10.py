"""The ICD-10-CM index (engine/icd10.py) against the simple-icd-10-cm package's own API.

The engine reads the package's code-set file with a streaming parser rather than through the
package (which costs ~180 MB and 600,000 GC-tracked objects); this checks that both see exactly
the same codes, blocks and chapters, and the same parent for each."""
import json
import re
import warnings

import pytest

from supportable.engine import icd10


@pytest.fixture(scope="module")
def package():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm
    return simple_icd_10_cm


@pytest.fixture(scope="module")
def chapter_names(package):
    """The package names chapters by number; the engine by the range in their title."""
    out = {}
    for item in package.get_all_codes(True):
        if package.is_chapter(item):
            found = re.search(r"\(([A-Z0-9]+-[A-Z0-9]+)\)\s*$", package.get_description(item))
            out[item] = found.group(1) if found else None
    return out


def test_same_codes_as_the_package(package, chapter_names):
    theirs = {chapter_names.get(item, item) for item in package.get_all_codes(True)}
    ours = set(icd10.code_set().parent)
    assert None not in theirs
    assert ours == theirs
    assert len(ours) > 98000


def test_same_parents_as_the_package(package, chapter_names):
    parents = icd10.code_set().parent
    different, own_parent = [], set()
    for item in package.get_all_codes(True):
        expected = package.get_parent(item) or None
        expected = chapter_names.get(expected, expected)
        if expected == item:
            # the package gives a category named like its block (B99, M99) itself as parent;
            # the engine puts it under the block's chapter (a self-parent would loop)
            own_parent.add(item)
            continue
        mine = parents[chapter_names.get(item, item)]
        if mine != expected:
            different.append((item, mine, expected))
    assert different == []
    assert {"B99", "M99", "N99", "Z19"} <= own_parent
    assert all(parents[parents[item]] is None for item in own_parent)        # directly under a chapter
    assert (parents["B99"], parents["M99"]) == ("A00-B99", "M00-M99")
    assert all(parent != item for item, parent in parents.items())


@pytest.mark.parametrize("code, group, inside", [
    ("I63.9", "I60-I69", True), ("I69.351", "I60-I69", True), ("G81.94", "G00-G99", True),
    ("S06.0X0A", "S06", True), ("S14.109S", "S14.1", True), ("S13.4XXA", "S13.4", True),
    ("M54.50", "M54.5", True), ("M54.50", "G00-G99", False), ("S24.109A", "S14.1", False),
    ("Q99.999", "Q00-Q99", False), ("I63.9", "I63.9", True),
])
def test_within(code, group, inside):
    assert icd10.is_within(code, group) is inside


def test_seven_character_codes_have_titles():
    assert icd10.describe("S06.0X0A").endswith(", initial encounter")
    assert icd10.ancestors("S06.0X0A") == ["S06.0X0", "S06.0X", "S06.0", "S06", "S00-S09", "S00-T88"]


def test_the_package_is_not_imported_by_the_engine():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import sys; from engine import icd10; icd10.is_known('A00'); "
                          "print('simple_icd_10_cm' in sys.modules)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_billable_codes_are_the_leaves_of_the_tabular_list(package):
    # valid for submission: a code with nothing under it (domain-notes-2.md §8); the package's own
    # is_leaf agrees on a sample across chapters, categories and 7th-character codes
    for code in ["M54", "M54.5", "M54.50", "I63", "I63.9", "S06.0X0", "S06.0X0A", "G20.A1", "M99.0", "M99.03",
                 "R26.89", "A00", "A00.0", "Z99.89", "S72.402M"]:
        assert icd10.is_billable(code) == package.is_leaf(code), code
    assert not icd10.is_billable("G00-G99") and not icd10.is_billable("I60-I69")


def test_the_code_list_agrees_with_the_hierarchy_on_every_code():
    # the first tier (the package's code list) answers is_known for codes, is_billable and the release
    # without the tabular list; it must say exactly what the hierarchy says
    listed, hierarchy = icd10.code_list(), icd10.code_set()
    assert listed.version == hierarchy.version == icd10.release()
    assert listed.billable == hierarchy.billable
    assert {c.replace(".", "") for c in hierarchy.parent if "-" not in c} == listed.codes
    for item in [*hierarchy.parent, "A00.", "A000", "M5450", "m54.50", "", "G00-G98", "S06.0X0A", "S06.0X0Z"]:
        assert icd10.is_known(item) == (item in hierarchy.parent), item


def test_deciding_on_the_base_needs_only_the_code_list():
    # the base's rules call @icd10_billable only: a check under it never parses the tabular list
    import subprocess
    import sys
    script = ("import json; from pathlib import Path; from supportable.engine import load_policy_set, icd10; "
              "ps = load_policy_set(Path('policies'), 'base'); "
              "d = ps.decide(ps.read_encounter(json.load(open('examples/encounters/mixed_visit.json'))), 'full'); "
              "print(json.dumps(icd10.loaded()))")
    from conftest import ROOT
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout) == {"code_list": True, "hierarchy": False}


def test_the_cached_hierarchy_is_the_parsed_one_and_a_bad_cache_is_rebuilt(tmp_path, monkeypatch):
    # The hierarchy is kept as JSON beside the bytecode; what is read back must be exactly what the
    # XML gives, and a cache that is truncated, of another format or not JSON is parsed anew, never trusted.
    parsed = icd10.load_code_set()
    cache = tmp_path / "icd10-test.json"
    monkeypatch.setattr(icd10, "_cache_path", lambda: cache)
    first = icd10.cached_code_set()                 # no cache yet: parsed and written
    assert cache.is_file() and first == parsed
    again = icd10.cached_code_set()                 # read from the cache
    assert again == parsed and again.billable == parsed.billable and again.title == parsed.title
    for bad in ('{"format": 1, "version": "x", "parent": {}, "title": {}, "billable": []}',
                '{"format": 99}', cache.read_text()[:1000], "not json", '[]'):
        cache.write_text(bad)
        assert icd10.cached_code_set() == parsed, bad[:40]
        assert icd10._read_cache(cache) == parsed            # rewritten whole after the rebuild


def test_the_cache_is_named_by_the_data_files_it_was_built_from(tmp_path, monkeypatch):
    tabular, listing = icd10._data_files()
    name = icd10._cache_path()
    assert name is not None and name.parent.name == "__pycache__" and name.name.startswith("icd10-")
    copy = tmp_path / listing.name
    copy.write_bytes(listing.read_bytes() + b"\n")           # another code list: another cache
    monkeypatch.setattr(icd10, "_data_files", lambda: (tabular, copy))
    assert icd10._cache_path() != name
