"""Provider verification as suites: one testcase per interaction, provider states as steps.

`verification_suites` turns pact files into ordinary `Suite`s that the runner runs like any
other, so verification gets the runner's isolation, retries, reports (console, JUnit,
JSON, HTML) and the store for free:

- each interaction is a testcase named by its description and provider states, located at
  the interaction in the pact file;
- its setup sets the provider states: the steps a states file declares for each state
  (`states: {"an order 7 exists": [sql: ...]}`), run with the state's `params` as
  variables, in the testcase's data isolation (so they are undone after it); or, as
  Pact's own verifiers do, a POST of `{"state", "params", "action": "setup"}` to a
  state-change URL, with `"action": "teardown"` after the interaction;
- its one step is a `pact` step that replays the request and compares the response; for
  a message interaction, one that asks the provider's message producer
  (`VerifyTarget.messages_path`, Pact's convention: POST `{"description",
  "providerStates"}`) for the message and compares its contents and metadata;
- or, when the states file has `messages:` (`contracts.message_routes`), a message
  interaction's steps subscribe on the real broker, run the trigger that makes the
  provider publish, take the message that arrived and compare it.

A state of an HTTP interaction (or of a message received from the broker) that neither
the states file nor a state-change URL covers is a located error before anything runs; a
message producer is sent the states with each request, so its interactions' states need
no steps. So is a `messages:` entry that no message interaction of the pacts matches,
and a message interaction that no entry matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from splice._internal.contracts.message_routes import MessageRoute, read_routes, route_for
from splice._internal.contracts.pact import Interaction, Pact, read_pact
from splice._internal.errors import Diagnostic, SourceSpan, SuiteError, display_path
from splice._internal.model.suite import Step, Suite, Testcase
from splice._internal.source.validation import did_you_mean


@dataclass
class VerifyTarget:
    """Where the provider answers and how its states are set."""

    base_url: str  # a URL, or a template such as "{{ services.payments.url }}"
    states_file: Path | None = None
    state_url: str | None = None
    messages_path: str = "/"  # the message producer's path under base_url
    services: list[str] | None = None  # the project's services (None: not known)


@dataclass
class StateSteps:
    """The steps of each provider state, read from a states file."""

    path: Path
    steps: dict[str, list[Step]]
    spans: dict[str, SourceSpan | None]
    messages: list[MessageRoute] = field(default_factory=list)


def read_states(path: Path, services: list[str] | None = None) -> StateSteps:
    """A states file: `states:` mapping each provider state's name to a list of steps,
    and `messages:` how each message interaction is triggered and received."""
    from splice._internal.loader.steps import Collector, StepSource, parse_steps
    from splice._internal.source.yaml_source import read_yaml

    doc = read_yaml(path)
    out = Collector()
    data = doc.data
    if not isinstance(data, dict) or not (
        isinstance(data.get("states"), dict) or "messages" in data
    ):
        raise SuiteError.single(
            "a states file must have a `states:` mapping",
            doc.positions.value(()) or SourceSpan(path, 1, 1),
            'write states: {"an order 7 exists": [{sql: ...}]}',
        )
    extra = sorted(set(data) - {"states", "messages"})
    if extra:
        out.add(
            f"unknown key {extra[0]!r} in a states file",
            doc.positions.key((extra[0],)),
            did_you_mean(str(extra[0]), ("states", "messages"))
            or "a states file has `states:` and `messages:`",
        )
    if data.get("states") is not None and not isinstance(data["states"], dict):
        out.add(
            "`states:` must map each provider state to its steps",
            doc.positions.value(("states",)),
            'write states: {"an order 7 exists": [{sql: ...}]}',
        )
    steps: dict[str, list[Step]] = {}
    spans: dict[str, SourceSpan | None] = {}
    states = data.get("states")
    for name, raw in (states if isinstance(states, dict) else {}).items():
        loc = ("states", name)
        steps[str(name)] = parse_steps(raw, StepSource(doc, loc), out, f"state {name!r}")
        spans[str(name)] = doc.positions.key(loc)
    routes = read_routes(doc, out, services)
    out.raise_if_any()
    return StateSteps(path, steps, spans, routes)


def verification_suites(
    paths: list[Path], target: VerifyTarget, skipped: list[str] | None = None
) -> list[Suite]:
    """One suite per pact file; SuiteError lists every unreadable pact or unknown state.
    The titles of interactions these suites do not verify go to `skipped` (none today:
    HTTP and message interactions are both verified)."""
    states = read_states(target.states_file, target.services) if target.states_file else None
    problems: list[Diagnostic] = []
    suites = []
    unread = False
    for path in paths:
        try:
            pact = read_pact(path)
        except SuiteError as exc:
            problems.extend(exc.diagnostics)
            unread = True
            continue
        suites.append(_suite(pact, path, target, states, problems))
        if skipped is not None:
            skipped.extend(i.title for i in pact.interactions if i.kind not in ("http", "message"))
    for route in states.messages if states is not None else []:
        if not route.matched and not unread:  # (an unreadable pact may hold it)
            problems.append(_unmatched(route, paths))
    if problems:
        raise SuiteError(problems)
    return suites


def _unmatched(route: MessageRoute, paths: list[Path]) -> Diagnostic:
    descriptions: set[str] = set()
    for path in paths:
        try:
            pact = read_pact(path)
        except SuiteError:
            continue
        descriptions.update(i.description for i in pact.interactions if i.kind == "message")
    return Diagnostic(
        f"no message interaction of the pacts is described {route.pattern!r}",
        route.span,
        did_you_mean(route.pattern, descriptions)
        or "the key is a message interaction's description, or a glob of descriptions",
    )


def _suite(
    pact: Pact,
    path: Path,
    target: VerifyTarget,
    states: StateSteps | None,
    problems: list[Diagnostic],
) -> Suite:
    suite = Suite(
        name=f"pact {pact.consumer} → {pact.provider}",
        path=path,
        span=SourceSpan(path, 1, 1),
        description=f"the provider {pact.provider} honours the pact of {pact.consumer}",
    )
    seen: dict[str, int] = {}
    for interaction in pact.interactions:
        if interaction.kind not in ("http", "message"):
            continue
        name = interaction.title
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} #{seen[name]}"
        tags = ["contract"] + (["message"] if interaction.kind == "message" else [])
        testcase = Testcase(name=name, span=interaction.span, tags=tags)
        testcase.vars = {
            "pact_states": [s.to_json() for s in interaction.states],
            "params": {k: v for s in interaction.states for k, v in s.params.items()},
        }
        received = interaction.kind == "message" and bool(states and states.messages)
        testcase.setup, testcase.teardown = _state_steps(
            interaction, target, states, problems, received=received
        )
        block: dict[str, object] = {
            "file": str(path.resolve()),
            "interaction": interaction.index,
            "base_url": target.base_url,
        }
        route = _route(interaction, states, problems)
        before: list[Step] = []
        if route is not None:
            block["via"], block["receive"] = route.via, route.take()
            block["as_written"] = route.receive
            before = route.steps()
            if route.marks_the_end:
                name = f"{route.source}: where it ends before the trigger"
                mark, span = {**block, "mark": True}, route.receive_span
                before.insert(0, Step(index=0, name=name, span=span, executor="pact", block=mark))
            title = f"message {interaction.description!r} from {route.source}"
        elif interaction.kind == "message":
            block["messages_path"] = target.messages_path
            title = f"message {interaction.description!r}"
        else:
            request = interaction.request
            title = f"{request.method} {request.path}" if request else ""
        steps = [
            *before,
            Step(index=0, name=title, span=interaction.span, executor="pact", block=block),
        ]
        testcase.steps = [replace(step, index=i) for i, step in enumerate(steps)]
        suite.testcases.append(testcase)
    return suite


def _state_steps(
    interaction: Interaction,
    target: VerifyTarget,
    states: StateSteps | None,
    problems: list[Diagnostic],
    *,
    received: bool = False,
) -> tuple[list[Step], list[Step]]:
    setup: list[Step] = []
    teardown: list[Step] = []
    for n, state in enumerate(interaction.states):
        if states is not None and state.name in states.steps:
            setup.extend(states.steps[state.name])  # copied with their index below
            continue
        if target.state_url:
            setup.append(_state_call(target.state_url, n, "setup", interaction.span))
            teardown.append(_state_call(target.state_url, n, "teardown", interaction.span))
            continue
        if interaction.kind == "message" and not received:
            continue  # the message producer is sent the states with the request
        where = f" in {states.path}" if states is not None else ""
        problems.append(
            Diagnostic(
                f"provider state {state.name!r} has no steps defined{where}",
                interaction.span,
                "add it under `states:` in the states file (--states FILE), or pass "
                "--provider-states-setup-url URL",
            )
        )
    setup = [replace(step, index=i) for i, step in enumerate(setup)]
    return setup, teardown


def _route(
    interaction: Interaction, states: StateSteps | None, problems: list[Diagnostic]
) -> MessageRoute | None:
    """The `messages:` entry of a message interaction, when the states file has them."""
    if interaction.kind != "message" or states is None or not states.messages:
        return None
    route = route_for(states.messages, interaction.description)
    if route is None:
        problems.append(
            Diagnostic(
                f"no entry of `messages:` in {display_path(states.path)} matches the message "
                f"{interaction.description!r}",
                interaction.span,
                did_you_mean(interaction.description, [r.pattern for r in states.messages])
                or "add it under `messages:` with its `trigger:` and `receive:`",
            )
        )
        return None
    route.matched.append(interaction.description)
    return route


def _state_call(url: str, n: int, action: str, span: SourceSpan | None) -> Step:
    """A POST to the state-change URL, as Pact verifiers send it."""
    return Step(
        index=n,
        name=f"provider state {action}",
        span=span,
        executor="http",
        block={
            "method": "POST",
            "url": url,
            "json": {
                "state": f"{{{{ pact_states[{n}].name }}}}",
                "params": f"{{{{ pact_states[{n}].params | default({{}}) }}}}",
                "action": action,
            },
        },
        expect={"status": {"$lt": 300}},
    )
