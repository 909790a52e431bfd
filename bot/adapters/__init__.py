"""Adapters to the outside world: Redis, GitHub, Slack, OpenAI, the filesystem."""
