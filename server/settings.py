"""Server settings: defaults, overridden by environment variables, overridden by arguments.

| setting | environment variable | default |
| --- | --- | --- |
| policies | SUPPORTABLE_POLICIES | the bundled `policies/` |
| payers | SUPPORTABLE_PAYERS | `payers/` beside the policies |
| edits | SUPPORTABLE_EDITS | none: a folder written by `supportable edits import` (CMS's PTP and MUE tables) |
| decision_log | SUPPORTABLE_DECISION_LOG | `var/decisions.jsonl` in the working directory ("" turns it off) |
| max_body_bytes | SUPPORTABLE_MAX_BODY_BYTES | 1 MiB (one encounter) |
| max_batch_bytes | SUPPORTABLE_MAX_BATCH_BYTES | 64 MiB (a batch) |
| max_batch_items | SUPPORTABLE_MAX_BATCH_ITEMS | 10,000 encounters in a JSON-array batch |
| tune_gc | SUPPORTABLE_TUNE_GC | on: freeze the loaded policies and raise the GC thresholds |
| reload_interval | SUPPORTABLE_RELOAD_INTERVAL | 2 seconds between checks of the policy files (0: no watching) |
| reload_timeout | SUPPORTABLE_RELOAD_TIMEOUT | 60 seconds a load of the policy files may take (0: unbounded) |
| snapshot | SUPPORTABLE_SNAPSHOT | `var/last-good/` in the working directory: the last good policy set ("" turns it off) |
| admin_token | SUPPORTABLE_ADMIN_TOKEN | none: `POST /admin/reload` is off |
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

BUNDLED_POLICIES = Path(__file__).resolve().parent.parent / "policies"


@dataclass(frozen=True)
class Settings:
    policies: Path = BUNDLED_POLICIES
    payers: Path | None = None
    edits: Path | None = None
    decision_log: Path | None = Path("var/decisions.jsonl")
    max_body_bytes: int = 1 << 20
    max_batch_bytes: int = 64 << 20
    max_batch_items: int = 10_000
    tune_gc: bool = True
    reload_interval: float = 2.0
    reload_timeout: float = 60.0
    snapshot: Path | None = Path("var/last-good")
    admin_token: str | None = None

    @classmethod
    def from_env(cls, env=None, **overrides) -> "Settings":
        """Defaults, then ``env`` (default: the process environment), then ``overrides``; an override
        of None means "not given" (to turn the decision log off, set SUPPORTABLE_DECISION_LOG=""; the
        snapshot, SUPPORTABLE_SNAPSHOT="")."""
        env = os.environ if env is None else env
        values: dict = {}
        if env.get("SUPPORTABLE_POLICIES"):
            values["policies"] = Path(env["SUPPORTABLE_POLICIES"])
        if env.get("SUPPORTABLE_PAYERS"):
            values["payers"] = Path(env["SUPPORTABLE_PAYERS"])
        if env.get("SUPPORTABLE_EDITS"):
            values["edits"] = Path(env["SUPPORTABLE_EDITS"])
        if "SUPPORTABLE_DECISION_LOG" in env:
            values["decision_log"] = Path(env["SUPPORTABLE_DECISION_LOG"]) if env["SUPPORTABLE_DECISION_LOG"] else None
        if "SUPPORTABLE_SNAPSHOT" in env:
            values["snapshot"] = Path(env["SUPPORTABLE_SNAPSHOT"]) if env["SUPPORTABLE_SNAPSHOT"] else None
        if env.get("SUPPORTABLE_RELOAD_TIMEOUT"):
            values["reload_timeout"] = float(env["SUPPORTABLE_RELOAD_TIMEOUT"])
        for name in ("max_body_bytes", "max_batch_bytes", "max_batch_items"):
            key = "SUPPORTABLE_" + name.upper()
            if env.get(key):
                values[name] = int(env[key])
        if env.get("SUPPORTABLE_RELOAD_INTERVAL"):
            values["reload_interval"] = float(env["SUPPORTABLE_RELOAD_INTERVAL"])
        if env.get("SUPPORTABLE_ADMIN_TOKEN"):
            values["admin_token"] = env["SUPPORTABLE_ADMIN_TOKEN"]
        if env.get("SUPPORTABLE_TUNE_GC"):
            values["tune_gc"] = env["SUPPORTABLE_TUNE_GC"].lower() not in ("0", "false", "no", "off")
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        return replace(cls(), **{k: v for k, v in values.items() if k in known})
