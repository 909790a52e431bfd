"""PRD intake: bytes in, a typed `Prd` out, or a `PrdRejected` that says why.

Handles the formats seen in real PRDs: Task Master files (`<context>`/`<PRD>` tags), spec-kit
specs (`FR-001`, `SC-001`, "User Story 1 - …" with Given/When/Then), and loose markdown or
plain text (goals, user stories, numbered features). Requirement ids are the PRD's own where it
has them; otherwise they are derived from the document's structure (`R<section>.<item>`), so the
same PRD always yields the same ids.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from bot.domain.confidential import CONFIDENTIAL as _CONFIDENTIAL
from bot.domain.models import Prd, Requirement
from bot.errors import PrdRejected

DEFAULT_MAX_PRD_BYTES = 200_000

_EXPLICIT_ID = re.compile(r"\b((?:FR|NFR|US|REQ|SC|UR|SR|BR|AC|R)-\d{1,4}[a-z]?)\b")
_USER_STORY_HEADING = re.compile(r"^user story\s+(\d+)\b\s*[-–—:]?\s*(.*)$", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
_PLACEHOLDER = re.compile(r"\[[^\]]{3,}\]?|\[[^\]]*$")
_TAG = re.compile(r"</?\s*(?:context|prd)\s*>", re.IGNORECASE)
_GWT = re.compile(r"\*{0,2}(given|when|then)\*{0,2}\b", re.IGNORECASE)

# Sections whose list items are requirements when the PRD has no ids of its own.
_REQUIREMENT_SECTIONS = re.compile(
    r"feature|requirement|goal|user stor|roadmap|mvp|scope|capabilit|functional|phase|"
    r"success criteria|acceptance|deliverable|must have|milestone",
    re.IGNORECASE,
)
# Sections that never hold requirements, even if the words above appear in them.
_NON_REQUIREMENT_SECTIONS = re.compile(
    # "v2" only as a section about a later version ("V2 features", "Later (v2)"), never a product's
    # own version in the document title ("Billing Service v2" held no requirements at all).
    r"non-goal|out of scope|not in scope|risk|appendix|reference|future|^\s*v2\b|\(v2\)|background|problem|"
    r"glossary|open question|assumption|test strateg|testing strateg|metric|dependency chain",
    re.IGNORECASE,
)


@dataclass
class Section:
    number: int
    level: int
    title: str
    lines: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)

    @property
    def body(self) -> str:
        return "\n".join(self.lines).strip()

    @property
    def path(self) -> str:
        return " > ".join([*self.parents, self.title]) if self.title else ""


def decode_prd(raw: bytes, *, max_bytes: int = DEFAULT_MAX_PRD_BYTES) -> str:
    """Bytes to text, refusing what cannot be a PRD. The message is shown to the user."""
    if len(raw) > max_bytes:
        raise PrdRejected(
            f"PRD is {len(raw):,} bytes; max_prd_bytes in policies/limits.yml allows {max_bytes:,}. "
            "Raise max_prd_bytes there, or send the part to plan."
        )
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise PrdRejected("PRD is UTF-16 text, not UTF-8: save it as UTF-8 and send it again.")
    if b"\x00" in raw[:8192]:
        raise PrdRejected("PRD looks binary (it contains NUL bytes); send markdown or plain text.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PrdRejected(
            f"PRD is not UTF-8 text (bad byte at offset {exc.start}); send markdown or plain text."
        ) from exc
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 16:
        raise PrdRejected("PRD looks binary (many control characters); send markdown or plain text.")
    if not text.strip():
        raise PrdRejected("PRD is empty: send the product requirements as markdown or plain text.")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_prd(raw: bytes | str, *, max_bytes: int = DEFAULT_MAX_PRD_BYTES) -> Prd:
    text = decode_prd(raw if isinstance(raw, bytes) else raw.encode(), max_bytes=max_bytes)
    sha = hashlib.sha256(text.encode()).hexdigest()
    sections = _split_sections(_TAG.sub("", text))
    is_template = _looks_like_template(sections)
    title = "Untitled PRD (only a template)" if is_template else _title(sections, text)
    requirements = [] if is_template else _requirements(sections)
    fmt = "taskmaster" if _TAG.search(text) else ("spec-kit" if re.search(r"\bFR-\d{3}\b", text) else "markdown")
    return Prd(
        sha256=sha,
        title=title,
        requirements=requirements,
        text=text,
        format=fmt,
        sections={s.path or "(intro)": s.body for s in sections if s.body},
        is_template=is_template,
    )


def _split_sections(text: str) -> list[Section]:
    """Headings split the text; headings inside fenced code blocks are content, not structure."""
    sections = [Section(number=0, level=0, title="")]
    stack: list[Section] = []
    in_fence = False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            sections[-1].lines.append(line)
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            while stack and stack[-1].level >= level:
                stack.pop()
            section = Section(
                number=len(sections),
                level=level,
                title=_clean(heading.group(2)),
                parents=[s.title for s in stack],
            )
            sections.append(section)
            stack.append(section)
        else:
            sections[-1].lines.append(line)
    return sections


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<!\w)\*(.+?)\*(?!\w)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:mdc:)?[^)]*\)")
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    if "*" in text:
        text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))
    if "](" in text:
        text = _LINK.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


_GENERIC_TITLES = re.compile(r"^(overview|introduction|context|summary|background|about)$", re.IGNORECASE)


def _title(sections: list[Section], text: str) -> str:
    for section in sections:
        if section.level == 1 and section.title:
            if _GENERIC_TITLES.match(section.title):
                # Task Master files open with "# Overview": its first sentence names the product.
                sentence = re.split(r"(?<=[.!?])\s", _first_paragraph(section.lines), maxsplit=1)[0]
                if sentence and not sentence.startswith("["):
                    return sentence[:120].rstrip(".")
            return section.title[:200]
    for section in sections:
        if section.title:
            return section.title[:200]
    first = next((ln.strip() for ln in text.split("\n") if ln.strip() and not _TAG.fullmatch(ln.strip())), "PRD")
    return _clean(first.lstrip("#"))[:200]


def _content_words(section: Section) -> int:
    words = 0
    in_fence = False
    for line in section.lines:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        stripped = _PLACEHOLDER.sub("", line)
        # Lines inside an open placeholder bracket (multi-line "[List ...\n- What it does]") are template text.
        words += len(re.findall(r"[A-Za-z]{2,}", stripped))
    return words


def _looks_like_template(sections: list[Section]) -> bool:
    """A template: every section is a placeholder in brackets; no real content anywhere."""
    body = "\n".join("\n".join(s.lines) for s in sections)
    placeholders = re.findall(r"\[[^\]]*\]", body, flags=re.DOTALL)
    placeholder_words = sum(len(re.findall(r"[A-Za-z]{2,}", p)) for p in placeholders)
    remaining = re.sub(r"\[[^\]]*\]", "", body, flags=re.DOTALL)
    real_words = len(re.findall(r"[A-Za-z]{2,}", remaining))
    if placeholders and real_words <= max(10, placeholder_words // 10):
        return True
    # No placeholders but also no prose: only headings.
    return real_words == 0 and sum(1 for s in sections if s.title) > 0 and not any(_content_words(s) for s in sections)


# --- requirements -----------------------------------------------------------------------------


@dataclass
class ListItem:
    text: str
    children: list[str]
    line_no: int


def _list_items(lines: list[str]) -> list[ListItem]:
    """Top-level list items of a block with their nested bullets (code fences skipped)."""
    items: list[ListItem] = []
    base_indent: int | None = None
    in_fence = False
    for no, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = _LIST_ITEM.match(line)
        if not match:
            if items and line.strip() and line.startswith((" ", "\t")) and not items[-1].children:
                items[-1].text += " " + line.strip()
            continue
        indent = len(match.group(1).expandtabs(4))
        if base_indent is None or indent < base_indent:
            base_indent = indent
        if indent == base_indent:
            items.append(ListItem(_clean(match.group(2)), [], no))
        elif items:
            items[-1].children.append(_clean(match.group(2)))
    return [i for i in items if i.text]


@lru_cache(maxsize=1024)
def _list_items_of(body: str) -> tuple[ListItem, ...]:
    return tuple(_list_items(body.split("\n")))


def list_items(body: str) -> list[ListItem]:
    """The top-level list items of a section's body, each with its nested bullets (copies: callers may edit)."""
    return [ListItem(i.text, list(i.children), i.line_no) for i in _list_items_of(body)]


