"""Where the bundled policies are, without the settings' imports (pydantic-settings): the command
line's defaults read it on every command."""
from pathlib import Path

BUNDLED_POLICIES = Path(__file__).resolve().parent.parent / "policies"
