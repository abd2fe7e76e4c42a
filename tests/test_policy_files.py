"""Policy files that must not take anything down (issue 11, items 1 and 2).

Every way a policy file can fail to be read (an unknown or Python tag, a byte that is not UTF-8, a
NUL, an alias bomb, an alias in an otherwise valid overlay, an oversize file, a directory named
like an overlay, a file that is gone) becomes one located problem (file:line:col and a stable
code) from the reader, the loader, lint and every CLI command, while the other payers still load;
a fault in the base policies or the vocabulary fails every payer, still without a traceback.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from serving import stop
from supportable.engine.errors import PolicyError, Problems
from supportable.engine.lint import lint
from supportable.engine.overlay import parse_overlay
from supportable.engine.policyset import load_policy_set
from supportable.engine.policytest import run_tests
from supportable.engine.yamlsource import MAX_EXPANDED_NODES, MAX_FILE_BYTES, compose, load_yaml
from supportable.cli import main
from supportable.server.registry import Registry

# A FIFO or an alias bomb must never hang a read: pytest-timeout fails a test that does, instead of
# the suite hanging (a guard against a hang, not a measure of speed).
pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("aetna", "aetna_medicare", "base", "commercial", "medicare")
ACME = "payers/acme.yaml"
HEAD = b"id: acme\nname: Acme\nextends: base\n"     # lines 1-3; a fault on line 4


def bomb(depth: int = 9, width: int = 9) -> str:
    """The billion laughs: ``depth`` levels of ``width`` aliases to the level below (about 9 KB)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


# name -> (the acme overlay's bytes, code, line, column, words of the message)
FAULTS = {
    "unknown_tag": (HEAD + b"description: !ref 18\n", "yaml_unknown_tag", 4, 14, "`!ref`"),
    "python_tag": (HEAD + b"description: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
                   "yaml_unknown_tag", 4, 14, "`!!python/object/apply:os.system`"),
    "explicit_str_tag": (HEAD + b"description: !!str 18\n", "yaml_unknown_tag", 4, 14, "`!!str`"),
    "not_utf8": (HEAD + b"description: caf\xe9\n", "not_utf8", 4, 17, "0xE9 (at byte offset 50)"),
    "nul": (HEAD + b"description: a\x00b\n", "control_character", 4, 15, "NUL"),
    "bidi_control": (HEAD + "description: a\u202eb\n".encode(), "control_character", 4, 15, "U+202E"),
    "bom_inside": (HEAD + "description: a\ufeffb\n".encode(), "control_character", 4, 15, "byte-order mark"),
    "syntax": (HEAD + b"description: [unclosed\n", "yaml_syntax_error", 5, 1, "invalid YAML"),
    "alias": (b"id: acme\nname: &n Acme\nextends: base\ndescription: *n\n", "yaml_alias", 4, 14, "`*n`"),
    "alias_bomb": (HEAD + bomb().encode(), "yaml_alias", 5, 10, "`*l0`"),
    "complex_key": (HEAD + b"description:\n  ? [a, b]\n  : c\n", "yaml_complex_key", 5, 5, "plain value"),
    "too_deep": (HEAD + b"description: " + b"[" * 100 + b"]" * 100 + b"\n", "yaml_too_deep", 4, 77, "64 levels"),
    "oversize": (HEAD + b"description: " + b"x" * MAX_FILE_BYTES + b"\n", "file_too_large", 1, 1, "4,194,304 bytes"),
}


