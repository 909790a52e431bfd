"""Which unit of work is blocked by which, and why, from what the PRD actually says.

An edge needs evidence, and carries it as a one-line reason:

- the PRD says so: "depends on X", "requires X", "after X", "built on top of X", in a
  requirement or in a list item that names one (a "Logical Dependency Chain" section);
- an item uses something another item introduces: its name ("Task Data Structure") or what it
  creates ("Design and implement the tasks.json structure");
- in a numbered roadmap, a step uses an earlier step's named output ("Build prompt …" then
  "Execute `claude \"prompt\"`").

Edges that would close a cycle are not added, and edges implied by others are dropped
(transitive reduction), so what is left is the smallest set that keeps every stated order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import networkx as nx

from bot.domain.models import Prd
from bot.planner.grouping import WorkUnit
from bot.planner.prd import list_items
from bot.planner.words import INTRODUCING_VERBS, STOPWORDS, acronym, content_words, short_head, stem, words

_STATED = re.compile(
    r"\b(depends on|depend on|dependent on|relies on|requires|needs|built on top of|builds? on|on top of|"
    r"blocked by|after)\s+(?P<what>[^.;:()\n]+)",
    re.IGNORECASE,
)
_MENTION_SPLIT = re.compile(r",|\band\b|\bor\b|&|\bas well as\b|\bplus\b", re.IGNORECASE)
_ORDERED_SECTION = re.compile(r"roadmap|phase|mvp|step|milestone|execution flow", re.IGNORECASE)
_IDENTIFIER = re.compile(r"`([^`\s][^`]{0,60})`|\b([\w\-]+\.(?:json|ya?ml|txt|md|ts|js|py|toml|csv))\b")
_PHRASE_END = frozenset({"with", "from", "for", "to", "in", "on", "by", "via", "that", "which", "and", "or", "as"})
_MAX_QUOTE = 90
# Words before a named item that are not part of its name ("both task data structure and CLI").
_LEADING = frozenset({"both", "the", "a", "an", "all", "most", "its", "their", "this", "that", "these"})


@dataclass(frozen=True)
class Edge:
    dep: int
    item: int
    reason: str


def find_dependencies(prd: Prd, units: list[WorkUnit]) -> dict[int, dict[int, str]]:
    """unit index -> {index of a unit it is blocked by: the reason}, minimal and acyclic."""
    graph: nx.DiGraph[int] = nx.DiGraph()
    graph.add_nodes_from(range(len(units)))
    reasons: dict[tuple[int, int], str] = {}
    for edge in _evidence(prd, units):
        if edge.dep == edge.item or graph.has_edge(edge.dep, edge.item):
            continue
        if nx.has_path(graph, edge.item, edge.dep):
            continue  # it would close a cycle: the earlier (stronger) evidence stands
        graph.add_edge(edge.dep, edge.item)
        reasons[(edge.dep, edge.item)] = edge.reason
    reduced = nx.transitive_reduction(graph)
    found: dict[int, dict[int, str]] = {}
    for dep, item in sorted(reduced.edges):
        found.setdefault(item, {})[dep] = reasons[(dep, item)]
    return found


def _evidence(prd: Prd, units: list[WorkUnit]) -> Iterator[Edge]:
    """Strongest first: what the PRD states, then what items use of each other, then step order."""
    names = _Names(units)
    yield from _stated_in_units(units, names)
    yield from _stated_in_sections(prd, units, names)
    yield from _uses_what_another_introduces(units)
    yield from _roadmap_outputs(units)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return f"\u201c{text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 1].rsplit(' ', 1)[0] + '…'}\u201d"


class _Names:
    """Resolves a mention ("Claude integration", "CLI") to the one unit whose name it shortens."""

    def __init__(self, units: list[WorkUnit]) -> None:
        self.entries: list[tuple[int, frozenset[str], str]] = []
        self.full: dict[int, list[str]] = {}
        for index, unit in enumerate(units):
            for name in unit.names:
                self.entries.append((index, content_words(name), acronym(name)))
                self.full.setdefault(index, []).extend(words(name))

    def resolve(self, mention: str) -> int | None:
        wanted = content_words(mention)
        if not wanted:
            return None
        exact = {i for i, name, _ in self.entries if name == wanted}
        if len(exact) == 1:
            return exact.pop()
        within = {i for i, name, _ in self.entries if name and wanted <= name}
        if len(within) == 1 and (len(wanted) >= 2 or len(self.entries) <= 1 or _distinctive(wanted, self.entries)):
            return within.pop()
        if len(within) > 1:
            # "basic operations": Basic Task Operations, not Batch Operations - the words the
            # shortening kept (stopwords included) decide, and only when one name wins.
            said = set(words(mention))
            scores = sorted(((len(said & set(self.full[i])), i) for i in within), reverse=True)
            if scores[0][0] > scores[1][0] and scores[0][0] >= 2:
                return scores[0][1]
        tokens = [w for w in re.findall(r"[A-Za-z]+", mention) if len(w) >= 2]
        if len(tokens) == 1 and tokens[0].isupper():
            acr = tokens[0].lower()
            hits = {i for i, _, a in self.entries if a.startswith(acr)}
            if len(hits) == 1:
                return hits.pop()
        return None

    def resolve_all(self, clause: str) -> list[tuple[int, str]]:
        """Each unit the clause names, with the words that named it ("task expansion")."""
        found: list[tuple[int, str]] = []
        for mention in _MENTION_SPLIT.split(clause):
            index = self.resolve(mention)
            if index is not None and all(index != i for i, _ in found):
                said = mention.split()
                while said and said[0].lower() in _LEADING:
                    said.pop(0)
                found.append((index, " ".join(said)))
        return found


def _distinctive(wanted: frozenset[str], entries: list[tuple[int, frozenset[str], str]]) -> bool:
    # A one-word mention names an item only when no other item's name has that word.
    return sum(1 for _, name, _ in entries if wanted <= name) == 1


def _stated_in_units(units: list[WorkUnit], names: _Names) -> Iterator[Edge]:
    for index, unit in enumerate(units):
        for line in unit.text.split("\n"):
            yield from _stated(index, line, names)


def _stated(index: int, line: str, names: _Names, where: str = "") -> Iterator[Edge]:
    source = f"the PRD\u2019s \u201c{where}\u201d says" if where else "the PRD says"
    for match in _STATED.finditer(line):
        for dep, mention in names.resolve_all(match.group("what")):
            yield Edge(dep, index, f"needs the {mention} ({source} {_quote(line)})")


def _stated_in_sections(prd: Prd, units: list[WorkUnit], names: _Names) -> Iterator[Edge]:
    """List items outside the requirements that name a unit and state what it needs."""
    own_sections = {r.section for u in units for r in u.requirements}
    for path, body in prd.sections.items():
        if path in own_sections:
            continue
        for entry in list_items(body):
            subject = names.resolve(short_head(entry.text, limit=200))
            if subject is None:
                continue
            for line in [entry.text, *entry.children]:
                yield from _stated(subject, line, names, where=path.split(" > ")[0])


def _introduced(unit: WorkUnit) -> Iterator[tuple[str, str]]:
    """(phrase, how it is introduced) for what this unit brings into existence."""
    for name in unit.names:
        if len(content_words(name)) >= 2:
            yield " ".join(words(name)), "defines"
    for line in unit.text.split("\n"):
        for verb, phrase in _created(line):
            if len([w for w in phrase if w not in STOPWORDS]) >= 2:
                yield " ".join(phrase), _third_person(verb)
        for ident in _identifiers(line):
            # Only as the verb's object: "implement generation from tasks.json" uses it, not creates it.
            made = re.search(rf"\b({_VERBS})\s+(?:the\s+|an?\s+)?`?{re.escape(ident)}", line, re.IGNORECASE)
            if made:
                yield " ".join(words(ident)), _third_person(made.group(1).lower())


_VERBS = "|".join(sorted(INTRODUCING_VERBS))
# A lookahead, so "Design and implement the X" finds "implement the X" after "Design and".
_CREATED = re.compile(rf"\b({_VERBS})\b(?=\s+(?:(?:the|a|an)\s+)?([^,.;:()\n]+))", re.IGNORECASE)


def _created(line: str) -> Iterator[tuple[str, list[str]]]:
    """'Design and implement the tasks.json structure' -> ('implement', ['tasks.json', 'structure'])."""
    for match in _CREATED.finditer(line):
        yield match.group(1).lower(), _phrase(words(match.group(2)))


def _phrase(tokens: Sequence[str]) -> list[str]:
    phrase: list[str] = []
    for token in tokens:
        if token in _PHRASE_END or token in INTRODUCING_VERBS or len(phrase) == 4:
            break
        if not phrase and token in STOPWORDS:
            continue
        phrase.append(token)
    while phrase and phrase[-1] in STOPWORDS:
        phrase.pop()
    return phrase


def _identifiers(line: str) -> list[str]:
    return [a or b for a, b in _IDENTIFIER.findall(line)]


def _third_person(verb: str) -> str:
    verb = stem(verb)
    return verb + ("es" if verb.endswith(("s", "sh", "ch")) else "s")


def _contains(haystack: Sequence[str], phrase: Sequence[str]) -> bool:
    wanted, n = tuple(phrase), len(phrase)
    return any(tuple(haystack[i : i + n]) == wanted for i in range(len(haystack) - n + 1))


def _uses_what_another_introduces(units: list[WorkUnit]) -> Iterator[Edge]:
    introducers: dict[str, list[tuple[int, str]]] = {}
    for index, unit in enumerate(units):
        for phrase, how in _introduced(unit):
            entries = introducers.setdefault(phrase, [])
            if all(i != index for i, _ in entries):
                entries.append((index, how))
    texts = [words(unit.text) for unit in units]
    vocab = [set(text) for text in texts]
    for phrase, entries in introducers.items():
        if len(entries) != 1:
            continue  # two items introduce it: which one a user means is a guess
        source, how = entries[0]
        target = phrase.split()
        for index in range(source + 1, len(units)):
            if vocab[index].issuperset(target) and _contains(texts[index], target):
                yield Edge(source, index, f"uses the {phrase} that it {how}")


def _roadmap_outputs(units: list[WorkUnit]) -> Iterator[Edge]:
    """A numbered step that uses the thing an earlier step of the same roadmap builds."""
    for index, unit in enumerate(units):
        if not _ORDERED_SECTION.search(unit.section):
            continue
        for earlier in range(index):
            other = units[earlier]
            if other.section != unit.section:
                continue
            for req in other.requirements:
                created = next(_created(req.text), None)
                if created is None or not req.text.lower().startswith(created[0]):
                    continue
                output = created[1][:1]
                if output and output[0] not in STOPWORDS and _contains(words(unit.text), output):
                    step = short_head(req.text, limit=60)
                    yield Edge(earlier, index, f"uses the {output[0]} of the earlier roadmap step {_quote(step)}")
