"""Kinds of work in plain words → categories (nlu/kinds.py), open requests → search or recommendation,
and the time-suite measuring script (nlu/evaluate_time.py) on a made-up suite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu import Parser, evaluate_time
from tests.nlu.conftest import SAT


def categories(parser: Parser, text: str) -> list[str]:
    return [str(e["value"]) for e in parser.parse(text, SAT)["entities"] if e["entity"] == "category"]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("想陪独居老人说说话", "助老"),
        ("给老大爷剪剪头", "助老"),  # hair for old people is 助老, not 社区服务
        ("帮着扫一扫院子", "环境保护"),  # sweeping, snow and rubbish: 环境保护
        ("下了雪想去铲雪", "环境保护"),
        ("把垃圾捡一捡", "环境保护"),
        ("去河道边看看", "环境保护"),
        ("教居民用智能手机", "文化教育"),  # teaching comes before the people taught
        ("教老年人唱戏", "文化教育"),
        ("发大水了能帮忙吗", "应急救援"),  # not 发水 at a race
        ("比赛那天帮着递水", "赛会服务"),
        ("帮邻居修一修电视", "社区服务"),
        ("陪盲人去买菜", "助残"),
        ("想给低保户送点米面", "扶贫济困"),
        ("教教老人怎么防诈骗", "法律咨询"),  # a category word (防诈骗) wins over the description
    ],
)
def test_kind_of_work(parser: Parser, text: str, category: str) -> None:
    assert categories(parser, text) == [category]


@pytest.mark.parametrize("text", ["我血压高不能干重活", "以后不要给我发通知了", "卫生间在哪", "活动在哪个路口集合"])
def test_not_a_kind_of_work(parser: Parser, text: str) -> None:
    assert categories(parser, text) == []


def test_a_category_word_wins_over_a_description(parser: Parser) -> None:
    assert categories(parser, "有植树的活吗 帮着扫扫院子") == ["环境保护"]
    assert len(categories(parser, "量血压的活 教人写字")) == 1


SUITE = """
import time
_ts_1 = 1623604000
time_string_list = [
    ['明天', _ts_1, {'type': 'time_point', 'definition': 'accurate', 'time': ['2021-06-15 00:00:00', '2021-06-15 23:59:59']}],
    ['下午3点', _ts_1, {'type': 'time_point', 'definition': 'accurate', 'time': ['2021-06-14 15:00:00', '2021-06-14 15:59:59']}],
    ['昨天', _ts_1, {'type': 'time_point', 'definition': 'accurate', 'time': ['2021-06-13 00:00:00', '2021-06-13 23:59:59']}],
    ['三天', None, {'type': 'time_delta', 'definition': 'accurate', 'time': {'day': 3.0}}],
    ['今天', time.time(), {'type': 'time_point', 'definition': 'accurate', 'time': ['2021-06-14 00:00:00', '2021-06-14 23:59:59']}],
    ['明年', _ts_1, {'type': 'time_span', 'definition': 'blur', 'time': ['2022-01-01 00:00:00', '2022-12-31 23:59:59']}],
    ['以后', _ts_1, {'type': 'time_span', 'definition': 'blur', 'time': ['2021-06-14 00:00:00', 'inf']}],
    ['周末', {'year': 2021, 'month': 6, 'day': 14}, {'type': 'time_span', 'definition': 'blur', 'time': ['2021-06-19 00:00:00', '2021-06-21 23:59:59']}],
]
"""  # made-up rows in the suite's shape


def test_evaluate_time_rule_and_agreement(tmp_path: Path) -> None:
    path = tmp_path / "suite.py"
    path.write_text(SUITE, encoding="utf-8")
    cases = list(evaluate_time.select(evaluate_time.load(path)))
    # the past (昨天), durations, time.time() bases, open ends and 明年 (ends > 400 days out) are left out
    assert [c.text for c in cases] == ["明天", "下午3点", "周末"]
    got = {c.text: evaluate_time.agrees(c, evaluate_time.ours(c.text, c.now)) for c in cases}
    # 周末 is Saturday and Sunday for us, one day more for the suite: IoU 2/3 still agrees (blur)
    assert got == {"明天": True, "下午3点": True, "周末": True}


def test_held_out_kinds_are_not_in_training() -> None:
    import yaml

    from nlu import rasa_data

    root = Path(__file__).resolve().parents[2]
    spec = yaml.safe_load((root / "tests" / "nlu" / "heldout_categories.yml").read_text(encoding="utf-8"))
    held = {t for t, _ in spec["categories"] + spec["fresh_categories"]} | set(spec["requests"] + spec["fresh_requests"])
    training = {e.text for e in rasa_data.load([root / "data" / "nlu"]).examples}
    assert not held & training
