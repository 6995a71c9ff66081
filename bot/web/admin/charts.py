"""Bar charts for the statistics page, drawn as inline SVG on the server from the very table shown beside
them: no JavaScript, no CDN, no chart library. Bars are horizontal so that Chinese labels (months, 旗县区,
categories) stay readable at phone width; each bar carries its label and value as data attributes, which is
what the test compares with the table."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

from data.stats import RegionStats, Table

WIDTH = 320  # viewBox units; the page scales the chart to its column (a little over 1:1 on a 375 px phone)
FONT = 16
ROW = 34
BAR = 24
PAD = 8
LABEL_MAX = 120
COLOUR = "#0b4f9c"
FONTS = "'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif"
TOTAL = "合计"


@dataclass(frozen=True)
class ChartSpec:
    table: str  # key of the table in RegionStats
    column: int  # which column of that table the bars show
    title: str
    unit: str


CHARTS = (
    ChartSpec("month", 3, "每月服务时长", "小时"),
    ChartSpec("active_month", 1, "每月活跃志愿者", "人"),
    ChartSpec("category", 1, "各服务类别的活动数", "个"),
    ChartSpec("place", 1, "各旗县区的活动数", "个"),
)


def text_width(text: str, size: float = FONT) -> float:
    """Rough rendered width: a wide (CJK) character is one em, anything else about 0.6 em."""
    return sum(size if unicodedata.east_asian_width(ch) in ("W", "F") else 0.6 * size for ch in text)


def _fit(text: str, width: float) -> str:
    if text_width(text) <= width:
        return text
    while text and text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _number(cell: object) -> Decimal:
    try:
        return Decimal(str(cell))
    except InvalidOperation:
        return Decimal(0)


def bars(table: Table, column: int) -> list[tuple[str, str, Decimal]]:
    """(label, value as shown in the table, value) for each row but the total."""
    return [(str(row[0]), str(row[column]), _number(row[column])) for row in table.rows if row[0] != TOTAL]


def bar_chart(spec: ChartSpec, table: Table) -> Markup:
    """A horizontal bar chart of one table column: a <figure> with its caption and an inline <svg>."""
    items = bars(table, spec.column)
    title = f"{spec.title}（{spec.unit}）"
    if not items:
        return Markup(f'<p class="muted chart-empty">{escape(spec.title)}：还没有数据。</p>')
    label_w = min(LABEL_MAX, max(text_width(label) for label, _, _ in items))
    value_w = max(text_width(shown) for _, shown, _ in items) + 6
    bar_x = PAD + label_w + 8
    span = WIDTH - bar_x - value_w - PAD
    top = max((v for _, _, v in items), default=Decimal(0))
    height = PAD * 2 + ROW * len(items)
    parts = [f'<figure class="chart"><figcaption>{escape(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" role="img" aria-label={quoteattr(title)} font-family="{FONTS}" font-size="{FONT}" '
             f'data-table="{spec.table}"><title>{escape(title)}</title>']
    for n, (label, shown, value) in enumerate(items):
        y = PAD + n * ROW
        w = float(value / top) * span if top > 0 else 0.0
        if value > 0:
            w = max(w, 2.0)
        mid = y + ROW / 2
        parts.append(
            f'<g class="bar" data-label={quoteattr(label)} data-value={quoteattr(shown)}>'
            f'<title>{escape(label)}：{escape(shown)}{escape(spec.unit)}</title>'
            f'<text x="{PAD + label_w:.1f}" y="{mid:.1f}" text-anchor="end" dominant-baseline="central" '
            f'fill="#111">{escape(_fit(label, label_w))}</text>'
            f'<rect x="{bar_x:.1f}" y="{mid - BAR / 2:.1f}" width="{w:.1f}" height="{BAR}" fill="{COLOUR}"/>'
            f'<text x="{bar_x + w + 4:.1f}" y="{mid:.1f}" dominant-baseline="central" fill="#111" '
            f'font-weight="bold">{escape(shown)}</text></g>')
    parts.append("</svg></figure>")
    return Markup("".join(parts))


def charts_for(stats: RegionStats) -> dict[str, Markup]:
    """Table key → its chart, for the tables that have one."""
    out: dict[str, Markup] = {}
    for spec in CHARTS:
        table = stats.table(spec.table)
        if table is not None:
            out[spec.table] = bar_chart(spec, table)
    return out
