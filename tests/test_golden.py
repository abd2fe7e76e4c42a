"""Nothing Supportable answers changed unless a commit says so: decisions at every explain level,
invalid-input problems and command-line output, hashed and compared with tests/data/golden.json
(see tests/golden.py; `make golden` runs every corpus encounter)."""
from __future__ import annotations

import json

import golden


def test_every_output_matches_its_golden_digest():
    expected = json.loads(golden.GOLDEN.read_text())["sample"]
    now = golden.collect(golden.SAMPLE_EVERY)
    changed = sorted(k for k in set(now) | set(expected) if now.get(k) != expected.get(k))
    assert not changed, (f"{len(changed)} of {len(now)} outputs changed (first: {changed[:10]}); if intended, run "
                         "`.venv/bin/python tests/golden.py --write` and say what changed in CHANGELOG.md")
    # the sample covers every payer, every example at every explain level and the command line
    assert {k.split("/")[1] for k in now if k.startswith("decision/")} == \
        {"base", "commercial", "medicare", "aetna", "aetna_medicare"}
    assert sum(1 for k in now if k.startswith("cli/")) > 50
