"""The SMS rendering rules: segments of 70/67, at most three, templates within each variable's limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.sms import (
    PART,
    SINGLE,
    TemplateSpec,
    is_opt_out,
    is_resume,
    keyword,
    provider_class,
    render_template,
    segment,
    sms_lines,
    strip_links,
)
from bot.config import ConfigError, load_config
from dialogs import Choices, Text
from tests.drivers.sms import fits

MENU = Choices("您好，我是银龄志愿助手。请回复数字：", ("找活动", "我的活动", "我的服务时长", "找人工"),
               "回复0回主菜单，回复9找人工。")
DETAILS = Text("【助老】陪社区老人聊天读报\n时间：12月5日（星期六）上午9点到11点\n地点：幸福里社区活动室（菜市场对面）\n"
               "还剩3个名额。联系人王老师13800001234。")


def test_short_reply_is_one_sms() -> None:
    parts = segment([MENU])
    assert len(parts) == 1 and len(parts[0]) <= SINGLE
    assert parts[0].splitlines()[1] == "1.找活动"


def test_long_reply_breaks_at_lines_and_keeps_numbers_whole() -> None:
    parts = segment([DETAILS, Choices("要报名吗？", ("报名", "不报了"), "回复0回主菜单。")])
    assert fits(parts)
    joined = "".join(parts)
    assert "13800001234" in joined and "9点到11点" in joined
    for p in parts:
        assert not p.startswith(("\n", " "))


def test_overlong_reply_keeps_options_and_footer() -> None:
    text = Text("。".join(["这是一段很长很长的活动介绍，说了很多细节"] * 20))
    parts = segment([text, MENU])
    assert fits(parts)
    body = "\n".join(parts)
    assert "1.找活动" in body and "4.找人工" in body and body.endswith("回复0回主菜单，回复9找人工。")


def test_one_enormous_line_is_cut_to_three_parts() -> None:
    parts = segment("字" * 1000)
    assert len(parts) == 3 and all(len(p) <= PART for p in parts)


def test_emoji_dropped_for_basic_phones() -> None:
    assert sms_lines([Text("报名成功🎉")]) == ["报名成功"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="银龄志愿活动报名时间地点0123456789。，！\n abc", max_size=90), max_size=6))
def test_every_rendering_fits(texts: list[str]) -> None:
    parts = segment([Text(t) for t in texts])
    assert not parts or fits(parts)


def test_digit_runs_never_split() -> None:
    line = "王老师电话13800001234李老师电话13900005678" * 3
    parts = segment(line)
    assert fits(parts)
    for a, b in zip(parts, parts[1:], strict=False):
        assert not (a[-1].isdigit() and b[0].isdigit()), (a, b)


SPEC = TemplateSpec("reply", "SMS_1", (("p1", 35), ("p2", 35), ("p3", 35), ("p4", 35)))


def test_template_variables_within_limits_and_no_links() -> None:
    params = render_template([Text("详情见 https://example.com/a?b=1 或 www.abc.cn"), MENU], SPEC)
    assert [n for n, _ in params] == ["p1", "p2", "p3", "p4"]
    assert all(len(v) <= 35 for _, v in params)
    joined = "".join(v for _, v in params)
    assert "http" not in joined and "www" not in joined and "example.com" not in joined
    assert "1.找活动" in joined and "回复0回主菜单" in joined


def test_template_shortens_what_does_not_fit() -> None:
    params = render_template([DETAILS, MENU], TemplateSpec("r", "1", (("a", 12), ("b", 12), ("c", 12))))
    assert all(len(v) <= 12 for _, v in params)


@pytest.mark.parametrize("raw,expected", [(" td。", True), ("Ｔ", True), ("退订", True), ("取消订阅！", True),
                                          ("n", True), ("r", True), ("1", False), ("退订活动", False)])
def test_opt_out_words(raw: str, expected: bool) -> None:
    assert is_opt_out(raw) is expected


def test_resume_and_keyword() -> None:
    assert is_resume("订阅") and is_resume("恢复通知。") and not is_resume("0")
    assert keyword(" Td ") == "TD"
    assert strip_links("看 http://x.cn/1 吧") == "看 吧"


def test_config_template_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"sms.aliyun.templates.reply.vars.p1"):
        TemplateSpec.from_config("aliyun", "reply", {"id": "SMS_1", "vars": {"p1": 0}})
    with pytest.raises(ConfigError, match="sms.tencent.templates.reply"):
        TemplateSpec.from_config("tencent", "reply", {"vars": {}})
    with pytest.raises(ConfigError, match="unknown provider 'nexmo'"):
        provider_class("nexmo")


def test_secrets_only_from_environment(tmp_path: object) -> None:
    import pathlib

    p = pathlib.Path(str(tmp_path)) / "c.yaml"
    p.write_text("sms:\n  android:\n    password: abc\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="SMS_ANDROID_PASSWORD"):
        load_config(p, env={})
    cfg = load_config(env={"TENCENT_SECRET_KEY": "k", "SMS_WEBHOOK_SECRET": "w"})
    assert cfg.sms.tencent.secret_key == "k" and cfg.sms.webhook_secret == "w"
