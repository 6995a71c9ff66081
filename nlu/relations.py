"""Family relations in plain words (我妈, 老妈, 母亲, 我爸, 老爷子, 我儿子, 闺女): who a family helper acts for,
or whom a parent wants as a helper. Entity `relation`, value the standard word, role `elder` or `younger`."""

from __future__ import annotations

import re
from dataclasses import dataclass

# standard word → the ways people say it (a bare 妈/爸 only after 我/俺/咱, where it cannot be 妈祖 or 爸爸们)
_ELDER: dict[str, tuple[str, ...]] = {
    "母亲": ("母亲", "妈妈", "老妈", "老娘", "我娘", "俺娘", "老母亲", "我妈", "俺妈", "咱妈", "老太太"),
    "父亲": ("父亲", "爸爸", "老爸", "老爹", "我爹", "俺爹", "老父亲", "我爸", "俺爸", "咱爸", "老爷子"),
    "婆婆": ("婆婆",),
    "公公": ("公公",),
    "岳母": ("岳母", "丈母娘"),
    "岳父": ("岳父", "老丈人", "丈人"),
    "奶奶": ("奶奶",),
    "爷爷": ("爷爷",),
    "姥姥": ("姥姥", "外婆"),
    "姥爷": ("姥爷", "外公"),
}
_YOUNGER: dict[str, tuple[str, ...]] = {
    "儿子": ("儿子", "小子", "俺儿", "我儿"),
    "女儿": ("女儿", "闺女", "姑娘"),
    "儿媳": ("儿媳妇", "儿媳"),
    "女婿": ("女婿",),
    "孙子": ("孙子",),
    "孙女": ("孙女",),
    "外孙": ("外孙女", "外孙"),
    "孩子": ("孩子", "娃", "小孩"),
    "家人": ("家人", "家里人", "亲人"),
}
_WOMEN = frozenset({"母亲", "婆婆", "岳母", "奶奶", "姥姥", "女儿", "儿媳", "孙女", "外孙女"})
_MEN = frozenset({"父亲", "公公", "岳父", "爷爷", "姥爷", "儿子", "女婿", "孙子"})


def gender(value: str) -> str | None:
    """女 or 男 for a standard relation word (母亲 → 女), None when it says nothing (家人, 孩子)."""
    return "女" if value in _WOMEN else "男" if value in _MEN else None


_WORDS: dict[str, tuple[str, str]] = {w: (std, "elder") for std, ws in _ELDER.items() for w in ws}
_WORDS.update({w: (std, "younger") for std, ws in _YOUNGER.items() for w in ws})
_RE = re.compile("|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)))
# "外孙女" is its own word; "外孙" keeps the standard word 外孙 for both
_WORDS["外孙女"] = ("外孙女", "younger")


# 带我妈, 和我爸, 我妈也去, 我爸一起: the person comes along, nobody acts for them
_ALONG_BEFORE = re.compile(r"(?:带|和|跟|陪|同|领|叫上|带上|领着|带着)$")
# (都 asking about the person is not coming along: 我妈都报了啥, 我爸都有哪些活动)
# (也帮, 也替 is helping too: 让我闺女也帮我 asks for a second helper)
_ALONG_AFTER = re.compile(r"^(?:也(?!帮|替|给我|管)|一起|一块|一同|都(?![^，。,.；;]*?(?:啥|什么|哪|几|多少)))")
# 老爷子 and 老太太 alone are old people in general (助老); with 我家, 俺, 咱 they are one's parents
_OWNED = re.compile(r"(?:我们家|我家|俺家|咱家|我|俺|咱)$")
AMBIGUOUS = frozenset({"老爷子", "老太太"})


@dataclass(frozen=True)
class Relation:
    start: int
    end: int
    value: str
    role: str  # elder (the person is helped) | younger (the person helps)


def find(text: str, taken: bytearray | None = None, owned_only: bool = False, strict: bool = False) -> list[Relation]:
    """Relation words in `text` not already taken by another entity, left to right. `owned_only`: only
    老爷子/老太太 right after 我家, 俺, 咱 (run before the kinds of work, which read them as old people);
    `strict`: those two only with such an owner, among the other words (text read without the pipeline)."""
    out: list[Relation] = []
    for m in _RE.finditer(text):
        word = m.group(0)
        if taken is not None and any(taken[m.start() : m.end()]):
            continue
        if owned_only and word not in AMBIGUOUS:
            continue
        if (owned_only or strict) and word in AMBIGUOUS and not _OWNED.search(text[: m.start()]):
            continue
        if _ALONG_BEFORE.search(text[max(0, m.start() - 3) : m.start()].removesuffix("我").removesuffix("俺")) \
                or _ALONG_AFTER.match(text[m.end() :]):
            continue
        value, role = _WORDS[word]
        out.append(Relation(m.start(), m.end(), value, role))
        if taken is not None:
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    return out
