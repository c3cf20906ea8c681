"""Examples of splice._internal.expect: match(), validate() and render_diff()."""

from __future__ import annotations

from typing import Any

import pytest

from splice._internal.expect import MISSING, Mismatch, match, render_diff, validate
from splice._internal.expect.operators import OPERATIONS
from splice._internal.expect.vocabulary import OPERATORS, compile_regex


def messages(expected: Any, actual: Any, path: str = "", **options: Any) -> list[str]:
    return [str(mismatch) for mismatch in match(expected, actual, path, **options)]


# --- plain values ---------------------------------------------------------------------------


def test_equal_scalars_match() -> None:
    """Equal strings, numbers, booleans and null produce no mismatch."""
    for value in ["a", 3, 2.5, True, False, None]:
        assert match(value, value) == []


def test_scalar_mismatch_says_expected_and_got() -> None:
    """A differing scalar gives one mismatch at the root path with both values."""
    [mismatch] = match(201, 404, "status")
    assert mismatch == Mismatch("status", "expected 201, got 404", 201, 404)


def test_int_and_float_compare_by_value() -> None:
    """1 matches 1.0 and 1.0 matches 1: numbers compare numerically."""
    assert match(1, 1.0) == []
    assert match(1.0, 1) == []


def test_bool_is_never_a_number() -> None:
    """true does not match 1 and 0 does not match false."""
    assert messages(1, True) == ["expected 1, got boolean true"]
    assert messages(False, 0) == ["expected false, got integer 0"]


def test_no_coercion_between_string_and_number() -> None:
    """'12' does not match 12 and the message names the actual type."""
    assert messages(12, "12") == ["expected 12, got string '12'"]
    assert messages("12", 12) == ["expected '12', got integer 12"]


def test_null_shown_json_style() -> None:
    """None is rendered as null in messages."""
    assert messages(None, "x") == ["expected null, got string 'x'"]


# --- objects and arrays ---------------------------------------------------------------------


def test_objects_match_partially() -> None:
    """Extra actual keys are fine; expected keys must match."""
    assert match({"a": 1}, {"a": 1, "b": 2}) == []


def test_missing_key_reports_missing_sentinel() -> None:
    """An absent key gives 'missing key' with actual MISSING, rendered <missing>."""
    [mismatch] = match({"id": 5}, {}, "json")
    assert mismatch.path == "json.id"
    assert mismatch.message == "missing key 'id'"
    assert mismatch.expected == 5
    assert mismatch.actual is MISSING
    assert repr(MISSING) == "<missing>"
    assert f"{MISSING}" == "<missing>"


def test_nested_paths_in_messages() -> None:
    """Paths join keys with dots and indexes with brackets under the root path."""
    expected = {"items": [{"id": 1}, {"id": {"$type": "integer"}}]}
    actual = {"items": [{"id": 1}, {"id": "2"}]}
    assert messages(expected, actual, "json") == [
        "json.items[1].id: expected type integer, got string '2'"
    ]


def test_awkward_keys_are_quoted_in_paths() -> None:
    """A key with a dot or space is written in brackets so the path stays unambiguous."""
    assert messages({"a.b": 1}, {"a.b": 2}, "json") == ["json['a.b']: expected 1, got 2"]


def test_object_expected_but_got_scalar() -> None:
    """A non-object actual for an object expectation names its type."""
    assert messages({"a": 1}, "x") == ["expected an object, got string 'x'"]


def test_arrays_match_in_order_with_same_length() -> None:
    """Arrays compare element-wise; a length difference is reported as counts."""
    assert match([1, 2], [1, 2]) == []
    assert messages([1, 2], [2, 1]) == ["[0]: expected 1, got 2", "[1]: expected 2, got 1"]
    assert messages([1, 2, 3], [1, 2], "rows") == ["rows: expected 3 items, got 2"]
    assert messages([1], [], "rows") == ["rows: expected 1 item, got 0"]


def test_objects_inside_arrays_match_partially() -> None:
    """Each element is matched recursively, so its objects may have extra keys."""
    assert match([{"status": "pending"}], [{"status": "pending", "id": 7}]) == []


def test_array_expected_but_got_object() -> None:
    """A non-array actual for an array expectation is a single mismatch."""
    assert messages([1], {"a": 1}) == ["expected an array, got object {'a': 1}"]


