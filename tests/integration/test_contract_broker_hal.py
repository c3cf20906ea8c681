"""The broker API speaks HAL as the Pact Broker does: an index of `_links`, pacts with
theirs, "pacts for verification" with pending and WIP, so a Pact verifier that navigates by
links (pact-python's `Verifier` with `broker_source`) verifies from `splice serve` and
publishes its results to it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from splice._internal.contracts import broker
from splice._internal.store import Store, tokens
from splice._internal.web import create_app
from splice._internal.web.server import BackgroundServer
from tests.support.cli import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"
PACT = json.loads((EXAMPLE / "pacts" / "shop-payments.json").read_text())

pytestmark = pytest.mark.integration


@dataclass
class Broker:
    store: Store
    url: str  # the broker's base URL: .../api
    write: str

    def put(self, path: str, body: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.write}"}
        return httpx.put(self.url + path, json=body, headers=headers, timeout=30)


@pytest.fixture
def hal(tmp_path: Path) -> Iterator[Broker]:
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    write = tokens.create(store, "ci", "write")
    try:
        with BackgroundServer(create_app(store, background=False)) as server:
            yield Broker(store, server.url + "/api", write)
    finally:
        store.close()


@pytest.fixture
def provider() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "server.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_index_and_every_answer_carry_links(hal: Broker) -> None:
    """The index names the relations; a published pact links to where its verification
    results go, and following the links leads back to it."""
    for path in ("", "/"):
        index = httpx.get(hal.url + path, timeout=30).json()["_links"]
        assert index["self"]["href"] == hal.url
        for rel in (
            "pb:publish-pact",
            "pb:latest-provider-pacts",
            "pb:provider-pacts-for-verification",
        ):
            assert index[rel]["templated"] is True
    publish = index["pb:publish-pact"]["href"].format(
        provider="payments", consumer="shop", consumerApplicationVersion="1.0"
    )
    done = httpx.put(
        publish, json=PACT, headers={"Authorization": f"Bearer {hal.write}"}, timeout=30
    )
    assert done.status_code == 200, done.text
    sha = done.json()["sha"]
    latest = httpx.get(
        index["pb:latest-provider-pacts"]["href"].format(provider="payments"), timeout=30
    ).json()
    [link] = latest["_links"]["pb:pacts"]
    assert link["name"] == "shop"
    pact = httpx.get(link["href"], timeout=30).json()
    links = pact.pop("_links")
    assert pact == PACT
    assert links["self"]["href"] == link["href"]
    assert links["pb:publish-verification-results"]["href"].endswith(
        f"/pact-version/{sha}/verification-results"
    )
    assert httpx.get(links["pb:consumer-version"]["href"], timeout=30).json()["interactions"]
    missing = httpx.get(hal.url + "/pacts/provider/payments/consumer/shop/pact-version/" + "0" * 64)
    assert missing.status_code == 404


def test_pacts_for_verification_mark_pending_and_wip(hal: Broker) -> None:
    """The latest pact of each consumer, pending until verified; a feature branch's newer
    unverified pact comes as work in progress when asked for."""
    main = broker.publish(hal.store, PACT, "s1", "main")
    broker.record_verification(
        hal.store,
        consumer="shop",
        provider="payments",
        pact_sha=main["sha"],
        provider_version="p1",
        success=True,
    )
    feature = json.loads(json.dumps(PACT))
    feature["interactions"] = feature["interactions"][:1]
    broker.publish(hal.store, feature, "s2", "feature")
    broker.publish(hal.store, PACT, "s3", "main")  # main again: verified content
    asked = hal.url + "/pacts/provider/payments/for-verification"
    plain = httpx.post(asked, json={"includePendingStatus": True}, timeout=30).json()
    [only] = plain["_embedded"]["pacts"]
    assert only["verificationProperties"]["pending"] is False
    wip = httpx.post(
        asked,
        json={"includePendingStatus": True, "includeWipPactsSince": "2020-01-01"},
        timeout=30,
    ).json()
    latest, work = wip["_embedded"]["pacts"]
    assert "wip" not in latest["verificationProperties"]
    assert work["verificationProperties"]["wip"] is True
    assert work["verificationProperties"]["pending"] is True
    assert (
        httpx.get(work["_links"]["self"]["href"], timeout=30).json()["interactions"]
        == (feature["interactions"])
    )
    bad = httpx.post(asked, json={"includeWipPactsSince": "soon"}, timeout=30)
    assert bad.status_code == 422


def test_pact_pythons_verifier_verifies_from_the_broker_and_publishes(
    hal: Broker, provider: str
) -> None:
    """pact-python's Verifier navigates splice's broker by its links, verifies the shop's
    pact against the provider, and publishes the result, which ends the pact's pending."""
    pact = pytest.importorskip("pact", reason="pact-python is a dev dependency (splice[dev])")
    assert hal.put("/pacts/provider/payments/consumer/shop/version/1.0", PACT).status_code == 200
    verifier = (
        pact.Verifier("payments", host="127.0.0.1")
        .add_transport(url=provider)
        .broker_source(hal.url, token=hal.write, use_env=False)
        .state_handler(provider + "/_pact/state", teardown=True, body=True)
        .set_publish_options(version="p-7")
    )
    verifier.verify()  # raises on any mismatch
    [found] = broker.latest_for_provider(hal.store, "payments")
    assert found["pending"] is False
    rows = broker.matrix(hal.store)
    assert [(r["provider_version"], r["success"]) for r in rows] == [("p-7", True)]


