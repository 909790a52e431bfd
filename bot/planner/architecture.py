"""The offline planner's architecture pack, drawn from what the PRD itself writes.

Components come from the PRD's architecture/component lists with the responsibilities its
bullets give them (not their names again), and the interfaces named in their text; the data flow
from the steps of a flow/journey section (or the comments of a flow's pseudocode); risks from the
PRD's risk sections; open questions from what makes the PRD ambiguous (a "should", a TBD, a
limit without a unit, a threshold never given, a "must" another requirement contradicts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.domain.models import ArchitecturePack, Prd, Requirement, WorkItem
from bot.planner.grouping import WorkUnit, success_measures
from bot.planner.prd import list_items
from bot.planner.words import content_words

MAX_COMPONENTS = 8
MAX_FLOW = 10
MAX_LIST = 8

_COMPONENT_SECTIONS = r"architecture|component|system design|technical design|key entit"
_FLOW_SECTIONS = r"user experience|\bflows?\b|journey|pipeline|how it works"
_INTERFACE_SECTIONS = r"\bapi|interface|command|integration|option"
_CODE_IDENT = re.compile(r"`([^`\n]{2,60})`")
_TBD = re.compile(r"\b(TBD|TBC|TODO|to be (?:decided|determined|confirmed|defined))\b", re.IGNORECASE)
_SHOULD = re.compile(r"\bshould\b", re.IGNORECASE)
_BARE_LIMIT = re.compile(
    r"\b(?:within|under|less than|more than|at most|at least|up to|below|above|over|exceeds?)\s+(\d+(?:\.\d+)?)\b"
    r"(?![\d.]|\s*(?:%|(?:ms|s|secs?|seconds?|minutes?|mins?|hours?|hrs?|h|days?|weeks?|months?|years?|[kmgt]i?b|bytes?|"
    r"items?|users?|requests?|rps|qps|tasks?|iterations?|lines?|levels?|times?|x|characters?|chars?|words?|records?|"
    r"rows?|files?|fps|px|pages?|steps?|attempts?|retries|tokens?|calls?|clicks?|per|percent|people|members?)\b))",
    re.IGNORECASE,
)
_UNSTATED_THRESHOLD = re.compile(r"\b(?:above|below|under|over|reaches?|meets?)\s+(?:a |the )?(threshold|target)\b")
_CODE_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_HEURISTIC_QUESTION = "Heuristic plan: review scope and estimates; an LLM planner would propose a fuller design."


def architecture_pack(prd: Prd, units: list[WorkUnit], items: list[WorkItem]) -> ArchitecturePack:
    own = {r.section for r in prd.requirements}
    interfaces = _interfaces(prd, own)
    components = _components(prd, own, interfaces)
    questions = [*_questions(prd), *_ambiguities(prd), *_untied_measures(units, prd)]
    flow = _data_flow(prd)
    if not components:
        questions.append("The PRD names no components: which parts of the system does this work change?")
    elif not flow and len(components) > 1:
        questions.append("The PRD describes no data flow between its components: which one calls which?")
    if not interfaces and components:
        interfaces = [f"{c['name']}: {c['interfaces']}" for c in components if "interfaces" in c][:MAX_LIST]
    return ArchitecturePack(
        overview=_overview(prd, units, items),
        components=components,
        data_flow=flow,
        interfaces=interfaces,
        risks=_stated_risks(prd)[:MAX_LIST],
        open_questions=[*list(dict.fromkeys(questions))[: MAX_LIST - 1], _HEURISTIC_QUESTION],
    )


def _untied_measures(units: list[WorkUnit], prd: Prd) -> list[str]:
    attached = {m.text for u in units for m in u.measures}
    return [
        f"Success measure “{m.text[:100]}” is not tied to any item: which work delivers it?"
        for m in success_measures(prd)
        if m.text not in attached
    ]


def _sections(prd: Prd, pattern: str) -> list[tuple[str, str]]:
    return [(path, body) for path, body in prd.sections.items() if re.search(pattern, path, re.IGNORECASE)]


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\*\*(.+?)\*\*", r"\1", text)).strip()


def _overview(prd: Prd, units: list[WorkUnit], items: list[WorkItem]) -> str:
    bodies = [b for _, b in _sections(prd, r"overview|summary|introduction")] or [prd.sections.get("(intro)", "")]
    text = _plain(next((b for b in bodies if b.strip()), ""))[:600]
    sizes = ", ".join(f"{n} {size}" for size, n in _count(i.estimate for i in items))
    scope = f" Scope: {len(items)} item(s) ({sizes})." if items else ""
    return (text or f"{prd.title}.") + scope


def _count(values: Iterable[str]) -> list[tuple[str, int]]:
    order = ["XS", "S", "M", "L", "XL"]
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))


def _components(prd: Prd, own: set[str], interfaces: list[str]) -> list[dict[str, str]]:
    # A "System Components" list is the PRD's own breakdown; other architecture lists only without one.
    sources = _sections(prd, r"component|key entit") or _sections(prd, _COMPONENT_SECTIONS)
    found: list[dict[str, str]] = []
    for path, body in sources:
        if path in own:
            continue  # requirements are work items, not components
        for entry in list_items(body):
            name, rest = _name_and_rest(entry.text)
            duties = [d for d in [rest, *entry.children] if d]
            if not duties:
                continue  # a bare name says nothing about what the component does
            component = {"name": name[:80], "responsibility": "; ".join(duties)[:300]}
            idents = list(dict.fromkeys(_CODE_IDENT.findall(" ".join([entry.text, *entry.children]))))
            if idents:
                component["interfaces"] = ", ".join(idents[:6])
            found.append(component)
    return _with_uses(found[:MAX_COMPONENTS], interfaces)


def _name_and_rest(text: str) -> tuple[str, str]:
    """'CLI Command (`loop.command.ts`) - Thin presentation layer' -> its name, and what it does."""
    match = re.match(r"^(.*?)(?:\s[-–—]\s|:\s+|:$)(.*)$", text)
    if match is None:
        return text.strip(), ""
    return match.group(1).strip(), match.group(2).strip()


def _with_uses(components: list[dict[str, str]], interfaces: list[str]) -> list[dict[str, str]]:
    """A component whose duties name another component, or one of the PRD's interfaces, uses it."""
    names = [c["name"] for c in components] + [i.split(": ", 1)[0] for i in interfaces]
    for component in components:
        duties = content_words(component["responsibility"])
        uses = [
            n
            for n in dict.fromkeys(names)
            if n != component["name"] and len(content_words(n)) >= 2 and content_words(n) <= duties
        ]
        if uses:
            component["uses"] = ", ".join(uses[:6])
    return components


