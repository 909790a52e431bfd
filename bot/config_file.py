"""Load a YAML policy file into a pydantic model, with errors that name the file and line.

An invalid policy must stop the bot at start with something a person can fix in one go:
`policies/commands.yml:14: commands.allow[2].programs: Field required`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


class PolicyFileError(ConfigError):
    def __init__(self, file: Path, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


def _line_map(node: yaml.Node, loc: Loc, lines: dict[Loc, int], file: Path) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise PolicyFileError(file, key_node.start_mark.line + 1, f"duplicate key '{key}'")
            seen.add(key)
            _line_map(value_node, (*loc, key), lines, file)
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*loc, index), lines, file)


def _nearest_line(lines: dict[Loc, int], loc: Loc) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def load_yaml_model(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(path, 0, f"cannot read policy file: {exc.__class__.__name__}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise PolicyFileError(path, line, f"not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise PolicyFileError(path, 1, f"not valid YAML: {exc}") from exc
    if node is None or data is None:
        raise PolicyFileError(path, 1, "the file is empty")
    lines: dict[Loc, int] = {}
    _line_map(node, (), lines, path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        where = ".".join(str(part) for part in loc) or "(top level)"
        raise PolicyFileError(path, _nearest_line(lines, loc), f"{where}: {first['msg']}") from None