def tree(tmp_path: Path, acme: bytes | None = None) -> tuple[Path, Path]:
    """The shipped policies, payers and examples under tmp_path, with ``payers/acme.yaml`` if given."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "payers", tmp_path / "payers")
    shutil.copytree(ROOT / "examples" / "encounters", tmp_path / "examples" / "encounters")   # the policy tests' examples
    if acme is not None:
        (tmp_path / "payers" / "acme.yaml").write_bytes(acme)
    return tmp_path / "policies", tmp_path / "payers"


def where(problem) -> tuple:
    return problem.code, problem.location.file, problem.location.line, problem.location.column


# --- the reader and the loader ------------------------------------------------------------------

@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_one_located_problem_from_the_reader(tmp_path, fault):
    data, code, line, column, words = FAULTS[fault]
    path = tmp_path / "acme.yaml"
    path.write_bytes(data)
    doc, problems = load_yaml(path, ACME)
    assert doc is None
    assert [where(p) for p in problems] == [(code, ACME, line, column)]
    assert words in problems[0].message and problems[0].level == "error"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_broken_overlay_fails_only_its_payer(tmp_path, fault):
    data, code, line, column, _ = FAULTS[fault]
    policies, payers = tree(tmp_path, data)
    registry = Registry.load(policies, payers)
    assert sorted(registry.policies) == list(SHIPPED)
    assert list(registry.failed) == ["acme"]
    assert [where(p) for p in registry.failed["acme"]] == [(code, ACME, line, column)]


def test_a_directory_named_like_an_overlay_is_a_located_problem(tmp_path):
    policies, payers = tree(tmp_path)
    (payers / "x.yaml").mkdir()
    registry = Registry.load(policies, payers)
    assert sorted(registry.policies) == list(SHIPPED)
    [problem] = registry.failed["x"]
    assert where(problem) == ("unreadable_file", "payers/x.yaml", 1, 1) and "directory" in problem.message


def test_a_fifo_named_like_an_overlay_is_refused_without_waiting_for_a_writer(tmp_path):
    policies, payers = tree(tmp_path)
    os.mkfifo(payers / "pipe.yaml")
    registry = Registry.load(policies, payers)
    assert sorted(registry.policies) == list(SHIPPED)
    [problem] = registry.failed["pipe"]
    assert where(problem) == ("unreadable_file", "payers/pipe.yaml", 1, 1) and "not a regular file" in problem.message


def test_a_fifo_does_not_block_the_reload_check_or_the_snapshot_staging(tmp_path):
    from supportable.server.policyfiles import stage
    from supportable.server.reload import fingerprint
    policies, payers = tree(tmp_path)
    os.mkfifo(payers / "pipe.yaml")
    assert len(fingerprint(policies, payers)) == 64
    staged = stage(policies, payers, tmp_path / "staging")
    assert "payers/pipe.yaml" in staged.unreadable and "payers/pipe.yaml" not in staged.files


def test_a_file_gone_between_listing_and_reading_is_a_located_problem(tmp_path):
    path = tmp_path / "payers" / "gone.yaml"
    found = Problems()
    assert parse_overlay(path, found, tmp_path) is None
    [problem] = found.items
    assert where(problem) == ("unreadable_file", "payers/gone.yaml", 1, 1) and "does not exist" in problem.message


def test_an_unreadable_file_is_a_located_problem(tmp_path):
    (tmp_path / "payers").write_text("a file where a folder should be")
    doc, [problem] = load_yaml(tmp_path / "payers" / "acme.yaml", ACME)
    assert doc is None and where(problem) == ("unreadable_file", ACME, 1, 1)
    assert problem.message == "cannot read file: Not a directory"


def test_a_leading_byte_order_mark_is_accepted_and_locations_do_not_move(tmp_path):
    text = HEAD + b"description: Acme\nbogus: 1\n"
    plain, marked = tmp_path / "plain" / "acme.yaml", tmp_path / "marked" / "acme.yaml"
    for path, data in ((plain, text), (marked, b"\xef\xbb\xbf" + text)):
        path.parent.mkdir()
        path.write_bytes(data)
    a, b = Problems(), Problems()
    assert parse_overlay(plain, a, tmp_path) is not None and parse_overlay(marked, b, tmp_path) is not None
    assert [(p.code, p.location.line, p.location.column) for p in a.items] == \
        [(p.code, p.location.line, p.location.column) for p in b.items] == [("overlay_format", 5, 8)]


def test_a_non_utf8_byte_after_a_byte_order_mark_counts_the_mark_in_its_offset(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_bytes(b"\xef\xbb\xbfid: \xff\n")
    _, [problem] = load_yaml(path, ACME)
    assert where(problem) == ("not_utf8", ACME, 1, 5) and "byte offset 7" in problem.message


def test_values_yaml_cannot_build_are_problems_not_exceptions(tmp_path):
    # `=` resolves to YAML's `value` tag, which the safe constructor cannot build: read as text
    path = tmp_path / "acme.yaml"
    path.write_bytes(HEAD + b"description: =\n")
    doc, problems = load_yaml(path, ACME)
    assert problems == [] and doc.get("description").value() == "="
    # `<<` is a plain key where aliases are refused (no merge), so the loader reports an unknown key
    policies, payers = tree(tmp_path / "t", HEAD + b"<<: {description: x}\n")
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies, "acme", payers)
    assert [(p.code, p.location.line) for p in info.value.problems] == [("overlay_format", 4)]


# --- aliases: refused in policy files, bounded in policy tests -----------------------------------

def test_an_alias_bomb_in_a_policy_test_stops_at_the_expansion_limit():
    root, [problem] = compose(bomb(), "t.yaml", aliases=True)
    assert root is None and problem.code == "yaml_expansion_limit"
    # l0..l4 expand to about 74,000 values and each `*l4` adds 66,430: the second `*l4` of l5 passes 200,000
    assert (problem.location.line, problem.location.column) == (6, 15)
    assert f"{MAX_EXPANDED_NODES:,}" in problem.message


def test_no_walk_visits_a_shared_node_twice():
    # allowed to expand to 9**9 nodes, the duplicate-key walk still visits each of the ~100 nodes once
    root, problems = compose(bomb() + "l1: again\n", "t.yaml", aliases=True, max_nodes=10 ** 10)
    assert root is not None
    assert [(p.code, p.location.line) for p in problems] == [("duplicate_key", 11)]


def test_a_recursive_alias_is_refused():
    root, [problem] = compose("a: &a [1, *a]\n", "t.yaml", aliases=True)
    assert root is None and where(problem) == ("yaml_alias", "t.yaml", 1, 11)


def test_the_shipped_policy_tests_use_merge_keys_well_within_the_limit():
    # the bound for policy tests must leave room for what the project writes
    files = sorted((ROOT / "payers" / "tests").rglob("*.yaml")) + sorted((ROOT / "policies" / "tests").rglob("*.yaml"))
    assert any("<<: *" in f.read_text() for f in files)
    for f in files:
        doc, problems = load_yaml(f, f.name, aliases=True)
        assert doc is not None and not [p for p in problems if p.level == "error"], f


def test_policy_test_files_report_their_faults_and_the_other_files_run(tmp_path):
    policies, payers = tree(tmp_path)
    tests = payers / "tests" / "aetna"
    (tests / "bomb.yaml").write_text("payer: aetna\n" + bomb() + "cases: []\n")
    (tests / "tag.yaml").write_bytes(b"payer: aetna\ncases:\n  - name: !!python/name:os.system x\n")
    (tests / "latin1.yaml").write_bytes(b"payer: aetna\ncases:\n  - name: caf\xe9\n")
    run = run_tests([tests], policies, payers)
    errors = {e.problem.location.file: e.problem for e in run.errors}
    assert where(errors["payers/tests/aetna/bomb.yaml"])[::2] == ("yaml_expansion_limit", 7)
    assert where(errors["payers/tests/aetna/tag.yaml"])[::2] == ("yaml_unknown_tag", 3)
    assert where(errors["payers/tests/aetna/latin1.yaml"]) == ("not_utf8", "payers/tests/aetna/latin1.yaml", 3, 14)
    assert run.results and run.passed == len(run.results) and run.error_count == 3   # the good files still ran


def test_a_value_yaml_cannot_build_in_a_policy_test_is_a_located_problem(tmp_path):
    policies, payers = tree(tmp_path)
    path = payers / "tests" / "aetna" / "date.yaml"
    path.write_text("payer: aetna\ncases:\n  - name: a day that does not exist\n    example: aetna_same_day\n"
                    "    date_of_service: 2025-02-30\n    expect: {}\n")
    run = run_tests([path], policies, payers)
    [result] = run.results
    assert [(p.code, p.location.line, p.location.column, p.message) for p in result.problems] == \
        [("test_format", 5, 22, "cannot read this value: day is out of range for month")]


def test_a_policy_test_with_absurd_names_gets_located_problems_not_internal_errors(tmp_path):
    policies, payers = tree(tmp_path)
    path = payers / "tests" / "aetna" / "absurd.yaml"
    path.write_text("payer: aetna\ncases:\n"
                    f"  - name: a file name too long for the file system\n    example: {'x' * 5000}\n"
                    "    expect: {1: {verdict: supportable}}\n"
                    "  - name: an index of 5,000 digits\n    example: aetna_same_day\n"
                    f"    change:\n      ? lines[{'9' * 5000}].minutes\n      : 8\n    expect: {{1: {{verdict: supportable}}}}\n")
    run = run_tests([path], policies, payers)
    assert not run.errors
    first, second = run.results
    assert [(p.code, p.location.line) for p in first.problems] == [("unknown_example", 4)]
    assert [(p.code, p.location.line) for p in second.problems][:1] == [("invalid_change", 9)]


# --- lint -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["unknown_tag", "python_tag", "not_utf8", "nul", "alias", "alias_bomb", "oversize"])
def test_lint_reports_the_located_problem_and_finishes(tmp_path, fault):
    data, code, line, column, _ = FAULTS[fault]
    policies, payers = tree(tmp_path, data)
    report = lint(policies, payers, tmp_path / "guidance")
    assert report.failed == ["acme"]
    located = [where(p) for p in report.problems if p.level == "error"]
    assert located == [(code, ACME, line, column)]


# --- the base policies and the vocabulary ------------------------------------------------------------

@pytest.mark.parametrize("name, data, code, line, column", [
    ("base/units.yaml", b"rules: !ref 1\n", "yaml_unknown_tag", 1, 8),
    ("vocabulary/codes.yaml", b"codes:\n  - \xff\n", "not_utf8", 2, 5),
    ("edits/ptp.yaml", b"ptp: &p []\nmue: *p\n", "yaml_alias", 2, 6),
])
def test_a_fault_in_the_base_fails_every_payer_with_the_located_problem(tmp_path, name, data, code, line, column):
    policies, payers = tree(tmp_path)
    (policies / name).write_bytes(data)
    registry = Registry.load(policies, payers)
    assert registry.policies == {} and sorted(registry.failed) == list(SHIPPED)
    for problems in registry.failed.values():
        assert [(p.code, p.location.file.endswith(f"policies/{name}"), p.location.line, p.location.column)
                for p in problems] == [(code, True, line, column)]
    result = CliRunner().invoke(main, ["payers", "--policies", str(policies), "--format", "json"])
    assert result.exit_code == 4 and isinstance(result.exception, SystemExit)
    listed = {p["id"]: p for p in json.loads(result.output)["payers"]}
    assert all(listed[p]["problems"][0]["code"] == code for p in SHIPPED)


# --- the command line ----------------------------------------------------------------------------------

ENCOUNTER = ROOT / "examples" / "encounters" / "aetna_same_day.json"
COMMANDS = {
    "check": (["check", str(ENCOUNTER), "--payer", "acme"], 4),
    "payers": (["payers"], 4),
    "explain-code": (["explain-code", "97110", "--payer", "acme"], 4),
    "diff": (["diff", "base", "acme"], 4),
    "lint": (["lint"], 4),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("fault", ["python_tag", "not_utf8", "alias_bomb"])
def test_cli_commands_print_the_located_problem(tmp_path, command, fault):
    data, code, line, column, _ = FAULTS[fault]
    policies, payers = tree(tmp_path, data)
    args, exit_code = COMMANDS[command]
    result = CliRunner().invoke(main, [*args, "--policies", str(policies)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == exit_code
    assert f"{ACME}:{line}:{column}" in result.output and f"[{code}]" in result.output


def test_cli_impact_with_a_broken_candidate_prints_the_located_problem(tmp_path):
    policies, payers = tree(tmp_path)
    candidate = tmp_path / "candidate.yaml"
    candidate.write_bytes((ROOT / "payers" / "aetna.yaml").read_bytes() + b"extra: !ref 18\n")
    result = CliRunner().invoke(main, ["impact", "--payer", "aetna", "--candidate", str(candidate), "--encounters",
                                       str(ENCOUNTER), "--policies", str(policies)])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 4
    assert "candidate.yaml:" in result.output and "[yaml_unknown_tag]" in result.output


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "supportable.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_as_a_process_lint_and_check_on_an_alias_bomb_and_a_python_tag(tmp_path):
    policies, payers = tree(tmp_path, FAULTS["alias_bomb"][0])
    run = run_cli("lint", "--policies", str(policies))
    assert run.returncode == 4 and "Traceback" not in run.stderr + run.stdout
    assert f"{ACME}:5:10: error: alias `*l0`" in run.stdout
    (payers / "acme.yaml").write_bytes(FAULTS["python_tag"][0])
    run = run_cli("check", str(ENCOUNTER), "--payer", "acme", "--policies", str(policies))
    assert run.returncode == 4 and "Traceback" not in run.stderr + run.stdout
    assert f"{ACME}:4:14: error: tag `!!python/object/apply:os.system`" in run.stderr


def test_cli_as_a_process_test_on_a_broken_test_file(tmp_path):
    policies, payers = tree(tmp_path)
    (payers / "tests" / "aetna" / "nul.yaml").write_bytes(b"payer: aetna\ncases:\n  - name: a\x00\n")
    run = run_cli("test", str(payers / "tests" / "aetna" / "nul.yaml"), "--policies", str(policies))
    assert run.returncode == 1 and "Traceback" not in run.stderr + run.stdout
    assert "payers/tests/aetna/nul.yaml:3:12: error: a NUL byte" in run.stdout


def test_cli_check_accepts_a_byte_order_mark_and_locates_a_byte_that_is_not_utf8(tmp_path):
    marked = tmp_path / "marked.json"
    marked.write_bytes(b"\xef\xbb\xbf" + ENCOUNTER.read_bytes())
    result = CliRunner().invoke(main, ["check", str(marked), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output)["lines"]
    result = CliRunner().invoke(main, ["check", "-", "--format", "json"], input=b"\xef\xbb\xbf" + ENCOUNTER.read_bytes())
    assert result.exit_code == 0 and json.loads(result.output)["lines"]
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{\n  "id": "caf\xe9"\n}\n')
    result = CliRunner().invoke(main, ["check", str(bad), "--format", "json"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    out = json.loads(result.output)
    assert out["error"] == "not_utf8" and out["message"].startswith(f"{bad}:2:13: byte 0xE9 (at byte offset 14)")


def test_the_policy_files_benchmark_runs():
    # measured by hand, never timed here: this only keeps the benchmark working
    run = subprocess.run([sys.executable, "bench/bench_policy_files.py", "--rounds", "1", "--old-depth", "3"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "command:" in run.stdout
    depth9 = next(line for line in run.stdout.splitlines() if line.strip().startswith("9 "))
    assert depth9.rstrip().endswith("yaml_alias / yaml_expansion_limit")
    assert "failed ['acme']" in run.stdout and "[yaml_alias]" in run.stdout


# --- the real server ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_beside_a_python_tag_overlay_and_refuses_an_alias_bomb_on_reload(tmp_path):
    policies, payers = tree(tmp_path, FAULTS["python_tag"][0])
    (payers / "beta.yaml").write_bytes(HEAD.replace(b"acme", b"beta"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTABLE_")}
    env.update(PYTHONPATH=str(ROOT), SUPPORTABLE_RELOAD_INTERVAL="0")   # only SIGHUP reloads
    log = tmp_path / "serve.log"
    with log.open("wb") as err:
        server = subprocess.Popen([sys.executable, "-m", "supportable.cli", "serve", "--port", str(port), "--workers", "1",
                                   "--threads", "2", "--policies", str(policies), "--payers", str(payers),
                                   "--decision-log", str(tmp_path / "d.jsonl")],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)

    def get(path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def wait_for(check, seconds, what):
        deadline = time.monotonic() + seconds
        while True:
            try:
                if check():
                    return
            except OSError:
                pass
            assert server.poll() is None, f"the server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, what
            time.sleep(0.2)

    try:
        wait_for(lambda: get("/readyz")[1]["payers"].get("commercial", {}).get("loaded"), 15, "server did not start")
        assert get("/readyz")[1]["payers"]["acme"]["loaded"] is False
        listed = {p["id"]: p for p in get("/v1/payers")[1]["payers"]}
        assert [(p["code"], p["file"], p["line"], p["column"]) for p in listed["acme"]["problems"]] == \
            [("yaml_unknown_tag", ACME, 4, 14)]
        assert get("/v1/payers/beta")[0] == 200
        (payers / "beta.yaml").write_bytes(FAULTS["alias_bomb"][0].replace(b"acme", b"beta"))
        server.send_signal(signal.SIGHUP)
        wait_for(lambda: get("/readyz")[1].get("last_reload", {}).get("outcome") == "refused", 10,
                 "the reload with an alias bomb did not finish")
        [problem] = get("/readyz")[1]["last_reload"]["problems"]["beta"]
        assert (problem["code"], problem["file"], problem["line"], problem["column"]) == \
            ("yaml_alias", "payers/beta.yaml", 5, 10) and "`*l0`" in problem["message"]
        status, body = get("/v1/payers/beta")              # the last good set still serves
        assert status == 200 and body["id"] == "beta"
    finally:
        stop(server, timeout=15)
    assert "Traceback" not in log.read_text()


def test_mutated_policy_files_never_raise(tmp_path):
    # a seeded fuzz: random YAML punctuation, tags, aliases, odd bytes and cuts in shipped files;
    # whatever the result, the loaders answer with problems and never raise
    import random
    from supportable.engine.edits import load_base_tables
    from supportable.engine.loader import load_rule_files
    rnd = random.Random(11)
    sources = [ROOT / "payers" / "aetna_medicare.yaml", ROOT / "policies" / "base" / "group.yaml",
               ROOT / "policies" / "edits" / "mue.yaml"]
    tokens = [b":", b"[", b"]", b"{", b"}", b"- ", b"\n", b"\t", b"&a ", b"*a", b"!", b"!!int ", b"<<: ", b"? ",
              b'"', b"|", b">", b"#", b"=", b"\xff", b"\x00", b"---\n", b"2025-02-30", b"9" * 5000, b"  ", b","]
    for folder in ("payers", "base", "edits"):
        (tmp_path / folder).mkdir()
    refused = 0
    for _ in range(300):
        source = rnd.choice(sources)
        data = bytearray(source.read_bytes())
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(data))
            if rnd.random() < 0.7:
                data[i:i] = rnd.choice(tokens)
            else:
                del data[i:i + rnd.randint(1, 20)]
        found = Problems()
        if source.parent.name == "payers":
            (tmp_path / "payers" / source.name).write_bytes(data)
            parse_overlay(tmp_path / "payers" / source.name, found, tmp_path)
        elif source.parent.name == "base":
            (tmp_path / "base" / source.name).write_bytes(data)
            load_rule_files([tmp_path / "base" / source.name], "base", found, tmp_path)
        else:
            (tmp_path / "edits" / source.name).write_bytes(data)
            load_base_tables(tmp_path / "edits", found, tmp_path)
        assert all(p.location is None or p.location.file.startswith(("payers/", "base/", "edits/"))
                   for p in found.items)
        refused += bool(found.errors)
    assert refused > 150      # most mutations break the file: the loop exercised the refusals