def _data_flow(prd: Prd) -> list[str]:
    flow: list[str] = []
    for _, body in _sections(prd, _FLOW_SECTIONS):
        steps = [e.text for e in list_items(body)]
        if not steps:
            # A flow given as pseudocode: its comments are the steps.
            steps = [
                c.strip()
                for code in _CODE_FENCE.findall(body)
                for c in re.findall(r"^\s*(?://|#)\s*(.+)$", code, re.MULTILINE)
                if len(c.split()) >= 3 and not c.lower().startswith("pseudocode")
            ]
        flow.extend(_plain(s) for s in steps)
    return list(dict.fromkeys(flow))[:MAX_FLOW]


def _interfaces(prd: Prd, own: set[str]) -> list[str]:
    found: list[str] = []
    for path, body in _sections(prd, _INTERFACE_SECTIONS):
        if path in own or re.search(r"\btest|risk|dependenc|roadmap|phase|layer", path, re.IGNORECASE):
            continue
        for entry in list_items(body):
            what = "; ".join(entry.children)
            found.append(_plain(f"{entry.text}: {what}" if what else entry.text)[:200])
        found.extend(_table_rows(body))
    return list(dict.fromkeys(found))[:MAX_LIST]


def _table_rows(body: str) -> list[str]:
    """'| `--sleep` | number | 5 | Seconds to sleep between iterations |' -> '`--sleep`: Seconds to sleep …'."""
    rows = []
    for line in body.split("\n"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|") or len(cells) < 2 or set("".join(cells)) <= set("-: "):
            continue
        rows.append(f"{cells[0]}: {cells[-1]}")
    return rows[1:]  # the first row is the header


def _stated_risks(prd: Prd) -> list[str]:
    risks = [_plain(m) for _, body in _sections(prd, r"risk") for m in re.findall(r"\*\*Risk\*\*:\s*(.+)", body)]
    if not risks:
        risks = [_plain(e.text) for _, body in _sections(prd, r"risk") for e in list_items(body)]
    return risks


def _requirement_lines(prd: Prd) -> Iterable[tuple[str, str]]:
    for req in prd.requirements:
        yield req.id, req.text
        for criterion in req.acceptance_criteria:
            yield req.id, criterion


def _ambiguities(prd: Prd) -> Iterable[str]:
    """What a reviewer would ask about before estimating: each names the requirement it is in."""
    for rid, text in _requirement_lines(prd):
        snippet = _plain(text)[:100]
        if _TBD.search(text):
            yield f"{rid} is not decided yet (\u201c{snippet}\u201d): decide it before the work starts."
        elif _SHOULD.search(text):
            yield f"{rid} says \u201cshould\u201d (\u201c{snippet}\u201d): is it required, or nice to have?"
        bare = _BARE_LIMIT.search(text)
        if bare:
            yield f"{rid} gives the limit {bare.group(1)} without a unit (\u201c{snippet}\u201d): {bare.group(1)} what?"
        threshold = _UNSTATED_THRESHOLD.search(text)
        if threshold:
            yield f"{rid} refers to a {threshold.group(1)} it never states (\u201c{snippet}\u201d): what value?"
    yield from _conflicts(prd)
    own = {r.section for r in prd.requirements}
    for path, body in prd.sections.items():
        if path in own:
            continue
        for line in body.split("\n"):
            # In a table, the cell that says it; elsewhere the line.
            said = next((c for c in line.split("|") if _UNSTATED_THRESHOLD.search(c)), None)
            if said is not None:
                yield f"{path.split(' > ')[-1]}: \u201c{_plain(said.strip('- '))[:100]}\u201d names no value."
                break


_MODAL = re.compile(r"\b(?:must|shall|will|should)(\s+not|n't)?\s+(.+)", re.IGNORECASE)


def _conflicts(prd: Prd) -> Iterable[str]:
    """Two requirements that say the same thing, one with "must" and one with "must not"."""
    said: dict[tuple[frozenset[str], bool], Requirement] = {}
    for req in prd.requirements:
        match = _MODAL.search(req.text)
        if match is None:
            continue
        what, negated = content_words(match.group(2)), bool(match.group(1))
        if len(what) < 2:
            continue
        other = said.get((what, not negated))
        if other is not None:
            yes, no = (other, req) if negated else (req, other)
            yield (
                f"{other.id} and {req.id} contradict each other (\u201c{_plain(yes.text)[:80]}\u201d / "
                f"\u201c{_plain(no.text)[:80]}\u201d): which one holds?"
            )
        said.setdefault((what, negated), req)


def _questions(prd: Prd) -> list[str]:
    return [
        line.strip("-* ").strip()
        for body in prd.sections.values()
        for line in body.split("\n")
        if line.strip().endswith("?") and len(line.strip()) > 10
    ][:6]