def _acceptance_from_lines(lines: list[str]) -> list[str]:
    """Given/When/Then scenarios and bullets under an 'Acceptance' label."""
    criteria: list[str] = []
    in_acceptance = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if re.match(r"^\**acceptance (criteria|scenarios?)\**:?", stripped, re.IGNORECASE):
            in_acceptance = True
            continue
        item = _LIST_ITEM.match(line)
        text = _clean(item.group(2)) if item else _clean(stripped)
        if (
            _GWT.match(text)
            or re.search(r"\bgiven\b.*\bwhen\b.*\bthen\b", text, re.IGNORECASE)
            or (in_acceptance and item)
        ):
            criteria.append(text)
        elif in_acceptance and not item:
            in_acceptance = False
    return criteria


def _first_paragraph(lines: list[str]) -> str:
    para: list[str] = []
    for line in lines:
        if not line.strip():
            if para:
                break
            continue
        if _LIST_ITEM.match(line) or line.lstrip().startswith(("```", "|")):
            if para:
                break
            continue
        para.append(line.strip())
    return _clean(" ".join(para))


def _requirements(sections: list[Section]) -> list[Requirement]:
    explicit = _explicit_requirements(sections)
    if explicit:
        return explicit
    return _structural_requirements(sections)


def _explicit_requirements(sections: list[Section]) -> list[Requirement]:
    found: dict[str, Requirement] = {}
    for section in sections:
        confidential = bool(_CONFIDENTIAL.search(section.path))
        heading_id = _EXPLICIT_ID.match(section.title)
        story = _USER_STORY_HEADING.match(section.title)
        if heading_id or story:
            if heading_id:
                rid = heading_id.group(1)
                name = _clean(section.title[heading_id.end() :].lstrip(" :-–—"))
            else:
                assert story is not None
                rid = f"US-{story.group(1)}"
                name = re.sub(r"\(priority:[^)]*\)", "", story.group(2), flags=re.IGNORECASE).strip()
            paragraph = _first_paragraph(section.lines)
            text = f"{name}: {paragraph}" if name and paragraph else (name or paragraph or section.title)
            found.setdefault(
                rid,
                Requirement(
                    id=rid,
                    text=text,
                    acceptance_criteria=_acceptance_from_lines(section.lines),
                    section=section.path,
                    explicit_id=True,
                    confidential=confidential,
                ),
            )
        # Definitions inside lists or lines: "- **FR-001**: System MUST …", "FR-002: …"
        for line in section.lines:
            item = _LIST_ITEM.match(line)
            candidate = _clean(item.group(2) if item else line.strip())
            match = re.match(
                r"^\**\s*((?:FR|NFR|US|REQ|SC|UR|SR|BR)-\d{1,4}[a-z]?)\s*\**\s*[:.)\-–—]\s*(.+)$", candidate
            )
            if match and match.group(1) not in found:
                found[match.group(1)] = Requirement(
                    id=match.group(1),
                    text=_clean(match.group(2)),
                    section=section.path,
                    explicit_id=True,
                    confidential=confidential,
                )
    return list(found.values())


