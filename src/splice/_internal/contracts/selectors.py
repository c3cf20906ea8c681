"""Pact consumer version selectors, as the broker's clients write them: one home for the
REST API's `consumerVersionSelectors` and `splice contract verify --from-store
--consumer-version-selectors`.

A selector is a JSON object whose keys all apply; selectors add up (see
`contracts.store_pacts.select_pacts`): `latest`, `branch`, `mainBranch`, `tag`,
`environment` with `deployed` (or `deployedOrReleased`), and `consumer` (which only narrows
one of the others). A key splice does not know, or one it does not interpret, is a
`SelectorProblem` that names it and the way out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from splice._internal.project.model import Selector
from splice._internal.source.validation import describe, did_you_mean

KEYS = frozenset(
    {
        "latest",
        "branch",
        "tag",
        "consumer",
        "environment",
        "deployed",
        "released",
        "deployedOrReleased",
        "mainBranch",
        "matchingBranch",
        "fallbackTag",
        "fallbackBranch",
    }
)
_UNSUPPORTED = {
    "matchingBranch": 'select the branch by name: {"branch": B}',
    "fallbackTag": "give the fallback as a selector of its own",
    "fallbackBranch": "give the fallback as a selector of its own",
    "released": 'the store records deployments, not releases: {"deployed": true, "environment": E}',
}
_PICKS = ("latest", "branch", "tag", "environment", "deployed", "deployedOrReleased", "mainBranch")


_TEXT = {"type": ["string", "null"]}
_FLAG = {"type": ["boolean", "null"]}
_GIVEN = {"type": "string", "minLength": 1}


def _unless_true(flag: str) -> dict[str, Any]:
    """`flag` true needs a named environment (as `read_selector` says)."""
    return {
        "anyOf": [
            {"properties": {flag: {"enum": [False, None]}}},
            {"required": ["environment"], "properties": {"environment": _GIVEN}},
        ]
    }


SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A consumer version selector: its keys all apply; it picks by latest, "
    "branch, mainBranch, tag or environment (consumer only narrows one of those)",
    "properties": {
        **dict.fromkeys(("branch", "tag", "consumer", "environment"), _TEXT),
        **dict.fromkeys(("latest", "deployed", "deployedOrReleased", "mainBranch"), _FLAG),
        **{key: {"enum": [False, None]} for key in _UNSUPPORTED},
    },
    "additionalProperties": False,
    "allOf": [
        {
            "anyOf": [
                {"required": ["latest"], "properties": {"latest": {"const": True}}},
                {"required": ["mainBranch"], "properties": {"mainBranch": {"const": True}}},
                {"required": ["branch"], "properties": {"branch": _GIVEN}},
                {"required": ["tag"], "properties": {"tag": _GIVEN}},
                {"required": ["environment"], "properties": {"environment": _GIVEN}},
            ]
        },
        _unless_true("deployed"),
        _unless_true("deployedOrReleased"),
    ],
}
"""The JSON Schema of a selector that `read_selector` answers, for the API's document (it
also refuses, with a 400 that names the problem, what this schema does not admit)."""


class SelectorProblem(Exception):
    """A selector splice cannot answer: where it is, what is wrong, the way out."""

    def __init__(self, where: str, message: str, hint: str = "") -> None:
        super().__init__(f"{where}: {message}")
        self.where, self.message, self.hint = where, message, hint

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" + (f"; {self.hint}" if self.hint else "")


def read_selector(given: Any, where: str) -> Selector:
    """One selector as the store's `Selector`."""
    if not isinstance(given, Mapping):
        raise SelectorProblem(
            where, f"a selector is a JSON object, found {describe(given)}", '{"branch": "main"}'
        )
    for key, value in given.items():
        if key not in KEYS:
            raise SelectorProblem(
                where, f"unknown selector key {key!r}", did_you_mean(str(key), KEYS) or ""
            )
        if key in _UNSUPPORTED and value is not None and value is not False:
            raise SelectorProblem(where, f"{key!r} is not supported", _UNSUPPORTED[key])
    for key in ("branch", "tag", "consumer", "environment"):
        if given.get(key) is not None and not isinstance(given[key], str):
            raise SelectorProblem(f"{where}.{key}", f"expected a string, got {given[key]!r}")
    for key in ("latest", "deployed", "deployedOrReleased", "mainBranch"):
        if given.get(key) is not None and not isinstance(given[key], bool):
            raise SelectorProblem(f"{where}.{key}", f"expected true or false, got {given[key]!r}")
    environment = given.get("environment")
    if (given.get("deployed") or given.get("deployedOrReleased")) and not environment:
        raise SelectorProblem(
            where, 'name the environment of the deployed versions ("environment": E)'
        )
    if not any(given.get(key) for key in _PICKS):
        raise SelectorProblem(
            where,
            "a selector picks by latest, branch, mainBranch, tag or environment "
            "(consumer only narrows one of those)",
            '{"latest": true}, {"branch": "main"}, {"mainBranch": true}, {"tag": "prod"} or '
            '{"deployed": true, "environment": "production"}',
        )
    return Selector(
        latest=bool(given.get("latest")),
        branch=given.get("branch"),
        tag=given.get("tag"),
        deployed=environment,
        consumer=given.get("consumer"),
        main_branch=bool(given.get("mainBranch")),
    )


def read_selectors(given: Iterable[Any], name: str) -> list[Selector]:
    """Every selector of a list, each located as `name[i]`."""
    return [read_selector(s, f"{name}[{n}]") for n, s in enumerate(given)]


def parse_json_selectors(texts: Iterable[str], option: str) -> list[Selector]:
    """Selectors from command-line JSON: each text one object, or a list of them."""
    found: list[Any] = []
    for text in texts:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SelectorProblem(
                f"{option} {text!r}",
                f"not JSON ({exc.msg} at character {exc.pos + 1})",
                """quote the object for the shell: '{"branch": "main"}'""",
            ) from None
        found.extend(value if isinstance(value, list) else [value])
    return read_selectors(found, option)
