"""PASS: background agents that plan, verify and stage work; a human approves before anything ships."""

__version__ = "0.1.0"
