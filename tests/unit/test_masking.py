"""The masker: every spelling of a secret is masked, nothing else is; the command line of a
run; secrets declared by the path of a service setting in splice.yaml."""

from __future__ import annotations

import base64
import json
import re
import textwrap
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from splice._internal.errors import SuiteError
from splice._internal.masking import MASK, Masker, spellings
from splice._internal.project.loader import load_project
from splice._internal.reporting.diagnostics import render_diagnostics
from splice._internal.runner.secrets import masked_command, run_masker, url_password
from splice._internal.services.logs import keep_logs
from tests.support.leaks import forms

SECRET = 'p@ss/w0rd#1"ü'


def _masker(*values: object, replacement: str = MASK) -> Masker:
    masker = Masker(replacement)
    masker.add_all(values)
    return masker


@pytest.mark.parametrize("form", sorted(forms(SECRET)))
def test_every_spelling_of_a_secret_is_masked(form: str) -> None:
    """Raw, percent-encoded (each variant, either hex case), JSON-escaped, base64 (both
    alphabets, padded or not), inside longer base64 data, and base64 of user:secret."""
    text = forms(SECRET)[form]
    masked = _masker(SECRET).text(f"before {text} after")
    assert text not in masked, masked
    assert masked.startswith("before ") and masked.endswith(" after")


def test_a_url_keeps_all_but_its_password() -> None:
    """A service URL with a percent-encoded password shows everything else."""
    url = f"postgresql://splice:{quote(SECRET, safe='')}@127.0.0.1:5432/shop"
    assert _masker(SECRET).text(url) == "postgresql://splice:****@127.0.0.1:5432/shop"
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), url)  # some encoders
    assert _masker(SECRET).text(lower) == "postgresql://splice:****@127.0.0.1:5432/shop"


def test_a_basic_credential_is_masked_whole() -> None:
    """`Basic base64(user:secret)` becomes `Basic ****`, the user's name included, in text
    and in bytes; one that holds no secret is left alone."""
    credential = base64.b64encode(f"ann:{SECRET}".encode()).decode()
    other = base64.b64encode(b"ann:something-else").decode()
    masker = _masker(SECRET)
    assert masker.text(f"Authorization: Basic {credential}") == "Authorization: Basic ****"
    assert masker.text(f"authorization: basic {credential}") == "authorization: basic ****"
    assert masker.data(f"auth: Basic {credential}\n".encode()) == b"auth: Basic ****\n"
    assert masker.text(f"Basic {other}") == f"Basic {other}"
    assert masker.text("a basic setup of basic things") == "a basic setup of basic things"


def test_a_secret_in_binary_data_and_inside_longer_base64_is_masked() -> None:
    """Bytes that are not UTF-8 keep every byte around a masked secret; the base64 of a
    longer body that holds the secret no longer spells it, at any alignment."""
    masker = _masker("binary-S3cret")
    assert masker.data(b"\xff\x00binary-S3cret\xfe") == b"\xff\x00****\xfe"
    inside = [v for k, v in forms("binary-S3cret").items() if k.startswith("base64-inside")]
    for prefix in (b"", b"x", b"xy", b"xyz"):
        body = base64.b64encode(prefix + b"\xff binary-S3cret \x00").decode()
        masked = masker.text(body)
        assert MASK in masked and not any(core in masked for core in inside), masked


def test_a_custom_replacement_is_used_in_text_and_bytes() -> None:
    """The mock scrubs cassettes with its own replacement (UTF-8 too)."""
    masker = _masker(SECRET, replacement="<scrubbed>")
    assert masker.text(f"x {SECRET} y") == "x <scrubbed> y"
    assert _masker(SECRET, replacement="🔒").data(f"x {SECRET}".encode()) == "x 🔒".encode()


def test_short_values_and_short_base64_spellings_are_not_masked() -> None:
    """Values under three characters are never masked; base64 spellings shorter than eight
    characters are not either (they would garble other base64: hashes, bodies)."""
    masker = _masker("ab", "abcd")
    assert masker.text("ab cab") == "ab cab"
    assert masker.text("abcd") == MASK
    assert base64.b64encode(b"abcd").decode().rstrip("=") == "YWJjZA"
    assert masker.text("sha256-YWJjZAxyz") == "sha256-YWJjZAxyz"
    assert not any(len(s) < 8 and s != "abcd" for s in spellings("abcd") if "%" not in s)
    five, six = base64.b64encode(b"abcde").decode(), base64.b64encode(b"abcdef").decode()
    assert _masker("abcde", "abcdef").text(f"{five} {six}") == f"{five} {MASK}"


def test_text_without_a_secret_is_returned_as_it_was() -> None:
    """No secret: the same object comes back (nothing is copied), for text and bytes."""
    masker = _masker(SECRET)
    text, data = "nothing to see " * 10, b"\xff nothing \x00"
    assert masker.text(text) is text
    assert masker.data(data) is data


def test_text_with_undecodable_bytes_is_masked_too() -> None:
    """Lone surrogates (an environment variable's undecodable bytes) in a secret or in the
    text do not break masking."""
    odd = b"env-\xffS3cret".decode("utf-8", "surrogateescape")
    masker = _masker(odd, "plain-S3cret")
    assert masker.text(f"a {odd} b plain-S3cret") == "a **** b ****"
    assert masker.text("plain-S3cret") == MASK


def test_values_added_later_are_masked_and_heard_of() -> None:
    """A value added while the run goes on is masked from then on; listeners hear of
    each new value once, until they stop listening."""
    masker = _masker("first-secret")
    heard: list[str] = []
    stop = masker.on_add(heard.append)
    assert masker.text("first-secret later-secret") == "**** later-secret"
    masker.add({"token": "later-secret", "again": ["first-secret"]})
    assert masker.text("first-secret later-secret") == "**** ****"
    stop()
    masker.add("third-secret")
    assert heard == ["later-secret"]
    assert masker.values == {"first-secret", "later-secret", "third-secret"}


