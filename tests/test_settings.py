"""Server settings: defaults, environment variables, explicit overrides, and the serve command's options."""
from pathlib import Path

from click.testing import CliRunner

from supportable.server.cli import main
from supportable.server.settings import BUNDLED_POLICIES, Settings


def test_defaults():
    s = Settings.from_env({})
    assert (s.policies, s.payers, s.decision_log) == (BUNDLED_POLICIES, None, Path("var/decisions.jsonl"))
    assert (s.max_body_bytes, s.max_batch_bytes, s.max_batch_items, s.tune_gc) == (1 << 20, 64 << 20, 10_000, True)


def test_environment_then_overrides():
    env = {"SUPPORTABLE_POLICIES": "/p", "SUPPORTABLE_PAYERS": "/q", "SUPPORTABLE_DECISION_LOG": "",
           "SUPPORTABLE_MAX_BODY_BYTES": "2048", "SUPPORTABLE_TUNE_GC": "off", "UNRELATED": "x"}
    s = Settings.from_env(env)
    assert (s.policies, s.payers, s.decision_log, s.max_body_bytes, s.tune_gc) == (Path("/p"), Path("/q"), None,
                                                                                  2048, False)
    s = Settings.from_env(env, max_body_bytes=10, payers=None)
    assert (s.max_body_bytes, s.payers) == (10, Path("/q"))   # None leaves the environment's value


def test_serve_help_lists_the_options():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "--threads", "--decision-log", "--policies", "--payers"):
        assert option in result.output
