"""What the HTML report shows beyond pass and fail: each service's log tail (masked), message
bodies parsed, what a passing step checked. Read back with lxml's HTML parser, as a browser
would build the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from splice._internal.masking import Masker
from splice._internal.model.results import (
    AttemptResult,
    Phase,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
)
from splice._internal.reporting.html import render_html
from splice._internal.reporting.html_parts import LOG_LINES

lxml_html = pytest.importorskip("lxml.html")
SECRET = "hunter2-very-secret"


def _step(index: int, executor: str, **extra: Any) -> StepResult:
    return StepResult(index, f"step {index}", executor, Phase.TEST, Status.PASSED, **extra)


def make_run(root: Path, steps: list[StepResult], **extra: Any) -> RunResult:
    """One suite with one passing testcase made of `steps`."""
    suite = SuiteResult("demo", root / "demo.splice.yaml", Status.PASSED)
    suite.testcases.append(
        TestcaseResult(
            "demo",
            "works",
            suite.path,
            3,
            Status.PASSED,
            attempts=[AttemptResult(1, Status.PASSED, steps=steps)],
        )
    )
    return RunResult(id="r1", cwd=str(root), suites=[suite], **extra)


def _page(run: RunResult) -> Any:
    return lxml_html.document_fromstring(render_html(run))


def _fields(page: Any, executor: str) -> dict[str, str]:
    """The response fields (name → shown text) of the first step labelled `executor`."""
    step = page.xpath(f'//*[contains(@class, "step")][.//span[@class="phase"]="{executor}"]')[0]
    response = step.xpath('.//div[@class="msg"][h5="response"]')[0]
    names = [dt.text_content() for dt in response.xpath(".//dt")]
    shown = [dd.text_content() for dd in response.xpath(".//dd")]
    return dict(zip(names, shown, strict=True))


def _service(name: str, log: Path | None) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "process",
        "provider": "local",
        "url": "http://127.0.0.1:1",
        "started_in": 0.2,
        "log": str(log) if log else None,
    }


def test_service_log_tail_is_embedded_masked_not_linked(tmp_path: Path) -> None:
    """Each service's last log lines are in the page (collapsible, secrets masked); the
    local absolute path of the log, useless in a CI artifact, is not."""
    log = tmp_path / ".splice" / "logs" / "r1" / "app.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {n} token={SECRET}\n" for n in range(1, 121)))
    masker = Masker()
    masker.add(SECRET)
    run = make_run(tmp_path, [_step(1, "http")], services=[_service("app", log)])
    text = render_html(run, masker)
    page = lxml_html.document_fromstring(text)
    [section] = page.xpath('//details[@id="log-app"]')
    shown = section.xpath('.//pre[@class="log"]')[0].text_content().splitlines()
    assert shown[0] == "…"  # earlier lines were left out, and it says so
    assert shown[1:] == [f"line {n} token=****" for n in range(121 - LOG_LINES, 121)]
    assert f"last {LOG_LINES} lines" in section.xpath("./summary")[0].text_content()
    assert SECRET not in text
    assert str(log) not in text and "app.log" in text
    assert page.xpath('//a[@href="#log-app"]')  # the header's service line links to it


def test_service_log_gone_or_missing_is_said(tmp_path: Path) -> None:
    """A kept log that is gone says so; a service without a log gets no log section."""
    run = make_run(
        tmp_path,
        [_step(1, "http")],
        services=[_service("db", tmp_path / "gone.log"), _service("mock", None)],
    )
    page = _page(run)
    [gone] = page.xpath('//details[@id="log-db"]')
    assert "not found" in gone.text_content()
    assert not page.xpath('//details[@id="log-mock"]')


@pytest.mark.parametrize(
    ("executor", "response", "field", "hidden"),
    [
        ("amqp", {"count": 1, "bodies": ['{"id": 7, "sku": "A"}']}, "bodies", []),
        (
            "nats",
            {
                "message": {
                    "subject": "o",
                    "data": '{"id": 7, "sku": "A"}',
                    "json": {"id": 7, "sku": "A"},
                },
                "messages": [
                    {"subject": "o", "data": '{"id": 7, "sku": "A"}', "json": {"id": 7, "sku": "A"}}
                ],
                "json": {"id": 7, "sku": "A"},
                "data": '{"id": 7, "sku": "A"}',
                "count": 1,
            },
            "message",
            ["messages", "data"],
        ),
        (
            "mqtt",
            {
                "messages": [
                    {"topic": "t", "payload": '{"id": 7, "sku": "A"}', "json": None},
                    {"topic": "t", "payload": '{"id": 8}', "json": None},
                ],
                "count": 2,
            },
            "messages",
            [],
        ),
    ],
)
def test_message_bodies_are_shown_parsed(
    tmp_path: Path, executor: str, response: dict[str, Any], field: str, hidden: list[str]
) -> None:
    """A JSON message body inside an AMQP, NATS or MQTT response is shown as indented JSON,
    not as an escaped string, and once (not again as the text beside its parsed `json`)."""
    page = _page(make_run(tmp_path, [_step(1, executor, response=response)]))
    fields = _fields(page, executor)
    assert '\\"' not in fields[field]
    assert '"id": 7,\n' in fields[field] and '"sku": "A"' in fields[field]
    for name in hidden:
        assert name not in fields


def test_redis_value_is_still_shown_parsed(tmp_path: Path) -> None:
    """The top-level JSON text of a field (a Redis value) stays re-indented as before; a
    command's arguments stay the strings that were sent."""
    step = _step(
        1,
        "redis",
        request={"command": ["SET", "k", '{"a": 1}']},
        response={"value": '{"a": [1, 2]}'},
    )
    page = _page(make_run(tmp_path, [step]))
    assert _fields(page, "redis")["value"] == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    request = page.xpath('//div[@class="msg"][h5="request"]//dd')[0].text_content()
    assert '"{\\"a\\": 1}"' in request


