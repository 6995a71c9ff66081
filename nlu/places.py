"""Place and category vocabulary: gazetteer names and short forms, synonyms, relative words, unknown names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from nlu.lexicon import Lexicon, Term
from nlu.normalize import is_cjk

CATEGORIES = (
    "助老", "助残", "关爱儿童", "环境保护", "文明交通", "社区服务",
    "医疗健康", "文化教育", "赛会服务", "应急救援", "扶贫济困", "法律咨询",
)  # fmt: skip
#: Canonical values of relative place words (entity "place", role "relative").
RELATIVE = ("nearby", "home")

_LEVEL_RANK = {"prefecture": 0, "county": 1, "township": 2, "village": 3}
# Longest first: 社区 before 区.
SUFFIXES = ("社区", "小区", "街道", "嘎查", "苏木", "村", "镇", "乡", "旗", "县", "区", "盟", "市")
_SUFFIX_RANK = {"盟": 0, "市": 0, "旗": 1, "县": 1, "区": 1, "苏木": 2, "乡": 2, "镇": 2, "街道": 2,
                "嘎查": 3, "村": 3, "社区": 3, "小区": 3}  # fmt: skip
_SUFFIX_RE = re.compile("|".join(SUFFIXES))
# Characters that cannot be part of a place name when walking back from its suffix.
_STOP = frozenset(
    "的在去到我你他她们有啥吗呢了是跟从那这哪个里边要想看找报参加住俺咱给让离近附回来上下就也都还能可以"
    "一不没吧么嘛多远怎咋什问请帮谁几点号月日天周活动时候办次过对把被着自己家为说"
)
# Everyday words that end like a place but are not one.
_NOT_PLACES = frozenset(
    "超市 城市 菜市 门市 集市 夜市 股市 早市 花市 上市 市区 都市 地区 景区 园区 山区 城区 郊区 辖区 片区 老区 "
    "误区 专区 校区 营区 病区 老乡 家乡 故乡 城乡 下乡 回乡 同乡 城镇 乡镇 小镇 农村 乡村 山村 新村 渔村 "
    "社区 小区 街道 嘎查 苏木".split()
)


def suffix_rank(name: str) -> int:
    """Administrative level guessed from a name's suffix (0 = 盟/市 … 3 = 村/社区)."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return _SUFFIX_RANK[suffix]
    return 3


def short_form(name: str) -> str | None:
    """``赛罕区`` → ``赛罕``; None when nothing useful is left."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def read_places(path: Path) -> list[tuple[str, int]]:
    """Names and level ranks from the nested ``places.yaml`` tree (name / level / children)."""
    if not path.exists():
        return []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or []
    out: list[tuple[str, int]] = []

    def walk(nodes: Any) -> None:
        for node in nodes or []:
            if not isinstance(node, dict) or not node.get("name"):
                continue
            name = str(node["name"])
            out.append((name, _LEVEL_RANK.get(str(node.get("level", "")), suffix_rank(name))))
            walk(node.get("children"))

    walk(doc if isinstance(doc, list) else [doc])
    return out


def build_lexicon(
    pinyin: Mapping[str, tuple[str, ...]],
    tones: Mapping[str, str],
    places: Iterable[tuple[str, int]],
    synonyms: Mapping[str, Iterable[str]],
) -> Lexicon:
    """One lexicon for places, relative place words and categories.

    Args:
        pinyin: character → toneless readings.
        tones: character → most common reading with tone.
        places: gazetteer names with level ranks (lower = bigger area).
        synonyms: Rasa synonyms: canonical value → surface forms. A value in :data:`CATEGORIES` is a
            category, ``nearby``/``home`` are relative places, anything else is a place alias.
    """
    lex = Lexicon(pinyin, tones)
    place_list = list(places)
    for name, rank in place_list:
        lex.add(Term(name, name, "place", rank, sound=2 if len(name) >= 3 else 1))
    for name, rank in place_list:
        alias = short_form(name)
        if alias:
            lex.add(Term(alias, name, "place", rank + 10, sound=2 if len(alias) >= 3 else 0))
    for category in CATEGORIES:
        lex.add(Term(category, category, "category", 0, sound=2))
    for value, surfaces in synonyms.items():
        if value in CATEGORIES:
            for s in surfaces:
                lex.add(Term(s, value, "category", 1, sound=2 if len(s) >= 3 else 1))
        elif value in RELATIVE:
            for s in surfaces:
                lex.add(Term(s, value, "relative", 0, sound=0))
        else:
            for s in surfaces:
                lex.add(Term(s, value, "place", 5, sound=0))
    return lex


def unknown_places(text: str, taken: bytearray) -> list[tuple[int, int, str]]:
    """Names not in the gazetteer, recognised by their suffix (幸福小区, 王家营子村)."""
    found: list[tuple[int, int, str]] = []
    for m in _SUFFIX_RE.finditer(text):
        s, e = m.start(), m.end()
        if any(taken[s:e]):
            continue
        start = s
        while start > 0 and s - start < 6:
            ch = text[start - 1]
            if taken[start - 1] or ch in _STOP or not is_cjk(ch):
                break
            start -= 1
        min_len = 1 if m.group(0) in ("村", "社区", "小区", "街道", "嘎查", "苏木") else 2
        name = text[start:e]
        if s - start < min_len or name in _NOT_PLACES or (e - s == 1 and name[-2:] in _NOT_PLACES):
            continue
        found.append((start, e, name))
        taken[start:e] = b"\x01" * (e - start)
    return found
