"""Reading profile answers the NLU does not model: free times and physical limits, from plain words."""

from __future__ import annotations

import re

_DAY = "一二三四五六日天"
_DAY_TOKEN = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天])(?:\s*(?:到|至|-|~)\s*(?:周|星期|礼拜)?([一二三四五六日天]))?")
_ALL_DAYS = list(range(7))
_GROUPS = (
    (re.compile(r"周末|礼拜六礼拜天|星期六星期天|双休"), [5, 6]),
    (re.compile(r"工作日|平时|平常|上班的日子"), [0, 1, 2, 3, 4]),
    (re.compile(r"每天|天天|哪天都|都有空|随时|啥时候都|什么时候都"), _ALL_DAYS),
)
_PARTS = (
    (re.compile(r"上午|早上|早晨|头午|前晌|清早"), [0]),
    (re.compile(r"下午|后晌|下晌|晌午后"), [1]),
    (re.compile(r"晚上|傍晚|夜里|黑夜"), [2]),
    (re.compile(r"白天"), [0, 1]),
    (re.compile(r"全天|一整天|整天"), [0, 1, 2]),
)
_LIGHT = re.compile(r"腿脚不好|腿不好|腰不好|膝盖|不能久站|站不久|走不远|走不了远|不能干重活|干不了重活|身体不好|"
                    r"身体不太好|身体一般|只能坐|轻松的|轻活|心脏|高血压|拄拐|行动不便")
_HEAVY = re.compile(r"身体好|身体很好|身体棒|身子骨硬朗|能干重活|重活也行|力气大|体力好|能爬山|能扛")
_MODERATE = re.compile(r"还行|还可以|能走能站|走路没问题|能站|一般的活")


def _day_index(ch: str) -> int:
    return 6 if ch in "日天" else _DAY.index(ch)


def availability(text: str) -> int | None:
    """Free times as the 21-bit mask of Volunteer.availability, or None when none are named.

    `周末上午` → Saturday and Sunday mornings; `只有上午有空` → every morning; `周一到周五下午`.
    """
    days: set[int] = set()
    for m in _DAY_TOKEN.finditer(text):
        a = _day_index(m.group(1))
        if m.group(2):
            b = _day_index(m.group(2))
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        else:
            days.add(a)
    for pattern, group in _GROUPS:
        if pattern.search(text):
            days.update(group)
    parts: set[int] = set()
    for pattern, group in _PARTS:
        if pattern.search(text):
            parts.update(group)
    if not days and not parts:
        return None
    days = days or set(_ALL_DAYS)
    parts = parts or {0, 1}
    mask = 0
    for d in days:
        for p in parts:
            mask |= 1 << (d * 3 + p)
    return mask


_COUPLE = re.compile(r"老伴|爱人|老头子?|老太太?|老婆|老公|两口子|俩人|两个人|我们俩|我俩")
_FAMILY3 = re.compile(r"一家三口|三个人|仨人|我们仨")


_CANNOT = re.compile(r"不了|不去|不能|不来|没空|没时间|不报|算了|住院|病了|不舒服|走不开")


def party_hint(text: str) -> int | None:
    """How many come, when the words say it without a number: `老伴也想去` → 2.
    Nothing when the words say someone cannot come (`老伴住院了去不了`)."""
    if _CANNOT.search(text):
        return None
    if _FAMILY3.search(text):
        return 3
    if _COUPLE.search(text):
        return 2
    return None


def physical_load(text: str) -> int | None:
    """1 light, 2 moderate, 3 heavy, from how people describe themselves; None if not described."""
    if _LIGHT.search(text):
        return 1
    if _HEAVY.search(text):
        return 3
    if _MODERATE.search(text):
        return 2
    return None
