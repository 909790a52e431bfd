"""Slack: Bolt app, listeners, and pure Block Kit renderers."""
