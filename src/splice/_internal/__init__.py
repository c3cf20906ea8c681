"""splice's implementation: private; import from `splice` and `splice.plugins`."""
