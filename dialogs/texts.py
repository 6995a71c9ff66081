"""Every user-facing string of the conversation: simple Chinese, polite 您, short, says what to send next.

`short=True` variants are for SMS (one or two 70-character segments); `elder=True` is the 长辈版 wording.
Helpers that put activity facts together live here too, so what/when/where/places-left read the same
everywhere.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from data.models import Activity, SignupStatus
from data.timeutil import WEEKDAYS, format_when, to_local

# -- fixed footers --------------------------------------------------------------------------------
EXITS = "回复0回主菜单，9找人工。"
EXITS_SHORT = "0菜单 9人工"

# -- main menu ------------------------------------------------------------------------------------
MENU_KEYS = ("search", "recommend", "mine", "hours")
MENU_OPTIONS = ("找活动", "给我推荐活动", "我报名的活动", "我的服务时长")
MENU_OPTIONS_ELDER = ("找活动", "帮我挑活动", "我报的活动", "我干了多少小时")
MENU_OPTIONS_SHORT = ("找活动", "推荐", "我的报名", "服务时长")
MENU_PROMPT = "请问您想做什么？请回复数字："
MENU_PROMPT_ELDER = "请回一个数字："
MENU_PROMPT_SHORT = "请回数字："
MENU_FOOTER = "回复9找人工。想取消报名、改资料，直接说就行。"
MENU_FOOTER_ELDER = "回复9找人帮您。"
MENU_FOOTER_SHORT = "回9找人工"

GREET = "{name}您好！"
GREET_ANON = "您好！"
THANKS = "不客气，能帮上您就好。"
GOODBYE = "好的，祝您身体健康！有事随时给我发消息。"
OUT_OF_SCOPE = "这个我帮不上忙，我只会帮您找志愿活动、报名和查时长。"
OK_NOTHING = "现在没有要您确认的事，什么也没改。"
BOOKED_NONE = "您现在没有报名的活动。"
BOOKED_NOW = "您报名的活动：{items}。"
BOOKED_MORE = "（共{n}个，说“我的报名”看全部）"
HELP = ("我能帮您：找志愿活动、报名、取消报名、查服务时长。"
        "直接说就行，比如“明天有啥活动”“我想陪老人聊天”“取消报名”。")
LOST = "别着急，回一个数字就行，说错了也没关系，随时可以改。要人帮忙就回复9。"
LOST_SHORT = "别急，回数字就行，要人帮忙回9。"
EMOJI_AT_QUESTION = "收到您的表情了。这一步请回文字或数字："
HELP_SHORT = "可以说：明天有啥活动、取消报名、我的时长。"

# -- misunderstanding -----------------------------------------------------------------------------
MISS_ONCE = "对不起，我没听明白。"
MISS_ONCE_SHORT = "没听明白。"
MISS_TWICE = "对不起，我还是没明白。您可以回复数字选一项，或者回复9找人工，有人会联系您。"
MISS_TWICE_SHORT = "还是没明白。回数字选一项，或回9找人工。"
NOTHING_TO_REPEAT = "刚才没有要重复的内容。"
VOICE_NOT_UNDERSTOOD = "对不起，这段语音我没听清。您可以再说一遍，或者回复数字："
VOICE_NOT_UNDERSTOOD_SHORT = "语音没听清，请回数字："
IMAGE = "我看不懂图片，请您打字，或者回复数字："
IMAGE_SHORT = "看不懂图片，请打字或回数字："

# -- first contact and privacy --------------------------------------------------------------------
WELCOME = ("您好，欢迎来到银龄志愿助手！我帮您找志愿活动、报名、查服务时长。\n"
           "先说一下您的信息：我们只保存您的称呼、住的社区、手机号和报名记录，用来帮您报名和提醒您；"
           "您不再参加后保存两年，志愿服务记录按规定保存。"
           "您同意让家人帮忙后，家人只看到您报名的活动和提醒，看不到您的手机号和服务时长。"
           "随时可以说“删除我的信息”或“退订”。")
WELCOME_SHORT = ("欢迎来到银龄志愿助手！我们只存您的称呼、社区、手机号和报名记录，"
                 "用于报名和提醒，随时可说“退订”。")
PRIVACY_OPTIONS = ("同意", "先不同意，只看看活动")
PRIVACY_FOOTER = "回复1同意。"
PRIVACY_FOOTER_SHORT = "回1同意"
PRIVACY_AGAIN = "请回复1同意，回复2先不同意（只能看活动，不能报名）。"
PRIVACY_THANKS = "谢谢您！"
PRIVACY_DECLINED = "好的，您可以先看看活动。报名的时候需要您同意，才能保存报名记录。"
PRIVACY_DECLINED_SHORT = "好的，您可以先看活动，报名时需要同意。"
NEED_CONSENT = "报名要保存您的报名记录，需要您先同意。"
WELCOME_BACK = "欢迎回来！"

Q_PLACE = "问您三个小问题，不想答回复“跳过”。\n第1个：您住在哪个社区或街道？比如“阳光社区”。"
Q_PLACE_SHORT = "您住哪个社区？不想答回“跳过”。"
Q_LIKE = "第2个：您喜欢做哪类事？比如陪老人聊天、打扫卫生、量血压、教孩子。不想答回复“跳过”。"
Q_LIKE_SHORT = "您喜欢做什么？如陪老人、打扫卫生。回“跳过”可跳过。"
Q_TIME = "第3个：您一般什么时候有空？比如“周末上午”“每天下午”。不想答回复“跳过”。"
Q_TIME_SHORT = "您什么时候有空？如周末上午。回“跳过”可跳过。"
Q_PLACE_UNKNOWN = "我还不认识“{name}”这个地方，以后可以再告诉我。"
Q_SAVED_PLACE = "记下了：您住在{place}。"
Q_SAVED_LIKE = "记下了：您喜欢{cats}。"
Q_SAVED_TIME = "记下了：您{slots}有空。"
Q_SKIPPED = "好的，跳过。"
Q_TIME_CHECK = "您{slots}有空，对吗？"
Q_TIME_CHECK_OPTIONS = ("对，记下", "不对")
Q_TIME_AGAIN = "那您一般什么时候有空？比如“周六上午”“每天晚上”。不想答回复“跳过”。"
ABOUT_HOME = "住在{place}"
ABOUT_FREE = "{slots}有空"
ABOUT_ASK = "我记一下：您{what}，对吗？"
ABOUT_OPTIONS = ("对，记下", "不对")
ABOUT_SAVED = "记下了：您{what}。"
ABOUT_NOT_SAVED = "好的，没有记。"
ONBOARD_DONE = "都问完了，谢谢您！"

ELDER_ON = "已经换成长辈版：字少，选项少。"
ELDER_ON_SHORT = "已换成长辈版。"

# -- replies read aloud (念给我听) -------------------------------------------------------------------
READ_ALOUD_COMING = "好的，我把上面的话念给您听，语音马上发过来。"
READ_ALOUD_EYES = "好的，我把上面的话念给您听，语音马上发过来。想每次都听，就说“以后都念给我听”。"
READ_ALOUD_ON = "好的，以后我每次回复，都会再发一条语音念给您听。不想听了，就说“不用念了”。"
READ_ALOUD_ALREADY_ON = "现在已经是每次都念给您听了，什么也没改。不想听了，就说“不用念了”。"
READ_ALOUD_OFF = "好的，以后不发语音了，只发文字。想听的时候，说“念给我听”。"
READ_ALOUD_ALREADY_OFF = "现在本来就只发文字，没有发语音，什么也没改。想听的时候，说“念给我听”。"
READ_ALOUD_NOTHING = "刚才没有要念的内容。"
READ_ALOUD_SMS = "对不起，短信里发不了语音，念给您听只能在微信里用。回复“再说一遍”再看一次，回复0回主菜单。"
READ_ALOUD_HERE = "对不起，这里发不了语音，念给您听只能在微信里用。回复“再说一遍”再看一次，回复0回主菜单。"
READ_ALOUD_SMS_SHORT = "短信发不了语音，微信里才能念。回0菜单"

# -- activity facts -------------------------------------------------------------------------------
LEFT = "剩{n}个名额"
LEFT_SHORT = "剩{n}"
FULL = "已满，可排队候补"
FULL_SHORT = "已满可候补"
REVIEW_NOTE = "（要审核）"
STATUS_NAMES = {
    SignupStatus.CONFIRMED: "已报上",
    SignupStatus.PENDING: "等审核",
    SignupStatus.WAITLISTED: "候补第{pos}位",
}

# -- search ---------------------------------------------------------------------------------------
LIST_HEAD = "{scope}活动有{total}个："
LIST_HEAD_PAGE = "{scope}活动，第{a}到{b}个（共{total}个）："
LIST_HEAD_SHORT = "{scope}活动{total}个："
TOTAL_OVER = "超过{n}"  # {total} above when the search stopped counting: 活动有超过100个
LIST_FOOTER = "回复数字看详情，回复“更多”看下一页，0回主菜单。"
LIST_FOOTER_LAST = "回复数字看详情，0回主菜单，9找人工。"
LIST_FOOTER_SHORT = "回数字看详情 更多=下页 0菜单"
LIST_FOOTER_SHORT_LAST = "回数字看详情 0菜单"
NO_MORE = "这些就是全部了。回复数字看详情，或者换个日子问我，比如“下周有啥活动”。0回主菜单。"
NO_MORE_SHORT = "就这些了。回数字看详情 0菜单"
NO_LIST = "请先告诉我您想找什么活动，比如“明天有啥活动”。"
NO_LIST_SHORT = "请先说想找什么活动，如“明天有啥活”。"
NOT_IN_LIST = "列表里没有第{n}个，请回复1到{m}。"
NOT_IN_RANGE = "现在列出的是第{a}到{b}个，没有第{n}个，请回复{a}到{b}。"
NOTHING_CHOSEN = "好的，没有选活动，什么也没报。"
NOT_SIGNED_BACK = "好的，这个没有报。"
NONE_FOUND = "{scope}暂时没有活动。"
NONE_FOUND_ALT = "{scope}活动暂时没有。您可以看看："
NONE_AT_ALL = "最近都没有活动。有新活动时，我们会通知您。"
ALT_DATE = "{day}的活动"
ALT_ANY_CATEGORY = "这段时间别的活动"
ALT_ANY_PLACE = "所有地方的活动"
ALT_FOOTER = "回复数字选择，0回主菜单。"
WHERE_ASK = "您在哪个社区、村或嘎查？告诉我名字（比如“阳光社区”），或者点“+”发个位置给我。"
WHERE_ASK_SHORT = "您在哪个社区或村？请回名字。"
PLACE_UNKNOWN = "我还不认识“{name}”这个地方，先给您看全部的。"
PLACE_NEAR_HOME = "您家附近（{place}）"
SCOPE_ALL = "最近"
SCOPE_NEAR_POINT = "离您近的"
DETAIL_FOOTER = "回复1报名，回复2返回列表，0回主菜单。"
DETAIL_FOOTER_SHORT = "回1报名 2返回 0菜单"
DETAIL_FOOTER_MINE = "回复1取消这个报名，回复2返回，0回主菜单。"
DETAIL_FOOTER_MINE_SHORT = "回1取消报名 2返回"
ALREADY_IN = "您已经报了这个活动（{status}）。"

# -- sign-up --------------------------------------------------------------------------------------
WHICH_ACTIVITY = "您想报哪个活动？请先找一找，比如说“明天有啥活动”。"
WHICH_ON_LIST = "您想报列表里的第几个？回复数字就行，0回主菜单。"
WHICH_ON_LIST_PARTY = "记下了，一共{party}人。您想报列表里的第几个？回复数字就行，0回主菜单。"
WHICH_ACTIVITY_SHORT = "想报哪个？先说“明天有啥活动”。"
CONFIRM_SIGNUP = "您要报名：{card}\n{party}人参加。"
CONFIRM_SIGNUP_OPTIONS = ("确认报名", "不报了")
CONFIRM_FOOTER = "和家人一起来，请说“我们两个人”。"
CONFIRM_FOOTER_PARTY = "人数不对，直接说几个人，比如“就我一个”。"
PARTY_BOOKED = "您这边一共{party}人。"
CONFIRM_FOOTER_SHORT = "回1确认 2不报"
CONFIRM_WAITLIST = "{card}\n要排队候补吗？您前面有{ahead}人，有人退出就给您补上。"
CONFIRM_WAITLIST_OPTIONS = ("排队候补", "不报了")
CONFIRM_OVERLAP = "这个时间您已经报了“{other}”（{when}）。还要报“{title}”吗？"
CONFIRM_OVERLAP_OPTIONS = ("两个都报", "不报了", "换成这个，原来的不去了")
OVERLAP_FOOTER = "回复1、2或3。"
OVERLAP_FOOTER_SHORT = "回1/2/3"
YESNO_FOOTER = "回复1或2。"
YESNO_FOOTER_SHORT = "回1或2"
SIGNED_UP = "报好了！{card}"
SIGNED_PENDING = "已提交，等{reviewer}审核：{card}\n审核后会通知您。"
SIGNED_WAITLIST = "已排队：{card}\n您是候补第{pos}位，有人退出会自动给您补上，并通知您。"
REMIND_WECHAT = "活动前一天会在微信里提醒您。"
REMIND_SMS = "活动前一天发短信提醒您。"
REMIND_FAMILY = "活动前一天会提醒本人，也给您发一份。"
REMIND_NONE = "您退订了通知，不会再提醒，请记好时间。"
UNDO_HINT = "10分钟内回复“撤销”可以撤回。"
UNDO_HINT_SHORT = "10分钟内回“撤销”可撤回。"
NOT_SIGNED = "好的，没有报名。"
PARTY_NOTE = "好的，按{party}人报名。"

# -- domain errors (one place) --------------------------------------------------------------------
ERR_NOT_OPEN = "这个活动已经开始、结束或取消了，报不了名。"
ERR_ALREADY = "您已经报过这个活动了。"
ERR_NOT_FOUND = "没找到这个活动，可能已经撤下了。"
ERR_OVERLAP = "这个时间您已经有别的活动了。"
ERR_INVALID = "这一步没办成，请再试一次，或者回复9找人工。"
ERR_GENERIC = "这一步没办成。"

# -- cancel and mine ------------------------------------------------------------------------------
NO_SIGNUPS = "您现在没有报名的活动。"
PICK_CANCEL = "您要取消哪一个？"
PICK_FOOTER = "回复数字选择，0回主菜单。"
PICK_FOOTER_SHORT = "回数字选 0菜单"
CONFIRM_CANCEL = "确定取消这个报名吗？{card}"
CONFIRM_CANCEL_OPTIONS = ("确定取消", "不取消")
CANCELLED = "已取消：{title}（{when}）。"
NOT_CANCELLED = "好的，没有取消，您的报名还在。"
NOT_CANCELLED_ANY = "好的，什么也没取消。"
MINE_HEAD = "您报名的活动（共{total}个）："
MINE_FOOTER = "回复数字看详情。想退出就说“取消报名”。"
MINE_FOOTER_SHORT = "回数字看详情"
MINE_FOOTER_MORE = "回复数字看详情，回复“更多”看下一页。想退出就说“取消报名”。"
MINE_FOOTER_MORE_SHORT = "回数字看详情，回“更多”看下页"

# -- answers to activity reminders (1 我会到 / 2 去不了) ----------------------------------------------
REMINDER_YES = "谢谢您，记下了您会到：{card}\n请准时参加。"
REMINDER_YES_SHORT = "谢谢，记下您会到：{card}"
REMINDER_ASK_CANCEL = "您去不了这个活动了吗？确认退出后，名额会让给别人：{card}"
REMINDER_CANCEL_OPTIONS = ("确认退出", "不退了")
REMINDER_CANCELLED = "已退出：{title}（{when}）。{given}谢谢您告诉我们。"
REMINDER_GIVEN = "您的名额已经让给了候补的志愿者。"
REMINDER_FREED = "您的名额已经空出来，留给别人报名。"
REMINDER_KEPT = "好的，没有退出，您的报名还在：{card}"
REMINDER_GONE = "这个报名已经不在了，不用再退出。"

# -- coordinator commands (名单 / 审核 / 通知), for volunteers who are also coordinators -----------------
CO_NO_TEAMS = "您还没有负责的队伍，名单、审核和通知用不了。"
CO_NO_ACTIVITY = "您的队伍最近没有{what}的活动。请换个说法，比如“名单 送棉衣”。"
CO_PICK_ACTIVITY = "您要看哪个活动的名单？"
CO_ROSTER_HEAD = "【{title}】{when}\n已确认{confirmed}人，待审核{pending}人，候补{waitlisted}人。"
CO_ROSTER_PAGE = "第{a}到{b}个（共{total}个）："
CO_ROSTER_EMPTY = "还没有人报名。"
CO_ROSTER_MORE = "回复“更多”看下一页，0回主菜单。"
CO_ROSTER_MORE_SHORT = "更多=下页 0菜单"
CO_ROSTER_END = "名单就这些。0回主菜单。"
CO_ROSTER_END_SHORT = "就这些 0菜单"
CO_STATUS = {
    SignupStatus.CONFIRMED: "已确认",
    SignupStatus.PENDING: "待审核",
    SignupStatus.WAITLISTED: "候补",
    SignupStatus.ATTENDED: "已签到",
    SignupStatus.NO_SHOW: "没来",
}
CO_NO_PHONE = "未留电话"
CO_REVIEW_NONE = "您的队伍现在没有等审核的报名。"
CO_REVIEW_ITEM = "待审核的报名（共{left}个）：{name}（{phone}）{party}报名了{card}"
CO_REVIEW_OPTIONS = ("通过", "不通过", "下一个")
CO_REVIEW_FOOTER = "回复1、2或3，0回主菜单。"
CO_REVIEW_FOOTER_SHORT = "回1/2/3 0菜单"
CO_APPROVED = "已通过：{name}，会通知本人。"
CO_DECLINED = "已不通过：{name}，会通知本人。"
CO_PROMOTED = "候补的{n}人补上了空位。"
CO_REVIEW_DONE = "都审核完了。"
CO_REVIEW_GONE = "这个报名已经有人处理过了。"
CO_NOTICE_HOW = "请这样发：通知 队名：内容。比如“通知 {team}：明天早上8点在服务站集合”。"
CO_NOTICE_WHICH = "没找到“{name}”。您负责的队伍有：{teams}。请写队名。"
CO_NOTICE_TOO_LONG = "通知内容太长了，请不超过{n}个字。"
CO_NOTICE_PREVIEW = "要发给{team}的{total}位队员{opted}：\n“{text}”"
CO_NOTICE_OPTED = "（其中{n}位退订了通知，不会发）"
CO_NOTICE_OPTIONS = ("发送", "不发了")
CO_NOTICE_SENT = "好的，通知交给系统发送了：{team}，{n}人。发送进度可以在协调员网页的“通知”里看。"
CO_NOTICE_SENT_SHORT = "已发送：{team}，{n}人。"
CO_NOTICE_NOT_SENT = "好的，没有发。"

# -- undo -----------------------------------------------------------------------------------------
UNDO_NOTHING = "现在没有可以撤销的事。"
UNDO_EXPIRED = "已经超过10分钟，不能撤销了。"
UNDO_SIGNUP = "已撤销报名：{title}。"
UNDO_CANCEL = "已恢复报名：{title}（{status}）。"
UNDO_PROFILE = "已改回原来的资料。"

# -- hours ----------------------------------------------------------------------------------------
HOURS = "您一共服务了{total}小时，今年{year}小时，参加过{n}次活动。"
HOURS_SHORT = "共{total}小时，今年{year}小时，{n}次。"
HOURS_NONE = "您还没有服务记录。参加活动后，组织的志愿队会给您记上时长。"
HOURS_LAST = "最近几次："
HOURS_LINE = "{day} {title} {hours}小时"
HOURS_PROOF = "要盖章的服务证明，请找组织活动的志愿队开具，比如{team}的{name}，电话{phone}。"
HOURS_PROOF_SHORT = "要证明请找{name}，{phone}。"
HOURS_PROOF_ANY = "要盖章的服务证明，请找组织活动的志愿队开具。"

# -- help / hand-off ------------------------------------------------------------------------------
HANDOFF = "好的，已经请{name}联系您，电话{phone}。您刚才说的话会一起转给对方，您也可以直接打这个电话。"
HANDOFF_SHORT = "已请{name}联系您，电话{phone}。"
FRAUD_CALM = ("您放心，这里是银龄志愿助手，帮您报名志愿活动：不收钱，不要银行卡、密码和身份证号。"
              "绑定手机时发的验证码只是证明手机是您本人的，只在这里输入；有人打电话来要验证码，一律别给。")
FRAUD_CALM_SHORT = "放心，不收钱，不要银行卡和密码。验证码只在这里输入，有人来要别给。"
FRAUD_CHECK = "不放心可以先打电话问{team}的{name}：{phone}，也可以活动那天请协调员当面帮您绑定。"
FRAUD_CHECK_SHORT = "不放心可打给{name}：{phone}。"
FRAUD_CHECK_ANY = "不放心可以先问问社区的志愿服务队，也可以活动那天请协调员当面帮您绑定。"
HANDOFF_NO_PHONE = ("已经把您刚才说的话转给了{name}。您还没留电话，对方没法联系您："
                    "请发您的手机号，{name}会打给您；或者您直接打{phone}。")
HANDOFF_CALLBACK = "记下了，已经告诉{name}打{masked}联系您，请留意接电话。"
STAFF = "工作人员"
HANDOFF_NOBODY = "好的，已经转给工作人员，会尽快联系您。"
# The team's staff group (WeCom robot) was told: a person there reads it now.
HANDOFF_TEAM = "好的，已经告诉{team}的工作人员，会有人打电话联系您。您刚才说的话会一起转过去。"
HANDOFF_TEAM_SHORT = "已告诉{team}的工作人员，会有人打给您。"
HANDOFF_TEAM_NO_PHONE = "已经把您刚才说的话转给了{team}的工作人员。您还没留电话，他们没法打给您：请发您的手机号。"
HANDOFF_ALSO_CALL = "您也可以直接打{phone}找{name}。"
# Nobody can be told at once: the request waits on the coordinators' page, so no call is promised.
HANDOFF_WAITING = "已经记下您要找人，工作人员上班看到后会联系您。"
HANDOFF_ASK_PHONE_OR_TIME = "请发一个能接电话的手机号，或者说说什么时候方便打给您，比如“下午三点以后”。"
HANDOFF_ASK_TIME = "请问什么时候方便给您打电话？比如“明天上午”。"
HANDOFF_NOTED_TIME = "记下了，您方便接电话的时间是：{when}。工作人员看到后会按这个时间打给您。"
HANDOFF_NOTED_PHONE = "记下了，工作人员看到后会打{masked}联系您，请留意接电话。"

# -- profile --------------------------------------------------------------------------------------
PROFILE_WHAT = "您想改哪一项？"
PROFILE_OPTIONS = ("住的地方", "喜欢做的事", "有空的时间", "身体情况")
PROFILE_ASK_PLACE = "您现在住在哪个社区、街道或区？"
PROFILE_ASK_LIKE = "您喜欢做哪类事？比如陪老人、打扫卫生、量血压。"
PROFILE_ASK_TIME = "您什么时候有空？比如“周末上午”“每天下午”。"
PROFILE_ASK_BODY = "您身体怎么样？比如“腿脚不好，不能久站”或“身体好，能干体力活”。"
PROFILE_CONFIRM = "把您的{field}改成：{value}，对吗？"
PROFILE_CONFIRM_OPTIONS = ("对", "不对")
PROFILE_SAVED = "改好了。"
PROFILE_NOT_SAVED = "好的，没有改。"
PROFILE_NOT_UNDERSTOOD = "没听懂要改成什么。"
FIELD_PLACE = "住的地方"
FIELD_LIKE = "喜欢做的事"
FIELD_TIME = "有空的时间"
FIELD_BODY = "身体情况"
BODY_LIGHT = "只做轻松的活（坐着、聊天）"
BODY_MODERATE = "能走能站的活"
BODY_HEAVY = "体力活也能干"
RECOMMEND_OFF = "好的，以后不按您的资料推荐了，只按时间列出活动。想恢复就说“恢复推荐”。"
RECOMMEND_ON = "好的，已恢复按您的喜好推荐。"

# -- phone binding --------------------------------------------------------------------------------
BIND_ASK = ("绑定手机号，是为了用短信也能查到您的报名、收到提醒。请发您的手机号（11位数字）。"
            "我们会给这个号码发一条6位验证码，证明是您本人；验证码只在这里输入，任何人打电话来要，都别给。")
BIND_SENT = "验证码已经发到{masked}，请把6位数字发给我（10分钟内有效）。验证码只在这里输入，别告诉任何人。"
BIND_SENT_SHORT = "验证码已发到{masked}，请回6位数字。"
BIND_BAD_PHONE = "这个号码不对，请发11位手机号。"
BIND_BAD_CODE = "验证码不对，请再看一下短信，发6位数字。"
BIND_EXPIRED = "验证码过期了，请重新说“绑定手机”。"
BIND_TOO_MANY = "验证码已经发了好几次，为了安全，请过一小时再试。如果收不到短信，可以找人工帮您。"
BIND_DONE = "手机号{masked}绑定好了，以后短信也能找到您。"
BIND_MERGED = "手机号{masked}绑定好了，这个号码原来的报名和服务记录也合到一起了。"

# -- subscribe ------------------------------------------------------------------------------------
UNSUBSCRIBED = "已退订，以后不再主动给您发通知。您发消息我照样回复。想恢复请说“订阅”。"
UNSUBSCRIBED_SHORT = "已退订，不再发通知。恢复请回“订阅”。"
SUBSCRIBED = "好的，已订阅，有活动通知和提醒会发给您。"
SUBSCRIBED_SHORT = "已订阅通知。"
FORGET_CONFIRM = "要删除您的个人资料（称呼、住址、手机号、喜好、聊天记录）并退订通知吗？报名和服务记录会留下，但不再带您的名字。"
FORGET_OPTIONS = ("确定删除", "不删了")
FORGOTTEN = "已为您退订，并删除了您的个人资料。欢迎您随时回来。"

# -- recommend ------------------------------------------------------------------------------------
RECOMMEND_HEAD = "按您的情况挑了{n}个："
RECOMMEND_HEAD_SHORT = "给您挑了{n}个："
RECOMMEND_PLAIN = "您关闭了个性化推荐，这是最近的活动。"
RECOMMEND_NONE = "暂时没有适合您的活动。"
REASON_LIKE = "您喜欢{cat}"
REASON_FREE = "您{slot}有空"
REASON_NEAR = "离您家近"
REASON_SOON = "时间最近"
REASON_JOIN = "因为"

# -- team / place join by QR code -----------------------------------------------------------------
JOINED_TEAM = "已加入{team}。"
JOINED_PLACE = "已记下您在{place}。"

PARTS = ("上午", "下午", "晚上")


def _short_week(text: str) -> str:
    for i, name in enumerate(WEEKDAYS):
        text = text.replace(f"（{name}）", "周" + "一二三四五六日"[i])
    return text


def when(start: datetime, end: datetime | None = None, short: bool = False) -> str:
    """`12月5日（星期六）上午9点到11点半`; SMS: `12月5日周六上午9点`."""
    text = format_when(start, None if short else end)
    return _short_week(text) if short else text


def day(start: datetime, short: bool = False) -> str:
    s = to_local(start)
    text = f"{s.month}月{s.day}日（{WEEKDAYS[s.weekday()]}）"
    return _short_week(text) if short else text


def community(activity: Activity) -> str:
    return activity.place.name if activity.place is not None else ""


def where(activity: Activity, short: bool = False) -> str:
    """Community + address + landmark: `阳光社区，阳光社区服务站（新华广场东侧）`."""
    comm = community(activity)
    addr = activity.address or ""
    if short:  # the village or 嘎查 name always, then where exactly
        if not addr or addr.startswith(comm) or not comm:
            return addr or comm
        return f"{comm}{addr.removeprefix('嘎查')}" if addr.startswith("嘎查") else f"{comm}{addr}"
    parts = [comm] if comm else []
    if addr and addr != comm:
        parts.append(addr)
    text = "，".join(parts)
    if activity.landmark and activity.landmark not in text:
        text += f"（{activity.landmark}）"
    return text


def left(n: int, short: bool = False) -> str:
    if n <= 0:
        return FULL_SHORT if short else FULL
    return (LEFT_SHORT if short else LEFT).format(n=n)


def activity_line(activity: Activity, places_left: int, short: bool = False, extra: str = "",
                  status: str | None = None) -> str:
    """One list line: when, what, community, places left (or the sign-up status), and a reason."""
    review = REVIEW_NOTE if activity.needs_review and not short and status is None else ""
    state = status if status is not None else left(places_left, short)
    tail = f"，{extra}" if extra else ""
    return f"{when(activity.starts_at, short=short)} {activity.title}{review}（{community(activity)}，" \
           f"{state}{tail}）"


def activity_card(activity: Activity, places_left: int, short: bool = False, full: bool = True,
                  detail: bool = False) -> str:
    """What, when, where and places left; with `full` also what you do and what it needs (by SMS only on
    the details screen, which may use three segments)."""
    if short:
        text = f"{activity.title}，{when(activity.starts_at, short=True)}，{where(activity, True)}，" \
               f"{left(places_left, True)}。"
        if detail and activity.description:
            text += f"干啥：{activity.description}"
        return text
    lines = [f"【{activity.title}】", f"时间：{when(activity.starts_at, activity.ends_at)}",
             f"地点：{where(activity)}"]
    if full and activity.description:
        lines.append(f"内容：{activity.description}")
    if full and activity.requirements:
        lines.append(f"要求：{activity.requirements}")
    lines.append(left(places_left) + "。" + ("要经过审核。" if activity.needs_review else ""))
    return "\n".join(lines)


def status_name(status: SignupStatus, pos: int | None = None) -> str:
    template = STATUS_NAMES.get(status, "")
    return template.format(pos=pos or 1)


def hours(value: Decimal) -> str:
    """`2.50` → `2.5`, `3.00` → `3`."""
    text = f"{value.normalize():f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def slots_text(mask: int) -> str:
    """Availability bits as words: `每天上午`, `周末下午`, `周一上午、周三晚上`."""
    if not mask:
        return "都没空"
    days_by_part: dict[int, list[int]] = {}
    for d in range(7):
        for p in range(3):
            if mask >> (d * 3 + p) & 1:
                days_by_part.setdefault(p, []).append(d)
    out = []
    for p, days in sorted(days_by_part.items()):
        if days == list(range(7)):
            label = "每天"
        elif days == [5, 6]:
            label = "周末"
        elif days == [0, 1, 2, 3, 4]:
            label = "平时"
        else:
            label = "、".join("周" + "一二三四五六日"[d] for d in days)
        out.append(label + PARTS[p])
    return "，".join(out)


def slot_of(start: datetime) -> tuple[int, int]:
    """(weekday, part) of a stored UTC start: part 0 上午, 1 下午, 2 晚上."""
    s = to_local(start)
    part = 0 if s.hour < 12 else (1 if s.hour < 18 else 2)
    return s.weekday(), part


def slot_name(weekday: int, part: int) -> str:
    return "周" + "一二三四五六日"[weekday] + PARTS[part]


def body_text(load: int) -> str:
    return {1: BODY_LIGHT, 2: BODY_MODERATE}.get(load, BODY_HEAVY)

# -- a shared location: remembered only when the person asks for it (consent kind "location") ---------
LOCATION_REMEMBER_HINT = "想让我记住这个位置，下次说“附近”就按它找，请回复“记住位置”。"
LOCATION_SAVED = "好的，记住了这个位置。以后说“附近有啥活动”就按它找。不想让我记，回复“忘掉位置”。"
LOCATION_WILL_SAVE = "好的。请点输入框旁的“+”，选“位置”发给我，我就记住。不想让我记，回复“忘掉位置”。"
LOCATION_FORGOTTEN = "好的，已经忘掉您的位置，以后也不再记。想让我记，回复“记住位置”。"

# -- answers about the activity on screen (the screen stays) -------------------------------------
ABOUT_YOURS = "您报的“{title}”："
ASK_CONTACT = "想问清楚，可以打电话问{name}：{phone}。"
ANSWER_WHAT = "【{title}】要做的事：{text}"
ANSWER_NEEDS = "要求：{req}"
ANSWER_WHERE = "地点：{where}。"
ANSWER_WHEN = "时间：{when}。"
ANSWER_LEFT = "还没满，{left}。"
ANSWER_FULL = "已经满了，可以排队候补：有人退出，按顺序给您补上，并通知您。"
ANSWER_REVIEW = "要审核的意思是：您报名后，{team}的{name}看一下，同意了才算报上，会通知您结果。"
ANSWER_NO_REVIEW = "这个活动不用审核，报上就算数。要审核的活动，是{team}的{name}看过同意了才算报上。"
ANSWER_WAITLIST = "候补就是名额满了先排队。有人退出，按排队顺序给您补上，补上了会通知您；不想等了随时说“不等了”。"
ANSWER_CONTACT = "这个活动由{team}组织，联系人{name}，电话{phone}。"
ANSWER_LOAD = "这个活动{load}{req}。"
LOAD_WORDS = {1: "是轻松的活，不累", 2: "要走动、站一会儿，不算重", 3: "是体力活，比较累"}
ANSWER_BRING = "活动要求：{req}。没写要自己带的东西。"
ANSWER_BRING_NONE = "活动没写要带什么，一般带上水杯、穿暖和就行。"
ANSWER_RIDE = "活动没说有车接送，地点是{where}。"
ANSWER_RIDE_YES = "活动统一坐车，集合地点是{where}。"
ANSWER_MEAL = "活动介绍里没写管饭。"
ANSWER_ID = "活动没写要带身份证。"
STILL_ASKING = "回复{opts}。"

# -- changing a sign-up, corrections ------------------------------------------------------------
PARTY_ASK = "把“{title}”从{old}人改成{new}人，对吗？别的不变。"
PARTY_OPTIONS = ("对，改成这样", "不改了")
PARTY_SAME = "“{title}”已经是{n}人了，不用改。"
PARTY_CHANGED = "改好了：“{title}”现在是{n}人。"
PARTY_NO_ROOM = "名额不够：“{title}”只剩{left}个空位，没有改，还是{n}人。"
SWITCH_ASK = "把“{old}”换成“{new}”吗？原来那个会取消，名额让给别人。"
SWITCH_OPTIONS = ("换", "不换了")
SWITCHED = "换好了：“{new}”{status}。“{old}”已取消。"
NOT_SWITCHED = "好的，没有换，原来的报名还在。"
CORRECT_ASK = "要撤销刚才报的“{title}”吗？"
CORRECT_OPTIONS = ("撤销这个报名", "不撤销")
NOTHING_CHANGED = "好的，什么也没改。"

# -- family helpers (亲情助手) --------------------------------------------------------------------
FAMILY_SEES = "家人能帮您找活动、报名、取消，也会收到您报名和提醒的副本；看不到您的手机号、服务时长和聊天记录。"
FAMILY_CODE = ("好的。请您的{who}用自己的微信关注本公众号，发送：\n家人{code}\n"
               "这个码24小时内有效，只能用一次。" + FAMILY_SEES)
FAMILY_CODE_SHORT = "请您的{who}用自己的微信给本公众号发：家人{code}（24小时内有效）。家人看不到您的手机号和时长。"
FAMILY_TOO_MANY = "您已经有3位家人帮忙了，最多3位。要换人，请先回复“解除家人”。"
FAMILY_CLAIMED = "收到。已请{parent}确认，同意后就绑好了，到时告诉您。"
FAMILY_CODE_WRONG = "这个家人码不对，或者已经用过、过期了。请家人回复“绑定家人”再拿一个码发给您。"
FAMILY_CODE_LIMIT = "家人码试错太多次了，请过1小时再试。"
FAMILY_CODE_SELF = "这是您自己的家人码，请让家人用他自己的微信发送。"
FAMILY_ALREADY = "您已经在帮{parent}了，不用再绑定。"
FAMILY_ASK = "{helper}想帮您报名活动。" + FAMILY_SEES + "\n您同意吗？"
FAMILY_ASK_EXPLAIN = ("这是您的家人想用他自己的微信帮您报名。" + FAMILY_SEES
                      + "不认识这个人，请回复2。还有不明白的，回复9找人工。")
FAMILY_ASK_OPTIONS = ("同意", "不同意")
FAMILY_ASK_TITLE = "家人绑定"
FAMILY_LINKED = "好的，{helper}可以帮您了。不想让家人帮了，随时回复“解除家人”。"
FAMILY_LINKED_HELPER = ("{parent}同意了，您可以帮{parent}了。您可以说“给我{title}报名明天的活动”，"
                        "或“帮我{title}看看这周末有啥活”。")
FAMILY_DECLINED = "好的，没有绑定，{helper}不能帮您报名。"
FAMILY_DECLINED_STRANGER = ("好的，没有绑定，这个人不能帮您报名。家人码请只给自己信得过的家人。"
                            "有人冒充工作人员要码，请回复9找人工。")
FAMILY_DECLINED_HELPER = "{parent}没有同意绑定，您不能替{parent}报名。"
FAMILY_NONE = "您现在没有绑定家人。想让家人帮忙，请回复“绑定家人”。"
FAMILY_UNLINK_ASK = "要解除和{other}的绑定吗？解除后{other_side}。"
FAMILY_UNLINK_PARENT_SIDE = "家人不能再替您报名，也收不到您的提醒副本"
FAMILY_UNLINK_HELPER_SIDE = "您不能再替{other}报名，也收不到{other}的提醒副本"
FAMILY_UNLINK_OPTIONS = ("解除", "不解除")
FAMILY_UNLINK_PICK = "要解除和哪位家人的绑定？"
FAMILY_NTH = "第{n}位{who}"
FAMILY_UNLINKED = "已解除和{other}的绑定。"
FAMILY_UNLINKED_OTHER = "{other}解除了和您的家人绑定。想再绑定，请回复“绑定家人”。"
FAMILY_UNLINK_KEPT = "好的，没有解除，还和{other}绑定着。"
FAMILY_NOT_LINKED = ("您还没有绑定{rel}，不能替{rel}报名。请{rel}给本公众号发“绑定家人”，"
                     "把拿到的家人码发给您。")
FAMILY_FOR = "为{parent}办理："
FAMILY_PARENT_ONLY = ("{parent}的服务时长、手机号和资料，只有本人能看、能改。您可以帮{parent}找活动、报名、取消，"
                      "比如说“帮我{rel}看看明天有啥活”。")
FAMILY_PARENT_NO_CONSENT = "{parent}还没有同意隐私说明，现在不能替{parent}报名。请{parent}先给本公众号回复“同意”。"
FAMILY_MADE_TITLE = "家人代报"
FAMILY_MADE = "您的{helper}帮您报了名：{card}\n不想去，请在10分钟内回复“撤销”。"
FAMILY_CANCELLED = "您的{helper}帮您取消了报名：{title}，{when}。10分钟内回复“撤销”可以恢复。"
FAMILY_TOLD = "已告诉{parent}。"
FAMILY_UNDONE_HELPER = "{parent}撤回了您代报的“{title}”。"
FAMILY_COPY = "您{title}{name}：{text}"
FAMILY_COPY_TITLE = "家人报名"
FAMILY_FORGOTTEN = "{other}和您的家人绑定已经解除了。"
FAMILY_PHONE_SENT = ("好的。如果{masked}在银龄志愿助手登记过，{rel}会收到一条短信，回复1同意就绑好了，到时告诉您。"
                     "没登记过的话，请在{rel}身边让{rel}回复“绑定家人”拿一个家人码。")
FAMILY_PHONE_LIMIT = "今天发的绑定短信太多了，请明天再试。"
FAMILY_RESTORED_HELPER = "{parent}撤回了您代办的取消，“{title}”还报着。"
FAMILY_RING_ASK = "您回复9找人工时，也告诉{helper}吗？"
FAMILY_RING_OPTIONS = ("也告诉家人", "不用")
FAMILY_RING_ON = "好的，您找人工时，也会告诉{helper}。"
FAMILY_RING_OFF = "好的，找人工时不告诉家人。"
