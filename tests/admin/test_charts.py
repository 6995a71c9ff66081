"""Charts on /admin/stats: each chart agrees with the table beside it (labels, order, values), the SVG is
drawn right (proportional bars, escaped and shortened labels, no data), active volunteers per month, and the
page in a real headless Chromium at phone and desktop width (no sideways scrolling, charts inside their
column; screenshots kept when YINLING_SCREENSHOT_DIR is set)."""

from __future__ import annotations

import html
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.runtime import Runtime
from bot.web.admin.charts import CHARTS, FONT, LABEL_MAX, WIDTH, ChartSpec, bar_chart, text_width
from data.models import Activity, ActivityStatus, ServiceRecord, Signup, SignupStatus, Team
from data.models_push import ExportAudit
from data.stats import Table, active_by_month
from data.timeutil import to_utc
from tests.push.helpers import person

from .conftest import PASSWORD, Admin

SVG = "{http://www.w3.org/2000/svg}"


def _section(page: str, key: str) -> str:
    m = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert m, f"no section {key}"
    return m.group(1)


def _table_rows(section: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", section, re.S)
    assert body
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


def _bars(section: str) -> list[tuple[str, str, float]]:
    """(data-label, data-value, drawn bar width) of each bar of the section's chart."""
    m = re.search(r"<svg .*?</svg>", section, re.S)
    assert m, "no chart in the section"
    svg = ET.fromstring(m.group(0))
    out = []
    for g in svg.iter(f"{SVG}g"):
        rect = g.find(f"{SVG}rect")
        assert rect is not None
        out.append((g.attrib["data-label"], g.attrib["data-value"], float(rect.attrib["width"])))
    return out


def _seed_months(rt: Runtime) -> None:
    """Hours in three local months and volunteers active in two, on top of the demo data."""
    with rt.sessions.begin() as s:
        team = s.scalars(select(Team).where(Team.name == "阳光社区志愿服务队")).one()
        people = [person(s, rt, to_utc(datetime(2024, 1, 1)), f"图表{i}") for i in range(3)]
        for month, hours, who in ((1, "2", people[:1]), (2, "3.5", people), (3, "0.5", people[1:2])):
            start = to_utc(datetime(2024, month, 10, 9))
            act = Activity(title=f"图表活动{month}", category="助老", team_id=team.id, starts_at=start,
                           ends_at=start + timedelta(hours=2), capacity=9, created_at=start, updated_at=start,
                           status=ActivityStatus.FINISHED)
            s.add(act)
            s.flush()
            for v in who:
                s.add(Signup(activity_id=act.id, volunteer_id=v.id, status=SignupStatus.ATTENDED, party_size=1,
                             created_at=start - timedelta(days=3), updated_at=start))
                s.add(ServiceRecord(volunteer_id=v.id, activity_id=act.id, activity_name=act.title,
                                    service_date=start, place_text="x", content="x", hours=Decimal(hours),
                                    organiser=team.name, person_in_charge="王", recorded_by="王", recorded_at=start))


def test_each_chart_agrees_with_its_table(app: Flask, rt: Runtime) -> None:
    _seed_months(rt)
    ops = Admin(app.test_client())
    assert ops.login("ops").status_code == 302
    page = ops.get("/admin/stats").text
    assert "<script" not in page and "http" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", page)
    for spec in CHARTS:
        section = _section(page, spec.table)
        rows = [r for r in _table_rows(section) if r[0] != "合计"]
        bars = _bars(section)
        assert len(rows) >= 2, f"{spec.table}: too little data to compare"
        assert [(b[0], b[1]) for b in bars] == [(r[0], r[spec.column]) for r in rows], spec.table
        top = max(Decimal(r[spec.column]) for r in rows)
        widest = max(b[2] for b in bars)
        for (_, shown, width), _row in zip(bars, rows, strict=True):
            assert abs(width / widest - float(Decimal(shown) / top)) < 0.02 or (width == 2.0 and Decimal(shown) > 0)
        assert spec.title in section
    months = dict((r[0], r[3]) for r in _table_rows(_section(page, "month")))
    assert months["2024-01"] == "2.0" and months["2024-02"] == "10.5" and months["2024-03"] == "0.5"
    active = dict((r[0], r[1]) for r in _table_rows(_section(page, "active_month")))
    assert active["2024-01"] == "1" and active["2024-02"] == "3" and active["2024-03"] == "1"


def test_active_by_month_counts_each_person_once_and_keeps_to_the_teams(rt: Runtime) -> None:
    _seed_months(rt)
    with rt.sessions() as s:
        mine = s.scalar(select(Team.id).where(Team.name == "阳光社区志愿服务队"))
        other = s.scalar(select(Team.id).where(Team.name == "西乌旗草原志愿服务队"))
        rows = dict(active_by_month(s, [int(mine or 0)]).rows)
        assert rows["2024-02"] == 3  # a sign-up in January (created 3 days before) and a record in February
        assert rows["2024-01"] == 1 and rows["2024-03"] == 1
        assert "2024-02" not in dict(active_by_month(s, [int(other or 0)]).rows)


def test_bar_chart_draws_what_it_is_given() -> None:
    spec = ChartSpec("t", 1, "测试", "个")
    long_name = "锡林郭勒盟西乌珠穆沁旗巴拉嘎尔高勒镇"
    chart = bar_chart(spec, Table("t", "测试", ("名称", "数"), [("<a&b>", 4), (long_name, 2), ("零", 0),
                                                               ("合计", 6)]))
    svg = ET.fromstring(re.search(r"<svg .*?</svg>", str(chart), re.S).group(0))  # type: ignore[union-attr]
    groups = list(svg.iter(f"{SVG}g"))
    assert [g.attrib["data-label"] for g in groups] == ["<a&b>", long_name, "零"]  # the total is not a bar
    widths = [float(g.find(f"{SVG}rect").attrib["width"]) for g in groups]  # type: ignore[union-attr]
    assert widths[0] == pytest.approx(2 * widths[1], rel=0.01) and widths[2] == 0
    shown = [t.text or "" for t in groups[1].iter(f"{SVG}text")][0]
    assert shown.endswith("…") and text_width(shown) <= LABEL_MAX + FONT and long_name.startswith(shown[:-1])
    for g in groups:  # nothing drawn outside the view box
        for t in g.iter(f"{SVG}text"):
            assert float(t.attrib["x"]) <= WIDTH
    assert "还没有数据" in str(bar_chart(spec, Table("t", "测试", ("名称", "数"), [("合计", 0)])))


# -- in a real browser --------------------------------------------------------------------------------------

@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_charts_fit_phone_and_desktop_in_headless_chromium(live: str, chromium: Callable[..., Any], rt: Runtime,
                                                           tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    _seed_months(rt)
    with rt.sessions.begin() as s:
        s.add(ExportAudit(coordinator_name="运营", created_at=to_utc(datetime(2025, 3, 9, 10)), format="cvs_national",
                          filter_text="2025-03-01 至 2025-03-31；全部队伍", row_count=12, full_phones=True))
    keep = Path(os.environ["YINLING_SCREENSHOT_DIR"]) if os.environ.get("YINLING_SCREENSHOT_DIR") else tmp_path
    keep.mkdir(parents=True, exist_ok=True)
    driver = chromium("--hide-scrollbars")
    driver.set_window_size(1280, 900)
    driver.get(f"{live}/admin/login")
    driver.find_element(By.ID, "username").send_keys("ops")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 20).until(ec.staleness_of(old))
    for name, width in (("desktop", 1280), ("phone", 375)):
        driver.set_window_size(width, 900)
        driver.get(f"{live}/admin/stats")
        WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, "svg.chart")))
        inner = driver.execute_script("return document.documentElement.clientWidth")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= inner, name
        charts = driver.find_elements(By.CSS_SELECTOR, "figure.chart")
        assert len(charts) == len(CHARTS)
        for fig in charts:
            svg = fig.find_element(By.TAG_NAME, "svg")
            box = driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                        "return [r.left, r.right, r.width];", svg)
            assert box[0] >= 0 and box[1] <= inner and box[2] > 250, (name, box)
            # Labels render at a readable size: the font in CSS pixels after the view box is scaled.
            scale = box[2] / WIDTH
            assert FONT * scale >= 16, (name, scale)
        if name == "desktop":  # chart and table side by side
            sec = driver.find_element(By.ID, "month")
            fig_box = driver.execute_script("return arguments[0].getBoundingClientRect().top",
                                            sec.find_element(By.CSS_SELECTOR, "figure.chart"))
            table_box = driver.execute_script("return arguments[0].getBoundingClientRect().top",
                                              sec.find_element(By.TAG_NAME, "table"))
            assert abs(fig_box - table_box) < 60
        for spec in CHARTS:
            sec = driver.find_element(By.ID, spec.table)
            driver.execute_script("arguments[0].scrollIntoView()", sec)
            shot = keep / f"stats-{name}-{spec.table}.png"
            sec.screenshot(str(shot))
            assert shot.stat().st_size > 3000
        for page in ("export", "exports"):  # the export page and the operator's audit list
            driver.get(f"{live}/admin/{page}")
            WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
            assert driver.execute_script("return document.documentElement.scrollWidth") <= inner, (name, page)
            driver.find_element(By.TAG_NAME, "main").screenshot(str(keep / f"{page}-{name}.png"))


def test_a_leader_sees_charts_of_the_own_teams(admin: Admin, rt: Runtime) -> None:
    _seed_months(rt)
    section = _section(admin.get("/admin/stats").text, "month")
    assert [(label, shown) for label, shown, _ in _bars(section)][:3] == [("2024-01", "2.0"), ("2024-02", "10.5"),
                                                                          ("2024-03", "0.5")]
