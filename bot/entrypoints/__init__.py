"""Entry points: how PASS is started and reached, each a thin translator onto the services.

`cli` (the `passbot` command), `worker` (the queue worker), `doctor` (deployment checks),
`web` (aiohttp: Slack events, webhooks, the REST API, health, metrics) and `dev` (`passbot dev`,
the local Slack stand-in). Nothing below `bot/` outside this package imports from it.
"""