def _is_requirement_section(section: Section) -> bool:
    path = section.path
    if _NON_REQUIREMENT_SECTIONS.search(section.title) or any(
        _NON_REQUIREMENT_SECTIONS.search(p) for p in section.parents
    ):
        return False
    return bool(_REQUIREMENT_SECTIONS.search(path))


def _structural_requirements(sections: list[Section]) -> list[Requirement]:
    chosen = [s for s in sections if _is_requirement_section(s) and _list_items(s.lines)]
    if not chosen:
        chosen = [
            s
            for s in sections
            if _list_items(s.lines)
            and not _NON_REQUIREMENT_SECTIONS.search(s.path)
            and not re.search(r"architecture|data model|api|infrastructure", s.path, re.IGNORECASE)
        ]
    requirements: list[Requirement] = []
    for section in chosen:
        for n, item in enumerate(_list_items(section.lines), start=1):
            criteria = [c for c in item.children if c]
            requirements.append(
                Requirement(
                    id=f"R{section.number}.{n}",
                    text=item.text,
                    acceptance_criteria=criteria,
                    section=section.path,
                    confidential=bool(_CONFIDENTIAL.search(section.path)),
                )
            )
    if requirements:
        return requirements
    # Prose only: each section with content is one requirement.
    for section in sections:
        paragraph = _first_paragraph(section.lines)
        if paragraph and not _NON_REQUIREMENT_SECTIONS.search(section.path):
            text = f"{section.title}: {paragraph}" if section.title else paragraph
            requirements.append(
                Requirement(
                    id=f"R{section.number}",
                    text=text[:1000],
                    section=section.path,
                    confidential=bool(_CONFIDENTIAL.search(section.path)),
                )
            )
    return requirements
