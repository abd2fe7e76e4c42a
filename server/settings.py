"""Server settings, declared once: defaults, overridden by ``SUPPORTABLE_*`` environment variables,
overridden by command-line options (``Settings.from_env(env, **overrides)``).

| setting | environment variable | default |
| --- | --- | --- |
| policies | SUPPORTABLE_POLICIES | the bundled `policies/` |
| payers | SUPPORTABLE_PAYERS | `payers/` beside the policies |
| edits | SUPPORTABLE_EDITS | none: a folder written by `supportable edits import` (CMS's PTP and MUE tables) |
| payer_ids | SUPPORTABLE_PAYER_IDS | `routing/payer_ids.yaml` in the payers folder: payer identifier (an 837's NM1*PR NM109) -> payer overlay |
| decision_log | SUPPORTABLE_DECISION_LOG | `var/decisions.jsonl` in the working directory ("" turns it off) |
| max_body_bytes | SUPPORTABLE_MAX_BODY_BYTES | 1 MiB (one encounter); sizes take units: `512KiB`, `1MiB`, `8MB` |
| max_batch_bytes | SUPPORTABLE_MAX_BATCH_BYTES | 8 MiB (a batch, JSON or NDJSON; large corpora belong to batch audits) |
| max_batch_items | SUPPORTABLE_MAX_BATCH_ITEMS | 1,000 encounters in a JSON-array batch |
| tune_gc | SUPPORTABLE_TUNE_GC | on: freeze the loaded policies and raise the GC thresholds |
| preload | SUPPORTABLE_PRELOAD | on: load the policies once in gunicorn's master and fork the workers from it |
| reload_interval | SUPPORTABLE_RELOAD_INTERVAL | 2 seconds between checks of the policy files (0: no watching) |
| reload_timeout | SUPPORTABLE_RELOAD_TIMEOUT | 60 seconds a load of the policy files may take (0: unbounded) |
| snapshot | SUPPORTABLE_SNAPSHOT | `var/last-good/` in the working directory: the last good policy set ("" turns it off) |
| admin_token | SUPPORTABLE_ADMIN_TOKEN | none: `POST /admin/reload` is off |
| request_timeout | SUPPORTABLE_REQUEST_TIMEOUT | 10 seconds for a request's head (and a body up to 1 MiB) to arrive, and for any one read or write; a streamed body gets 6 times as long |
| host | SUPPORTABLE_HOST | 127.0.0.1 (`serve --host`) |
| port | SUPPORTABLE_PORT | 8080 (`serve --port`), 1-65535 |
| workers | SUPPORTABLE_WORKERS | 2 worker processes (`serve --workers`), 1-64 |
| threads | SUPPORTABLE_THREADS | 4 threads per worker (`serve --threads`), 1-64 |
| auth | SUPPORTABLE_AUTH | auto: API keys required on `/v1` when bound to a non-loopback address; `required`, `off` |
| api_keys | SUPPORTABLE_API_KEYS | none: comma-separated API keys for `/v1` |
| api_keys_file | SUPPORTABLE_API_KEYS_FILE | none: a file of API keys, one a line (`#` comments) |
| log_inputs | SUPPORTABLE_LOG_INPUTS | off: on keeps each whole encounter in the decision log (patient data) |
| log_level | SUPPORTABLE_LOG_LEVEL | info (debug, info, warning, error) |
| access_log | SUPPORTABLE_ACCESS_LOG | off: on adds gunicorn's access log (JSON) to the app's request log |
| certfile | SUPPORTABLE_CERTFILE | none: serve TLS with this certificate (PEM) and keyfile |
| keyfile | SUPPORTABLE_KEYFILE | none: the certificate's private key (PEM) |
| cds_auth | SUPPORTABLE_CDS_AUTH | auto: the CDS Hooks service (`/cds-services`) needs a signed JWT from a trusted issuer when issuers are set or the server is bound off loopback; `required`; `off` accepts calls without one |
| cds_issuers | SUPPORTABLE_CDS_ISSUERS | none: a JSON file of the trusted CDS clients (`iss` and their JWK Set: `jwks_file` or `jwks_url`) |
| cds_base_url | SUPPORTABLE_CDS_BASE_URL | none: the service's public base URL (`https://cds.example.org`), for the JWT's `aud`; by default the URL the request came to |
| engine | SUPPORTABLE_ENGINE | plan: the evaluation plan (proofs read from its derivations); `pydatalog`: the reference |
| dask_scheduler | SUPPORTABLE_DASK_SCHEDULER | none: a Dask scheduler's address (`tcp://host:8786`); the web page's day's-claims jobs then run on that cluster, the audit's path (docs/audit.md) |

Every bad value is a :class:`SettingsError` naming the variable (or option) and what it accepts.
"""
from __future__ import annotations

