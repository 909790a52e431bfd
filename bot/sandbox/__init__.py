"""The subprocess sandbox (bwrap → unshare → rlimits), the agent process and its broker."""