def test_the_diff_between_two_pact_versions_by_api_and_page(hal: Broker) -> None:
    """What changed between two consumer versions: the API answers as `contract diff
    --json`, the dashboard shows it, and the contracts page links to it."""
    newer = json.loads(json.dumps(PACT))
    newer["interactions"] = newer["interactions"][:2]
    newer["interactions"][0]["response"]["body"]["content"]["amount"] = "12.50"
    broker.publish(hal.store, PACT, "1.0")
    broker.publish(hal.store, newer, "1.1")
    path = "/pacts/provider/payments/consumer/shop/diff"
    found = httpx.get(hal.url + path, timeout=30).json()  # default: the two newest
    assert (found["from"], found["to"], found["versions"]) == ("1.0", "1.1", ["1.1", "1.0"])
    assert found["removed"] == ["a request for a payment that does not exist"]
    [changed] = found["changed"]
    assert {"path": "response.body.content.amount", "old": 12.5, "new": "12.50"} in changed[
        "changes"
    ]
    back = httpx.get(hal.url + path, params={"from": "1.1", "to": "1.0"}, timeout=30).json()
    assert back["added"] == ["a request for a payment that does not exist"]
    missing = httpx.get(hal.url + path, params={"from": "0.9"}, timeout=30)
    assert missing.status_code == 404
    site = hal.url.removesuffix("/api")
    assert "/contracts/shop/payments/diff" in httpx.get(site + "/contracts", timeout=30).text
    page = httpx.get(site + "/contracts/shop/payments/diff", timeout=30)
    assert page.status_code == 200
    assert "response.body.content.amount" in page.text
    assert "a request for a payment that does not exist" in page.text
    assert httpx.get(site + "/contracts/nobody/payments/diff", timeout=30).status_code == 404


