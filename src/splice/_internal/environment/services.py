"""An environment: the running services of one run, started in dependency order.

Independent services start in parallel; a service starts after everything it depends on
is ready, with `services.<dep>.*` available to the templates in its settings. If any
service fails, the ones already started are stopped before the error is raised; their
folders (and logs) stay until `stop()`, so that the caller can keep the logs first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from splice._internal.errors import where as display_where
from splice._internal.masking import Masker
from splice._internal.project.model import Project
from splice._internal.project.secrets import literals, rendered_values
from splice._internal.services import health
from splice._internal.services import kind_registry as registry
from splice._internal.services.kind_api import (
    Endpoint,
    RunningService,
    ServiceError,
    ServiceSpec,
    StartContext,
)
from splice._internal.services.reaper import Reaper
from splice._internal.services.resources import Resources, cache_root
from splice._internal.templating import TemplateFailure, render


class Environment:
    """Starts, exposes and stops the services of a project."""

    def __init__(
        self, project: Project, *, reaper: bool = True, masker: Masker | None = None
    ) -> None:
        self.project = project
        # the run's masker: each service's password and declared secret settings are
        # added as it starts, and an error's log tail is masked before it is raised
        self.masker = masker if masker is not None else Masker()
        self.masker.add_all(literals(project.secret_settings))
        self.reaper = Reaper() if reaper else None
        self.resources = Resources(self.reaper)
        self.services: dict[str, RunningService] = {}
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self.run_dir: Path | None = None
        self._logs: dict[str, Path] = {}  # of every service started or tried

    # templates see `services.NAME.url` etc.
    def vars(self) -> dict[str, Any]:
        with self._lock:
            return {name: s.endpoint.as_vars() for name, s in self.services.items()}

    def endpoint(self, name: str) -> Endpoint:
        return self.services[name].endpoint

    def start(self, wanted: list[str] | None = None) -> None:
        """Start the wanted services (default: all) and what they depend on."""
        levels = self.project.start_order(wanted)
        if not any(levels):
            return
        self.run_dir = self.resources.tempdir("env")
        try:
            for level in levels:
                todo = [n for n in level if n not in self.services]
                if len(todo) == 1:
                    self._start_one(todo[0])
                    continue
                with ThreadPoolExecutor(len(todo) or 1, thread_name_prefix="splice-svc") as pool:
                    futures = [pool.submit(self._start_one, name) for name in todo]
                    errors = [f.exception() for f in futures]
                first = next((e for e in errors if e is not None), None)
                if first is not None:
                    raise first
        except BaseException as exc:
            # the services stop; their folders (and logs) stay for the caller to keep, and
            # go with stop()
            if isinstance(exc, ServiceError):
                exc.mask(self.masker)
            self._stop_services()
            raise

    def _start_one(self, name: str) -> None:
        spec = self.project.services[name]
        kind = registry.get(spec.kind)
        started = time.perf_counter()
        if spec.provider == "external":
            rendered = rendered_spec(spec, {"services": self.vars(), **self.project.vars})
            self._learn(rendered)
            try:
                endpoint = kind.external(rendered)
            except ValueError as exc:  # urlsplit: a bracket or a port that is wrong
                raise ServiceError(
                    spec.name,
                    f"invalid URL {rendered.url!r}: {exc}",
                    hint="check its host and port",
                ) from exc
            self.masker.add(endpoint.password)
            try:
                kind.check_ready(endpoint, timeout=10.0)
            except ServiceError as exc:  # a kind's check names the kind, not the service
                if exc.service == name:
                    raise
                raise health.named(exc, name) from exc
            service = RunningService(rendered, endpoint, started_in=time.perf_counter() - started)
        elif spec.provider == "docker":
            from splice._internal.services.docker import start_docker

            service = start_docker(kind, self._context(spec))
        else:
            service = kind.start_local(self._context(spec))
        service.started_in = time.perf_counter() - started
        self.masker.add(service.endpoint.password)
        self._learn(service.spec)
        with self._lock:
            self.services[name] = service

    def _context(self, spec: ServiceSpec) -> StartContext:
        assert self.run_dir is not None
        folder = self.run_dir / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        rendered = rendered_spec(spec, {"services": self.vars(), **self.project.vars})
        self._learn(rendered)
        with self._lock:
            self._logs[spec.name] = folder / f"{spec.name}.log"
        return StartContext(
            spec=rendered,
            project_dir=self.project.root,
            run_dir=folder,
            cache_dir=cache_root(),
            log_path=folder / f"{spec.name}.log",
            resources=self.resources,
            vars={"services": self.vars(), **self.project.vars},
            cancelled=self.cancelled,
            masker=self.masker,
        )

    def _learn(self, spec: ServiceSpec) -> None:
        """Mask the rendered values of the settings `secrets:` names for this service."""
        settings = spec.settings
        dump = settings.model_dump(by_alias=True) if hasattr(settings, "model_dump") else {}
        dump = {**(dump if isinstance(dump, dict) else {}), "url": spec.url, "image": spec.image}
        self.masker.add_all(rendered_values(self.project.secret_settings, spec.name, dump))

    def logs(self) -> dict[str, Path]:
        """The log of every service started or tried (one that failed too) that wrote one;
        they are removed with the folders by `stop()`."""
        with self._lock:
            tried = dict(self._logs)
        tried.update({n: s.log_path for n, s in self.services.items() if s.log_path})
        return {name: path for name, path in tried.items() if path.is_file()}

    def stop(self) -> None:
        """Stop every service (dependents first), then free ports and folders."""
        self._stop_services()
        self.resources.close()
        if self.reaper is not None:
            self.reaper.close()
            self.reaper = None

    def _stop_services(self) -> None:
        self.cancelled.set()
        levels = (
            list(reversed(self.project.start_order(list(self.services) or [])))
            if self.services
            else []
        )
        for level in levels:
            threads = [
                threading.Thread(target=self._stop_one, args=(n,))
                for n in level
                if n in self.services
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    def _stop_one(self, name: str) -> None:
        service = self.services.pop(name, None)
        if service is not None:
            # a failed stop is not fatal: resources and the reaper still clean up
            with contextlib.suppress(Exception):
                service.stop()

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rendered_spec(spec: ServiceSpec, scope: dict[str, Any]) -> ServiceSpec:
    """The spec with templates in its settings and URL rendered (`{{ port }}` stays for
    the kind, which assigns it)."""
    settings = spec.settings
    try:
        # warnings off: settings kept as written (their templates were not valid values
        # yet) hold text where the model wants, say, a number
        data = (
            settings.model_dump(by_alias=True, warnings=False)
            if hasattr(settings, "model_dump")
            else settings
        )
        rendered = render(data, {"port": "{{ port }}", **scope})
        new_settings = (
            type(settings).model_validate(rendered)
            if hasattr(settings, "model_validate")
            else rendered
        )
        url = render(spec.url, scope) if spec.url else spec.url
    except TemplateFailure as exc:
        raise ServiceError(spec.name, f"in its settings: {exc.message}", hint=exc.hint) from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        where = f" ({display_where(spec.span)})" if spec.span else ""
        raise ServiceError(
            spec.name,
            f"after templating, its settings{where} are invalid: {problems}",
            hint="check the values the templates produce",
        ) from exc
    return ServiceSpec(
        spec.name,
        spec.kind,
        spec.provider,
        new_settings,
        spec.depends_on,
        spec.span,
        url,
        spec.image,
        spec.isolation,
    )
