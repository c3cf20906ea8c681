"""The YAML reader's shortcuts (tags and values remembered by text, the collector paused)
give the same values as PyYAML's own safe loader."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import yaml

from splice._internal.errors import SuiteError
from splice._internal.source.yaml_source import parse_yaml

TEXT = """\
plain: 200
quoted: "200"
single: '200'
tagged: !!str 200
float: 1.5
nan: .nan
bool: true
quoted_bool: "true"
null_value: ~
octal: 0o17
hex: 0x1F
date: 2026-12-07
list: [200, "200", true, "true", null, "null"]
again: {plain: 200, quoted: "200", bool: true}
"""


@pytest.mark.parametrize("anchored", [False, True], ids=["libyaml", "pure-python"])
def test_values_match_pyyaml_for_every_spelling_of_the_same_text(anchored: bool) -> None:
    text = TEXT + ("anchor: &a 200\nalias: *a\n" if anchored else "")
    expected = yaml.safe_load(text)
    for _ in range(2):  # the second read comes from the remembered tags and values
        got = parse_yaml(text, Path("values.yaml")).data
        assert repr(got) == repr(expected)
        assert [type(v) for v in got["list"]] == [int, str, bool, str, type(None), str]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_comes_back_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        parse_yaml(TEXT, Path("values.yaml"))
        assert gc.isenabled() is enabled
        with pytest.raises(SuiteError):
            parse_yaml("a: [1, 2\n", Path("broken.yaml"))
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