import contextvars
import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from supportable.engine import DEFAULT_ENGINE, ENGINES

from .paths import BUNDLED_POLICIES

ENV_PREFIX = "SUPPORTABLE_"

_SIZE = re.compile(r"^\s*(\d+)\s*([A-Za-z]*)\s*$")
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
SIZE_HELP = "a size in bytes: a positive integer, or one with a unit (512KiB, 1MiB, 8MB; B, KB, MB, GB, KiB, MiB, GiB)"

# What each setting accepts, said in the one-line error of a bad value.
ACCEPTS = {
    "policies": "a folder", "payers": "a folder", "edits": "a folder", "payer_ids": "a file (the payer table)",
    "dask_scheduler": "a Dask scheduler address, tcp://host:port (empty: none)",
    "decision_log": "a file path, or empty to turn the decision log off",
    "snapshot": "a folder path, or empty to keep no last good policy set on disk",
    "reload_timeout": "a number of seconds, 0 or more (0: unbounded)",
    "max_body_bytes": SIZE_HELP, "max_batch_bytes": SIZE_HELP,
    "max_batch_items": "a positive integer",
    "tune_gc": "on/off (1, 0, true, false, yes, no)", "preload": "on/off (1, 0, true, false, yes, no)",
    "log_inputs": "on/off (1, 0, true, false, yes, no)",
    "access_log": "on/off (1, 0, true, false, yes, no)",
    "reload_interval": "a number of seconds, 0 or more (0: no watching)",
    "request_timeout": "a number of seconds greater than 0",
    "host": "an address or host name to bind", "port": "an integer from 1 to 65535",
    "workers": "an integer from 1 to 64", "threads": "an integer from 1 to 64",
    "auth": "auto, required or off", "cds_auth": "auto, required or off",
    "cds_issuers": "a JSON file of trusted issuers", "cds_base_url": "an http(s) URL", "log_level": "debug, info, warning or error",
    "engine": " or ".join(ENGINES),
}

_ENV: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("supportable_env", default=None)


