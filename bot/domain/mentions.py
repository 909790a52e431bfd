"""Keep quoted text from notifying anyone on GitHub.

A PRD, a plan and a requester's name are copied into issue bodies; on GitHub `@name` and
`@org/team` in a body notify that user or team, and `#123` / `owner/repo#123` leave a
"mentioned this" link on another issue. PASS writes as its own account, so any of those
would be PASS pinging strangers on the PRD author's behalf.

Each gets a zero-width space after its `@` or `#`: it reads the same, and GitHub only links a
login or number that follows the sign directly. The character is invisible in inline code
too, so spans are not told apart (finding them exactly needs the whole block structure: a
backtick left open by hostile text must not hide a live mention). Code blocks, which GitHub
never links and people copy from, are found with a CommonMark parser and left as written.

Pure functions.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

ZERO_WIDTH_SPACE = "\u200b"

# GitHub logins: alphanumerics and hyphens, up to 39 characters; a team follows a "/".
# Not after a word character: an e-mail address is no mention.
_MENTION = re.compile(r"(?<!\w)@(?=[A-Za-z0-9])")
# "#123", and "owner/repo#123" (a cross-repository reference); not "&#123;", "page#3" or a
# URL's fragment ("x.com/a#12", which GitHub links as the URL it is).
_REFERENCE = re.compile(r"(?<![\w&/#.:-])((?:[\w.-]+/[\w.-]+)?#)(?=\d)")
_CODE_BLOCKS = {"fence", "code_block"}
_PARSER = MarkdownIt("commonmark")


def quiet_everywhere(text: str) -> str:
    """`text` with every mention and reference made inert, code or not.

    For text set inside a line PASS writes (a list item, a title in bold): there a code block
    of its own would not be one, so nothing in it is spared.
    """
    text = _MENTION.sub("@" + ZERO_WIDTH_SPACE, text)
    return _REFERENCE.sub(lambda m: m.group(1) + ZERO_WIDTH_SPACE, text)


def _code_lines(text: str) -> set[int]:
    """The numbers of the lines that belong to a fenced or indented code block."""
    lines: set[int] = set()
    for token in _PARSER.parse(text):
        if token.type in _CODE_BLOCKS and token.map is not None:
            lines.update(range(*token.map))
    return lines


def quiet_mentions(text: str) -> str:
    """`text` with every GitHub mention and issue reference outside code blocks made inert.

    For text that starts a block of its own (after a blank line): its code blocks are the
    same in the issue as on their own.
    """
    if "@" not in text and "#" not in text:
        return text
    # Lines counted as the parser counts them: a stray "\r" or "\u2028" must not shift a
    # mention onto a line the parser saw as code.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    code = _code_lines(text)
    lines = text.split("\n")
    return "\n".join(line if number in code else quiet_everywhere(line) for number, line in enumerate(lines))
