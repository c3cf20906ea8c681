"""Contracts between services: Pact files read, matched, verified against a provider.

- `rules`: matching rules of every Pact version, their paths and which one applies where;
- `matchers`, `dates`: one matcher judged on one value;
- `compare_json`, `compare_xml`, `compare`: requests, responses and messages against what a
  pact expects, every mismatch at its path (`body.items[0].price: expected a decimal, ...`);
- `model`: requests, responses, messages and bodies in every spelling a pact uses;
- `pact`: pact files read (located errors) and written (V4);
- `verify`: a provider held to a pact, interaction by interaction.

The matching engine is splice's own code, checked against every case of the Pact
specification's testcases (tests/data/pact-spec); docs/explanation/contracts.md says why.
"""
