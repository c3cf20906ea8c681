"""splice inside pytest: services and isolation as fixtures, suites as items, clocks.

The hooks live in `splice.pytest_plugin` (the `pytest11` entry point); this package holds
what they use, imported only when a hook or fixture needs it. Types a test may annotate
with: `splice.pytest.handles.SpliceEnv`, `ServiceHandle`, `PrivateServices`, and
`splice.pytest.clock.FrozenClock`, `ServiceClock`.
"""