def test_passing_step_lists_what_it_checked(tmp_path: Path) -> None:
    """A passing step shows each check it made: the path, the matcher and the expected
    value, and each `assert` expression that held."""
    step = _step(
        1,
        "http",
        expect={"status": 200, "json": {"items": {"$len": 1}, "name": "Ann", "tags": [{"a": 1}]}},
        asserted=["result.json.id > 0"],
    )
    page = _page(make_run(tmp_path, [step]))
    rows = [
        tuple(td.text_content() for td in tr.xpath("./td"))
        for tr in page.xpath('//table[@class="checks"]//tr')
    ]
    assert rows == [
        ("status", "==", "200"),
        ("json.items", "$len", "1"),
        ("json.name", "==", '"Ann"'),
        ("json.tags", "$len", "1"),
        ("json.tags[0].a", "==", "1"),
        ("result.json.id > 0", "assert", "holds"),
    ]


def test_step_with_only_checks_can_be_opened(tmp_path: Path) -> None:
    """A passing step whose only detail is what it checked is still a collapsible step."""
    page = _page(make_run(tmp_path, [_step(1, "exec", expect={"exit_code": 0})]))
    [step] = page.xpath('//details[contains(@class, "step")]')
    assert step.get("open") is None  # passing: closed until clicked
    assert step.xpath('.//table[@class="checks"]')


def test_openapi_coverage_is_a_table_per_document(tmp_path: Path) -> None:
    """Each OpenAPI document's operation coverage is on the page: how many of its
    operations were exercised, and per operation the statuses documented and those hit
    (an operation never hit says so)."""
    coverage = [
        {
            "service": "payments",
            "document": "specs/payments.yaml",
            "documented": 2,
            "exercised": 1,
            "missing": ["POST /payments"],
            "operations": [
                {"operation": "GET /payments/{id}", "statuses": ["200", "404"], "hit": [200]},
                {"operation": "POST /payments", "statuses": ["201"], "hit": []},
            ],
        }
    ]
    page = _page(make_run(tmp_path, [_step(1, "http")], openapi=coverage))
    [section] = page.xpath('//section[@id="openapi-payments"]')
    heading = " ".join(section.xpath(".//h2")[0].text_content().split())
    assert heading == (
        "OpenAPI coverage of payments specs/payments.yaml 1 of 2 operations exercised"
    )
    rows = [
        [" ".join(td.text_content().split()) for td in tr.xpath("./td")]
        for tr in section.xpath(".//tbody/tr")
    ]
    assert rows == [
        ["GET /payments/{id}", "200, 404", "200"],
        ["POST /payments", "201", "not exercised"],
    ]
    assert section.xpath('.//tbody/tr[@class="missed"]/td/code')[0].text == "POST /payments"


def test_no_openapi_section_without_a_document(tmp_path: Path) -> None:
    """A run without OpenAPI documents shows no coverage section."""
    page = _page(make_run(tmp_path, [_step(1, "http")]))
    assert not page.xpath('//section[contains(@class, "openapi")]')
