"""Abstract replies the dialogs return; each channel renders them within its own length budget."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    """A plain message."""

    text: str


@dataclass(frozen=True)
class Choices:
    """A question with at most four numbered options and a line saying what else can be sent."""

    prompt: str
    options: tuple[str, ...] = field(default_factory=tuple)
    footer: str = ""
    first: int = 1  # the number of the first option: a list's page 2 is numbered 5–8, not 1–4 again

    def __post_init__(self) -> None:
        if len(self.options) > 4:
            raise ValueError("at most 4 numbered choices")


Reply = Text | Choices


def to_plain(replies: list[Reply]) -> str:
    """Render replies as one plain-text message (the WeChat passive reply and the console)."""
    parts: list[str] = []
    for r in replies:
        if isinstance(r, Text):
            parts.append(r.text)
        else:
            lines = [r.prompt] if r.prompt else []
            lines += [f"{i}. {opt}" for i, opt in enumerate(r.options, r.first)]
            if r.footer:
                lines.append(r.footer)
            parts.append("\n".join(lines))
    return "\n\n".join(p for p in parts if p)


def to_data(replies: list[Reply]) -> list[dict[str, object]]:
    """Replies as JSON-ready dicts (kept in the dialog state for 再说一遍)."""
    out: list[dict[str, object]] = []
    for r in replies:
        if isinstance(r, Text):
            out.append({"t": "text", "text": r.text})
        else:
            item: dict[str, object] = {"t": "choices", "prompt": r.prompt, "options": list(r.options),
                                       "footer": r.footer}
            if r.first != 1:
                item["first"] = r.first
            out.append(item)
    return out


def from_data(items: list[dict[str, object]]) -> list[Reply]:
    out: list[Reply] = []
    for d in items:
        if d.get("t") == "text":
            out.append(Text(str(d.get("text", ""))))
        else:
            opts = d.get("options") or []
            out.append(Choices(str(d.get("prompt", "")), tuple(str(o) for o in opts)[:4],  # type: ignore[union-attr]
                               str(d.get("footer", "")), int(d.get("first") or 1)))  # type: ignore[call-overload]
    return out


def _cut(s: str, n: int) -> str:
    """Shorten to n characters, preferring a sentence end, marking the cut with …"""
    if len(s) <= n:
        return s
    if n <= 1:
        return s[:max(n, 0)]
    head = s[: n - 1]
    for mark in ("。", "；", "，", "\n"):
        i = head.rfind(mark)
        if i >= n // 2:
            return head[: i + 1].rstrip("，；\n") + "…"
    return head + "…"


def fit(replies: list[Reply], budget: int) -> list[Reply]:
    """Shrink replies until `to_plain` fits the budget, keeping every footer (what to send next).

    The longest prompt, option or text is cut first, so a list loses detail before it loses items.
    """
    if len(to_plain(replies)) <= budget:
        return replies
    items: list[list[object]] = []
    for r in replies:
        if isinstance(r, Text):
            items.append(["t", r.text])
        else:
            items.append(["c", r.prompt, list(r.options), r.footer, r.first])
    for _ in range(200):
        current = _build(items)
        excess = len(to_plain(current)) - budget
        if excess <= 0:
            return current
        # (length, item index, slot) of every shrinkable piece; options have a floor of 6 chars
        pieces: list[tuple[int, int, object]] = []
        for i, it in enumerate(items):
            if it[0] == "t":
                pieces.append((len(str(it[1])), i, "text"))
            else:
                pieces.append((len(str(it[1])), i, "prompt"))
                for j, opt in enumerate(it[2]):  # type: ignore[arg-type]
                    pieces.append((len(opt), i, j))
        pieces.sort(key=lambda p: p[0], reverse=True)
        length, i, slot = pieces[0] if pieces else (0, 0, None)
        if length <= 6:
            break
        target = max(6, length - excess, length * 2 // 3)
        it = items[i]
        if slot == "text":
            it[1] = _cut(str(it[1]), target)
        elif slot == "prompt":
            it[1] = _cut(str(it[1]), target)
        else:
            opts = it[2]
            opts[slot] = _cut(opts[slot], target)  # type: ignore[index,call-overload]
    current = _build(items)
    plain = to_plain(current)
    if len(plain) <= budget:
        return current
    footer = next((str(it[3]) for it in reversed(items) if it[0] == "c" and it[3]), "")
    room = budget - len(footer) - 1
    return [Text(_cut(plain, room) + ("\n" + footer if footer else ""))]


def _build(items: list[list[object]]) -> list[Reply]:
    out: list[Reply] = []
    for it in items:
        if it[0] == "t":
            out.append(Text(str(it[1])))
        else:
            out.append(Choices(str(it[1]), tuple(it[2]), str(it[3]), int(it[4])))  # type: ignore[arg-type,call-overload]
    return out
