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
            lines += [f"{i}. {opt}" for i, opt in enumerate(r.options, 1)]
            if r.footer:
                lines.append(r.footer)
            parts.append("\n".join(lines))
    return "\n\n".join(p for p in parts if p)
