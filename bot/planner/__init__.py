"""PRD parsing and the planners (offline heuristic, OpenAI)."""