def test_case_insensitive_keys_at_top_level_only() -> None:
    """Header-style matching folds case of top-level keys, not of nested ones."""
    headers = {"content-type": "application/json"}
    assert match({"Content-Type": "application/json"}, headers, case_insensitive_keys=True) == []
    assert messages({"Content-Type": "x"}, headers, "headers") == [
        "headers.Content-Type: missing key 'Content-Type'"
    ]
    nested = {"outer": {"inner": 1}}
    assert messages({"Outer": {"Inner": 1}}, nested, case_insensitive_keys=True) == [
        "Outer.Inner: missing key 'Inner'"
    ]


def test_dollar_dollar_escapes_a_literal_key() -> None:
    """'$$ref' in an expectation means the literal key '$ref'."""
    assert match({"$$ref": "#/a"}, {"$ref": "#/a"}) == []
    assert messages({"$$ref": "#/a"}, {"$ref": "#/b"}) == ["$ref: expected '#/a', got '#/b'"]
    assert messages({"$$ref": 1}, {"ref": 1}) == ["$ref: missing key '$ref'"]


# --- operators ------------------------------------------------------------------------------

PASSING = [
    ({"$any": True}, None),
    ({"$type": "string"}, "x"),
    ({"$type": "integer"}, 3),
    ({"$type": "number"}, 3),
    ({"$type": "number"}, 2.5),
    ({"$type": "boolean"}, False),
    ({"$type": "null"}, None),
    ({"$type": "array"}, [1]),
    ({"$type": "object"}, {}),
    ({"$type": ["string", "null"]}, None),
    ({"$regex": r"^\d+$"}, "123"),
    ({"$regex": "b"}, "abc"),
    ({"$len": 3}, "abc"),
    ({"$len": 2}, [1, 2]),
    ({"$len": 1}, {"a": 1}),
    ({"$len": {"$gte": 1}}, [0]),
    ({"$contains": "ell"}, "hello"),
    ({"$contains": {"id": 2}}, [{"id": 1}, {"id": 2, "x": 0}]),
    ({"$contains": "id"}, {"id": 1}),
    ({"$not_contains": "z"}, "hello"),
    ({"$not_contains": 3}, [1, 2]),
    ({"$not_contains": "x"}, {"id": 1}),
    ({"$gt": 3}, 4),
    ({"$gte": 3}, 3.0),
    ({"$lt": 3}, 2.5),
    ({"$lte": 3}, 3),
    ({"$gt": 1, "$lt": 3}, 2),
    ({"$eq": {"a": 1}}, {"a": 1.0}),
    ({"$eq": {"$a": 1}}, {"$a": 1}),
    ({"$ne": 3}, "3"),
    ({"$approx": 3.14}, 3.1400001),
    ({"$approx": 3.14, "$tol": 0.01}, 3.145),
    ({"$oneof": ["a", "b"]}, "b"),
    ({"$oneof": [None, {"$regex": "^x"}]}, "xy"),
    ({"$not": 5}, 6),
    ({"$not": {"$type": "string"}}, 6),
    ({"$each": {"$type": "integer"}}, [1, 2]),
    ({"$each": {"id": {"$gt": 0}}}, [{"id": 1, "x": 0}]),
    ({"$strict": {"a": 1, "b": {"c": {"$type": "integer"}}}}, {"a": 1, "b": {"c": 2}}),
    ({"$unordered": [1, 2, 3]}, [3, 1, 2]),
    ({"$unordered": [{"$type": "string"}, "a"]}, ["a", "b"]),
    ({"$startswith": "ab"}, "abc"),
    ({"$endswith": "bc"}, "abc"),
]


@pytest.mark.parametrize(("expected", "actual"), PASSING)
def test_operator_passes(expected: Any, actual: Any) -> None:
    """Each operator accepts a value that satisfies it."""
    assert validate(expected) == []
    assert match(expected, actual) == []


