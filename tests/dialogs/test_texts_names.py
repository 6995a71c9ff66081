"""Every text in dialogs/texts.py has one name: a second assignment silently replaces the first (it once
turned the onboarding's 'unknown place' text into the search's, and the name the onboarding used vanished)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import dialogs
from dialogs import texts

ROOT = Path(dialogs.__file__).parent


def test_no_text_is_assigned_twice() -> None:
    tree = ast.parse((ROOT / "texts.py").read_text(encoding="utf-8"))
    names = Counter(t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name))
    assert [n for n, k in names.items() if k > 1] == []


def test_every_text_the_dialogs_use_exists() -> None:
    used = set()
    for path in ROOT.rglob("*.py"):
        used |= set(re.findall(r"\bT\.([A-Z][A-Z0-9_]+)\b", path.read_text(encoding="utf-8")))
    assert sorted(n for n in used if not hasattr(texts, n)) == []
