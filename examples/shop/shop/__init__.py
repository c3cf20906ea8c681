"""A small shop: an HTTP API (`python -m shop.app`) and a background worker
(`python -m shop.worker`) on PostgreSQL, Redis and RabbitMQ. See ../README.md."""
