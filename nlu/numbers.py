"""Mobile phone numbers (also spoken 一三九…) and small numbers (option index 第二个, party size 两个人)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.numerals import DIGITS, to_int

_PHONE_DIGIT = "0-9零〇一幺二两三四五六七八九"
_PHONE_RE = re.compile(rf"(?<![{_PHONE_DIGIT}])[{_PHONE_DIGIT}](?:[ -]?[{_PHONE_DIGIT}]){{10}}(?![{_PHONE_DIGIT}])")
_MOBILE_RE = re.compile(r"1[3-9]\d{9}")

_CN = "一二两三四五六七八九十俩仨"
_NUM = rf"(?:\d{{1,3}}|[{_CN}]{{1,3}})"
_PARTY_RE = re.compile(
    rf"(?P<n>{_NUM})\s?(?:个人|口人|位|人)"
    r"|(?P<two>两口子|老两口|老俩口|我们俩|咱们俩|俺们俩|咱俩|我俩|俺俩|俩人|我们两口|(?:我们|咱们|俺们)两个(?![人位]))"
    r"|(?P<three>我们仨|咱仨|俺们仨|仨人|一家三口|(?:我们|咱们|俺们)三个(?![人位]))"
)
_INDEX_RE = re.compile(
    rf"第\s?(?P<ord>{_NUM})(?![次天回遍年届期页步代批周月层排])\s?(?:个|项|条|场|号|种)?"
    rf"|(?:选|要|报|挑|参加|看看?|就)\s?(?P<act>\d{{1,2}}|[一二三四五六七八九十])(?=$|\s|吧|啊|呗|号|了|行|就|,)"
    rf"|^\s?(?P<only>{_NUM})\s?(?:个|号|项)?\s?(?:吧|啊|呗|了|就行|行)?\s?$"
)
# Bringing someone along: 带老伴, 带上我家孙子一起去, 和老伴一块儿来, 带两个孙子 → party_size 1 + them.
_KIN = (r"老伴儿?|老头子?|老太太?|老太婆|老婆子?|老公|爱人|媳妇儿?|外孙女|外孙子?|小外孙|小孙子|小孙女|孙子|孙女|"
        r"孙儿|重孙子?|儿子|女儿|闺女|儿媳妇?|女婿|朋友|邻居|老姐妹|姐妹|老伙计|老同事|同事|老同学|老战友|家属|家里人")
_ONE_KIN = rf"(?:{_NUM}?个|{_NUM}位|[俩仨])?(?:我|俺)?(?:们)?(?:家|的)?(?:{_KIN})"
_WITH_RE = re.compile(
    rf"(?:带(?:上|着)?|(?<=[我俺])(?:和|跟|同)|^(?:和|跟))(?P<kin>{_ONE_KIN}(?:(?:和|跟|还有|、|加)?{_ONE_KIN})*)"
    r"(?=一起|一块|一道|去|来|过去|参加|报名|都|也|行|可以|中|能|成|吗|呢|不|$|\s|,)(?!(?:去|来)?不[了成行])"
)
# 我老伴也去, 俺家孙子也想来 → party_size 2.
_ALSO_RE = re.compile(rf"[我俺](?:家|的)?(?:{_KIN})(?=也(?:想|要|能|可以|得)?(?:去|来|参加|报))")
_KIN_ITEM_RE = re.compile(rf"(?:(?P<k>{_NUM})(?:个|位)|(?P<k2>[俩仨]))?(?:我|俺)?(?:们)?(?:家|的)?(?:{_KIN})")
# One more: 加一个人, 再添个人, 多两位 → role party_add (people on top of those already counted).
_ADD_RE = re.compile(
    rf"(?:再|还)?(?:加|添|多)(?:报|算|上)?(?P<n>{_NUM})?(?:个|位)(?:人|(?=$|吗|呢|行|中|不|可以|成|\s|,))"
)
_ANY_NUMBER_RE = re.compile(rf"[\d{_CN}口]")
_FAMILY_RE = re.compile(r"[带和跟同也加添多]")
_DIGITS_RE = re.compile(r"(?<![\d.:])\d{1,3}(?![\d.:])")


@dataclass(frozen=True, slots=True)
class Found:
    """An entity candidate in normalized text: [start, end), its value and an optional role."""

    entity: str
    start: int
    end: int
    value: object
    role: str | None = None


def phones(text: str, taken: bytearray) -> list[Found]:
    """11-digit mainland mobile numbers, written or spoken, with spaces or dashes between digits."""
    found: list[Found] = []
    if len(text) < 11:
        return found
    for m in _PHONE_RE.finditer(text):
        digits = "".join(str(DIGITS[c]) if c in DIGITS else c for c in m.group(0) if c not in " -")
        if _MOBILE_RE.fullmatch(digits) and not any(taken[m.start() : m.end()]):
            found.append(Found("phone", m.start(), m.end(), digits))
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    return found


def numbers(text: str, taken: bytearray) -> list[Found]:
    """Party sizes (role ``party_size``), option indexes (第二个, 选3, a lone 2) and other small numbers."""
    found: list[Found] = []

    def add(start: int, end: int, value: int | None, role: str | None = None) -> None:
        if value is None or value < 0 or any(taken[start:end]):
            return
        found.append(Found("number", start, end, value, role))
        taken[start:end] = b"\x01" * (end - start)

    if _FAMILY_RE.search(text) is not None:
        for m in _ADD_RE.finditer(text):
            add(m.start(), m.end(), to_int(m.group("n")) if m.group("n") else 1, "party_add")
        for m in _WITH_RE.finditer(text):
            people = 1
            for k in _KIN_ITEM_RE.finditer(m.group("kin")):
                people += to_int(k.group("k") or k.group("k2") or "一") or 1
            add(m.start(), m.end(), people, "party_size")
        for m in _ALSO_RE.finditer(text):
            add(m.start(), m.end(), 2, "party_size")
    if _ANY_NUMBER_RE.search(text) is None:
        found.sort(key=lambda f: f.start)
        return found
    for m in _PARTY_RE.finditer(text):
        if m.group("n"):
            add(m.start(), m.end(), to_int(m.group("n")), "party_size")
        elif m.group("two"):
            add(m.start(), m.end(), 2, "party_size")
        else:
            add(m.start(), m.end(), 3, "party_size")
    for m in _INDEX_RE.finditer(text):
        group = next(g for g in ("ord", "act", "only") if m.group(g) is not None)
        if group in ("act", "only"):
            add(m.start(group), m.end(group), to_int(m.group(group)))
        else:
            add(m.start(), m.end(), to_int(m.group(group)))
    for m in _DIGITS_RE.finditer(text):
        add(m.start(), m.end(), int(m.group(0)))
    found.sort(key=lambda f: f.start)
    return found