def parse_size(value: Any) -> int:
    """``1048576``, ``"1048576"``, ``"1MiB"``, ``"512 KiB"``, ``"8MB"`` -> bytes; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(SIZE_HELP)
    if isinstance(value, int):
        number, unit = value, ""
    else:
        m = _SIZE.match(str(value))
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(SIZE_HELP)
        number, unit = int(m.group(1)), m.group(2).lower()
    size = number * _UNITS[unit]
    if size < 1:
        raise ValueError(SIZE_HELP)
    return size


class SettingsError(ValueError):
    """Bad settings: ``lines`` holds one clear line per bad value."""

    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = lines


class _Env(EnvSettingsSource):
    """The environment: the mapping given to ``from_env`` or, by default, the process's."""

    def _load_env_vars(self):
        env = _ENV.get()
        return {key.lower(): value for key, value in (os.environ if env is None else env).items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, frozen=True, extra="ignore",
                                      validate_default=False)

    policies: Path = BUNDLED_POLICIES
    payers: Path | None = None
    edits: Path | None = None
    payer_ids: Path | None = None
    decision_log: Path | None = Path("var/decisions.jsonl")
    max_body_bytes: int = 1 << 20
    max_batch_bytes: int = 8 << 20
    max_batch_items: int = Field(1_000, ge=1)
    tune_gc: bool = True
    preload: bool = True
    reload_interval: float = Field(2.0, ge=0, allow_inf_nan=False)
    reload_timeout: float = Field(60.0, ge=0, allow_inf_nan=False)
    snapshot: Path | None = Path("var/last-good")
    web_jobs: Path = Path("var/web-jobs")     # the web pages' background jobs (server/web/jobs.py)
    dask_scheduler: str | None = None         # a day's claims on this Dask cluster (server/web/day.py)
    admin_token: str | None = Field(None, repr=False)
    request_timeout: float = Field(10.0, gt=0, allow_inf_nan=False)
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(4, ge=1, le=64)
    auth: Literal["auto", "required", "off"] = "auto"
    api_keys: str | None = Field(None, repr=False)
    api_keys_file: Path | None = None
    log_inputs: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = False
    certfile: Path | None = None
    keyfile: Path | None = None
    cds_auth: Literal["auto", "required", "off"] = "auto"
    cds_issuers: Path | None = None
    cds_base_url: str | None = Field(None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    engine: str = DEFAULT_ENGINE

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Env(settings_cls)   # no .env file, no secrets folder: one place to look

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, values: Any) -> Any:
        """An empty variable means "not set", except SUPPORTABLE_DECISION_LOG="" (no decision log)."""
        if isinstance(values, dict):
            values = {k: v for k, v in values.items() if not (v == "" and k not in ("decision_log", "snapshot"))}
            for name in ("decision_log", "snapshot"):       # "" turns these off
                if values.get(name) == "":
                    values[name] = None
        return values

    @field_validator("max_body_bytes", "max_batch_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)

    @field_validator("port", "workers", "threads", "max_batch_items", mode="before")
    @classmethod
    def _integer(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?\d+\s*", value):
            raise ValueError("not an integer")
        return value

    @field_validator("auth", "cds_auth", "log_level", "engine", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("dask_scheduler", mode="before")
    @classmethod
    def _scheduler(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip() or None
            if value is not None and not re.fullmatch(r"(tcp|tls|ws|wss|inproc)://\S+", value):
                raise ValueError("not a scheduler address")
        return value

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        if value not in ENGINES:
            raise ValueError(f"one of {', '.join(ENGINES)}")
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Defaults, then ``env`` (default: the process environment), then ``overrides``; an override
        of None means "not given" (to turn the decision log off, set SUPPORTABLE_DECISION_LOG=""; the
        snapshot, SUPPORTABLE_SNAPSHOT="").
        A bad value raises :class:`SettingsError` naming the variable or option."""
        known = cls.model_fields
        given = {k: v for k, v in overrides.items() if v is not None and k in known}
        token = _ENV.set(env)
        try:
            return cls(**given)
        except ValidationError as exc:
            raise SettingsError(_explain(exc, env if env is not None else os.environ, given)) from None
        finally:
            _ENV.reset(token)

    # -- what serve checks before it starts ------------------------------------------------------

    def folder_problems(self) -> list[str]:
        """Folders and files that must exist to serve, each missing one as a clear line."""
        out = []
        for name in ("policies", "payers", "edits"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_dir():
                out.append(f"{_source_name(name)} (--{name}): `{path}` is not a folder")
        for name in ("api_keys_file", "certfile", "keyfile", "cds_issuers"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                out.append(f"{_source_name(name)}: `{path}` is not a readable file")
        if (self.certfile is None) != (self.keyfile is None):
            out.append(f"{ENV_PREFIX}CERTFILE and {ENV_PREFIX}KEYFILE: give both to serve TLS, or neither")
        return out

    def effective(self) -> dict:
        """The settings as the start-up log shows them: paths as text, never a token or a key."""
        shown = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in ("admin_token", "api_keys"):
                value = "(set)" if value else None
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown


def unknown_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """SUPPORTABLE_* variables that name no setting (a typo is otherwise silently ignored)."""
    env = os.environ if env is None else env
    return sorted(k for k in env if k.upper().startswith(ENV_PREFIX)
                  and k[len(ENV_PREFIX):].lower() not in Settings.model_fields)


def _source_name(field: str, given: Mapping | None = None) -> str:
    if given is not None and field in given:
        return "--" + field.replace("_", "-")
    return ENV_PREFIX + field.upper()


def _explain(exc: ValidationError, env: Mapping[str, str], given: Mapping) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else ""
        name = _source_name(field, given)
        raw = given[field] if field in given else env.get(ENV_PREFIX + field.upper(), err.get("input"))
        accepts = ACCEPTS.get(field) or err["msg"]
        lines.append(f"{name}={raw}: not valid; expected {accepts}")
    return lines
