"""Properties of splice._internal.expect that hold for any input (Hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from splice._internal.expect import MISSING, Mismatch, match, render_diff, validate
from splice._internal.expect.vocabulary import OPERATORS, TYPE_NAMES

# --- strategies -----------------------------------------------------------------------------

finite_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
any_scalars = finite_scalars | st.floats() | st.integers(min_value=10**300, max_value=10**320)
plain_keys = st.text(max_size=8).filter(lambda key: not key.startswith("$"))
dollar_keys = st.text(max_size=8).map(lambda key: "$" + key)


def json_values(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[Any]) -> Any:
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=12,
    )


plain_json = json_values(finite_scalars, plain_keys)
actual_values = json_values(any_scalars, st.text(max_size=8)) | st.just(MISSING)

# Anything at all: operator names, misspellings, $$-escapes and odd keys, with odd operands.
wild_keys = (
    st.sampled_from(sorted(OPERATORS))
    | plain_keys
    | dollar_keys
    | dollar_keys.map(lambda key: "$" + key)
    | st.integers()
    | st.none()
)
wild_values = json_values(any_scalars | st.just(MISSING), wild_keys)

SAFE_REGEXES = ["^a", "b$", r"\d+", "^$", "[a-c]{2}", "(x|y)z?"]
numbers = st.integers(-100, 100) | st.floats(-100, 100, allow_nan=False)


def matchers(child: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Well-formed matcher dicts whose nested expectations are drawn from `child`."""
    type_names = st.sampled_from(TYPE_NAMES)
    return st.one_of(
        st.just({"$any": True}),
        type_names.map(lambda name: {"$type": name}),
        st.lists(type_names, min_size=1, max_size=3).map(lambda names: {"$type": names}),
        st.sampled_from(SAFE_REGEXES).map(lambda pattern: {"$regex": pattern}),
        st.integers(0, 4).map(lambda n: {"$len": n}),
        st.integers(0, 4).map(lambda n: {"$len": {"$gte": n}}),
        child.map(lambda value: {"$contains": value}),
        child.map(lambda value: {"$not_contains": value}),
        st.tuples(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), numbers).map(
            lambda t: {t[0]: t[1]}
        ),
        plain_json.map(lambda value: {"$eq": value}),
        plain_json.map(lambda value: {"$ne": value}),
        numbers.map(lambda n: {"$approx": n}),
        st.tuples(numbers, st.floats(0, 10)).map(lambda t: {"$approx": t[0], "$tol": t[1]}),
        st.lists(child, min_size=1, max_size=3).map(lambda options: {"$oneof": options}),
        child.map(lambda value: {"$not": value}),
        child.map(lambda value: {"$each": value}),
        child.map(lambda value: {"$strict": value}),
        st.lists(child, max_size=3).map(lambda items: {"$unordered": items}),
        st.text(max_size=3).map(lambda text: {"$startswith": text}),
        st.text(max_size=3).map(lambda text: {"$endswith": text}),
    )


def key_values(child: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """What may stand as the value of an object key: also `$absent`."""
    return child | st.booleans().map(lambda flag: {"$absent": flag})


valid_expectations = st.recursive(
    finite_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            plain_keys | dollar_keys.map(lambda k: "$" + k), key_values(children), max_size=3
        ),
        matchers(children),
    ),
    max_leaves=10,
)


