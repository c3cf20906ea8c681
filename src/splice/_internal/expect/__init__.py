"""Structural expectations: the rules of a step's ``expect:`` block.

``match(expected, actual)`` returns the list of mismatches (empty when the value matches),
``validate(expected)`` finds mistakes in an expectation at load time, and
``render_diff(expected, actual)`` draws a readable diff for reports.

Plain values
    compare by equality with one rule for numbers: an int or float equals a numerically equal
    number (``1`` matches ``1.0``), but a bool is never a number (``true`` does not match
    ``1``). There is no coercion: ``"12"`` does not match ``12``.

Objects
    match partially: every expected key must be present and match; other keys of the actual
    object are fine. ``match(..., case_insensitive_keys=True)`` compares the keys of the
    top-level object without regard to case (HTTP header names); nested keys stay exact.

Arrays
    match element by element, in order, with the same length; elements are matched by these
    same rules, so objects inside arrays match partially too.

Matchers
    An object whose keys all start with ``$`` is a matcher; when it has several operators, all
    must hold (the first that fails is reported). An object cannot mix operators and plain
    keys. A literal key that starts with ``$`` is written ``$$name`` (it means ``$name``).

    ============================  ==========================================================
    ``$any: true``                any value, but the key must exist
    ``$absent: true``             the key must not exist (``false``: it must exist); only
                                  as the value of an object key, and on its own
    ``$type: name`` or ``[...]``  string, integer, number, boolean, null, array, object;
                                  integer excludes bool, number is any int or float
    ``$regex: pattern``           ``re.search`` on a string (Python syntax, run on RE2)
    ``$len: N`` or matcher        length of a string, array or object
    ``$contains: x``              a substring of a string; an element of an array that
                                  matches ``x`` (partially, for objects); a key of an object
    ``$not_contains: x``          the opposite of ``$contains``
    ``$gt $gte $lt $lte: n``      numeric comparison; the actual value must be a number
    ``$eq: v`` / ``$ne: v``       strict literal (in)equality: objects need exactly the same
                                  keys; operators inside are plain keys
    ``$approx: n`` [``$tol: t``]  a number within ``t`` of ``n`` (absolute, default 1e-6)
    ``$schema: schema``           valid under a JSON Schema (draft 2020-12); a file name is
                                  replaced by the file's schema when the suite loads
    ``$xpath: {expr: e}``         XPath 1.0 on XML/HTML text; a node set is a list of texts
    ``$css: {selector: e}``       CSS selectors on XML/HTML text: the matching elements' texts
    ``$number: n`` or matcher     a number, or a string that spells one (``"12.50"``, a
                                  bigint), compared exactly as a number with ``n``, or
                                  matched as a number (``$number: {$gt: 10}``)
    ``$oneof: [e, ...]``          matches at least one of the expectations
    ``$not: e``                   does not match the expectation
    ``$each: e``                  an array whose every element matches the expectation
    ``$strict: e``                like ``e``, but objects at every level must have exactly
                                  the expected keys (matchers still work inside)
    ``$unordered: [e, ...]``      an array of the same length where each expectation matches
                                  a different element, in any order
    ``$startswith / $endswith``   a string with this prefix / suffix
    ============================  ==========================================================

Messages quote values JSON-style (``null``, ``true``, ``'text'``) and say what was expected
and what was found: ``expected 201, got 404``, ``missing key 'id'``,
``expected type integer, got string '12'``. An absent value is the sentinel ``MISSING``
(shown as ``<missing>``).
"""

from splice._internal.expect.checking import validate
from splice._internal.expect.diff import render_diff
from splice._internal.expect.matchers import match
from splice._internal.expect.vocabulary import MISSING, Mismatch

__all__ = ["MISSING", "Mismatch", "match", "render_diff", "validate"]
