"""How long PASS's own work around a model call takes: injection scan, prompt build, output checks.

Run: PYTHONPATH=. python bench/llm_checks.py   (prints figures; asserts nothing)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from bot.domain.injection import find_agent_directives
from bot.planner.output_check import check_output
from bot.planner.prd import parse_prd
from bot.planner.prompts import split_for_summary

PRD_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "prd"


def timed(label: str, fn: Callable[[], object], repeat: int = 20) -> None:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    per_call = (time.perf_counter() - start) / repeat
    print(f"{label:<58} {per_call * 1000:8.2f} ms")


def main() -> None:
    big = "\n".join((PRD_DIR / name).read_text() for name in sorted(p.name for p in PRD_DIR.glob("*.md")))
    huge = (big * 6)[:199_000]
    prd = parse_prd(huge)
    print(f"PRD: {len(huge):,} chars, {len(prd.requirements)} requirements")
    timed("find_agent_directives (199 KB PRD)", lambda: find_agent_directives(huge))
    timed("split_for_summary (199 KB PRD, 12 000-char parts)", lambda: split_for_summary(huge, 12_000))
    known = [r.id for r in prd.requirements] or ["R1"]
    ids = [known[n % len(known)] for n in range(60)]  # a full-size backlog: the 60-item limit
    items = [
        {
            "key": f"W{n}",
            "title": f"Item {n}",
            "body": "Run `pytest -q` and `git status --porcelain`.\n" * 20,
            "requirement_ids": [rid],
            "depends_on": [f"W{n - 1}"] if n > 1 else [],
            "labels": ["feature"],
            "estimate": "M",
            "acceptance_criteria": ["works"] * 5,
            "rationale": "because",
        }
        for n, rid in enumerate(ids, start=1)
    ]
    raw = json.dumps(
        {
            "summary": "s",
            "architecture": {
                "overview": "o",
                "components": [],
                "data_flow": [],
                "interfaces": [],
                "risks": [],
                "open_questions": [],
            },
            "items": items,
        }
    )
    label = f"check_output ({len(items)} items, {len(raw):,} chars)"
    timed(label, lambda: check_output(raw, prd, max_items=60))


if __name__ == "__main__":
    main()
