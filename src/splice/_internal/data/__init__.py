"""Data: migrations, fixtures and per-testcase isolation of the services' state."""
