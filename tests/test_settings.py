"""Server settings: defaults, environment variables, explicit overrides, and the serve command's options."""
from pathlib import Path

from click.testing import CliRunner

from supportable.cli import main
from supportable.server.settings import BUNDLED_POLICIES, Settings


def test_defaults():
    s = Settings.from_env({})
    assert (s.policies, s.payers, s.decision_log) == (BUNDLED_POLICIES, None, Path("var/decisions.jsonl"))
    assert (s.max_body_bytes, s.max_batch_bytes, s.max_batch_items, s.tune_gc) == (1 << 20, 8 << 20, 1_000, True)


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


# -- declared once: every variable, sizes with units, clear errors (issue 11, item 8) -------------

import pytest  # noqa: E402

from supportable.server.settings import SettingsError, parse_size  # noqa: E402


@pytest.mark.parametrize("text,size", [("1048576", 1 << 20), ("1MiB", 1 << 20), ("512KiB", 512 << 10),
                                       ("8MB", 8_000_000), ("2 GiB", 2 << 30), ("100b", 100), (4096, 4096)])
def test_sizes_are_integers_or_take_units(text, size):
    assert parse_size(text) == size
    assert Settings.from_env({"SUPPORTABLE_MAX_BATCH_BYTES": str(text)}).max_batch_bytes == size


@pytest.mark.parametrize("env,line", [
    ({"SUPPORTABLE_PORT": "abc"}, "SUPPORTABLE_PORT=abc: not valid; expected an integer from 1 to 65535"),
    ({"SUPPORTABLE_PORT": "0"}, "SUPPORTABLE_PORT=0: not valid; expected an integer from 1 to 65535"),
    ({"SUPPORTABLE_THREADS": "65"}, "SUPPORTABLE_THREADS=65: not valid; expected an integer from 1 to 64"),
    ({"SUPPORTABLE_MAX_BODY_BYTES": "-1"}, "SUPPORTABLE_MAX_BODY_BYTES=-1: not valid; expected a size in bytes"),
    ({"SUPPORTABLE_MAX_BODY_BYTES": "1 MiBs"}, "SUPPORTABLE_MAX_BODY_BYTES=1 MiBs: not valid"),
    ({"SUPPORTABLE_MAX_BATCH_ITEMS": "0"}, "SUPPORTABLE_MAX_BATCH_ITEMS=0: not valid; expected a positive integer"),
    ({"SUPPORTABLE_TUNE_GC": "sometimes"}, "SUPPORTABLE_TUNE_GC=sometimes: not valid; expected on/off"),
    ({"SUPPORTABLE_RELOAD_INTERVAL": "-2"}, "SUPPORTABLE_RELOAD_INTERVAL=-2: not valid"),
    ({"SUPPORTABLE_AUTH": "yes"}, "SUPPORTABLE_AUTH=yes: not valid; expected auto, required or off"),
    ({"SUPPORTABLE_LOG_LEVEL": "loud"}, "SUPPORTABLE_LOG_LEVEL=loud: not valid"),
])
def test_a_bad_variable_is_one_line_naming_it(env, line):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert len(caught.value.lines) == 1 and caught.value.lines[0].startswith(line)


def test_a_bad_override_names_the_option():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SUPPORTABLE_PORT": "abc"}, port=70000, workers=0)
    assert caught.value.lines == ["--port=70000: not valid; expected an integer from 1 to 65535",
                                  "--workers=0: not valid; expected an integer from 1 to 64"]


def test_every_variable_is_read_and_the_process_environment_is_the_default(monkeypatch, tmp_path):
    env = {"SUPPORTABLE_HOST": "::1", "SUPPORTABLE_PORT": "9001", "SUPPORTABLE_WORKERS": "3",
           "SUPPORTABLE_THREADS": "8", "SUPPORTABLE_EDITS": "/e", "SUPPORTABLE_RELOAD_INTERVAL": "0.5",
           "SUPPORTABLE_ADMIN_TOKEN": "t0k", "SUPPORTABLE_AUTH": "Required", "SUPPORTABLE_API_KEYS": "a,b",
           "SUPPORTABLE_API_KEYS_FILE": "/k", "SUPPORTABLE_LOG_INPUTS": "1", "SUPPORTABLE_LOG_LEVEL": "WARNING",
           "SUPPORTABLE_ACCESS_LOG": "on", "SUPPORTABLE_CERTFILE": "/c", "SUPPORTABLE_KEYFILE": "/kk",
           "SUPPORTABLE_MAX_BATCH_ITEMS": "7"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings.from_env()
    assert (s.host, s.port, s.workers, s.threads, s.edits, s.reload_interval, s.admin_token) == (
        "::1", 9001, 3, 8, Path("/e"), 0.5, "t0k")
    assert (s.auth, s.api_keys, s.api_keys_file, s.log_inputs, s.log_level, s.access_log) == (
        "required", "a,b", Path("/k"), True, "warning", True)
    assert (s.certfile, s.keyfile, s.max_batch_items) == (Path("/c"), Path("/kk"), 7)
    assert Settings.from_env({}).port == 8080          # a mapping given replaces the process environment


def test_empty_means_unset_except_for_the_decision_log():
    s = Settings.from_env({"SUPPORTABLE_PORT": "", "SUPPORTABLE_PAYERS": "", "SUPPORTABLE_DECISION_LOG": ""})
    assert (s.port, s.payers, s.decision_log) == (8080, None, None)


def test_the_effective_settings_never_show_a_secret():
    s = Settings.from_env({"SUPPORTABLE_ADMIN_TOKEN": "t0k-secret", "SUPPORTABLE_API_KEYS": "key-secret"})
    shown = s.effective()
    assert shown["admin_token"] == "(set)" and shown["api_keys"] == "(set)"
    assert "secret" not in repr(s) and "secret" not in str(shown)


def test_folder_problems_name_what_is_missing(tmp_path):
    s = Settings.from_env({}, policies=tmp_path / "nope", certfile=tmp_path / "c.pem")
    assert s.folder_problems() == [f"SUPPORTABLE_POLICIES (--policies): `{tmp_path / 'nope'}` is not a folder",
                                   f"SUPPORTABLE_CERTFILE: `{tmp_path / 'c.pem'}` is not a readable file",
                                   "SUPPORTABLE_CERTFILE and SUPPORTABLE_KEYFILE: give both to serve TLS, or neither"]
    assert Settings.from_env({}).folder_problems() == []


def test_a_misspelt_variable_is_named():
    from supportable.server.settings import unknown_variables
    assert unknown_variables({"SUPPORTABLE_PROT": "9000", "SUPPORTABLE_PORT": "1", "HOME": "/"}) == ["SUPPORTABLE_PROT"]
