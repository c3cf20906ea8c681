"""How the `http` executor trusts servers and proves who it is: TLS contexts (private CAs,
client certificates) and OAuth2 client-credentials tokens fetched once per run."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from splice._internal.errors import StepError
from splice._internal.executors.http_blocks import HttpBlock, OAuth2


def failure_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host (DNS lookup failed)"
    return text


class OAuth2Tokens:
    """OAuth2 client-credentials tokens, fetched once and shared by every testcase, and
    fetched again shortly before they expire (`expires_in`)."""

    MARGIN = 30.0  # seconds before expiry when a token is renewed

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, spec: OAuth2, context: ssl.SSLContext, timeout: float) -> str:
        key = (spec.token_url, spec.client_id, spec.client_secret, spec.scope or "")
        with self._lock:  # one fetch at a time: parallel testcases wait for the first
            found = self._tokens.get(key)
            if found is not None and time.monotonic() < found[1]:
                return found[0]
            token, lifetime = _fetch_token(spec, context, timeout)
            renew_at = time.monotonic() + max(lifetime - self.MARGIN, lifetime / 2)
            self._tokens[key] = (token, renew_at)
            return token


def _fetch_token(spec: OAuth2, context: ssl.SSLContext, timeout: float) -> tuple[str, float]:
    form = {"grant_type": "client_credentials"}
    if spec.scope:
        form["scope"] = spec.scope
    if spec.audience:
        form["audience"] = spec.audience
    import httpx

    where = f"the OAuth2 token endpoint {spec.token_url}"
    try:
        response = httpx.post(
            spec.token_url,
            data=form,
            auth=(spec.client_id, spec.client_secret),
            timeout=timeout,
            verify=context,
        )
    except httpx.HTTPError as exc:
        raise StepError(f"cannot reach {where}: {failure_reason(exc)}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = body.get("error") if isinstance(body, dict) else None
        raise StepError(
            f"{where} answered {response.status_code}"
            + (f" ({error})" if error else "")
            + " instead of a token",
            "check `client_id`, `client_secret` and `scope` (mark the secret with `secrets:`)",
        )
    expires = body.get("expires_in")
    lifetime = float(expires) if isinstance(expires, int | float) and expires > 0 else 3600.0
    return str(body["access_token"]), lifetime


@dataclass(frozen=True)
class TlsSettings:
    """What a TLS context is made of; the key of the run's cache of contexts."""

    verify: bool
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    password: str | None = field(default=None, repr=False)


def tls_of(block: HttpBlock, base: Path) -> TlsSettings:
    cert = block.cert
    return TlsSettings(
        block.verify,
        base / block.ca if block.ca else None,
        base / cert.file if cert else None,
        base / cert.key if cert and cert.key else None,
        cert.password if cert else None,
    )


def make_tls_context(tls: TlsSettings) -> ssl.SSLContext:
    if not tls.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif tls.ca is None:
        # the usual CAs are loaded before the first https request (`HttpExecutor._trust`);
        # PROTOCOL_TLS_CLIENT checks the hostname and requires a certificate, as
        # ssl.create_default_context does
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        try:
            context = ssl.create_default_context(cafile=str(tls.ca))
        except (OSError, ssl.SSLError) as exc:
            raise StepError(
                f"cannot load the CA file {str(tls.ca)!r}: {tls_reason(exc)}",
                "`ca:` names a PEM file of certificates, relative to the suite file",
            ) from exc
    if tls.cert is not None:
        try:
            context.load_cert_chain(tls.cert, tls.key, tls.password)
        except (OSError, ssl.SSLError) as exc:
            raise StepError(
                f"cannot load the client certificate {str(tls.cert)!r}: {tls_reason(exc)}",
                "`cert: {file, key}` name PEM files (the key may be in `file`); "
                "`password` decrypts an encrypted key",
            ) from exc
    return context


def tls_reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return exc.strerror or str(exc)