def escape(value: Any) -> Any:
    """The expectation that stands for `value` literally: keys starting with $ get $$."""
    if isinstance(value, dict):
        return {
            ("$" + key if isinstance(key, str) and key.startswith("$") else key): escape(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [escape(item) for item in value]
    return value


def with_extra_keys(value: Any, extra: dict[str, Any]) -> Any:
    """`value` with `extra` keys added to every object that lacks them."""
    if isinstance(value, dict):
        grown = {key: with_extra_keys(item, extra) for key, item in value.items()}
        for key, item in extra.items():
            grown.setdefault(key, item)
        return grown
    if isinstance(value, list):
        return [with_extra_keys(item, extra) for item in value]
    return value


def follow(value: Any, loc: tuple[Any, ...]) -> None:
    """Walk `loc` into `value`, failing if a step does not exist."""
    for part in loc[:-1]:
        value = value[part]
    assert loc[-1] in value if isinstance(value, dict) else 0 <= loc[-1] < len(value)


# --- properties -----------------------------------------------------------------------------


@given(wild_values)
def test_validate_never_raises(expected: Any) -> None:
    """validate() returns well-formed problems for any value, each located inside it."""
    for loc, message, hint in validate(expected, "json"):
        assert isinstance(loc, tuple)
        assert loc
        assert isinstance(message, str)
        assert "\n" not in message
        assert hint is None or isinstance(hint, str)
        follow(expected, loc)


@given(valid_expectations)
def test_generated_matchers_are_valid(expected: Any) -> None:
    """Well-formed expectations pass validate() (the validator accepts what the docs allow)."""
    assert validate(expected) == []


@settings(max_examples=300)
@given(valid_expectations, actual_values)
def test_match_never_raises_on_valid_expectations(expected: Any, actual: Any) -> None:
    """match() returns Mismatch lists rooted at the given path for any actual value."""
    for mismatch in match(expected, actual, "root"):
        assert isinstance(mismatch, Mismatch)
        assert mismatch.path.startswith("root")
        assert "\n" not in mismatch.message


@given(wild_values, actual_values, st.booleans())
def test_match_and_diff_never_raise_on_any_input(expected: Any, actual: Any, fold: bool) -> None:
    """Even an invalid expectation yields mismatches, not exceptions, in match and render_diff."""
    match(expected, actual, case_insensitive_keys=fold)
    render_diff(expected, actual, case_insensitive_keys=fold)


@given(plain_json | json_values(finite_scalars, st.text(max_size=8)))
def test_a_value_matches_itself(value: Any) -> None:
    """Any JSON value, $-keys escaped, matches itself, also strictly and with $eq."""
    assert match(escape(value), value) == []
    assert match({"$strict": escape(value)}, value) == []
    assert match({"$eq": value}, value) == []
    assert render_diff(escape(value), value) == []


@given(plain_json, st.dictionaries(plain_keys, plain_json, min_size=1, max_size=2))
def test_extra_keys_do_not_break_a_partial_match(value: Any, extra: dict[str, Any]) -> None:
    """Objects match partially at every depth: extra actual keys never cause a mismatch."""
    assert match(value, with_extra_keys(value, extra)) == []


@given(plain_json, plain_json)
def test_not_inverts_a_plain_expectation(expected: Any, actual: Any) -> None:
    """$not: e holds exactly when e does not."""
    assert bool(match({"$not": expected}, actual)) == (not match(expected, actual))


@given(plain_json, plain_json)
def test_render_diff_is_empty_exactly_when_values_match(expected: Any, actual: Any) -> None:
    """render_diff() draws something whenever match() finds a mismatch, and nothing otherwise."""
    assert bool(render_diff(expected, actual)) == bool(match(expected, actual))


@given(st.integers(-(2**53), 2**53))
def test_ints_equal_their_float(n: int) -> None:
    """An int matches the float of the same value, both ways."""
    assert match(n, float(n)) == []
    assert match(float(n), n) == []


@given(st.booleans(), st.integers() | st.floats())
def test_bools_never_equal_numbers(flag: bool, number: float) -> None:
    """A bool never matches a number and a number never matches a bool."""
    assert match(flag, number) != []
    assert match(number, flag) != []


@given(st.dictionaries(st.text(alphabet="abcXYZ-", min_size=1, max_size=6), plain_json, max_size=4))
def test_header_keys_ignore_case(headers: dict[str, Any]) -> None:
    """With case-insensitive keys, upper-cased expected header names find their values."""
    if len({key.lower() for key in headers}) != len(headers):
        return  # two keys differing only in case are ambiguous by nature
    expected = {key.upper(): escape(value) for key, value in headers.items()}
    assert match(expected, headers, case_insensitive_keys=True) == []


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_approx_accepts_tiny_errors(x: float) -> None:
    """$approx accepts a value within its default tolerance and rejects one far outside."""
    assert match({"$approx": x}, x + 1e-7) == []
    assert match({"$approx": x}, x + 1.0) != []
