"""Built-in service kinds, one module each."""
