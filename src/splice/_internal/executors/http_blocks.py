"""The `http` step's settings: the blocks a suite writes, validated by pydantic."""

from __future__ import annotations

import binascii
import difflib
import functools
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from splice._internal.executors.executor_api import (
    Block,
    unrendered,
)
from splice._internal.model.durations import parse_duration
from splice._internal.source.validation import HintedValueError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# any case, as the validator upper-cases it: `[Gg][Ee][Tt]|...` (JSON Schema has no flags)
_METHOD_SCHEMA = {
    "type": "string",
    "pattern": "^(" + "|".join("".join(f"[{c}{c.lower()}]" for c in m) for m in METHODS) + ")$",
    "description": "one of " + ", ".join(METHODS) + " (any case)",
}
BODY_KEYS = ("json", "form", "multipart", "body")
PREVIEW_BYTES = 4096


def _empty() -> Any:
    """A field whose default is a new empty dict: built by a factory, not deep-copied
    from `{}` on every validation (twice a step: as loaded and as rendered)."""
    return Field(default_factory=dict, json_schema_extra={"default": {}})


class OAuth2(Block):
    """OAuth 2.0 client credentials (RFC 6749 section 4.4): a token from `token_url`."""

    token_url: str
    client_id: str
    client_secret: str
    scope: str | None = None
    audience: str | None = None  # asked by Auth0 and others

    @field_validator("token_url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        return checked_url(value, info)


class Auth(Block):
    user: str | None = None
    password: str = ""
    bearer: str | None = None
    scheme: Literal["basic", "digest"] = "basic"  # for `user`: Basic or Digest (RFC 7616)
    oauth2: OAuth2 | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Auth:
        kinds = [k for k in ("user", "bearer", "oauth2") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("auth takes one of `user` (and `password`), `bearer` or `oauth2`")
        if self.bearer is not None and "scheme" in self.model_fields_set:
            raise ValueError("`scheme` is for `user` and `password`; a bearer token has none")
        return self


class BodySource(Block):
    """A request body that is not text: the bytes of a file, or base64."""

    file: str | None = None  # relative to the suite file
    base64: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BodySource:
        if (self.file is None) == (self.base64 is None):
            raise ValueError("a body is either `{file: PATH}` or `{base64: DATA}`")
        if self.base64 is not None:
            try:
                binascii.a2b_base64(self.base64.encode())
            except (binascii.Error, ValueError):
                raise HintedValueError(
                    "`base64` is not valid base64", "padding `=` and A-Z a-z 0-9 + / only"
                ) from None
        return self


class FilePart(Block):
    file: str
    filename: str | None = None
    content_type: str | None = None


class ClientCert(Block):
    """A client certificate for mutual TLS: PEM files, relative to the suite file."""

    file: str  # the certificate (and its chain); may hold the key too
    key: str | None = None
    password: str | None = None  # of an encrypted key


class HttpBlock(Block):
    method: Annotated[str, WithJsonSchema(_METHOD_SCHEMA)] = "GET"
    url: str
    params: dict[str, Any] = _empty()
    headers: dict[str, str | int | float | bool] = _empty()
    cookies: dict[str, str | int | float] = _empty()
    # which of the testcase's kept cookies go with this request: all, none, or these names
    send_cookies: bool | list[str] = True
    json_: Any = Field(default=None, alias="json")
    form: dict[str, Any] | None = None
    multipart: dict[str, str | FilePart] | None = None
    body: str | BodySource | None = None
    auth: Auth | None = None
    follow_redirects: bool = True
    verify: bool = True
    ca: str | None = None  # PEM file of the CAs to trust instead of the usual ones
    cert: ClientCert | None = None
    timeout: str | float | None = None  # the whole exchange
    connect_timeout: str | float | None = None  # to open the connection
    read_timeout: str | float | None = None  # between two reads of the response
    # checked against the OpenAPI document of the service it reaches (when it has one)
    openapi: bool = True

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in METHODS:
            close = difflib.get_close_matches(upper, METHODS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown HTTP method {value!r}: expected one of {', '.join(METHODS)}{hint}"
            )
        return upper

    @field_validator("timeout", "connect_timeout", "read_timeout")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        return checked_url(value, info)

    @model_validator(mode="after")
    def _one_body(self) -> HttpBlock:
        given = [k for k in BODY_KEYS if getattr(self, "json_" if k == "json" else k) is not None]
        if len(given) > 1:
            raise ValueError(f"a request has one body, found {' and '.join(given)}")
        return self


def checked_url(value: str, info: ValidationInfo) -> str:
    """A block's URL field, refused with the reason when it cannot be requested; a
    template is let through, and checked once rendered (httpx loads then)."""
    if unrendered(info.context, value):
        return value
    problem = url_problem(value)
    if problem is not None:
        raise HintedValueError(*problem)
    return value


@functools.lru_cache(maxsize=4096)
def url_problem(url: str) -> tuple[str, str] | None:
    """Why `url` cannot be requested (message, hint), or None when it can (cached: steps
    repeat their URLs, and parsing one costs ~0.1 ms). httpx loads here, not with the
    block model, so checking a suite whose URLs are all templates does not import it."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return (
            f"invalid URL {url!r}: {exc}",
            "check the host (an IPv6 address goes in brackets: http://[::1]:8080/) and the port",
        )
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return (
            f"{url!r} is not an http:// or https:// URL",
            "write the whole URL, e.g. http://127.0.0.1:8080/orders, or build it from a "
            "variable: '{{ services.app.url }}/orders'",
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return (f"invalid URL {url!r}: port {parsed.port} is out of range", "ports are 1 to 65535")
    return None
