"""``parse(sources)``: every file of a :class:`~engine.sources.PolicySources` parsed once, with its
problems.

The vocabulary, the base rule files, the base edit tables, each payer overlay and an imported CMS
edit table are each parsed on first use and kept: loading several payers from one
:class:`ParsedPolicies` parses the files they share (the vocabulary and the base are in every
chain, a parent overlay in each of its children's) once, and each payer still gets the problems
of every file it uses. Parsed values are never changed after parsing, so sharing them is safe.
The composed YAML of every rule, edit and overlay file can be kept too (``keep_docs``; ``docs``, by
shown name): lint reads the locations the parsed rules do not keep from it, without reading a file
again.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .edits import EditLayer, load_import, parse_base_tables
from .errors import Problem, Problems
from .loader import parse_rule_files
from .overlay import BASE, Overlay, read_overlay, resolve_chain
from .remittance import RemittanceLayer, parse_table
from .sources import VOCABULARY_FILES, PolicySources
from .syntax import Parameter, Rule
from .vocabulary import Vocabulary, parse_vocabulary
from .yamlsource import Node

if TYPE_CHECKING:
    from .edits_store import ImportedTable


class ParsedPolicies:
    """The parsed files of one :class:`PolicySources` (see the module docstring)."""

    def __init__(self, sources: PolicySources, keep_docs: bool = False):
        self.sources = sources
        # shown name -> composed YAML of the rule, edit and overlay files, when asked to keep them (lint)
        self.docs: dict[str, Node] | None = {} if keep_docs else None
        self._parsed: dict[tuple, tuple[object, list[Problem]]] = {}
        self._lock = threading.RLock()

    def _get(self, key: tuple, parse, problems: Problems | None):
        with self._lock:
            if key not in self._parsed:
                found = Problems()
                self._parsed[key] = (parse(found), found.items)
            value, items = self._parsed[key]
        if problems is not None:
            problems.items.extend(items)
        return value

    # -- one kind of file each ----------------------------------------------------------------

    def vocabulary(self, problems: Problems | None = None) -> Vocabulary:
        files = {name: self.sources.files[f"policies/vocabulary/{name}"] for name in VOCABULARY_FILES
                 if f"policies/vocabulary/{name}" in self.sources}
        return self._get(("vocabulary",), lambda p: parse_vocabulary(files, p), problems)

    def base(self, problems: Problems | None = None) -> tuple[list[Rule], dict[str, Parameter]]:
        def parse(found: Problems):
            files = self.sources.folder(BASE)
            if not files:
                found.error("no_rules", "no rule files found", None)
            return parse_rule_files(files, BASE, found, self.docs)
        return self._get(("base",), parse, problems)

    def base_edits(self, problems: Problems | None = None) -> EditLayer:
        return self._get(("edits",), lambda p: parse_base_tables(self.sources.folder("edits"), p, self.docs), problems)

    def remittance(self, problems: Problems | None = None) -> list[RemittanceLayer]:
        """The base remittance tables (``policies/remittance/*.yaml``), one per file."""
        def parse(found: Problems):
            out = []
            for source in self.sources.folder("remittance"):
                doc = source.compose_into(found, self.docs)
                if doc is not None:
                    out.append(parse_table(doc, BASE, found))
            return out
        return self._get(("remittance",), parse, problems)

    def imported(self, problems: Problems | None = None) -> "ImportedTable | None":
        edits_dir = self.sources.edits_dir
        return self._get(("imported",), lambda p: load_import(edits_dir, p), problems)

    def overlay(self, payer: str, problems: Problems | None = None) -> Overlay | None:
        source = self.sources.overlays()[payer]
        return self._get(("overlay", source.name), lambda p: read_overlay(source, p, self.docs), problems)

    def chain(self, payer: str, problems: Problems) -> list[Overlay]:
        """``payer``'s overlays, root first (none for ``base``), with the problems of each file parsed
        and of the chain itself (an unknown parent, a cycle)."""
        if payer == BASE:
            return []
        overlays = self.sources.overlays()

        def parse(source, found: Problems, _root=None):
            return self._get(("overlay", source.name), lambda p: read_overlay(source, p, self.docs), found)
        return resolve_chain(payer, overlays, problems, None, parse)

    def parse_all(self) -> "ParsedPolicies":
        """Parse every file now (lint reports on every file, whether a payer uses it or not)."""
        for step in (self.vocabulary, self.base, self.base_edits, self.remittance, self.imported):
            step()
        for payer in self.sources.overlays():
            self.overlay(payer)
        return self

    @property
    def root(self) -> Path:
        return self.sources.root


def parse(sources: PolicySources, keep_docs: bool = False) -> ParsedPolicies:
    """The parsed value of ``sources``: each file is parsed once, when a build (or lint) first needs it;
    ``keep_docs`` keeps each file's composed YAML too (``docs``: lint reads locations from it)."""
    return ParsedPolicies(sources, keep_docs)
