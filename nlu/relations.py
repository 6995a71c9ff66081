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
_WORDS: dict[str, tuple[str, str]] = {w: (std, "elder") for std, ws in _ELDER.items() for w in ws}
_WORDS.update({w: (std, "younger") for std, ws in _YOUNGER.items() for w in ws})
_RE = re.compile("|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)))
# "外孙女" is its own word; "外孙" keeps the standard word 外孙 for both
_WORDS["外孙女"] = ("外孙女", "younger")


@dataclass(frozen=True)
class Relation:
    start: int
    end: int
    value: str
    role: str  # elder (the person is helped) | younger (the person helps)


def find(text: str, taken: bytearray | None = None) -> list[Relation]:
    """Relation words in `text` not already taken by another entity, left to right."""
    out: list[Relation] = []
    for m in _RE.finditer(text):
        if taken is not None and any(taken[m.start() : m.end()]):
            continue
        value, role = _WORDS[m.group(0)]
        out.append(Relation(m.start(), m.end(), value, role))
        if taken is not None:
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    return out
