"""The `pact` step: replay one interaction of a pact against a provider and compare.

    - pact: {file: pacts/shop-payments.json, interaction: 3, base_url: "{{ base }}"}

The request is built from the pact (method, path, query, headers, body) and sent to
`base_url`; the response is held to the pact's expected response with the Pact matching
rules, and every mismatch is a failure of the step at its path (`body.items[0].price:
expected a decimal, got string '12.50'`). `splice contract verify` writes these steps, one
per interaction, so verification runs through the same runner, reports and store as suites.
The interaction is read from the file when the step runs, so its contents are never
templated.

A message interaction (V4 `Asynchronous/Messages`, a V3 message pact) is verified the way
Pact's verifiers do it: the provider's *message producer* endpoint (`base_url` +
`messages_path`, default `/`) is POSTed `{"description", "providerStates"}` and answers the
message it would publish: its body is the message's contents (its content type the
contents' type), and its metadata is the `Pact-Message-Metadata` header, base64-encoded
JSON (plain JSON is accepted too). Contents and metadata are held to the pact with its
matching rules. With `via:` (nats, mqtt, amqp or kafka) and `receive:` (that executor's
block taking the message; see `contracts.message_routes`) the message is taken from the
real broker and held to the pact instead, and no producer is asked; one that never
arrives is a failure at `message`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import ssl
import threading
from pathlib import Path
from typing import Any, ClassVar, Literal

import certifi
import httpx

from splice._internal.contracts.compare import compare_message, compare_response
from splice._internal.contracts.model import Body, Message, Request, Response
from splice._internal.contracts.pact import Interaction, Pact, read_pact
from splice._internal.errors import StepError, StepInterrupted, SuiteError
from splice._internal.executors.executor_api import Block, StepContext, StepOutput

_cache: dict[tuple[str, float], Pact] = {}
_cache_lock = threading.Lock()


class PactBlock(Block):
    file: str
    interaction: int
    base_url: str
    messages_path: str = "/"
    timeout: float = 30.0
    via: Literal["nats", "mqtt", "amqp", "kafka"] | None = None
    receive: dict[str, Any] = {}  # the `via` executor's block that takes the message
    as_written: dict[str, Any] = {}  # the `receive:` block of the states file, for reports
    # kafka, before the trigger: note where the topic ends, so that the step taking the
    # message reads what the trigger published, not what earlier testcases left there
    mark: bool = False


def load_cached(path: Path) -> Pact:
    """A pact file read once per change (every interaction of a run shares it)."""
    key = (str(path.resolve()), path.stat().st_mtime)
    with _cache_lock:
        pact = _cache.get(key)
        if pact is None:
            pact = _cache[key] = read_pact(path)
        return pact


def request_body(body: Body | None) -> tuple[bytes | None, str | None]:
    """The bytes to send for a pact body, and its content type."""
    if body is None or (body.empty and body.content in (None, "")):
        return None, body.content_type if body else None
    if isinstance(body.content, bytes):
        return body.content, body.content_type
    if body.kind == "json":
        return json.dumps(body.content).encode(), body.content_type or "application/json"
    return str(body.content).encode(), body.content_type


def actual_response(response: httpx.Response) -> Response:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        headers.setdefault(name, []).append(value)
    ctype = response.headers.get("content-type")
    raw = response.content
    content: Any
    try:
        content = raw.decode(response.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        content = raw
    if isinstance(content, str) and ctype and "json" in ctype.lower() and content.strip():
        with contextlib.suppress(ValueError):  # else compared as text: "not JSON"
            content = json.loads(content)
    return Response(
        status=response.status_code,
        headers=headers,
        body=Body(content, ctype, empty=raw == b""),
    )


def send(client: httpx.Client, base_url: str, request: Request, timeout: float) -> httpx.Response:
    content, ctype = request_body(request.body)
    headers = [(name, ", ".join(values)) for name, values in request.headers.items()]
    if ctype and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", ctype))
    params = httpx.QueryParams(
        [(name, value) for name, values in request.query.items() for value in values]
    )
    path = request.path if request.path.startswith("/") else "/" + request.path
    url = base_url.rstrip("/") + path
    return client.request(
        request.method, url, params=params, headers=headers, content=content, timeout=timeout
    )


class PactExecutor:
    name: ClassVar[str] = "pact"
    block_model: ClassVar[type[Block]] = PactBlock
    result_fields: ClassVar[dict[str, str]] = {
        "status": "status code of the provider's response (of its message producer)",
        "mismatches": "every way the response breaks the pact, as 'path: message'",
        "interaction": "the interaction's description",
        "message": "a message interaction: the message the producer answered "
        "({contents, metadata})",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    def execute(self, block: PactBlock, ctx: StepContext) -> StepOutput:
        path = Path(block.file)
        if not path.is_absolute():
            path = ctx.base_dir / path
        try:
            pact = load_cached(path)
        except (OSError, SuiteError) as exc:
            raise StepError(f"cannot read the pact {block.file}: {exc}") from None
        if not 0 <= block.interaction < len(pact.interactions):
            raise StepError(f"the pact has no interaction {block.interaction}")
        interaction = pact.interactions[block.interaction]
        if block.mark:
            return _mark(block, ctx, interaction)
        if interaction.kind == "message" and interaction.message is not None and block.via:
            return _verify_received(block, ctx, interaction, interaction.message)
        client = _client(ctx)
        if interaction.kind == "message" and interaction.message is not None:
            return _verify_message(client, block, interaction, interaction.message)
        if interaction.request is None:
            raise StepError(f"interaction {block.interaction} has no request to replay")
        try:
            response = send(client, block.base_url, interaction.request, block.timeout)
        except httpx.HTTPError as exc:
            raise StepError(
                f"{interaction.request.method} {block.base_url}{interaction.request.path}: {exc}",
                "is the provider running at that URL?",
            ) from None
        actual = actual_response(response)
        assert interaction.response is not None
        mismatches = compare_response(interaction.response, actual)
        return StepOutput(
            result={
                "status": response.status_code,
                "mismatches": [str(m) for m in mismatches],
                "interaction": interaction.description,
            },
            request=_request_summary(interaction, response),
            response={
                "status": response.status_code,
                "headers": dict(response.headers),
                "body": actual.body.content if actual.body else None,
            },
            problems=[(m.path, m.message) for m in mismatches],
        )


METADATA_HEADER = "Pact-Message-Metadata"


def produce(
    client: httpx.Client, url: str, interaction: Interaction, timeout: float
) -> tuple[httpx.Response, Message]:
    """Ask a message producer for the message of an interaction (Pact's convention)."""
    payload = {
        "description": interaction.description,
        "providerStates": [s.to_json() for s in interaction.states],
    }
    try:
        response = client.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        raise StepError(
            f"POST {url} (the message producer): {exc}",
            "is the provider running, and does it answer message requests at that path? "
            "(--messages-path)",
        ) from None
    if not 200 <= response.status_code < 300:
        raise StepError(
            f"the message producer at {url} answered {response.status_code} for "
            f"{interaction.description!r}: {response.text[:200]}",
            "the producer answers POST {description, providerStates} with the message; "
            "does it know this description?",
        )
    body = actual_response(response).body
    metadata = _metadata(response.headers.get(METADATA_HEADER), url)
    ctype = response.headers.get("content-type")
    if ctype and not any(k.lower() in ("contenttype", "content-type") for k in metadata):
        metadata["contentType"] = ctype
    return response, Message(contents=body, metadata=metadata)


def _metadata(raw: str | None, url: str) -> dict[str, Any]:
    if not raw:
        return {}
    text = raw
    if not raw.lstrip().startswith("{"):
        try:
            text = base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, ValueError):
            text = ""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StepError(
            f"the message producer at {url} sent a {METADATA_HEADER} header that is not a "
            "JSON object (plain or base64)",
            f'send {METADATA_HEADER}: base64 of a JSON object such as {{"topic": "orders"}}',
        )
    return value


