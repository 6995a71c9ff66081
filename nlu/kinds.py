"""Kinds of work described in plain words (给老人念念报纸, 扫扫大街, 上山种点树, 教人拉二胡) → one of the
12 categories, when no category word or synonym was found.

Each rule is a verb with the thing it acts on, or a noun that only one kind of work has; a verb may be
doubled or softened (扫扫, 扫一扫, 种点, 修一修). The first rule to match, leftmost, wins; rules are
ordered so that teaching comes before the people taught (教老年人用手机 is 文化教育), emergencies
before crowds (发大水 is not 发水 at a race), and disabilities before old age.

Convention: sweeping, snow and rubbish are 环境保护 (as the activities in data/seed are filed);
looking after old people in any way (chatting, reading to them, cutting their hair) is 助老;
repairs, gate duty, patrols and errands for neighbours are 社区服务.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Softeners after a verb: 扫扫, 扫一扫, 扫了, 种点, 捡些, 修一下
_SOFT = r"(?:了|点儿?|些|一下)?"
_OLD = (
    r"(?:老人家?|老年人|老头儿?|老太太?|老大爷|老大娘|老爷子|老奶奶|老爷爷|大爷大妈|大爷|大娘|孤老|独居|空巢|"
    r"孤寡|五保户?|失能|卧床|老两口|老街坊|老邻居)"
)
_ANY = r"[^,.!?，。！？ ]{0,4}?"

_RULES: tuple[tuple[str, str], ...] = (
    # emergencies first: 发大水, 着火
    ("应急救援", r"发大水|涨大水|洪水|水灾|防汛|抗洪|沙袋|抢险|地震|着火|救火|火灾|塌方|泥石流|暴雨|台风|疏散|避难|搜救|救人"),
    # teaching: the subject taught, or 教 + whom
    ("文化教育", r"教(?:教|一教)?(?:人|大家|别人|居民|邻居|老年人|老人|孩子们?|小孩|学生|年轻人)|"
                 r"认字|识字|扫盲|毛笔字|写字|练字|剪纸|窗花|二胡|京胡|葫芦丝|笛子|乐器|拉琴|弹琴|唱戏|京剧|评剧|"
                 r"戏曲|秧歌|腰鼓|太极|快板|手工|编织|刺绣|讲故事|智能手机|用手机|玩手机|上网|电脑|诗词|朗诵"),
    # disabilities before old age
    ("助残", rf"(?:陪|帮|扶|推|照顾|带|领|给){_ANY}(?:盲人|看不见|瞎子|失明|聋哑|聋子|哑巴|残疾|坐轮椅|轮椅|拄拐|智障|自闭)"),
    ("助老", rf"(?:陪|给|帮|替|为|看望|探望|看看|照顾|伺候|照看|慰问|关心){_ANY}{_OLD}|"
             rf"{_OLD}{_ANY}(?:聊天|说话|唠嗑|唠唠|拉家常|解闷|下棋|念|读|剪头|剪发|理发|洗头|洗脚|送饭|做饭|买菜|散步|"
             r"打扫|收拾)|陪聊|唠嗑|拉家常|解闷|送饭|助餐|助浴|老年食堂|托老所|日间照料"),
    ("关爱儿童", rf"(?:看|陪|带|辅导|照看|帮){_ANY}(?:孩子|小孩|学生|娃|小朋友)|作业|功课|放学|课后|留守"),
    ("环境保护", rf"(?:扫|铲|清|除)(?:扫|铲|清|除|一扫|一铲)?{_SOFT}{_ANY}雪|"
                 r"扫(?:扫|一扫)?(?:大街|街道?|马路|院子|落叶|树叶|楼道|路面?|地)|"
                 rf"把{_ANY}(?:雪|垃圾|落叶|树叶|院子|楼道|大街|街道?|马路)(?:给)?(?:扫|铲|清|捡|拾)|垃圾|烟头|"
                 r"(?:捡|拾|清|收)(?:捡|拾|一捡|一拾|理)?(?:点|些)?" + _ANY + r"(?:垃圾|烟头|瓶子|塑料|废品|白色污染)|"
                 r"(?:种|栽|植|浇|护)(?:种|栽|一种|一浇|浇)?(?:点|些|棵)?(?:树|草|花|苗|林)|"
                 r"河道|河边|湖边|河流|巡河|护河|河长|草原|草场|湿地|治沙|防沙|沙漠|护林|林场|森林|水源|小广告|牛皮癣|"
                 r"大扫除|打扫|清扫|保洁"),
    ("文明交通", r"闯红灯|红绿灯|斑马线|过马路|举小?旗|小红旗|劝导|让行|乱穿马路"),
    ("社区服务", r"修(?:修|一修|理|好)?" + _ANY + r"(?:水管|水龙头|电灯|灯泡|电器|家电|自行车|车子|鞋|伞|锁|桌椅|家具|电视|门窗)|"
                 r"看(?:看|一看)?(?:大?门)|站岗|巡逻|值班|守夜|门岗|跑腿|代买|楼长|单元长|调解|邻里|"
                 r"(?:发|贴)(?:发|贴|一发)?传单"),
    # the work, not the person's own health (我血压高) or past job (我以前是大夫)
    ("医疗健康", r"看病|瞧病|号脉|把脉|针灸|按摩|推拿|(?:量|测)(?:量|一量|测|一测)?(?:血压|血糖|体温)|体检|义诊|康复"),
    ("赛会服务", r"(?:递|发|送|倒)(?:递|发|送|倒|一发)?水(?!灾)|运动会|比赛|马拉松|赛事|展会|博览会|赛场|检票|领位"),
    ("扶贫济困", rf"(?:捐|送)(?:捐|一捐|点|些)?{_ANY}(?:衣服|被子|棉衣|钱|款|物|书|粮|米|面|旧)|"
                 r"(?:困难|贫困|低保|特困|受灾)(?:户|的人|家庭|群众|人家)|"
                 r"困难的人|穷人|送温暖"),
    ("法律咨询", r"被骗|骗子|诈骗|防骗|上当|骗钱|遗嘱|打官司|纠纷|法律|律师|维权|赡养"),
)  # fmt: skip

_ALTERNATION = "|".join(f"(?P<k{i}>{pattern})" for i, (_, pattern) in enumerate(_RULES))
# Every rule starts with a Chinese character written in it: a lookahead on those skips the other positions.
_FIRST = "".join(sorted({c for c in _ALTERNATION if "\u4e00" <= c <= "\u9fff"}))
_KIND_RE = re.compile(f"(?=[{_FIRST}])(?:{_ALTERNATION})")
_CATEGORY = {f"k{i}": category for i, (category, _) in enumerate(_RULES)}


@dataclass(frozen=True, slots=True)
class Kind:
    """A plain description of a kind of work in a text: [start, end) and its category."""

    start: int
    end: int
    category: str


def find(text: str, blocked: bytearray | None = None) -> Kind | None:
    """The first description of a kind of work in normalized ``text`` that touches no blocked character."""
    for m in _KIND_RE.finditer(text):
        if blocked is not None and any(blocked[m.start() : m.end()]):
            continue
        name = m.lastgroup
        if name is None or name not in _CATEGORY:
            name = next(k for k in _CATEGORY if m.group(k) is not None)
        return Kind(m.start(), m.end(), _CATEGORY[name])
    return None
