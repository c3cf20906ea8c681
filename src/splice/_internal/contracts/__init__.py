"""Contracts between services: Pact files read, matched, verified against a provider.

- `rules`: matching rules of every Pact version, their paths and which one applies where;
- `matchers`, `dates`: one matcher judged on one value;
- `compare_json`, `compare_xml`, `compare`: requests, responses and messages against what a
  pact expects, every mismatch at its path (`body.items[0].price: expected a decimal, ...`);
- `model`: requests, responses, messages and bodies in every spelling a pact uses;
- `pact`, `jsonpos`: pact files read, every problem at its line and column;
- `verify`, `executor`: a provider held to pacts as suites, a `pact` step per interaction;
- `consumer`: a Pact V4 file from the stubs of splice's mock that a run exercised;
- `broker`: pacts, verifications and deployments in the results store, can-i-deploy;
- `openapi`: pacts, stubs and exchanges checked against OpenAPI documents.

The matching engine is splice's own code, checked against every case of the Pact
specification's testcases (tests/data/pact-spec); docs/explanation/contracts.md says why.
"""
