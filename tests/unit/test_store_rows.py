"""The fast paths of `store.rows` give what the plain code gives: JSON as `json.dumps`
writes it, ids in URL paths as the pattern finds them, NULs scrubbed only where they are."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from splice._internal.store.rows import _ID_SEGMENT, _normalised, dumps, scrub

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["\x00", "a\x00b", "\\u0000", "é", "😀"]
)
_JSON: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _plain_scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_plain_scrub(k): _plain_scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_scrub(v) for v in value]
    return value


@given(_JSON)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    """The C encoder made once writes the same text as `json.dumps` with the same options."""
    expected = json.dumps(value, ensure_ascii=False, default=repr, separators=(",", ":"))
    if value is None or value in ([], {}):
        assert dumps(value) is None
    else:
        assert dumps(value) == expected


@given(_JSON)
def test_scrub_replaces_every_nul_and_nothing_else(value: Any) -> None:
    """The check on the encoded text finds every NUL, in keys and values at any depth."""
    assert repr(scrub(value)) == repr(_plain_scrub(value))  # repr: NaN is not == NaN


_SEGMENT = st.text(alphabet="0123456789abcdefABCXYZ-_٣²", max_size=40) | st.text(
    alphabet="0123456789abcdef-X", min_size=6, max_size=10
)


@given(st.lists(_SEGMENT, max_size=5))
@example(["orders", "12345", "deadbeef", "a1234567", "abc1234", "٣٣", "²"])
def test_short_segments_are_ids_exactly_when_the_pattern_says(segments: list[str]) -> None:
    """Skipping the pattern for short segments changes no normalised path."""
    path = "/" + "/".join(segments)
    expected = "/".join(":id" if _ID_SEGMENT.match(s) else s for s in path.split("/"))
    assert _normalised(path) == expected