FAILING = [
    ({"$type": "integer"}, "12", "expected type integer, got string '12'"),
    ({"$type": "integer"}, True, "expected type integer, got boolean true"),
    ({"$type": "number"}, False, "expected type number, got boolean false"),
    ({"$type": "integer"}, 1.5, "expected type integer, got number 1.5"),
    ({"$type": ["string", "null"]}, 1, "expected type string or null, got integer 1"),
    ({"$regex": r"^\d+$"}, "abc", r"'abc' does not match regex '^\\d+$'"),
    ({"$regex": "1"}, 1, "expected a string matching regex '1', got integer 1"),
    ({"$len": 3}, "ab", "expected length 3, got 2"),
    ({"$len": 3}, [1, 2], "expected 3 items, got 2"),
    ({"$len": 2}, {"a": 1}, "expected 2 keys, got 1"),
    ({"$len": {"$gt": 3}}, [1, 2], "length: expected > 3, got 2"),
    ({"$len": 1}, 5, "expected a string, array or object, got integer 5"),
    ({"$contains": "z"}, "hello", "expected a string containing 'z', got 'hello'"),
    ({"$contains": 3}, [1, 2], "expected an array with an element matching 3, got [1, 2]"),
    ({"$contains": "id"}, {"a": 1}, "expected an object with key 'id', got keys ['a']"),
    ({"$contains": 1}, 1, "expected a string, array or object, got integer 1"),
    ({"$not_contains": "ll"}, "hello", "expected a string not containing 'll', got 'hello'"),
    ({"$not_contains": 2}, [1, 2], "expected no element matching 2, found one at index 1"),
    ({"$not_contains": "a"}, {"a": 1}, "unexpected key 'a'"),
    ({"$gt": 3}, 2, "expected > 3, got 2"),
    ({"$gte": 3}, 2, "expected >= 3, got 2"),
    ({"$lt": 3}, 3, "expected < 3, got 3"),
    ({"$lte": 3}, 4, "expected <= 3, got 4"),
    ({"$gt": 3}, "5", "expected a number > 3, got string '5'"),
    ({"$gt": 0}, True, "expected a number > 0, got boolean true"),
    ({"$eq": {"a": 1}}, {"a": 1, "b": 2}, "expected {'a': 1}, got {'a': 1, 'b': 2}"),
    ({"$eq": 1}, True, "expected 1, got boolean true"),
    ({"$ne": 3}, 3.0, "expected a value other than 3, got 3.0"),
    ({"$approx": 3.14}, 3.15, "expected 3.14 +/- 1e-06, got 3.15"),
    ({"$approx": 1, "$tol": 0.1}, 1.2, "expected 1 +/- 0.1, got 1.2"),
    ({"$approx": 1}, "1", "expected a number near 1, got string '1'"),
    ({"$oneof": ["a", "b"]}, "c", "expected one of ['a', 'b'], got 'c'"),
    ({"$not": 5}, 5, "expected anything but 5, got 5"),
    (
        {"$not": {"$type": "integer"}},
        5,
        "expected a value not matching {'$type': 'integer'}, got 5",
    ),
    ({"$each": 1}, "x", "expected an array, got string 'x'"),
    ({"$unordered": [1, 2]}, [1], "expected 2 items, got 1"),
    (
        {"$unordered": [1, 2]},
        [1, 1],
        "no element left to match expected item 1: 2; nearest is item 1: expected 2, got 1",
    ),
    (
        {"$unordered": [{"id": 1, "count": 1}, {"id": 2, "count": 2}]},
        [{"id": 2, "count": 2}, {"id": 1, "count": "2"}],
        "no element left to match expected item 0: {'id': 1, 'count': 1}; nearest is item 1: "
        "count: expected 1, got string '2'",
    ),
    ({"$unordered": [1]}, "x", "expected an array, got string 'x'"),
    ({"$startswith": "b"}, "abc", "expected a string starting with 'b', got 'abc'"),
    ({"$endswith": "a"}, "abc", "expected a string ending with 'a', got 'abc'"),
    ({"$endswith": "a"}, None, "expected a string ending with 'a', got null"),
]


@pytest.mark.parametrize(("expected", "actual", "message"), FAILING)
def test_operator_fails_with_message(expected: Any, actual: Any, message: str) -> None:
    """Each operator rejects a wrong value with a message naming expected and found."""
    assert validate(expected) == []
    [mismatch] = match(expected, actual)
    assert mismatch.message == message
    assert mismatch.expected == expected
    assert mismatch.actual == actual


def test_public_names_are_exported() -> None:
    """splice._internal.expect's __all__ lists exactly the names it exports."""
    import splice._internal.expect

    assert sorted(splice._internal.expect.__all__) == [
        "MISSING",
        "Mismatch",
        "match",
        "render_diff",
        "validate",
    ]
    for name in splice._internal.expect.__all__:
        assert hasattr(splice._internal.expect, name)


