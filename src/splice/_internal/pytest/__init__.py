"""splice inside pytest: services and isolation as fixtures, suites as items, clocks.

The hooks live in `splice._internal.pytest_plugin` (the `pytest11` entry point); this package holds
what they use, imported only when a hook or fixture needs it. Types a test may annotate
with: `splice._internal.pytest.handles.SpliceEnv`, `ServiceHandle`, `PrivateServices`, and
`splice._internal.pytest.clock.FrozenClock`, `ServiceClock`.
"""
