"""Shift-left repository verification: lint, types, tests, security and secrets, in the sandbox."""
