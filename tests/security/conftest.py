"""A redis-server of each test's own, as the scale tests use (a worker process shares it)."""

from tests.scale.conftest import own_client, own_queue, own_redis

__all__ = ["own_client", "own_queue", "own_redis"]
