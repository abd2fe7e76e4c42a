"""Reading a policy-test file: the top-level keys, the payer (loaded once, with the file's
``edits:`` as one more layer), the shared examples and the cases; problems outside any case become
:class:`~.model.RunError` s."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..edits import EditTables, check_codes, parse_overlay_edits
from ..errors import Problem, Problems
from ..loader import shown_path
from ..policyset import PolicySet
from ..yamlsource import Node, load_yaml
from .cache import Policies
from .case_reader import CaseReader
from .model import Case, RunError
from .nodes import end_line, entries, entry
from ..suggest import did_you_mean as suggest

FILE_KEYS = ("payer", "description", "edits", "examples", "cases")


class FileReader:
    """Reads a test file: its payer (with the file's own edit rows), its examples and its cases."""

    def __init__(self, policies: Policies, examples_dir: Path):
        self.policies = policies
        self.cases = CaseReader(policies.root, examples_dir)

    def read(self, path: Path) -> tuple[list[Case], list[RunError]]:
        shown = shown_path(path, self.policies.root)
        doc, found = load_yaml(path, shown, aliases=True)
        problems: list[Problem] = list(found)
        errors: list[RunError] = []
        if doc is None:
            return [], [RunError(p) for p in problems]
        if not doc.is_mapping:
            return [], [RunError(Problem("test_format", "a test file is a mapping with `payer` and `cases`",
                                         doc.location))] + [RunError(p) for p in problems]
        for key, loc, _ in entries(doc):
            if key not in FILE_KEYS:
                problems.append(Problem("test_format", f"unknown top-level key `{key}`; use "
                                        f"{', '.join(f'`{k}`' for k in FILE_KEYS)}{suggest(key, FILE_KEYS)}", loc))
        policy = None
        payer_node = entry(doc, "payer")
        payer = payer_node.scalar_text() if payer_node is not None else ""
        runnable = True
        if payer_node is None or not payer_node.is_scalar or not payer:
            problems.append(Problem("test_format", "the test file does not name its `payer` (a payer id, or `base`)",
                                    payer_node.location if payer_node is not None else doc.location))
            runnable = False
        elif payer not in self.policies.known:
            problems.append(Problem("unknown_payer", f"unknown payer `{payer}`; available: "
                                    f"{', '.join(self.policies.known)}{suggest(payer, self.policies.known)}",
                                    payer_node.location))
            runnable = False
        else:
            policy, load_problems = self.policies.get(payer)
            if policy is None:
                errors.append(RunError(Problem("payer_does_not_load", f"the policies of payer `{payer}` do not load, "
                                               "so this file's cases were not run", payer_node.location),
                                       load_problems))
                runnable = False
        edits_node = entry(doc, "edits")
        if edits_node is not None and policy is not None:
            policy = self._with_edits(policy, edits_node, problems)
        examples: dict[str, Node] = {}
        ex_node = entry(doc, "examples")
        if ex_node is not None:
            if not ex_node.is_mapping:
                problems.append(Problem("test_format", "`examples` is a mapping from a name to an encounter",
                                        ex_node.location))
            else:
                for name, loc, value in entries(ex_node):
                    if not value.is_mapping:
                        problems.append(Problem("test_format", f"example `{name}` is not a mapping (an encounter)",
                                                value.location))
                    else:
                        examples[name] = value
        cases_node = entry(doc, "cases")
        case_nodes: list[Node] = []
        if cases_node is None or not cases_node.is_sequence or not cases_node.children():
            problems.append(Problem("test_format", "`cases` is a non-empty list of cases",
                                    cases_node.location if cases_node is not None else doc.location))
        else:
            case_nodes = cases_node.children()
        cases = [self.cases.read(node, shown, payer, policy, examples) for node in case_nodes]
        if edits_node is not None:
            for case in cases:
                case.policy = policy
        names: dict[str, Case] = {}
        for case in cases:
            if case.name and case.name in names:
                case.problems.append(Problem("duplicate_case_name", f"case name `{case.name}` is already used at "
                                             f"line {names[case.name].location.line}", case.location))
            names.setdefault(case.name, case)
        # YAML-level problems (duplicate keys) inside a case belong to that case.
        spans = [(node.location.line, end_line(node), case) for node, case in zip(case_nodes, cases)]
        for p in problems:
            owner = next((c for start, end, c in spans if p.location and start <= p.location.line <= end
                          and p.code == "duplicate_key"), None)
            if owner is not None:
                owner.problems.append(p)
            else:
                errors.append(RunError(p))
        if not runnable:
            errors += [RunError(p) for case in cases for p in case.problems]
            return [], errors
        return cases, errors

    @staticmethod
    def _with_edits(policy: PolicySet, node: Node, problems: list[Problem]) -> PolicySet:
        """The payer with the file's `edits:` block as one more layer (`test`) over its own: rows the
        cases need (an MUE, a pair) without an imported CMS table."""
        found = Problems()
        layer = parse_overlay_edits(node, "test", found)
        check_codes(layer, policy.vocabulary, found)
        tables = EditTables(policy.edits.base, policy.edits.imported, [*policy.edits.overlays, layer])
        tables.apply_overlays(found, policy.parameters)
        problems.extend(found.items)
        return replace(policy, edits=tables)