def test_pact_pythons_verifier_takes_wip_pacts_as_pending(hal: Broker, provider: str) -> None:
    """Asked for pending and WIP pacts, pact-python's verifier gets a feature branch's
    unverified pact as work in progress; its failure is reported and does not fail."""
    pact = pytest.importorskip("pact", reason="pact-python is a dev dependency (splice[dev])")
    main = broker.publish(hal.store, PACT, "s1", "main")
    broker.record_verification(
        hal.store,
        consumer="shop",
        provider="payments",
        pact_sha=main["sha"],
        provider_version="p1",
        success=True,
    )
    feature = json.loads(json.dumps(PACT))
    feature["interactions"].append(
        {
            "type": "Synchronous/HTTP",
            "description": "a refund",
            "request": {"method": "POST", "path": "/payments/7/refund"},
            "response": {"status": 200},
        }
    )
    broker.publish(hal.store, feature, "s2", "refunds")
    broker.publish(hal.store, PACT, "s3", "main")
    verifier = (
        pact.Verifier("payments", host="127.0.0.1")
        .add_transport(url=provider)
        .broker_source(hal.url, selector=True, use_env=False)
        .include_pending()
        .include_wip_since("2020-01-01")
        .build()
        .state_handler(provider + "/_pact/state", teardown=True, body=True)
    )
    verifier.verify()  # the WIP pact's failure is pending: no error
    results = verifier.results
    assert results["result"] is True, results
    failed = [r for r in results["interactionResults"] if r["result"] != "OK"]
    assert [(r["description"], r["pending"]) for r in failed] == [("a refund", True)]