def test_every_operator_is_implemented() -> None:
    """The documented operator set and the implementation table agree."""
    assert set(OPERATIONS) == OPERATORS


def test_any_requires_the_key() -> None:
    """$any accepts any value but not a missing key."""
    assert match({"id": {"$any": True}}, {"id": None}) == []
    assert messages({"id": {"$any": True}}, {}) == ["id: missing key 'id'"]


def test_absent_key() -> None:
    """$absent: true passes when the key is missing and fails when it is there."""
    assert match({"error": {"$absent": True}}, {"ok": 1}) == []
    [mismatch] = match({"error": {"$absent": True}}, {"error": "boom"}, "json")
    assert mismatch.path == "json.error"
    assert mismatch.message == "unexpected key 'error', expected it to be absent"
    assert mismatch.actual == "boom"


def test_absent_false_requires_the_key() -> None:
    """$absent: false means the key must exist."""
    assert match({"a": {"$absent": False}}, {"a": 0}) == []
    assert messages({"a": {"$absent": False}}, {}) == ["a: missing key 'a'"]


def test_absent_at_root_against_missing() -> None:
    """At the root, $absent holds for MISSING and fails for a value."""
    assert match({"$absent": True}, MISSING) == []
    assert messages({"$absent": True}, 1, "json") == ["json: expected no value, got 1"]


def test_missing_root_value() -> None:
    """A MISSING root against a plain expectation says <missing>."""
    assert messages({"a": 1}, MISSING, "json") == ["json: expected {'a': 1}, got <missing>"]
    assert messages({"$type": "string"}, MISSING) == ["expected {'$type': 'string'}, got <missing>"]


def test_several_operators_all_must_hold() -> None:
    """In {$gt, $lt} both bounds apply; the first failing operator is reported."""
    between = {"$gt": 1, "$lt": 3}
    assert messages(between, 0) == ["expected > 1, got 0"]
    assert messages(between, 5) == ["expected < 3, got 5"]
    assert messages({"$type": "string", "$regex": "x"}, 1) == [
        "expected type string, got integer 1"
    ]


def test_each_reports_element_paths() -> None:
    """$each names the failing elements by index."""
    expected = {"items": {"$each": {"id": {"$type": "integer"}}}}
    actual = {"items": [{"id": 1}, {"id": "2"}, {}]}
    assert messages(expected, actual, "json") == [
        "json.items[1].id: expected type integer, got string '2'",
        "json.items[2].id: missing key 'id'",
    ]


def test_strict_rejects_extra_keys_at_every_level() -> None:
    """$strict makes nested objects exact, and still allows matchers inside."""
    expected = {"$strict": {"a": {"b": {"$type": "integer"}}}}
    assert messages(expected, {"a": {"b": 1, "extra": 2}, "z": 0}, "json") == [
        "json.a.extra: unexpected key 'extra' (strict)",
        "json.z: unexpected key 'z' (strict)",
    ]
    [mismatch] = match(expected, {"a": {"b": 1, "extra": 2}})
    assert mismatch.expected is MISSING
    assert mismatch.actual == 2


def test_strict_reaches_through_arrays_and_each() -> None:
    """Objects inside arrays and under $each are exact too within $strict."""
    assert messages({"$strict": [{"a": 1}]}, [{"a": 1, "b": 2}]) == [
        "[0].b: unexpected key 'b' (strict)"
    ]
    assert messages({"$strict": {"$each": {"a": 1}}}, [{"a": 1, "b": 2}]) == [
        "[0].b: unexpected key 'b' (strict)"
    ]


def test_strict_headers_fold_case() -> None:
    """$strict at the top level of headers compares key names without case."""
    expected = {"$strict": {"Content-Type": "text/plain"}}
    actual = {"content-type": "text/plain"}
    assert match(expected, actual, case_insensitive_keys=True) == []


def test_contains_key_in_headers_ignores_case() -> None:
    """$contains on the top-level object respects case-insensitive keys."""
    expected = {"$contains": "X-Request-Id"}
    assert match(expected, {"x-request-id": "1"}, case_insensitive_keys=True) == []
    assert match(expected, {"x-request-id": "1"}) != []


def test_eq_is_strict_and_literal() -> None:
    """$eq compares whole objects exactly and treats $-keys in its operand as plain keys."""
    assert match({"$eq": {"$type": "string"}}, "x") != []
    assert match({"$eq": {"$type": "string"}}, {"$type": "string"}) == []


