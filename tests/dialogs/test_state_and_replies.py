"""The dialog state in the store (memory and Redis) and fitting replies into a channel's budget."""

from __future__ import annotations

from data.kv import RedisStore, Store
from dialogs import Choices, Text, to_plain
from dialogs import state as states
from dialogs.replies import fit, from_data, to_data


def test_state_round_trip_and_ttl(store: Store) -> None:
    st = states.State(flow="search", step="list", listed=[3, 5], query={"mode": "search", "category": "助老"},
                      undo={"kind": "signup", "signup_id": 9, "at": "2026-11-28T10:00:00"})
    states.save(store, 42, st, ttl_days=3)  # below the floor: kept 7 days anyway
    back = states.load(store, 42)
    assert back == st and back.at == "search.list"
    if isinstance(store, RedisStore):
        ttl = store.client.ttl(store._prefix + states.key(42))  # noqa: SLF001 - checking the real expiry
        assert 6 * 86400 < ttl <= 7 * 86400
    states.forget(store, 42)
    assert states.load(store, 42) == states.State()


def test_unreadable_state_starts_over(store: Store) -> None:
    store.set(states.key(7), "{not json", ttl=60)
    assert states.load(store, 7) == states.State()
    store.set(states.key(7), '{"flow": "search", "unknown_field": 1}', ttl=60)
    assert states.load(store, 7).flow == "search"


def test_fit_keeps_footer_and_numbering() -> None:
    long = tuple("十二月五日（星期六）上午九点 一个名字特别特别长的志愿服务活动" * 2 for _ in range(4))
    replies = [Text("提示：" + "很长的说明。" * 30), Choices("活动有这些：", long, "回复数字看详情，0回主菜单。")]
    for budget in (300, 140, 70):
        out = fit(replies, budget)
        plain = to_plain(out)
        assert len(plain) <= budget
        assert plain.endswith("0回主菜单。")
    assert to_plain(fit(replies, 140)).count("\n4. ") == 1


def test_replies_serialize() -> None:
    replies = [Text("好"), Choices("问", ("甲", "乙"), "回复1或2。")]
    assert from_data(to_data(replies)) == replies
