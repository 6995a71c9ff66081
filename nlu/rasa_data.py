"""Read Rasa 3 NLU training files: intents with annotated entities, synonyms and lookup tables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is 10× faster when present
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True, slots=True)
class Annotation:
    """An annotated entity of a training example: [start, end) in the plain text."""

    entity: str
    start: int
    end: int
    text: str
    value: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """One training or test message with its intent and entities."""

    text: str
    intent: str
    entities: tuple[Annotation, ...] = ()


@dataclass
class TrainingData:
    """Everything of a set of Rasa NLU files."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        """Intent names in order of first appearance."""
        return list(dict.fromkeys(e.intent for e in self.examples))


def parse_example(line: str, intent: str) -> Example:
    """Turn ``明天[阳光社区](place)有啥`` into plain text plus annotations."""
    plain: list[str] = []
    entities: list[Annotation] = []
    pos = 0
    length = 0
    for m in _ANNOTATION.finditer(line):
        before = line[pos : m.start()]
        plain.append(before)
        length += len(before)
        text = m.group("text")
        value: str | None = None
        role: str | None = None
        if m.group("json"):
            spec: dict[str, Any] = json.loads(m.group("json"))
            entity = str(spec["entity"])
            value = spec.get("value")
            role = spec.get("role")
        else:
            entity, _, short_value = m.group("short").partition(":")
            value = short_value or None
        entities.append(Annotation(entity, length, length + len(text), text, value, role))
        plain.append(text)
        length += len(text)
        pos = m.end()
    plain.append(line[pos:])
    return Example("".join(plain), intent, tuple(entities))


def _items(block: str | list[str] | None) -> list[str]:
    if block is None:
        return []
    if isinstance(block, list):
        return [str(x).strip() for x in block]
    out = []
    for raw in block.splitlines():
        raw = raw.strip()
        if raw.startswith("- "):
            out.append(raw[2:].strip())
        elif raw == "-":
            continue
    return out


def load(paths: Iterable[Path]) -> TrainingData:
    """Load Rasa NLU yml files (a folder means every ``*.yml`` in it)."""
    data = TrainingData()
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yml")) if path.is_dir() else [path])
    for file in files:
        doc = yaml.load(file.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for item in doc.get("nlu") or []:
            if "intent" in item:
                data.examples.extend(parse_example(x, str(item["intent"])) for x in _items(item.get("examples")))
            elif "synonym" in item:
                data.synonyms.setdefault(str(item["synonym"]), []).extend(_items(item.get("examples")))
            elif "lookup" in item:
                data.lookups.setdefault(str(item["lookup"]), []).extend(_items(item.get("examples")))
    return data