def test_unordered_needs_a_full_assignment() -> None:
    """$unordered finds a distinct element for each expectation, not a greedy first fit."""
    assert match({"$unordered": [{"$type": "string"}, "a"]}, ["a", "b"]) == []
    assert match({"$unordered": [{"id": 1}, {"id": 2}]}, [{"id": 2, "x": 1}, {"id": 1}]) == []
    assert match({"$unordered": [1, 1]}, [1, 2]) != []


def test_approx_with_huge_int_does_not_raise() -> None:
    """An int too large for a float is simply not approximately equal."""
    assert messages({"$approx": 1.5}, 10**400)[0].startswith("expected 1.5 +/- 1e-06, got 1000")


def test_invalid_expectation_is_a_mismatch_not_an_exception() -> None:
    """match() on an invalid expectation reports it rather than raising."""
    assert messages({"$regx": "a"}, "a") == ["invalid expectation: unknown operator '$regx'"]
    assert messages({"$regex": "("}, "a")[0].startswith("invalid expectation: invalid regex '('")
    assert messages({"$gt": "3"}, 4) == ["invalid expectation: $gt needs a number, got string '3'"]
    assert messages({"$gt": 1, "b": 2}, 4) == [
        "invalid expectation: operators mixed with keys ($gt, b)"
    ]


def test_regexes_are_compiled_once() -> None:
    """Matching the same pattern twice reuses the cached compiled regex."""
    compile_regex.cache_clear()
    match({"$regex": "^a+$"}, "aaa")
    match({"$regex": "^a+$"}, "aab")
    info = compile_regex.cache_info()
    assert info.misses == 1
    assert info.hits >= 1


def test_mismatch_str_joins_path_and_message() -> None:
    """str(Mismatch) reads 'path: message', or just the message at an empty root."""
    assert str(Mismatch("a.b", "boom", 1, 2)) == "a.b: boom"
    assert str(Mismatch("", "boom", 1, 2)) == "boom"


def test_long_values_are_truncated_in_messages() -> None:
    """A long value is shortened with '...' so a message stays one readable line."""
    [mismatch] = match("x", "y" * 500)
    assert len(mismatch.message) < 120
    assert mismatch.message.endswith("...'") or mismatch.message.endswith("...")


# --- validate -------------------------------------------------------------------------------


def test_validate_accepts_plain_and_matcher_expectations() -> None:
    """A well-formed expectation has no problems."""
    expected = {
        "status": 201,
        "json": {"id": {"$type": "integer"}, "tags": {"$each": {"$regex": "^[a-z]+$"}}},
        "$$ref": {"$absent": True},
    }
    assert validate(expected) == []


def test_validate_unknown_operator_with_did_you_mean() -> None:
    """A misspelt operator is located at its key and the hint suggests the right one."""
    [(loc, message, hint)] = validate({"items": [{"id": {"$regx": "^a"}}]}, "json")
    assert loc == ("items", 0, "id", "$regx")
    assert message == "unknown operator '$regx' in json.items[0].id"
    assert hint is not None
    assert hint.startswith("did you mean '$regex'? valid operators: $absent, $any,")


def test_validate_unknown_operator_alias_hint() -> None:
    """Names from other tools map to splice's operator ($in -> $oneof)."""
    [(_, _, hint)] = validate({"$in": [1, 2]})
    assert hint is not None
    assert hint.startswith("did you mean '$oneof'?")


def test_validate_unknown_operator_without_close_match() -> None:
    """With no close match, the hint lists operators and mentions $$ escaping."""
    [(_, message, hint)] = validate({"$zzzzzzzz": 1})
    assert message == "unknown operator '$zzzzzzzz'"
    assert hint is not None
    assert "'$$zzzzzzzz'" in hint


def test_validate_bad_regex() -> None:
    """An uncompilable regex reports re's own message at the $regex key."""
    [(loc, message, _)] = validate({"name": {"$regex": "(ab"}})
    assert loc == ("name", "$regex")
    assert message.startswith("invalid regex '(ab': missing ), unterminated subpattern")


