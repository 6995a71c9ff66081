"""nlu.phonetic: misheard places, titles and category words put right by pinyin; everything else left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlu import Parser, resources
from nlu.normalize import normalize
from nlu.phonetic import Corrector, Fix
from tests.nlu.conftest import WED

TITLES = ["冬季扫雪除冰", "老年人智能手机课堂", "社区义诊", "读报", "送棉衣"]


@pytest.fixture(scope="module")
def corrector(parser: Parser) -> Corrector:
    return Corrector(parser.phrases() + TITLES, resources.pinyin_table(), resources.tone_table())


@pytest.mark.parametrize(("heard", "meant"), [
    ("杨光社区明天有什么活动", "阳光社区明天有什么活动"),  # yang2 for yang2: a place
    ("我想报名少雪", "我想报名扫雪"),  # shao3 for sao3 (sh/s): a category word
    ("下周有没有少雪的活动", "下周有没有扫雪的活动"),
    ("老年人只能手机课堂还有位置吗", "老年人智能手机课堂还有位置吗"),  # an activity title
    ("我想去社区以诊", "我想去社区义诊"),  # a title of four: one tone off is still the title
    ("满都还社区", "满都海社区"),
])
def test_misheard_known_phrases_are_put_right(corrector: Corrector, heard: str, meant: str) -> None:
    assert corrector.correct(heard) == meant


@pytest.mark.parametrize("said", [
    "明天有什么活动", "第二个", "选第二个", "我的电话是幺三九一二三四五六七八九", "给我唱个歌",  # 唱个 ≠ 唱歌
    "帮我查一下我的服务时长", "好的谢谢", "不去了", "取消报名", "阳光社区", "对", "",
])
def test_what_was_heard_right_is_left_alone(corrector: Corrector, said: str) -> None:
    assert corrector.correct(said) == said


def test_fixes_keep_offsets_and_exact_phrases_win(corrector: Corrector) -> None:
    assert corrector.fixes("去杨光社区少雪") == [Fix(1, 5, "杨光社区", "阳光社区"), Fix(5, 7, "少雪", "扫雪")]
    assert len(corrector.correct("去杨光社区少雪")) == len("去杨光社区少雪")


def test_a_phrase_sharing_no_character_is_not_put_in() -> None:
    c = Corrector(["扫雪"], resources.pinyin_table(), resources.tone_table())
    assert c.correct("少学") == "少学"  # sounds alike, shares nothing: another word
    assert c.correct("少雪") == "扫雪"


def test_the_corrected_transcript_parses_like_the_typed_words(parser: Parser, corrector: Corrector) -> None:
    for heard, typed in [("下周有没有少雪的活动", "下周有没有扫雪的活动"), ("杨光社区明天有啥", "阳光社区明天有啥")]:
        assert parser.parse(corrector.correct(heard), WED) == parser.parse(typed, WED)
    spoken = parser.parse(corrector.correct("我的电话是幺三九一二三四五六七八"), WED)
    assert [e["value"] for e in spoken["entities"] if e["entity"] == "phone"] == ["13912345678"]
    assert [e["value"] for e in parser.parse(corrector.correct("第二个"), WED)["entities"]] == [2]


def test_typed_messages_of_the_tuning_conversations_keep_their_meaning(parser: Parser,
                                                                      corrector: Corrector) -> None:
    """Evidence that the correction would be harmless for typed text too: of the tuning conversations' lines it
    changes only the one that is misheard on purpose, and traditional characters it writes simplified (as the
    parser's normalization does anyway)."""
    path = Path(__file__).resolve().parents[1] / "conversations" / "tune.yml"
    lines = [str(line) for conv in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]
             for line in conv.get("say", [])]
    assert len(lines) > 100
    changed = {line: corrector.correct(line) for line in lines if corrector.correct(line) != line}
    meaning = {line: fixed for line, fixed in changed.items()
               if normalize(line, parser.table).text != normalize(fixed, parser.table).text}
    assert meaning == {"明天杨光社区有活动吗": "明天阳光社区有活动吗"}
