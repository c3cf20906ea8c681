"""Loading: YAML with source positions into the typed model, with located errors.

`suite_loader.load_suite` is the entry point; `yaml_source` keeps positions.
"""