def _verify_message(
    client: httpx.Client, block: PactBlock, interaction: Interaction, expected: Message
) -> StepOutput:
    path = block.messages_path if block.messages_path.startswith("/") else "/" + block.messages_path
    url = block.base_url.rstrip("/") + path
    response, actual = produce(client, url, interaction, block.timeout)
    mismatches = compare_message(expected, actual)
    contents = actual.contents.content if actual.contents else None
    if isinstance(contents, bytes):
        contents = "<binary>"
    return StepOutput(
        result={
            "status": response.status_code,
            "mismatches": [str(m) for m in mismatches],
            "interaction": interaction.description,
            "message": {"contents": contents, "metadata": actual.metadata},
        },
        request={
            "method": "POST",
            "url": url,
            "body": {
                "description": interaction.description,
                "providerStates": [s.to_json() for s in interaction.states],
            },
        },
        response={"status": response.status_code, "metadata": actual.metadata, "body": contents},
        problems=[(m.path, m.message) for m in mismatches],
    )


_STARTS = "pact.kafka.starts"  # session state: where the topic ended before the trigger


def _mark(block: PactBlock, ctx: StepContext, interaction: Interaction) -> StepOutput:
    """Before the trigger: where each partition of the kafka `receive:` topic ends."""
    from pydantic import ValidationError

    from splice._internal.executors.kafka import KafkaBlock, KafkaExecutor

    if block.via != "kafka" or not isinstance(block.receive.get("consume"), dict):
        raise StepError(
            "`mark` notes where a kafka topic ends", "give `via: kafka` and a `consume:` receive"
        )
    try:
        parsed = KafkaBlock.model_validate(block.receive)
    except ValidationError as exc:
        raise StepError(f"the kafka block of `receive:` is invalid: {exc}") from None
    ends = KafkaExecutor().ends(parsed, ctx)
    ctx.session.state[_STARTS] = ends
    shown = {f"{topic}[{partition}]": offset for (topic, partition), offset in ends.items()}
    return StepOutput(
        result={"status": None, "mismatches": [], "interaction": interaction.description},
        request={"description": interaction.description, "via": "kafka", **block.receive},
        response={"from": shown or "the beginning (the topic does not exist yet)"},
    )


def _verify_received(
    block: PactBlock, ctx: StepContext, interaction: Interaction, expected: Message
) -> StepOutput:
    from pydantic import ValidationError

    from splice._internal.contracts.message_routes import received_message
    from splice._internal.executors import executor_registry as registry

    assert block.via is not None
    written = block.as_written or block.receive
    request = {"description": interaction.description, "via": block.via, **written}
    taker = registry.instance(block.via)
    starts = ctx.session.state.pop(_STARTS, None)
    try:
        parsed = taker.block_model.model_validate(block.receive)
        if starts is not None:
            from splice._internal.executors.kafka import KafkaBlock, KafkaExecutor

            assert isinstance(taker, KafkaExecutor) and isinstance(parsed, KafkaBlock)
            output = taker.execute(parsed, ctx, starts=starts)
        else:
            output = taker.execute(parsed, ctx)
    except ValidationError as exc:
        raise StepError(f"the {block.via} block of `receive:` is invalid: {exc}") from None
    except StepInterrupted:
        raise
    except StepError as exc:  # nothing came: the provider did not honour the pact
        return StepOutput(
            result={
                "status": None,
                "mismatches": [f"message: never arrived: {exc.message}"],
                "interaction": interaction.description,
                "message": None,
            },
            request=request,
            response=None,
            problems=[("message", f"never arrived: {exc.message}")],
        )
    contents, metadata, ctype = received_message(block.via, output.result.get("message"))
    actual = Message(contents=Body(contents, ctype, empty=contents is None), metadata=metadata)
    mismatches = compare_message(expected, actual)
    shown = contents if not isinstance(contents, bytes) else "<binary>"
    return StepOutput(
        result={
            "status": None,
            "mismatches": [str(m) for m in mismatches],
            "interaction": interaction.description,
            "message": {"contents": shown, "metadata": metadata},
        },
        request=request,
        response={"metadata": metadata, "body": shown},
        problems=[(m.path, m.message) for m in mismatches],
    )


_tls: list[ssl.SSLContext] = []


def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client: building one (loading the CA bundle) costs ~10 ms."""
    with _cache_lock:
        if not _tls:
            _tls.append(ssl.create_default_context(cafile=certifi.where()))
        return _tls[0]


def _client(ctx: StepContext) -> httpx.Client:
    client = ctx.session.state.get("pact.client")
    if client is None:
        client = httpx.Client(follow_redirects=False, verify=_tls_context())
        ctx.session.state["pact.client"] = client
        ctx.session.on_close(client.close)
    return client


def _request_summary(interaction: Interaction, response: httpx.Response) -> dict[str, Any]:
    request = interaction.request
    assert request is not None
    body = request.body.content if request.body else None
    return {
        "method": request.method,
        "url": str(response.request.url),
        "headers": {k: ", ".join(v) for k, v in request.headers.items()},
        "body": body if not isinstance(body, bytes) else "<binary>",
    }