def test_validate_bad_type_names() -> None:
    """An unknown type name is located at the name, with a suggestion."""
    [(loc, message, hint)] = validate({"$type": ["string", "int"]})
    assert loc == ("$type", 1)
    assert message == "unknown type 'int' in $type"
    assert hint is not None
    assert hint.startswith("did you mean 'integer'?")
    [(_, message, _)] = validate({"$type": 3})
    assert message.startswith("$type needs a type name or a list of them, got 3")


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ({"$len": "3"}, "$len needs a non-negative integer or a matcher, got string '3'"),
        ({"$len": -1}, "$len needs a non-negative integer or a matcher, got integer -1"),
        ({"$gt": "3"}, "$gt needs a number, got string '3'"),
        ({"$approx": True}, "$approx needs a number, got boolean true"),
        ({"$approx": 1, "$tol": -1}, "$tol needs a non-negative number, got integer -1"),
        ({"$tol": 0.1}, "$tol is only used together with $approx"),
        ({"$any": False}, "$any needs true, got false"),
        ({"$absent": "yes"}, "$absent needs true or false, got string 'yes'"),
        ({"$oneof": []}, "$oneof needs a non-empty list of values, got array []"),
        ({"$unordered": 1}, "$unordered needs a list, got integer 1"),
        ({"$startswith": 1}, "$startswith needs a string, got integer 1"),
        ({"$regex": 1}, "$regex needs a string, got integer 1"),
    ],
)
def test_validate_operand_types(expected: Any, message: str) -> None:
    """Operands of the wrong type are reported with what was found."""
    assert [problem[1] for problem in validate(expected)] == [message]


def test_validate_mixed_operators_and_keys() -> None:
    """An object mixing $-operators and plain keys is an error with an escaping hint."""
    [(loc, message, hint)] = validate({"a": {"$type": "string", "b": 1}})
    assert loc == ("a", "$type")
    assert message == "operator '$type' cannot share an object with plain keys ('b') in a"
    assert hint is not None
    assert "'$$type'" in hint


def test_validate_absent_outside_a_key() -> None:
    """$absent is rejected inside arrays and operators, and when combined with others."""
    [(loc, message, _)] = validate([{"$absent": True}])
    assert loc == (0, "$absent")
    assert message == "$absent only applies to the value of an object key in [0]"
    [(_, message, _)] = validate({"a": {"$absent": True, "$type": "string"}})
    assert message == "$absent cannot be combined with other operators ($type) in a"


def test_validate_looks_inside_nested_operands() -> None:
    """Problems inside $each, $not, $oneof, $unordered and $len matchers are located."""
    expected = {
        "a": {"$each": {"$regx": 1}},
        "b": {"$oneof": [1, {"$tpye": "string"}]},
        "c": {"$len": {"$gt": "x"}},
        "d": {"$not": {"$unordered": [{"$foo": 1}]}},
    }
    locs = [problem[0] for problem in validate(expected)]
    assert locs == [
        ("a", "$each", "$regx"),
        ("b", "$oneof", 1, "$tpye"),
        ("c", "$len", "$gt"),
        ("d", "$not", "$unordered", 0, "$foo"),
    ]


def test_validate_eq_operand_is_literal() -> None:
    """$eq and $ne take literal values, so $-keys inside them are not checked."""
    assert validate({"$eq": {"$whatever": 1}}) == []


def test_validate_never_raises_on_odd_values() -> None:
    """Non-JSON values and odd keys are accepted or reported, never raised."""
    assert validate({1: {"$type": None}, None: [object()], "$$": set()})[0][0] == (1, "$type")
    assert validate(object()) == []


# --- render_diff ----------------------------------------------------------------------------


def test_render_diff_equal_is_empty() -> None:
    """Matching values give no diff lines."""
    assert render_diff({"a": [1, {"b": "c"}]}, {"a": [1, {"b": "c"}], "x": 1}) == []


def test_render_diff_scalars() -> None:
    """Two different scalars give one line and no headings."""
    assert render_diff(201, 404) == ["expected 201, got 404"]


def test_render_diff_dicts() -> None:
    """Objects list differing, missing and unchecked extra keys, then identical ones counted."""
    expected = {"status": "pending", "owner": {"id": 1}, "total": 3, "sku": "A"}
    actual = {"status": "failed", "owner": {"id": 2}, "sku": "A", "created": "today"}
    assert render_diff(expected, actual) == [
        "differing:",
        "  status: expected 'pending', got 'failed'",
        "  owner.id: expected 1, got 2",
        "missing:",
        "  total: 3",
        "not checked (extra keys):",
        "  created: 'today'",
        "(1 identical item not shown)",
    ]


