"""Every text the push layer sends: short, polite, the key facts repeated, what to reply next."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from data.models import Activity, Team
from data.models_push import Notice
from data.timeutil import format_when

# A reply read aloud (念给我听) whose voice could not be made or uploaded; its text went out already.
READ_ALOUD_FAILED = "对不起，这次语音没有发出去，文字已经在上面了。您可以过一会儿再说“念给我听”，或者回复9找人工。"

ROUTE_NAMES = {"wechat_custom": "微信消息", "wechat_template": "微信模板消息", "sms": "短信"}
STATUS_NAMES = {
    "queued": "排队中", "sending": "发送中", "retry": "等待重试", "sent": "已送达",
    "unreachable": "联系不上", "failed": "发送失败", "skipped": "已退订，未发送", "uncertain": "可能已送达",
}
NOTICE_STATUS_NAMES = {"draft": "草稿", "queued": "准备发送", "sending": "发送中", "done": "已发完",
                       "cancelled": "已取消"}


def where(act: Activity) -> str:
    place = act.place.name if act.place else ""
    extra = act.address or act.landmark or ""
    return f"{place}{('（' + extra + '）') if extra else ''}"


def facts(act: Activity) -> str:
    """What, when, where — repeated in every message about an activity."""
    return f"「{act.title}」，{format_when(act.starts_at, act.ends_at)}，在{where(act)}"


def contact(act: Activity) -> str:
    if act.contact_name and act.contact_phone:
        return f"有事请找{act.contact_name}，电话{act.contact_phone}。"
    return ""


def reminder(act: Activity, day_before: bool) -> tuple[str, str]:
    when = "明天" if day_before else "再过两个小时"
    body = (f"提醒您：{when}有您报名的活动{facts(act)}。\n"
            f"回复1 我会到\n回复2 去不了\n{contact(act)}")
    return "活动提醒", body.strip()


def promoted(act: Activity, confirmed: bool) -> tuple[str, str]:
    state = "已经为您留好了位置" if confirmed else "已为您报上名，等负责人审核"
    return "候补成功", (f"好消息：您候补的活动{facts(act)}有了空位，{state}。"
                    f"去不了请回复“取消报名”。{contact(act)}").strip()


def review_result(act: Activity, approved: bool) -> tuple[str, str]:
    if approved:
        return "报名已确认", f"您报名的活动{facts(act)}已确认，请准时参加。{contact(act)}".strip()
    return "报名未通过", f"很抱歉，您报名的活动{facts(act)}这次没有通过审核。回复“找活动”看看别的活动。"


def review_request(act: Activity, name: str, waiting: int) -> tuple[str, str]:
    return "报名待审核", (f"{name}报名了{facts(act)}，需要您审核。这个活动现在有{waiting}个报名在等审核。"
                     "请在协调员网页（/admin）的“报名审核”里处理。")


def review_leader(team: Team, lines: list[str]) -> tuple[str, str]:
    head = f"{team.name}有{len(lines)}个报名超过一天还没审核："
    return "报名审核超时", head + "\n" + "\n".join(lines[:8]) + ("\n……" if len(lines) > 8 else "") + \
        "\n请提醒协调员尽快处理，两天后会自动确认。"


def records_due(act: Activity, days_left: int) -> tuple[str, str]:
    if days_left > 0:
        return "服务记录待录入", (f"活动{facts(act)}已经结束，服务时长还没有录入，"
                           f"还有{days_left}个工作日到期（志愿服务记录要在活动后10个工作日内完成）。")
    return "服务记录已逾期", f"活动{facts(act)}的服务时长已超过10个工作日没有录入，请尽快补录。"


def cancelled(act: Activity, reason: str) -> tuple[str, str]:
    why = f"原因：{reason}。" if reason else ""
    return "活动取消", f"很抱歉，您报名的活动{facts(act)}取消了。{why}给您添麻烦了。回复“找活动”看看别的活动。"


def handoff(name: str, masked: str, transcript: list[str]) -> tuple[str, str]:
    recent = "\n".join(transcript[-6:])
    return "志愿者找人工", f"志愿者{name}（{masked}）请求人工帮助，请尽快联系。\n最近的对话：\n{recent}"


def bind_code(code: str) -> tuple[str, str]:
    return "验证码", f"您的银龄志愿助手验证码是{code}，10分钟内有效。如果不是您本人操作，请不要告诉别人。"


def thanks(level: int, hours: str) -> tuple[str, str]:
    stars = "★" * level
    return "感谢您", (f"感谢您的付出！您的志愿服务时长已累计{hours}小时，成为{level}星级志愿者{stars}。"
                   "您的每一次帮助都让社区更温暖。")


def monthly(name: str, month: int, hours: str, count: int, total: str) -> str:
    if count:
        return (f"{name}您好，{month}月您参加了{count}次志愿服务，共{hours}小时，累计{total}小时。谢谢您！"
                f"{MONTHLY_STOP}")
    return f"{name}您好，{month}月您没有参加志愿服务。想找活动请回复“找活动”。{MONTHLY_STOP}"


# There is no summary-only opt-out: 退订 (also 退订小结) turns notices off, and the summary with them.
MONTHLY_STOP = "不想再收到每月小结和其他通知请回复“退订”。"


def forward_text(session: Session, notice: Notice) -> str:
    """Ready-to-forward text for the team's WeChat groups (and the WeCom robot)."""
    team = session.get(Team, notice.team_id) if notice.team_id else None
    head = f"【{team.name}】" if team else "【银龄志愿助手】"
    return f"{head}{notice.title}\n{notice.body}"


def progress_line(counts: dict[str, Any]) -> str:
    parts = [f"{STATUS_NAMES[k]}{v}人" for k, v in counts.items() if v and k in STATUS_NAMES]
    return "，".join(parts)


# How a hand-off reached a person (data.handoffs routes), for the coordinators' page.
HANDOFF_ROUTE_NAMES = {"wechat": "已发到协调员微信", "sms": "已发短信给协调员", "wecom": "已发到工作群",
                       "waiting": "没人收到通知，只在这里"}
HANDOFF_SEE_PAGE = "\n完整号码和方便接电话的时间在管理页“等待联系”里，联系后请点“已联系”。"


def family_copy(title: str, name: str, body: str) -> str:
    """A parent's message copied to a family helper, naming the parent: 您母亲张桂兰：明天上午9点…"""
    return f"您{title}{name}：{body}"


def family_handoff(title: str, name: str) -> str:
    """A parent pressed 9 and chose to have this helper told."""
    return f"您{title}{name}刚才回复9找人工，协调员会联系。您也可以打个电话问问。"


def family_qr(url: str) -> tuple[str, str]:
    """The family code as a QR code, for a son or daughter sitting beside the parent."""
    return "家人扫码绑定", f"家人在您身边时，请点开下面的地址，让家人用微信扫一扫（24小时内有效）：\n{url}"
