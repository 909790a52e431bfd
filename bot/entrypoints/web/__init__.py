"""aiohttp routes: Slack, webhooks, REST API, health, metrics."""