def test_consumer_version_selectors_pick_the_pacts(hal: Broker) -> None:
    """`consumerVersionSelectors` pick what is verified (a branch's newest pact, a
    consumer's latest, each consumer's main branch's), each pact still marked pending until verified; a typo in a key is a
    400 that names it and the closest key."""
    broker.publish(hal.store, PACT, "s1", "main")
    feature = json.loads(json.dumps(PACT))
    feature["interactions"] = feature["interactions"][:1]
    broker.publish(hal.store, feature, "s2", "feature")
    asked = hal.url + "/pacts/provider/payments/for-verification"

    def versions(*selectors: dict[str, object]) -> list[str]:
        answer = httpx.post(
            asked,
            json={"consumerVersionSelectors": list(selectors), "includePendingStatus": True},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        pacts = answer.json()["_embedded"]["pacts"]
        assert all(p["verificationProperties"]["pending"] for p in pacts)
        return [
            httpx.get(p["_links"]["self"]["href"], timeout=30).json()["interactions"].__len__()
            for p in pacts
        ]

    assert versions({"branch": "main"}) == [len(PACT["interactions"])]
    assert versions({"latest": True, "consumer": "shop"}) == [1]  # the feature's, newest
    assert versions({"branch": "nope"}) == []
    typo = httpx.post(asked, json={"consumerVersionSelectors": [{"brnch": "main"}]}, timeout=30)
    assert typo.status_code == 400
    assert "consumerVersionSelectors[0]: unknown selector key 'brnch'" in typo.text
    assert "did you mean 'branch'?" in typo.text
    # mainBranch: each consumer's newest pact on `main`, else on `master`, else none
    web = json.loads(json.dumps(PACT))
    web["consumer"]["name"] = "web"
    web["interactions"] = web["interactions"][:2]
    broker.publish(hal.store, web, "w1", "master")
    broker.publish(hal.store, feature | {"consumer": {"name": "web"}}, "w2", "develop")
    broker.publish(hal.store, feature | {"consumer": {"name": "app"}}, "a1", "feature")
    assert versions({"mainBranch": True}) == [len(PACT["interactions"]), 2]
    assert versions({"mainBranch": True, "consumer": "web"}) == [2]
    assert versions({"mainBranch": True, "consumer": "app"}) == []
    bad = httpx.post(asked, json={"consumerVersionSelectors": [{"mainBranch": "yes"}]}, timeout=30)
    assert bad.status_code == 400
    assert "consumerVersionSelectors[0].mainBranch: expected true or false" in bad.text
    still = httpx.post(asked, json={"consumerVersionSelectors": [{"released": True}]}, timeout=30)
    assert still.status_code == 400
    assert "'released' is not supported" in still.text
    empty = httpx.post(asked, json={"consumerVersionSelectors": [{}]}, timeout=30)
    assert empty.status_code == 400
    assert (
        "consumerVersionSelectors[0]: a selector picks by latest, branch, mainBranch" in empty.text
    )
    assert '{"branch": "main"}' in empty.json()["detail"]  # the way out


def _published(hal: Broker) -> None:
    broker.publish(hal.store, PACT, "s1", "master", tags=["prod"])
    sha = broker.publish(hal.store, PACT, "s2", "feature", tags=["beta", "alpha"])["sha"]
    broker.record_verification(
        hal.store,
        consumer="shop",
        provider="payments",
        pact_sha=sha,
        provider_version="p1",
        success=True,
        branch="main",
    )
    broker.record_deployment(hal.store, "shop", "s1", "production")


def test_pacticipants_list_and_link_to_their_versions_and_branches(hal: Broker) -> None:
    """The index links the pacticipants; each links to its versions (newest first, with
    branch, tags and deployments) and branches; its main branch is `main` or `master`."""
    _published(hal)
    index = httpx.get(hal.url, timeout=30).json()["_links"]
    assert index["pb:pacticipant"]["templated"] is True
    listed = httpx.get(index["pb:pacticipants"]["href"], timeout=30).json()
    names = [p["name"] for p in listed["_embedded"]["pacticipants"]]
    assert names == ["payments", "shop"]
    shop = httpx.get(index["pb:pacticipant"]["href"].format(pacticipant="shop"), timeout=30)
    assert shop.status_code == 200, shop.text
    about = shop.json()
    assert (about["name"], about["mainBranch"], about["latestVersion"]) == ("shop", "master", "s2")
    assert about["createdAt"].endswith("+00:00")
    versions = httpx.get(about["_links"]["pb:versions"]["href"], timeout=30).json()
    found = [
        (v["number"], v["branch"], v["tags"], v["deployedTo"])
        for v in versions["_embedded"]["versions"]
    ]
    assert found == [
        ("s2", "feature", ["alpha", "beta"], []),
        ("s1", "master", ["prod"], ["production"]),
    ]
    one = httpx.get(about["_links"]["pb:latest-version"]["href"], timeout=30).json()
    assert one["number"] == "s2"
    assert one["_links"]["pb:pacticipant"]["href"] == about["_links"]["self"]["href"]
    branches = httpx.get(about["_links"]["pb:branches"]["href"], timeout=30).json()
    assert [(b["name"], b["latestVersion"]) for b in branches["_embedded"]["branches"]] == [
        ("feature", "s2"),
        ("master", "s1"),
    ]
    provider = httpx.get(hal.url + "/pacticipants/payments", timeout=30).json()
    assert (provider["mainBranch"], provider["latestVersion"]) == ("main", "p1")


def test_an_unknown_pacticipant_or_version_is_a_404_naming_the_known_ones(hal: Broker) -> None:
    empty = httpx.get(hal.url + "/pacticipants/shop", timeout=30)
    assert empty.status_code == 404
    assert "publish a pact first" in empty.json()["detail"]
    _published(hal)
    assert httpx.get(hal.url + "/pacticipants/shop", timeout=30).status_code == 200
    for path in ("", "/versions", "/branches", "/versions/s1"):
        typo = httpx.get(hal.url + "/pacticipants/shopp" + path, timeout=30)
        assert typo.status_code == 404, path
        detail = typo.json()["detail"]
        assert "unknown pacticipant 'shopp'" in detail
        assert "known pacticipants: payments, shop" in detail
        assert "did you mean 'shop'?" in detail
    version = httpx.get(hal.url + "/pacticipants/shop/versions/s9", timeout=30)
    assert version.status_code == 404
    assert version.json()["detail"] == (
        "unknown version 's9' of 'shop'; its latest versions: s2, s1"
    )
    listed = httpx.get(hal.url + "/pacticipants", timeout=30).json()
    assert len(listed["_embedded"]["pacticipants"]) == 2
