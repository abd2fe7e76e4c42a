"""The payers' policy sets a run decides under, each loaded once per run and, while its files are
unchanged, once per process."""
from __future__ import annotations

from pathlib import Path

from ..errors import PolicyError, Problem
from ..overlay import BASE
from ..policyset import PolicySet, default_payers_dir, load_policy_set, payer_ids


class Policies:
    """The payers' policy sets, each loaded once per run (``None`` with problems if it does not load)."""

    def __init__(self, policies_dir: Path, payers_dir: Path | None):
        self.policies_dir = Path(policies_dir)
        self.payers_dir = default_payers_dir(self.policies_dir) if payers_dir is None else Path(payers_dir)
        self.root = self.policies_dir.resolve().parent
        self.known = payer_ids(self.policies_dir, self.payers_dir)
        self._sets: dict[str, tuple[PolicySet | None, list[Problem]]] = {}

    def get(self, payer: str) -> tuple[PolicySet | None, list[Problem]]:
        if payer not in self._sets:
            key = (str(self.policies_dir.resolve()), str(self.payers_dir.resolve()), payer, self._fingerprint())
            if key not in _LOADED:
                try:
                    _LOADED[key] = (load_policy_set(self.policies_dir, payer, self.payers_dir), [])
                except PolicyError as exc:
                    _LOADED[key] = (None, list(exc.problems))
            self._sets[payer] = _LOADED[key]
        return self._sets[payer]

    def _fingerprint(self) -> tuple:
        """Every file a policy set is loaded from, with its size and modification time."""
        paths = [*sorted((self.policies_dir / "vocabulary").glob("*.yaml")),
                 *sorted((self.policies_dir / BASE).glob("*.yaml")), *sorted((self.policies_dir / "edits").glob("*.yaml")),
                 *sorted(self.payers_dir.glob("*.yaml"))]
        out = []
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)


# Policy sets already loaded in this process, by directories, payer and the files' fingerprint: a
# second run over unchanged policies (the tests run the command many times) does not load them again.
_LOADED: dict[tuple, tuple[PolicySet | None, list[Problem]]] = {}
