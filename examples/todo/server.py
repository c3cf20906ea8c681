"""A small todo service to run splice against: standard library only, state in memory.

    python examples/todo/server.py --port 0     # prints `listening on http://127.0.0.1:PORT`

Endpoints (all JSON):

    GET    /health               {"status": "ok"}
    POST   /todos                201 the new todo; 422 {"error", "details"} when invalid
    GET    /todos                {"items": [...], "count": N}
    GET    /todos/{id}           the todo; 404 {"error"} when there is none
    PATCH  /todos/{id}           change title and/or done
    DELETE /todos/{id}           204
    POST   /todos/{id}/archive   202; `archived` turns true ~300 ms later (eventual consistency)
    POST   /login                basic auth or {"username", "password"}: a token and a cookie
    GET    /me                   who you are: bearer token or session cookie, else 401

One user exists: `demo` with password `demo-password`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import itertools
import json
import re
import secrets
import signal
import sys
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USERS = {"demo": "demo-password"}
ARCHIVE_DELAY = 0.3  # seconds until an archive request takes effect
MAX_TITLE = 200
_TODO_PATH = re.compile(r"^/todos/(\d+)(/archive)?$")


class HttpError(Exception):
    """Ends a request with this status and a JSON error body."""

    def __init__(self, status: int, error: str, details: list[dict[str, str]] | None = None):
        super().__init__(error)
        self.status, self.error, self.details = status, error, details


class Store:
    """Todos and session tokens, guarded by one lock (requests run in threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.todos: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}  # token -> username
        self._ids = itertools.count(1)

    def add(self, title: str, done: bool) -> dict[str, Any]:
        with self.lock:
            todo: dict[str, Any] = {
                "id": next(self._ids),
                "title": title,
                "done": done,
                "archived": False,
            }
            self.todos[todo["id"]] = todo
            return dict(todo)

    def get(self, todo_id: int) -> dict[str, Any]:
        with self.lock:
            if todo_id not in self.todos:
                raise HttpError(404, f"todo {todo_id} not found")
            return dict(self.todos[todo_id])

    def update(self, todo_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if todo_id not in self.todos:
                raise HttpError(404, f"todo {todo_id} not found")
            self.todos[todo_id].update(changes)
            return dict(self.todos[todo_id])

    def archive_later(self, todo_id: int) -> None:
        """The write lands after a delay, as with a queue or a replica in a real system."""
        self.get(todo_id)
        timer = threading.Timer(ARCHIVE_DELAY, self._archive, [todo_id])
        timer.daemon = True
        timer.start()

    def _archive(self, todo_id: int) -> None:
        with self.lock:
            if todo_id in self.todos:
                self.todos[todo_id]["archived"] = True


def validate_todo(body: Any, *, partial: bool) -> dict[str, Any]:
    """The fields of a todo to create (`partial=False`) or change; HttpError 422 otherwise."""
    if not isinstance(body, dict):
        raise HttpError(422, "validation failed", [{"field": "", "message": "expected an object"}])
    details = [{"field": k, "message": "unknown field"} for k in body if k not in ("title", "done")]
    if "title" in body:
        title = body["title"]
        if not isinstance(title, str) or not title.strip():
            details.append({"field": "title", "message": "must be a non-empty string"})
        elif len(title) > MAX_TITLE:
            details.append({"field": "title", "message": f"at most {MAX_TITLE} characters"})
    elif not partial:
        details.append({"field": "title", "message": "is required"})
    if "done" in body and not isinstance(body["done"], bool):
        details.append({"field": "done", "message": "must be true or false"})
    if details:
        raise HttpError(422, "validation failed", details)
    return {k: body[k] for k in ("title", "done") if k in body}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients reuse one connection
    server_version = "todo-example/1.0"
    disable_nagle_algorithm = True  # small responses go out at once, not after 40 ms
    store: Store  # set by serve()
    verbose = False

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            raw = self._read_body()
            status, payload, headers = self._route(method, self.path.split("?", 1)[0], raw)
        except HttpError as exc:
            error: dict[str, Any] = {"error": exc.error}
            if exc.details is not None:
                error["details"] = exc.details
            status, payload, headers = exc.status, error, {}
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="todo"'
        self._send(status, payload, headers)

    def _route(self, method: str, path: str, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        store = self.store
        if path == "/health" and method == "GET":
            return 200, {"status": "ok"}, {}
        if path == "/todos" and method == "GET":
            with store.lock:
                items = [dict(t) for t in store.todos.values()]
            return 200, {"items": items, "count": len(items)}, {}
        if path == "/todos" and method == "POST":
            fields = validate_todo(_json(raw), partial=False)
            todo = store.add(fields["title"].strip(), fields.get("done", False))
            return 201, todo, {"Location": f"/todos/{todo['id']}"}
        if path == "/login" and method == "POST":
            return self._login(raw)
        if path == "/me" and method == "GET":
            return 200, {"username": self._user()}, {}
        found = _TODO_PATH.match(path)
        if found and found.group(2) and method == "POST":
            store.archive_later(int(found.group(1)))
            return 202, {"id": int(found.group(1)), "status": "archiving"}, {}
        if found and not found.group(2):
            todo_id = int(found.group(1))
            if method == "GET":
                return 200, store.get(todo_id), {}
            if method == "PATCH":
                return 200, store.update(todo_id, validate_todo(_json(raw), partial=True)), {}
            if method == "DELETE":
                with store.lock:
                    if store.todos.pop(todo_id, None) is None:
                        raise HttpError(404, f"todo {todo_id} not found")
                return 204, None, {}
        if found or path in ("/health", "/todos", "/login", "/me"):
            raise HttpError(405, f"{method} is not allowed on {path}")
        raise HttpError(404, f"no route {path}")

    def _login(self, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise HttpError(401, "malformed basic credentials") from exc
        else:
            body = _json(raw)
            if not isinstance(body, dict):
                raise HttpError(422, "send basic auth or {'username', 'password'}")
            user, password = str(body.get("username", "")), str(body.get("password", ""))
        if USERS.get(user) != password:
            raise HttpError(401, "wrong username or password")
        token = secrets.token_urlsafe(24)
        with self.store.lock:
            self.store.tokens[token] = user
        cookie = f"session={token}; Path=/; HttpOnly; SameSite=Lax"
        return 200, {"token": token, "token_type": "bearer"}, {"Set-Cookie": cookie}

    def _user(self) -> str:
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        if token is None:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
            token = jar["session"].value if "session" in jar else None
        with self.store.lock:
            user = self.store.tokens.get(token or "")
        if user is None:
            raise HttpError(401, "log in first: POST /login")
        return user

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status == 204:
            self.end_headers()
            return
        body = json.dumps(payload).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.verbose:
            super().log_message(format, *args)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise HttpError(400, f"body is not valid JSON: {exc}") from exc


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def serve(port: int, verbose: bool) -> None:
    Handler.store = Store()
    Handler.verbose = verbose
    with Server(("127.0.0.1", port), Handler) as server:
        print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
        # SIGTERM (from `kill` or a test runner) stops as cleanly as Ctrl-C does
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args()
    serve(args.port, args.verbose)


if __name__ == "__main__":
    main()
