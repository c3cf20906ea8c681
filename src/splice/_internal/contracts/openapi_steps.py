"""Every `http` step against a service with `openapi: DOC` is checked against the document,
and the run ends with the document's operation coverage.

    services:
      payments:
        kind: process
        command: python server.py --port {{ port }}
        openapi: openapi.yaml

A step whose URL is under the service's URL is held to the operation it hits: an unknown
path or method, an undocumented status, a request or response body that breaks its schema
are failures of the step, each with the body path and the JSON pointer (and line) of the
part of the document it breaks:

    openapi: response body.amount: '12.50' is not of type 'number'
      (openapi.yaml:40:17 #/components/schemas/Payment/properties/amount/type)

`openapi: false` in a step's `http:` block leaves that step out. Nothing is paid when no
service has a document: the runner looks for the monitor only on http steps, and it is in
the testcase's session only when a document is declared.

`OpenApiMonitor` is an attempt hook (it puts itself into each attempt's session), and
keeps which operations and statuses the run exercised: `coverage()` is the summary the
console and the JSON report show.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from splice._internal.contracts.openapi import OpenApiContract
from splice._internal.model.positions import Positions

SESSION_KEY = "openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass
class Operation:
    method: str  # lower case
    template: str  # the path as the document writes it: /payments/{id}
    pattern: re.Pattern[str]
    statuses: list[str]  # documented: "200", "404", "default"
    hit: set[int] = field(default_factory=set)

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.template}"


@dataclass
class Document:
    """One service's OpenAPI document, its operations and where each part is written."""

    service: str
    path: Path
    shown: str  # the path as splice.yaml writes it
    contract: OpenApiContract
    data: dict[str, Any]
    positions: Positions
    operations: list[Operation]
    base_url: str = ""
    _validators: dict[tuple[str | int, ...], Any] = field(default_factory=dict)
    _root: Any = None

    @classmethod
    def load(cls, service: str, path: Path, shown: str) -> Document:
        from splice._internal.source.yaml_source import read_yaml

        contract = OpenApiContract.load(path)  # a located error for a broken document
        doc = read_yaml(path)
        data = doc.data
        operations = []
        for template, item in (data.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            regex = re.escape(str(template))
            regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", regex)
            pattern = re.compile(regex)
            for method in METHODS:
                op = item.get(method)
                if isinstance(op, dict):
                    statuses = [str(s) for s in (op.get("responses") or {})]
                    operations.append(Operation(method, str(template), pattern, statuses))
        # templates without parameters first: /payments/new before /payments/{id}
        operations.sort(key=lambda o: o.template.count("{"))
        return cls(service, path, shown, contract, data, doc.positions, operations)

    def find(self, method: str, path: str) -> tuple[Operation | None, bool]:
        """The operation of `method` at `path`, and whether any operation has the path."""
        path_known = False
        for op in self.operations:
            if op.pattern.fullmatch(path):
                path_known = True
                if op.method == method:
                    return op, True
        return None, path_known

    def at(self, pointer: list[str | int]) -> Any:
        return _at(self.data, pointer)

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            node = _at(self.data, _ref(node["$ref"]))
        return node

    def validator(self, pointer: list[str | int]) -> Any:
        """The schema validator of the schema at `pointer`, built once ($refs resolve in
        the whole document)."""
        key = tuple(pointer)
        found = self._validators.get(key)
        if found is None:
            if self._root is None:
                import openapi_schema_validator as oas

                v31 = str(self.data.get("openapi", "")).startswith("3.1")
                cls = oas.OAS31Validator if v31 else oas.OAS30Validator
                checker = oas.oas31_format_checker if v31 else oas.oas30_format_checker
                self._root = cls(self.data, format_checker=checker)
            found = self._validators[key] = self._root.evolve(schema=self.at(pointer))
        return found

    def parameters(self, op: Operation) -> list[tuple[list[str | int], dict[str, Any]]]:
        """(pointer, parameter) of the operation's and its path's parameters, the
        operation's winning (by name and place)."""
        seen: dict[tuple[str, str], tuple[list[str | int], dict[str, Any]]] = {}
        for owner in (["paths", op.template], ["paths", op.template, op.method]):
            for i, raw in enumerate(self.at([*owner, "parameters"]) or []):
                pointer: list[str | int] = [*owner, "parameters", i]
                if isinstance(raw, dict) and isinstance(raw.get("$ref"), str):
                    pointer = _ref(raw["$ref"])
                param = self.resolve(raw)
                if isinstance(param, dict):
                    seen[(str(param.get("name")), str(param.get("in")))] = (pointer, param)
        return list(seen.values())

    def where(self, pointer: list[str | int]) -> str:
        """`openapi.yaml:40:17 #/components/...` for a place in the document."""
        text = "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in pointer)
        span = self.positions.value(tuple(pointer))
        at = f"{self.shown}:{span.line}:{span.column}" if span else self.shown
        return f"{at} {text}"

    def schema_pointer(self, start: list[str | int], schema_path: list[Any]) -> list[str | int]:
        """The pointer of a schema keyword: `start` (a media type's schema) walked along the
        validator's schema path, following `$ref`s into the document."""
        pointer = list(start)
        node = _at(self.data, pointer)
        for part in schema_path:
            while isinstance(node, dict) and "$ref" in node and part != "$ref":
                pointer = _ref(node["$ref"])
                node = _at(self.data, pointer)
            if part == "$ref":
                continue
            pointer.append(part)
            node = node[part] if isinstance(node, dict | list) and _has(node, part) else None
        return pointer


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(part, int) and 0 <= part < len(node)


def _ref(ref: str) -> list[str | int]:
    if not ref.startswith("#/"):
        return []  # a reference to another file: pointed at as the document's root
    return [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]


def _at(data: Any, pointer: list[str | int]) -> Any:
    node = data
    for part in pointer:
        if isinstance(node, dict):
            found = node.get(part)
            if found is None and isinstance(part, str) and part.isdigit():
                found = node.get(int(part))  # `200:` unquoted in YAML is an integer key
            node = found
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


class OpenApiMonitor:
    """Checks http steps against the documents of the services they reach; keeps coverage."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self._lock = threading.Lock()

    def attach(self, builtins: dict[str, Any], hooks: list[Any]) -> None:
        """Check the steps of a runner whose environment's variables are `builtins`
        (each document's service URL from them) by joining its `hooks`."""
        urls = builtins.get("services") or {}
        for doc in self.documents:
            doc.base_url = str((urls.get(doc.service) or {}).get("url") or "")
        hooks.append(self)

    # AttemptHook ---------------------------------------------------------------------
    def attempt_started(self, suite: Any, testcase: Any, scope: Any, session: Any) -> None:
        session.state[SESSION_KEY] = self

    def attempt_finished(self, suite: Any, testcase: Any, scope: Any, passed: bool) -> None:
        return None

    # checking ------------------------------------------------------------------------
    def problems(
        self, request: dict[str, Any] | None, response: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        """(path, message) of every way the exchange breaks its service's document."""
        if not request or not response:
            return []
        url = str(request.get("url") or "")
        for doc in self.documents:
            if doc.base_url and _under(url, doc.base_url):
                return self._check(doc, url, request, response)
        return []

    def _check(
        self, doc: Document, url: str, request: dict[str, Any], response: dict[str, Any]
    ) -> list[tuple[str, str]]:
        parts = urlsplit(url)
        base_path = urlsplit(doc.base_url).path.rstrip("/")
        path = parts.path[len(base_path) :] or "/"
        method = str(request.get("method") or "GET").lower()
        status = int(response.get("status") or 0)
        op, path_known = doc.find(method, path)
        if op is None:
            if path_known:
                return [
                    (
                        "openapi: request method",
                        f"the document has no {method.upper()} operation at {path} "
                        f"({doc.where(['paths'])})",
                    )
                ]
            return [
                (
                    "openapi: request path",
                    f"no operation of the document has the path {path} ({doc.where(['paths'])})",
                )
            ]
        with self._lock:
            op.hit.add(status)
        base: list[str | int] = ["paths", op.template, op.method]
        sent = {str(k).lower(): str(v) for k, v in (request.get("headers") or {}).items()}
        found = self._parameters(doc, op, path, parse_qs(parts.query), sent)
        body = request.get("body")
        request_type = sent.get("content-type") or (
            "application/json" if body is not None else None
        )
        spec = doc.at([*base, "requestBody"])
        if isinstance(spec, dict):
            if body is None and spec.get("required"):
                found.append(
                    (
                        "openapi: request body",
                        f"the operation requires a body ({doc.where([*base, 'requestBody'])})",
                    )
                )
            elif body is not None:
                found += self._body(
                    doc, "request", [*base, "requestBody", "content"], request_type, body
                )
        documented = str(status)
        if documented not in op.statuses:
            documented = _range_key(status, op.statuses) or ""
        if not documented:
            found.append(
                (
                    "openapi: response status",
                    f"{status} is not documented by {op.name} "
                    f"(documented: {', '.join(op.statuses) or 'none'}; "
                    f"{doc.where([*base, 'responses'])})",
                )
            )
            return found
        headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
        answer = response.get("body")
        if answer is not None and answer != "":
            found += self._body(
                doc,
                "response",
                [*base, "responses", documented, "content"],
                headers.get("content-type"),
                answer,
            )
        return found

    def _parameters(
        self,
        doc: Document,
        op: Operation,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
    ) -> list[tuple[str, str]]:
        """Path, query and header parameters: present when required, fitting their schema."""
        found: list[tuple[str, str]] = []
        path_values = _path_values(op.template, path)
        for pointer, param in doc.parameters(op):
            name, where = str(param.get("name")), param.get("in")
            if where == "path":
                raw: str | None = path_values.get(name)
            elif where == "query":
                raw = next(iter(query.get(name) or []), None)
            elif where == "header":
                raw = headers.get(name.lower())
            else:
                continue
            if raw is None:
                if param.get("required"):
                    found.append(
                        (
                            f"openapi: request {where} {name}",
                            f"the {where} parameter is required ({doc.where(pointer)})",
                        )
                    )
                continue
            schema = param.get("schema")
            if isinstance(schema, dict):
                value = _coerce(raw, doc.resolve(schema))
                for e in doc.validator([*pointer, "schema"]).iter_errors(value):
                    at = doc.schema_pointer([*pointer, "schema"], list(e.schema_path))
                    found.append(
                        (f"openapi: request {where} {name}", f"{e.message} ({doc.where(at)})")
                    )
        return found

    def _body(
        self,
        doc: Document,
        side: str,
        content: list[str | int],
        content_type: str | None,
        body: Any,
    ) -> list[tuple[str, str]]:
        from splice._internal.contracts.problems import show_path

        media = _media_key(doc.at(content), content_type)
        if media is None:
            return []  # no content documented: any body
        schema = doc.at([*content, media, "schema"])
        if not isinstance(schema, dict):
            return []
        if isinstance(body, str) and "json" in media:
            return []  # the body was not JSON: the http step shows it; nothing to hold
        pointer: list[str | int] = [*content, media, "schema"]
        out = []
        for e in doc.validator(pointer).iter_errors(body):
            where = show_path(f"{side} body", tuple(e.absolute_path))
            at = doc.schema_pointer(pointer, list(e.schema_path))
            out.append((f"openapi: {where}", f"{e.message} ({doc.where(at)})"))
        return out

    # coverage ------------------------------------------------------------------------
    def coverage(self) -> list[dict[str, Any]]:
        """Per document: the operations exercised of those documented, the missing ones,
        and the statuses hit of each operation."""
        out = []
        for doc in self.documents:
            ops = doc.operations
            exercised = [o for o in ops if o.hit]
            out.append(
                {
                    "service": doc.service,
                    "document": doc.shown,
                    "documented": len(ops),
                    "exercised": len(exercised),
                    "missing": [o.name for o in ops if not o.hit],
                    "operations": [
                        {
                            "operation": o.name,
                            "statuses": o.statuses,
                            "hit": sorted(o.hit),
                        }
                        for o in ops
                    ],
                }
            )
        return out


def coverage_lines(coverage: list[dict[str, Any]]) -> list[str]:
    """The console's summary of operation coverage."""
    lines = []
    for entry in coverage:
        line = (
            f"OpenAPI coverage of {entry['service']} ({entry['document']}): "
            f"{entry['exercised']} of {entry['documented']} operations exercised"
        )
        lines.append(line)
        if entry["missing"]:
            lines.append("  not exercised: " + ", ".join(entry["missing"]))
    return lines


def _under(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    if (a.scheme, a.hostname, a.port) != (b.scheme, b.hostname, b.port):
        return False
    prefix = b.path.rstrip("/")
    return a.path == prefix or a.path.startswith(prefix + "/") or not prefix


def _range_documented(status: int, statuses: list[str]) -> bool:
    return _range_key(status, statuses) is not None


def _range_key(status: int, statuses: list[str]) -> str | None:
    wanted = f"{status // 100}XX"
    for key in statuses:
        if key.upper() == wanted:
            return key
    return "default" if "default" in statuses else None


def _media_key(content: Any, content_type: str | None) -> str | None:
    if not isinstance(content, dict) or not content:
        return None
    wanted = (content_type or "application/json").split(";")[0].strip().lower()
    if wanted in content:
        return wanted
    for key in content:
        major = str(key).split("/")[0]
        if key in ("*/*", f"{major}/*") and wanted.startswith(major):
            return str(key)
    return str(next(iter(content)))


def load_documents(openapi: dict[str, tuple[Path, str]]) -> list[Document]:
    """The documents of `openapi` (service → (path, as written)); SuiteError with every
    document that does not validate."""
    from splice._internal.errors import Diagnostic, SuiteError

    docs, problems = [], []
    for service, (path, shown) in openapi.items():
        try:
            docs.append(Document.load(service, path, shown))
        except SuiteError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise SuiteError(list[Diagnostic](problems))
    return docs


def _path_values(template: str, path: str) -> dict[str, str]:
    """The values of a template's `{name}`s in a path that matches it."""
    names = re.findall(r"\{([^/]+?)\}", template)
    regex = re.sub(r"\\\{[^/]+?\\\}", "([^/]+)", re.escape(template))
    match = re.fullmatch(regex, path)
    return dict(zip(names, match.groups(), strict=False)) if match else {}


def _coerce(raw: str, schema: Any) -> Any:
    """A parameter's text as the type its schema wants, when it reads as one (else the
    text, which the schema then refuses)."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw
