"""The screen reads first: a small vocabulary of answers a step can declare it expects.

Each step of a flow lists what it expects (`Step(handler, expects=(NUMBER, NAME, YESNO, ...))`). Before
the global intents see a message, the screen on display reads it with these readers, in the order the
step declares them; the first that places the message becomes `turn.reading` and the step's handler runs
with it. Only what no reader places goes on to the global intents (python-telegram-bot's per-state
handlers, Rasa forms' requested slot). Each reader is written and tested once, here:

- NUMBER: an item of the list on screen, numbered on across pages (page 2 shows 5–8 and `6` works);
- NAME: a name or piece of a name of a listed item (扫雪那个, 读报的, 学校门口那个);
- YESNO: yes and no as people say them (嗯 中 行 好嘞 对头 👍 / 不了 算了吧 先不 不去了);
- PARTY: how many come, in any sentence (带老伴, 我们仨, 加上孙女, 少一个人, 就我一个);
- QUESTION: a question about the activity on screen (what you do, where, when, what to bring, meal, ride,
  ID, what 审核 and 候补 mean, whom to call, whether it is full, whether it is heavy work).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .understand import party_hint

if TYPE_CHECKING:
    from .engine import Turn
    from .state import State

NUMBER = "number"
NAME = "name"
YESNO = "yesno"
PARTY = "party"
QUESTION = "question"
ITEM = "item"  # an item of the list behind this screen said in words (第三个), never a bare digit


@dataclass(frozen=True)
class Reading:
    """What the screen understood: kind is one of the expectations above, or `yes`/`no` for YESNO."""

    kind: str
    value: Any = None


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
    from nlu.normalize import build_table
    from nlu.resources import t2s_chars

    return build_table(t2s_chars())


_STRIP = re.compile(r"[\s,.!?;:'\"，。！？；：、…~～“”‘’（）()【】\[\]]+")


def plain(text: str) -> str:
    """Simplified, lower-case, without spaces or punctuation: what the readers compare."""
    return _STRIP.sub("", (text or "").translate(_table())).strip()


# -- yes and no -------------------------------------------------------------------------------------
_TAIL = "吧啊呀的嘞了哈呗哦噢嘛滴撒"
_YES = re.compile(
    r"^(?:嗯+|恩+|嗯呢|恩呢|好呢|中|行|成|好|好好|好嘞|好滴|好哒|好呀|对|对头|对对|是|是的|是滴|可以|可|要得|没问题|没得问题|妥|"
    r"ok|okay|yes|y|确认|确定|同意|我同意|报|报名|报上|报吧|去|我去|要|愿意|就这个|就它|就这|得嘞|那好|那行|"
    r"必须|当然|肯定|👍+|👌+|✅|✔️?|好的好的|行行|中中)[" + _TAIL + r"]*$")
_NO = re.compile(
    r"^(?:不|不了|不用|不用了|不要|不要了|不必|算了|算了吧|先不|先不了|先不报|先别|先别报|先不去|不去|不去了|不报|"
    r"不报了|不想去|不想报|不参加|不行|不对|不是|没有|否|别|别报|甭|甭报|免了|拉倒|再想想|我再想想|考虑考虑|"
    r"以后再说|改天|改天吧|下次|下次吧|👎+|❌|no|n)[" + _TAIL + r"]*$")
_NO_WORDS = re.compile(r"先不|先别|不报|不去|不参加|算了|再想想|考虑一下|不要了|不用了|改天|下次再|以后再说")


_SIGN_SOUNDS = re.compile(r"[报保抱宝豹爆鲍][名明铭鸣命]")
_THANKS = re.compile(r"(?:谢谢你?|谢了|多谢|辛苦了?|麻烦你?了)[" + _TAIL + r"]*$")  # 好嘞谢谢: the yes counts


def yes_no(turn: Turn) -> str | None:
    """`yes`, `no` or None. Short answers by our word lists; longer ones by the NLU's affirm/deny.
    Voice input writes 报名 as 保名, 抱名, 报铭: any such pair is read as 报名."""
    s = _THANKS.sub("", _SIGN_SOUNDS.sub("报名", plain(turn.text))) or plain(turn.text)
    if not s:
        return None
    if len(s) <= 8:
        if _NO.match(s):
            return "no"
        if _YES.match(s):
            return "yes"
    if _NO_WORDS.search(s) and len(s) <= 16:
        return "no"
    name = (turn.parse.get("intent") or {}).get("name")
    if name == "affirm" and len(s) <= 12:
        return "yes"
    if name == "deny" and len(s) <= 16:
        return "no"
    return None


_NEGATED = re.compile(r"不|别|没|先等等")


def said_option(turn: Turn, st: State) -> str | None:
    """A two-option question on screen (解除 / 不解除, 也告诉家人 / 不用) answered with an option's own words:
    the first is `yes`, the second `no`. Compared whole (with a trailing 吧/了...), so 不解除 is never 解除."""
    s = plain(turn.text).rstrip(_TAIL)
    if not s:
        return None
    asked = [item.get("options") for item in st.last or [] if item.get("t") == "choices"]
    options = asked[-1] if asked else None
    if not isinstance(options, list) or len(options) != 2 or not _NEGATED.search(str(options[1])) \
            or _NEGATED.search(str(options[0])):
        return None
    said = [i for i, o in enumerate(options) if plain(str(o)).rstrip(_TAIL) == s]
    return ("yes", "no")[said[0]] if said else None


# -- numbers ----------------------------------------------------------------------------------------
_DIGIT = re.compile(r"^\s*(\d{1,2})\s*[.。、]?\s*$")


# A digit said rather than typed (a voice transcript 一。, 二): the same as a bare digit, an answer to the
# screen's own numbered choices, never an item of the list behind it.
_SPOKEN_DIGIT = re.compile(r"^[零〇一二三四五六七八九幺]$")  # not 两 or 两个: how many people


def bare_digit(text: str) -> int | None:
    """A digit alone, typed (1, １, 1。) or said (一。, 二): an answer to the numbered choices on screen."""
    m = _DIGIT.match(unicodedata.normalize("NFKC", text or ""))
    if m:
        return int(m.group(1))
    s = plain(text).rstrip(_TAIL)
    return {**_CN, "零": 0, "〇": 0, "幺": 1}[s] if _SPOKEN_DIGIT.match(s) else None


def number(turn: Turn) -> int | None:
    """The option number said: a bare digit, 第二个, 选3 (the NLU's index number)."""
    m = _DIGIT.match(turn.text or "")
    if m:
        return int(m.group(1))
    for e in turn.parse.get("entities") or []:
        if e.get("entity") == "number" and e.get("role") in (None, "", "index", "choice"):
            try:
                return int(e["value"])
            except (TypeError, ValueError):
                continue
    return None


def listed_index(st: State, n: int) -> int | None:
    """Position in `st.listed` of the item numbered `n` on screen: numbering runs on across pages, so on
    page 2 (items 5–8) both `6` and, for people who count the page, `2` work."""
    first = int(st.data.get("first") or 1)
    if first <= n < first + len(st.listed):
        return n - first
    if first > 1 and 1 <= n <= len(st.listed):
        return n - 1
    return None


# -- names ------------------------------------------------------------------------------------------
_FILLER_CHARS = set("的了吗呢吧啊呀个那这哪我要想去报名参加看说给帮就一下些儿")
_GENERIC = {"老人", "社区", "志愿", "服务", "活动", "明天", "今天", "周末", "上午", "下午", "晚上", "早上",
            "一起", "老伴", "我们", "两个", "两人", "可以", "不去", "不要", "不对", "这个", "那个", "行动",
            "老年", "独居", "暖冬", "关爱", "文明", "志愿者", "青年"}


def _common(a: str, b: str) -> str:
    """The longest piece of a found in b that says something (not only fillers, not a generic word)."""
    best = ""
    for i in range(len(a)):
        for j in range(i + max(2, len(best) + 1), len(a) + 1):
            piece = a[i:j]
            if piece not in b:
                break
            if piece in _GENERIC or all(c in _FILLER_CHARS for c in piece):
                continue
            best = piece
    return best


def without_name(text: str, name: str) -> str:
    """The text with the pieces it shares with `name` taken out: what the person said besides naming the item
    (读报那个 → 那个, so the 报 of 读报 is not a sign-up; 报扫雪那个 → 报那个)."""
    s, other = plain(text), plain(name)
    while True:
        piece = _common(s, other)
        if len(piece) < 2:
            return s
        s = s.replace(piece, "", 1)


def name_match(text: str, items: dict[int, list[str]]) -> int | None:
    """The one item whose names share the longest meaningful piece with the text (≥2 characters, longer
    than any other item's), or None. `items` maps an id to its texts, title first."""
    s = plain(text)
    if len(s) < 2:
        return None
    scores: dict[int, int] = {}
    for item_id, names in items.items():
        best = 0
        for k, name in enumerate(names):
            piece = _common(s, plain(name))
            if len(piece) >= 2:
                best = max(best, len(piece) * 2 + (1 if k == 0 else 0))
        if best:
            scores[item_id] = best
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[1][1] >= ranked[0][1] - 1:
        return None
    return ranked[0][0]


def activity_names(act: Any) -> list[str]:
    """The texts a person may use to point at an activity: title first, then its parts and place."""
    names = [act.title]
    names += [p for p in re.split(r"[·（）()]", act.title) if len(p) >= 2]
    if act.address:
        names.append(act.address)
    if act.place is not None:
        names.append(act.place.name)
    if act.description:
        names.append(act.description)
    return names


# -- party size -------------------------------------------------------------------------------------
_CN = {"一": 1, "两": 2, "俩": 2, "二": 2, "三": 3, "仨": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
       "九": 9, "十": 10}
_LESS = re.compile(r"(?:少|减|去掉|退掉?|少报|减去|走)([一两俩二三四五1-5])?个?人")
_MORE = re.compile(r"(?:再加|加上?|多报?|再添|添|还有|再带)([一两俩二三四五1-5])个?人")
_ALONE = re.compile(r"就我一个|就我自己|我一个人|就我一人|只有我|我自己去|就我去|一个人去")
_TOTAL = re.compile(r"(?:改成|改为|换成|变成|一共|总共|就|共|报)([一两俩二三四五六七八九十1-9]|10)个?人")


def _n(ch: str | None) -> int:
    if not ch:
        return 1
    return int(ch) if ch.isdigit() else _CN.get(ch, 1)


_FAMILY = r"孙女|孙子|外孙|老伴|爱人|闺女|儿子|女儿|媳妇|朋友|邻居|老头|老太|姐妹|老姐妹|老伙计"
_SAID_N = re.compile(r"([一两俩二三四五六七八九十1-9])个?人")


def party(turn: Turn, current: int) -> int | None:
    """How many come in all after this message, or None when it does not say."""
    s = plain(turn.text)
    if re.search(r"不是|不对|错了", s):
        said = _SAID_N.findall(s)
        if said:  # 不是一个人 是三个人: the last number said is the right one
            return max(1, min(_n(said[-1]), 10))
    if _ALONE.search(s):
        return 1
    m = _LESS.search(s)
    if m:
        return max(1, current - _n(m.group(1)))
    m = _MORE.search(s)
    if m:
        return min(10, current + _n(m.group(1)))
    m = _TOTAL.search(s)
    if m:
        return max(1, min(_n(m.group(1)), 10))
    for e in turn.parse.get("entities") or []:
        if e.get("entity") != "number":
            continue
        try:
            value = int(e["value"])
        except (TypeError, ValueError):
            continue
        if e.get("role") == "party_size":
            return max(1, min(value, 10))
        if e.get("role") == "party_add":
            return max(1, min(current + value, 10))
    if current > 1 and re.search(_FAMILY, s) and re.search(r"不去|去不了|来不了|不来|不能去|去不成|没法去", s):
        return current - 1  # 孙子不去了: one fewer, not a cancellation
    hint = party_hint(s)
    if hint is not None:
        return hint
    if re.search(_FAMILY, s) and re.search(
            r"带|和|跟|加上|一起|也", s) and not re.search(r"不了|不去|不能|住院|病", s):
        return min(10, max(current, 1) + 1)
    return None


# -- questions about the activity on screen ---------------------------------------------------------
QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("review", re.compile(r"审核")),
    ("waitlist", re.compile(r"候补|排队|排号")),
    ("full", re.compile(r"满了|满没满|还有名额|有名额|还有位|还能报|剩几个|几个名额|报满")),
    ("meal", re.compile(r"管饭|管吃|吃饭|午饭|中午饭|有饭|包饭|管不管饭|吃的")),
    ("ride", re.compile(r"接送|车接|有车|坐车|班车|怎么去|咋去|怎么走|咋走|远不远|多远|路远")),
    ("id", re.compile(r"身份证|证件|户口本")),
    ("bring", re.compile(r"带啥|带什么|带点啥|带东西|准备啥|准备什么|要带|工具|穿啥|穿什么")),
    ("contact", re.compile(r"找谁|负责人|联系人|电话|联系谁|问谁|谁负责|谁组织|哪个队")),
    ("load", re.compile(r"累不累|累吗|重活|体力|轻松|吃力|站着|站多久|腿脚|膝盖|腰不好|能干动|干得动")),
    ("when", re.compile(r"几点|啥时候|什么时候|多久|多长时间|几个小时|哪天|时间")),
    ("where", re.compile(r"在哪|哪里|哪儿|啥地方|什么地方|地址|集合|地点|位置")),
    ("what", re.compile(r"干啥|干什么|做啥|做什么|是啥|是什么|啥活|什么活|内容|干嘛|弄啥|咋干|怎么干")),
)
_ASK_END = re.compile(r"[吗嘛么呢不没][?？]?$|[?？]")
_ASK_WORD = re.compile(r"几|啥|什么|哪|谁|咋|怎|多少|多久|多远|多长|意思|有无|(.)[不没]\1")