def test_nested_values_and_numbers_are_masked() -> None:
    """Keys and values at any depth; a number is masked when its digits are a secret."""
    masker = _masker(SECRET, 123456)
    value = {"a": [f"x{json.dumps(SECRET)[1:-1]}"], SECRET: 123456, "n": 7, "ok": True}
    assert masker.mask(value) == {"a": [f"x{MASK}"], MASK: MASK, "n": 7, "ok": True}


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="*"), max_size=40)


@given(secret=_TEXT.filter(lambda s: len(s) >= 3), before=_TEXT, after=_TEXT)
def test_no_secret_survives_masking(secret: str, before: str, after: str) -> None:
    """Whatever surrounds it, a secret and its URL and JSON spellings are gone."""
    masker = _masker(secret)
    for spelled in (secret, quote(secret, safe=""), quote_plus(secret)):
        assume(secret not in before + after)
        assert secret not in masker.text(before + spelled + after)


@given(text=st.text(max_size=80))
def test_text_holding_no_secret_is_unchanged(text: str) -> None:
    """Masking never changes text that holds none of the secrets' spellings."""
    masker = _masker("zq-S3cr3t-value")
    assume(not any(s in text for s in spellings("zq-S3cr3t-value")))
    assert masker.text(text) == text


def test_the_command_line_hides_secret_values_tokens_and_url_passwords() -> None:
    """Values of secret variables (however short), report tokens, URL passwords and every
    known secret are masked; the rest of the command stays as typed."""
    argv = [
        "splice", "run", "--var", "pw=ab", "--var=key=xy", "--var", "base=http://h",
        "--secret", "pw", "--secret", "key", "--report-token", "t0k", "--report-to=https://u:p4ss@srv",
        "--splice-report-token=abc", "--store", "postgresql://splice:s3cret-pw@db/x",
        "--var", "other=long-s3cret",
    ]  # fmt: skip
    shown = masked_command(argv, _masker("long-s3cret"), {"pw", "key"})
    assert shown == [
        "splice", "run", "--var", "pw=****", "--var=key=****", "--var", "base=http://h",
        "--secret", "pw", "--secret", "key", "--report-token", "****", "--report-to=https://u:****@srv",
        "--splice-report-token=****", "--store", "postgresql://splice:****@db/x",
        "--var", "other=****",
    ]  # fmt: skip
    assert url_password("postgresql://splice:s3cret-pw@db/x") == "s3cret-pw"
    assert url_password("sqlite:///x.db") is None


def _project(tmp_path: Path, text: str) -> object:
    (tmp_path / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(tmp_path / "splice.yaml")


def test_a_service_setting_is_declared_secret_by_its_path(tmp_path: Path) -> None:
    """`secrets:` names variables and settings; a literal setting is masked from the
    start, a templated one only once rendered; dotted keys and list items are found."""
    project: object = _project(
        tmp_path,
        """
        vars: {tenant_key: t3nant-k3y}
        secrets: [tenant_key, services.app.env.API_TOKEN, services.app.env.my.key,
                  services.app.command.2, services.app.env.DB]
        services:
          db: {kind: postgres}
          app:
            kind: process
            command: [run, --token, cmd-s3cret]
            env: {API_TOKEN: env-s3cret, my.key: dotted-s3cret, DB: "{{ services.db.url }}"}
            depends_on: [db]
        """,
    )
    masker = run_masker(project, {}, [])  # type: ignore[arg-type]
    assert masker.values == {"t3nant-k3y", "env-s3cret", "dotted-s3cret", "cmd-s3cret"}
    settings = project.secret_settings  # type: ignore[attr-defined]
    assert [s.keys for s in settings][-1] == ("env", "DB") and settings[-1].literal is None


def test_a_secret_path_that_names_nothing_is_a_located_error(tmp_path: Path) -> None:
    """A typo in a path points at the entry and suggests the close name."""
    with pytest.raises(SuiteError) as caught:
        _project(
            tmp_path,
            """
            secrets: [services.ap.env.X, services.app.env.API_TOKN, services.app, other.x]
            services:
              app: {kind: process, command: x, env: {API_TOKEN: v}}
            """,
        )
    shown = render_diagnostics(caught.value.diagnostics)
    assert "secret 'services.ap.env.X' names no service" in shown
    assert "did you mean 'app'?" in shown
    assert "secret 'services.app.env.API_TOKN': env has no key 'API_TOKN'" in shown
    assert "did you mean 'API_TOKEN'?" in shown
    assert "secret 'other.x' is neither a variable name nor a path" in shown
    assert "splice.yaml:1:" in shown
    assert len(caught.value.diagnostics) == 3  # a whole service is a valid path


def test_kept_logs_are_masked_line_by_line(tmp_path: Path) -> None:
    """A service log is copied into .splice/logs/<run> masked, bytes around kept, and
    only the last 20 runs' logs stay."""
    log = tmp_path / "app.log"
    log.write_bytes(b"token=tok-S3cret-1\n\xff binary tok-S3cret-1\nlast line, no newline")
    folder = tmp_path / "logs"
    for i in range(25):
        (folder / f"old-{i:02}").mkdir(parents=True)
    kept = keep_logs(folder, "run1", {"app": log}, _masker("tok-S3cret-1"))
    assert kept == {"app": folder / "run1" / "app.log"}
    assert kept["app"].read_bytes() == b"token=****\n\xff binary ****\nlast line, no newline"
    assert len(list(folder.iterdir())) == 20
