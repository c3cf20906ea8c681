"""What users write, read with its positions, and the toolkit for located errors about it.

`yaml_source` reads YAML into plain values plus a table of positions
(`splice._internal.model.positions.Positions`); `validation` turns pydantic's errors and a plugin's
own `HintedValueError` into located diagnostics with hints. Every part of splice that
validates user input (the suite and project loaders, each executor's and each service
kind's own model, the mock's files) uses them; they import nothing of splice above the
model.
"""