def test_render_diff_strict_extra_keys_are_unexpected() -> None:
    """Under $strict, extra keys are listed as unexpected rather than unchecked."""
    assert render_diff({"$strict": {"a": 1}}, {"a": 1, "b": 2}) == [
        "unexpected:",
        "  b: 2",
        "(1 identical item not shown)",
    ]


def test_render_diff_lists_index_wise() -> None:
    """Arrays compare index by index and list missing and unexpected tails."""
    assert render_diff([1, 2, 3], [1, 5]) == [
        "differing:",
        "  expected 3 items, got 2",
        "  [1]: expected 2, got 5",
        "missing:",
        "  [2]: 3",
        "(1 identical item not shown)",
    ]
    assert render_diff([1], [1, 2]) == [
        "differing:",
        "  expected 1 item, got 2",
        "unexpected:",
        "  [1]: 2",
        "(1 identical item not shown)",
    ]


def test_render_diff_long_strings_use_ndiff() -> None:
    """Multi-line strings are diffed line by line with -, + and ? markers."""
    expected = "line one\nline two\nline three"
    actual = "line one\nline 2\nline three"
    assert render_diff({"body": expected}, {"body": actual}) == [
        "differing:",
        "  body: strings differ (- expected, + actual):",
        "      line one",
        "    - line two",
        "    + line 2",
        "      line three",
    ]


def test_render_diff_folds_long_equal_runs() -> None:
    """Far from a change, runs of equal lines collapse into '...'."""
    expected = "\n".join(f"line {i}" for i in range(20))
    actual = expected.replace("line 10", "line ten")
    lines = render_diff(expected, actual)
    assert lines[0] == "strings differ (- expected, + actual):"
    assert lines[1] == "    ..."
    assert "  - line 10" in lines
    assert "  + line ten" in lines
    assert len(lines) < 12


def test_render_diff_strings_differing_only_in_line_endings() -> None:
    """When only line endings differ, both strings are shown with repr."""
    assert render_diff("a" * 50 + "\n", "a" * 50) == [
        "strings differ (- expected, + actual):",
        "  - '" + "a" * 50 + "\\n'",
        "  + '" + "a" * 50 + "'",
    ]


def test_render_diff_uses_matcher_messages() -> None:
    """A failing matcher contributes its mismatch message at its path."""
    assert render_diff(
        {"id": {"$regex": "^\\d+$"}, "x": {"$absent": True}}, {"id": "a", "x": 1}
    ) == [
        "differing:",
        "  id: 'a' does not match regex '^\\\\d+$'",
        "unexpected:",
        "  x: 1 (expected absent)",
    ]


def test_render_diff_case_insensitive_headers() -> None:
    """Header names differing only in case do not show up as missing or extra."""
    assert render_diff(
        {"Content-Type": "a"}, {"content-type": "b"}, case_insensitive_keys=True
    ) == [
        "differing:",
        "  Content-Type: expected 'a', got 'b'",
    ]


@pytest.mark.parametrize(
    ("expected", "actual", "message"),
    [
        ({"$number": 12.5}, "12.50", None),
        ({"$number": 12.5}, 12.5, None),
        ({"$number": 12345678901234567890}, "12345678901234567890", None),
        ({"$number": 0.1}, "0.10", None),
        ({"$number": 1000}, "1e3", None),
        ({"$number": {"$gte": 10}}, " 10 ", None),
        ({"$number": 12.5}, "12.40", "expected 12.5 (compared as a number), got string '12.40'"),
        ({"$number": {"$gt": 10}}, "9.5", "compared as a number: expected > 10, got 9.5"),
        ({"$number": 3}, "three", "expected a number or a string of one, got string 'three'"),
        ({"$number": 1}, True, "expected a number or a string of one, got boolean true"),
        ({"$number": 1}, "NaN", "expected a number or a string of one, got string 'NaN'"),
    ],
)
def test_number_compares_numeric_strings_as_numbers(
    expected: Any, actual: Any, message: str | None
) -> None:
    """`$number` takes a number or its spelling as a string, exactly, and says so."""
    found = match(expected, actual)
    assert [m.message for m in found] == ([message] if message else [])


def test_number_needs_a_number_or_a_matcher() -> None:
    """A `$number` operand of another kind is a load-time problem; a nested matcher is
    checked too."""
    assert validate({"$number": "12"})[0][1].startswith("$number needs a number or a matcher")
    assert validate({"$number": {"$gt": "x"}})[0][1].startswith("$gt needs a number")
