"""``because`` templates: the ``{Var}`` names a rule's explanation fills in with the variables' values."""
from __future__ import annotations

import re

TEMPLATE_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, bindings: dict) -> str:
    """The template with each ``{Var}`` that has a value replaced by it (the others left as written)."""
    return TEMPLATE_VAR.sub(lambda m: str(bindings.get(m.group(1), "{" + m.group(1) + "}")), template)