def question(turn: Turn) -> str | None:
    """The kind of question about the activity on screen, or None."""
    s = plain(turn.text)
    raw = (turn.text or "").strip()
    if not s or len(s) > 30 or not (_ASK_END.search(raw) or _ASK_END.search(s) or _ASK_WORD.search(s)):
        return None
    for kind, pattern in QUESTIONS:
        if pattern.search(s):
            return kind
    return None


# -- corrections and regret ---------------------------------------------------------------------
_REGRET = re.compile(r"不对|搞错|弄错|点错|按错|报错|选错|错了|不是这个|反悔|后悔")


def regret(text: str) -> bool:
    return bool(_REGRET.search(plain(text)))


# -- reading a message with what a screen expects -------------------------------------------------
def read(turn: Turn, st: State, expects: tuple[str, ...],
         names: dict[int, list[str]] | Callable[[], dict[int, list[str]]] | None = None,
         current_party: int = 1) -> Reading | None:
    """The first reading the screen's expectations give, in their declared order. `names` may be a function
    that reads them: it is called only when the message may name an item."""
    for kind in expects:
        if kind == NUMBER and st.listed:
            n = number(turn)
            if n is not None and n not in (0, 9) or (n == 9 and (st.data.get("first") or 1) + len(st.listed) > 9
                                                    and plain(turn.text) != "9"):
                return Reading(NUMBER, n)
        elif kind == ITEM and st.listed and bare_digit(turn.text) is None:
            n = number(turn)
            if n is not None and listed_index(st, n) is not None:
                return Reading(NUMBER, n)
        elif kind == NAME and names:
            if any(e.get("entity") == "time" for e in turn.parse.get("entities") or []):
                continue  # a new time is a new search, not a name on screen
            if len(plain(turn.text)) < 2:
                continue  # too short to name anything (name_match needs two characters)
            if callable(names):
                names = names()
            hit = name_match(turn.text, names) if names else None
            if hit is not None:
                return Reading(NAME, hit)
        elif kind == PARTY:
            size = party(turn, current_party)
            if size is not None:
                return Reading(PARTY, size)
        elif kind == QUESTION:
            q = question(turn)
            if q is not None:
                return Reading(QUESTION, q)
        elif kind == YESNO:
            yn = said_option(turn, st) or yes_no(turn)
            if yn is not None:
                return Reading(yn)
    return None
