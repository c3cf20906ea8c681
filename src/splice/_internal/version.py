"""The version of splice, importable from every floor (the root package holds the API)."""

VERSION = "0.1.0"
