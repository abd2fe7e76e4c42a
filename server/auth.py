"""Who may call ``/v1``: authenticators that turn a request into a principal, or None.

An :class:`Authenticator` looks at a request and returns the :class:`Principal` it proves, or None
when the request carries nothing it accepts. :class:`Gate` asks its authenticators in turn; the
first principal wins. Today there is one: API keys (:class:`ApiKeyAuthenticator`). Later front
doors plug in the same way — a session cookie for web pages — each a class with ``scheme`` and
``authenticate(request)``. The CDS Hooks service (``/cds-services``) has its own gate, in this
style: the signed JWT its clients send, verified against the trusted issuers' keys
(``server.routes.cds.CdsGate``, ``server.cds.tokens``).

When keys are required: ``SUPPORTABLE_AUTH=required``, or ``auto`` (the default) with the server
bound to an address other than loopback. ``SUPPORTABLE_AUTH=off`` turns them off explicitly (the
start-up log warns when that leaves a non-loopback address open). Keys are kept only as SHA-256
digests and compared with ``hmac.compare_digest``; a principal's id names the key by a short
prefix of its digest (``key:1a2b3c4d5e6f``), never the key itself.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .settings import ENV_PREFIX, Settings

# Paths open to anyone: probes, metrics and the API's description carry no patient data.
OPEN_PREFIXES = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")
PROTECTED_PREFIX = "/v1"
PROTECTED_PREFIXES = (PROTECTED_PREFIX, "/fhir")    # /fhir carries claims: patient data, as /v1
COOKIE = "supportable_key"      # the web pages' sign-in (server/web): the API key, HttpOnly, SameSite=Strict


@dataclass(frozen=True)
class Principal:
    id: str                     # safe to log: never a secret
    kind: str                   # "api_key", later "session", "jwt"
    claims: dict = field(default_factory=dict, compare=False)


class Authenticator(Protocol):
    scheme: str                 # for the WWW-Authenticate challenge

    def authenticate(self, request) -> Principal | None: ...


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class ApiKeyAuthenticator:
    """API keys sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

    scheme = "Bearer"

    def __init__(self, keys: list[str]):
        self._digests = [_digest(k) for k in keys]

    def __len__(self) -> int:
        return len(self._digests)

    def authenticate(self, request) -> Principal | None:
        given = request.headers.get("X-API-Key", "")
        if not given:
            header = request.headers.get("Authorization", "")
            scheme, _, value = header.partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else ""
        return self.principal_for(given)

    def principal_for(self, given: str) -> Principal | None:
        if not given:
            return None
        digest = _digest(given)
        matched = False
        for known in self._digests:            # compare with every key: time does not tell which matched
            matched |= hmac.compare_digest(digest, known)
        return Principal("key:" + digest.hex()[:12], "api_key") if matched else None


def read_keys(settings: Settings) -> list[str]:
    """The API keys of SUPPORTABLE_API_KEYS (comma-separated) and SUPPORTABLE_API_KEYS_FILE (one a line;
    blank lines and `#` comments skipped)."""
    keys = [k.strip() for k in (settings.api_keys or "").split(",") if k.strip()]
    if settings.api_keys_file is not None:
        for line in Path(settings.api_keys_file).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                keys.append(line)
    return keys


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost" or host.startswith("unix:"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False          # a name: it may resolve to anything, so treat it as exposed


def keys_required(settings: Settings) -> bool:
    return settings.auth == "required" or (settings.auth == "auto" and not is_loopback(settings.host))


class AuthError(ValueError):
    """The settings ask for authentication that cannot be given (no keys)."""


@dataclass
class Gate:
    """Decides who may call a path: open paths pass; protected ones need a principal when required."""
    required: bool
    authenticators: list = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Gate":
        try:
            keys = read_keys(settings)
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthError(f"{ENV_PREFIX}API_KEYS_FILE={settings.api_keys_file}: cannot be read ({exc})") from None
        required = keys_required(settings)
        if required and not keys:
            why = ("SUPPORTABLE_AUTH=required" if settings.auth == "required"
                   else f"the server is bound to {settings.host}, which is not loopback")
            raise AuthError(f"API keys are required ({why}) but none are set: set {ENV_PREFIX}API_KEYS or "
                            f"{ENV_PREFIX}API_KEYS_FILE, or {ENV_PREFIX}AUTH=off to serve without them")
        return cls(required, [ApiKeyAuthenticator(keys)] if keys else [])

    def protects(self, path: str) -> bool:
        return self.required and any(path == p or path.startswith(p + "/") for p in PROTECTED_PREFIXES)

    def identify(self, request) -> Principal | None:
        for authenticator in self.authenticators:
            principal = authenticator.authenticate(request)
            if principal is not None:
                return principal
        return None

    def challenge(self) -> str:
        schemes = dict.fromkeys(a.scheme for a in self.authenticators) or {"Bearer": None}
        return ", ".join(f'{s} realm="supportable"' for s in schemes)


class CookieKeyAuthenticator:
    """The web pages' sign-in: the API key a person entered on ``/signin``, kept in the ``COOKIE``
    cookie and checked against the gate's keys (the pages only; ``/v1`` takes keys in headers)."""

    scheme = "Cookie"

    def __init__(self, gate: Gate):
        self._keys = [a for a in gate.authenticators if isinstance(a, ApiKeyAuthenticator)]

    def check_key(self, key: str) -> Principal | None:
        for authenticator in self._keys:
            principal = authenticator.principal_for(key.strip())
            if principal is not None:
                return principal
        return None

    def authenticate(self, request) -> Principal | None:
        return self.check_key(request.cookies.get(COOKIE, ""))
