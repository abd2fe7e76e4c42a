"""The signed JWT a CDS client sends (``Authorization: Bearer <JWT>``), verified with PyJWT.

The operator lists the trusted issuers in a JSON file (``SUPPORTABLE_CDS_ISSUERS``)::

    {"issuers": [{"iss": "https://ehr.example.org/", "jwks_file": "ehr-jwks.json"},
                 {"iss": "https://other.example.org", "jwks_url": "https://other.example.org/jwks"}]}

A ``jwks_file`` (relative to the issuers file) holds the issuer's public JWK Set; a ``jwks_url`` is
fetched (and cached) when a token names a key not yet known, and a token's ``jku`` header, when it
has one, must be that URL. Checked, as CDS Hooks asks: an asymmetric ``alg`` (never ``none`` or an
HMAC), ``typ`` JWT when given, ``kid`` naming a key of the issuer, the signature, ``iss`` trusted, ``aud`` this endpoint's URL
(``SUPPORTABLE_CDS_BASE_URL`` + the path, or the URL the request came to), ``exp``, ``iat`` and
``jti`` present, the token not expired (30 seconds' leeway) and its ``jti`` not seen before in this
worker process while it is valid (a replay).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jwt as pyjwt

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 30


class JwtError(ValueError):
    """Why a token is refused (said in the 401 problem)."""


class IssuerFileError(ValueError):
    """The issuers file cannot be used (stops start-up)."""


@dataclass
class Issuer:
    iss: str
    keys: dict           # kid -> PyJWK
    jwks_url: str | None = None
    client: object | None = None     # a PyJWKClient for jwks_url


def read_issuers(path: Path) -> dict[str, Issuer]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IssuerFileError(f"SUPPORTABLE_CDS_ISSUERS={path}: cannot be read as JSON ({exc})") from None
    entries = doc.get("issuers") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise IssuerFileError(f"SUPPORTABLE_CDS_ISSUERS={path}: expected {{\"issuers\": [...]}}")
    out = {}
    for i, entry in enumerate(entries):
        where = f"SUPPORTABLE_CDS_ISSUERS={path}: issuers[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("iss"), str):
            raise IssuerFileError(f"{where}: needs `iss`")
        keys, url, client = {}, entry.get("jwks_url"), None
        if entry.get("jwks_file"):
            file = Path(path).parent / entry["jwks_file"]
            try:
                jwks = pyjwt.PyJWKSet.from_dict(json.loads(file.read_text(encoding="utf-8")))
            except (OSError, ValueError, pyjwt.PyJWKSetError) as exc:
                raise IssuerFileError(f"{where}: jwks_file {file}: {exc}") from None
            keys = {k.key_id: k for k in jwks.keys if k.key_id}
        elif url:
            client = pyjwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
        else:
            raise IssuerFileError(f"{where}: needs `jwks_file` or `jwks_url`")
        out[entry["iss"]] = Issuer(entry["iss"], keys, url, client)
    return out


class Verifier:
    def __init__(self, issuers: dict[str, Issuer]):
        self.issuers = issuers
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, header_value: str, audience: str) -> dict:
        scheme, _, token = (header_value or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise JwtError("send the CDS client's signed JWT as `Authorization: Bearer <JWT>`")
        try:
            header = pyjwt.get_unverified_header(token)
            claims = pyjwt.decode(token, options={"verify_signature": False})
        except pyjwt.PyJWTError as exc:
            raise JwtError(f"the bearer token is not a JWT: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise JwtError(f"the JWT's alg `{alg}` is not accepted: use one of {', '.join(ALGORITHMS)} "
                           "(never none or an HMAC)")
        if not kid:
            raise JwtError("the JWT's header has no `kid`")
        if header.get("typ") is not None and str(header["typ"]).upper() != "JWT":
            raise JwtError(f"the JWT's typ `{header['typ']}` is not JWT")
        issuer = self.issuers.get(claims.get("iss"))
        if issuer is None:
            raise JwtError(f"the JWT's issuer `{claims.get('iss')}` is not a trusted CDS client")
        jku = header.get("jku")
        if jku is not None and issuer.jwks_url is not None and jku != issuer.jwks_url:
            raise JwtError(f"the JWT's jku `{jku}` is not the JWK Set URL trusted for `{issuer.iss}`")
        key = self._key(issuer, kid, token)
        try:
            verified = pyjwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer.iss,
                                    leeway=LEEWAY, options={"require": ["iss", "aud", "exp", "iat", "jti"]})
        except pyjwt.ExpiredSignatureError:
            raise JwtError("the JWT has expired") from None
        except pyjwt.InvalidAudienceError:
            raise JwtError(f"the JWT's aud is not this endpoint: expected `{audience}`") from None
        except pyjwt.InvalidSignatureError:
            raise JwtError("the JWT's signature does not verify with the issuer's key "
                           f"`{kid}`") from None
        except pyjwt.MissingRequiredClaimError as exc:
            raise JwtError(f"the JWT lacks the `{exc.claim}` claim") from None
        except pyjwt.PyJWTError as exc:
            raise JwtError(f"the JWT is not valid: {exc}") from None
        self._once(str(verified["jti"]), float(verified["exp"]))
        return verified

    def _key(self, issuer: Issuer, kid: str, token: str):
        if kid in issuer.keys:
            return issuer.keys[kid]
        if issuer.client is not None:
            try:
                found = issuer.client.get_signing_key_from_jwt(token)
            except pyjwt.PyJWTError as exc:
                raise JwtError(f"the key `{kid}` of `{issuer.iss}` cannot be had from its JWK Set: {exc}") from None
            issuer.keys[kid] = found
            return found
        raise JwtError(f"`{issuer.iss}` has no key `{kid}` in its trusted JWK Set")

    def _once(self, jti: str, exp: float) -> None:
        now = time.time()
        with self._lock:
            for old in [j for j, e in self._seen.items() if e + LEEWAY < now]:
                del self._seen[old]
            if jti in self._seen:
                raise JwtError(f"the JWT's jti `{jti}` was already used (a replay)")
            self._seen[jti] = exp
