"""The admin routes. Every page checks that the activity, sign-up or notice belongs to the
coordinator's teams; every form posts a CSRF token; every change is committed once, then pushed."""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from data import handoffs
from data.errors import InvalidInput, YinlingError
from data.family import contacts as family_contacts
from data.importer import ImportError_, import_activities, read_rows
from data.models import (
    CATEGORIES,
    Activity,
    ActivityStatus,
    Place,
    Signup,
    SignupStatus,
    Team,
)
from data.models_push import Notice
from data.records import (
    check_in,
    find_by_last4,
    parse_duration,
    record_hours,
    records_due,
    roster,
    scheduled_minutes,
)
from data.services import places_left
from data.timeutil import to_local, to_utc, utcnow

from ...push import texts as push_texts
from ...push.audience import describe
from ...push.scheduled import thank_if_star_up
from . import bp
from .auth import (
    BUSY_NOW,
    attempt_login,
    client_address,
    end_session,
    login_gate,
    login_required,
    password_slot,
    start_session,
)
from .export_views import download

log = logging.getLogger("yinling.admin")


def _now() -> datetime:
    return utcnow()


def _activity(activity_id: int) -> Activity:
    act = g.db.get(Activity, activity_id)
    if act is None or act.team_id not in g.team_ids:
        abort(404)
    return act


def _signup(signup_id: int) -> Signup:
    s = g.db.get(Signup, signup_id)
    if s is None or s.activity.team_id not in g.team_ids:
        abort(404)
    return s


def _notice(notice_id: int) -> Notice:
    n = g.db.get(Notice, notice_id)
    if n is None or not (n.created_by == g.coordinator.id or (n.team_id in g.team_ids)):
        abort(404)
    return n


def _teams() -> list[Team]:
    return list(g.db.scalars(select(Team).where(Team.id.in_(g.team_ids)).order_by(Team.name)))


def _commit_and_kick(ids: list[int]) -> None:
    g.db.commit()
    if ids:
        g.push.kick(ids)


# -- log-in ---------------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        cfg = g.rt.config.admin
        busy = login_gate(g.rt.store, client_address(cfg.trusted_proxies), cfg.login_per_address_per_minute,
                          cfg.login_checks_per_10s, time.time())
        if busy is not None:
            return render_template("admin/login.html", error=busy), 429, {"Retry-After": "60"}
        with password_slot(cfg.login_checks_at_once) as free:
            if not free:
                return render_template("admin/login.html", error=BUSY_NOW), 429, {"Retry-After": "5"}
            result = attempt_login(g.db, g.rt.store, request.form.get("username", ""),
                                   request.form.get("password", ""), cfg.lockout_failures, cfg.lockout_minutes)
        if result.coordinator is not None:
            start_session(result.coordinator, cfg.session_hours, g.rt.store)
            target = request.args.get("next") or ""
            return redirect(target if target.startswith("/admin") and "//" not in target else url_for("admin.home"))
        error = result.error
    return render_template("admin/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    end_session(g.rt.store)
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def home() -> Any:
    now = _now()
    pending = int(g.db.scalar(select(func.count()).select_from(Signup).join(Activity).where(
        Activity.team_id.in_(g.team_ids), Signup.status == SignupStatus.PENDING, Activity.starts_at > now)) or 0)
    upcoming = list(g.db.scalars(select(Activity).options(joinedload(Activity.place)).where(
        Activity.team_id.in_(g.team_ids), Activity.ends_at > now,
        Activity.status.in_([ActivityStatus.PUBLISHED, ActivityStatus.DRAFT])).order_by(Activity.starts_at).limit(5)))
    due = records_due(g.db, now, g.team_ids, g.rt.config.push.records_due_working_days)
    notices = list(g.db.scalars(select(Notice).where(Notice.team_id.in_(g.team_ids), Notice.kind == "notice")
                                .order_by(Notice.id.desc()).limit(3)))
    return render_template("admin/home.html", teams=_teams(), pending=pending, upcoming=upcoming, due=due,
                           notices=notices, now=now)


# -- activities -----------------------------------------------------------------------------------------


@bp.get("/activities")
@login_required
def activities() -> Any:
    now = _now()
    show_past = request.args.get("past") == "1"
    stmt = select(Activity).options(joinedload(Activity.place), joinedload(Activity.team)).where(
        Activity.team_id.in_(g.team_ids))
    stmt = stmt.where(Activity.ends_at <= now) if show_past else stmt.where(Activity.ends_at > now)
    acts = list(g.db.scalars(stmt.order_by(Activity.starts_at.desc() if show_past else Activity.starts_at)
                             .limit(100)).unique())
    counts = {a.id: _counts(a.id) for a in acts}
    return render_template("admin/activities.html", activities=acts, counts=counts, past=show_past,
                           left={a.id: places_left(g.db, a) for a in acts})


def _counts(activity_id: int) -> dict[str, int]:
    rows = g.db.execute(select(Signup.status, func.count()).where(Signup.activity_id == activity_id)
                        .group_by(Signup.status)).all()
    return {str(getattr(s, "value", s)): int(n) for s, n in rows}


def _places() -> list[Place]:
    """Places under the coordinator's teams (all places for the operator), for forms."""
    if g.coordinator.is_operator:
        return list(g.db.scalars(select(Place).order_by(Place.path)))
    roots = [t.place for t in _teams() if t.place is not None]
    out: dict[int, Place] = {}
    for root in roots:
        for p in g.db.scalars(select(Place).where(Place.path.startswith(root.path)).order_by(Place.path)):
            out[p.id] = p
    return list(out.values())


def _parse_local(value: str) -> datetime:
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"):
        try:
            return to_utc(datetime.strptime(value.strip(), fmt))
        except ValueError:
            continue
    raise InvalidInput("时间格式不对")


def _fill(act: Activity, form: Any, now: datetime) -> None:
    title = form.get("title", "").strip()
    if not title:
        raise InvalidInput("请填写活动名称")
    team_id = int(form.get("team_id") or 0)
    if team_id not in g.team_ids:
        raise InvalidInput("请选择您负责的队伍")
    category = form.get("category", "")
    if category not in CATEGORIES:
        raise InvalidInput("请选择服务类别")
    start, end = _parse_local(form.get("starts_at", "")), _parse_local(form.get("ends_at", ""))
    if end <= start:
        raise InvalidInput("结束时间要晚于开始时间")
    try:
        capacity = int(form.get("capacity") or 0)
        load = int(form.get("physical_load") or 1)
    except ValueError as exc:
        raise InvalidInput("人数要填数字") from exc
    if not 1 <= capacity <= 10000:
        raise InvalidInput("人数要在1到10000之间")
    place_id = int(form.get("place_id") or 0) or None
    if place_id is not None and place_id not in {p.id for p in _places()}:
        raise InvalidInput("请选择地点")
    act.title, act.team_id, act.category, act.place_id = title[:128], team_id, category, place_id
    act.starts_at, act.ends_at, act.capacity, act.physical_load = start, end, capacity, max(1, min(3, load))
    act.address = form.get("address", "").strip()[:255] or None
    act.description = form.get("description", "").strip() or None
    act.requirements = form.get("requirements", "").strip() or None
    act.contact_name = form.get("contact_name", "").strip()[:64] or g.coordinator.name
    act.contact_phone = form.get("contact_phone", "").strip()[:32] or g.coordinator.contact_phone
    act.needs_review = form.get("needs_review") == "1"
    act.auto_confirm = form.get("auto_confirm") == "1"
    act.updated_at = now


@bp.route("/activities/new", methods=["GET", "POST"])
@login_required
def activity_new() -> Any:
    now = _now()
    act = Activity(status=ActivityStatus.DRAFT, created_at=now, updated_at=now, capacity=10, physical_load=1,
                   needs_review=False, auto_confirm=True, team_id=g.team_ids[0] if g.team_ids else 0,
                   starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=3, hours=2), category="助老")
    if request.method == "POST":
        try:
            _fill(act, request.form, now)
            act.status = ActivityStatus.PUBLISHED if request.form.get("publish") == "1" else ActivityStatus.DRAFT
            g.db.add(act)
            g.db.commit()
            flash("活动已发布。" if act.status == ActivityStatus.PUBLISHED else "草稿已保存，还没有发布。")
            return redirect(url_for("admin.activity", activity_id=act.id))
        except YinlingError as exc:
            g.db.rollback()
            flash(_message(exc), "error")
    return render_template("admin/activity_form.html", act=act, teams=_teams(), places=_places(),
                           categories=CATEGORIES, new=True)


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def activity_edit(activity_id: int) -> Any:
    act = _activity(activity_id)
    if request.method == "POST":
        try:
            _fill(act, request.form, _now())
            g.db.commit()
            flash("已保存。")
            return redirect(url_for("admin.activity", activity_id=act.id))
        except YinlingError as exc:
            g.db.rollback()
            flash(_message(exc), "error")
    return render_template("admin/activity_form.html", act=act, teams=_teams(), places=_places(),
                           categories=CATEGORIES, new=False)


@bp.post("/activities/<int:activity_id>/publish")
@login_required
def activity_publish(activity_id: int) -> Any:
    act = _activity(activity_id)
    if act.status != ActivityStatus.DRAFT:
        flash("只有草稿可以发布。", "error")
    else:
        act.status, act.updated_at = ActivityStatus.PUBLISHED, _now()
        g.db.commit()
        flash("活动已发布，志愿者可以报名了。")
    return redirect(url_for("admin.activity", activity_id=activity_id))


@bp.post("/activities/<int:activity_id>/cancel")
@login_required
def activity_cancel(activity_id: int) -> Any:
    act = _activity(activity_id)
    try:
        notice = g.push.cancel_activity(g.db, act, request.form.get("reason", "").strip()[:60], g.coordinator.id,
                                        _now())
        _commit_and_kick([notice.id] if notice else [])
        flash("活动已取消，正在通知已报名的人。")
        if notice is not None:
            return redirect(url_for("admin.notice", notice_id=notice.id))
    except YinlingError as exc:
        g.db.rollback()
        flash(_message(exc), "error")
    return redirect(url_for("admin.activity", activity_id=activity_id))


@bp.post("/activities/import")
@login_required
def activities_import() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择 CSV 或 YAML 文件。", "error")
        return redirect(url_for("admin.activities"))
    suffix = Path(upload.filename).suffix.lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        upload.save(path)
        try:
            rows = read_rows(path)
            names = {t.name for t in _teams()}
            bad = [i + 2 for i, r in enumerate(rows) if str(r.get("team", "")).strip() not in names]
            if bad:
                raise ImportError_([(n, "只能导入您负责的队伍的活动") for n in bad[:5]])
            result = import_activities(g.db, rows, _now(), team_ids=g.team_ids,
                                       place_ids=None if g.coordinator.is_operator else {p.id for p in _places()})
            g.db.commit()
            flash(f"导入完成：新增{result.created}个，更新{result.updated}个。")
        except ImportError_ as exc:
            g.db.rollback()
            flash("没有导入任何活动：" + "；".join(f"第{n}行{m}" for n, m in exc.errors[:5]), "error")
    return redirect(url_for("admin.activities"))


# -- one activity: sign-ups, review, roster, hours ----------------------------------------------------------


@bp.get("/activities/<int:activity_id>")
@login_required
def activity(activity_id: int) -> Any:
    act = _activity(activity_id)
    people = roster(g.db, act.id)
    return render_template("admin/activity.html", act=act, people=people, left=places_left(g.db, act),
                           default_minutes=scheduled_minutes(act), now=_now(), matches=None,
                           kin=family_contacts(g.db, [s.volunteer_id for s, _ in people]))


@bp.post("/signups/<int:signup_id>/review")
@login_required
def review(signup_id: int) -> Any:
    signup = _signup(signup_id)
    approve = request.form.get("approve") == "1"
    try:
        kicks = g.push.review(g.db, signup_id, approve, g.coordinator.id, _now())
        _commit_and_kick(kicks)
        flash(f"已{'通过' if approve else '婉拒'}：{signup.volunteer.name or '志愿者'}。已发消息告诉本人。")
    except YinlingError as exc:
        g.db.rollback()
        flash(_message(exc), "error")
    return redirect(url_for("admin.activity", activity_id=signup.activity_id) + "#signups")


@bp.post("/activities/<int:activity_id>/checkin")
@login_required
def checkin(activity_id: int) -> Any:
    act = _activity(activity_id)
    try:
        matches = find_by_last4(g.db, act.id, request.form.get("last4", ""))
    except InvalidInput as exc:
        flash(_message(exc), "error")
        return redirect(url_for("admin.activity", activity_id=act.id) + "#roster")
    if len(matches) == 1:
        check_in(g.db, matches[0], g.coordinator.id, _now())
        g.db.commit()
        flash(f"已签到：{matches[0].volunteer.name or matches[0].volunteer.phone_masked}")
        return redirect(url_for("admin.activity", activity_id=act.id) + "#roster")
    if not matches:
        flash("没有找到这个尾号的报名，请核对，或让志愿者报出姓名。", "error")
        return redirect(url_for("admin.activity", activity_id=act.id) + "#roster")
    return render_template("admin/activity.html", act=act, people=roster(g.db, act.id), left=places_left(g.db, act),
                           kin={},
                           default_minutes=scheduled_minutes(act), now=_now(), matches=matches)


@bp.post("/signups/<int:signup_id>/checkin")
@login_required
def checkin_one(signup_id: int) -> Any:
    signup = _signup(signup_id)
    check_in(g.db, signup, g.coordinator.id, _now())
    g.db.commit()
    flash(f"已签到：{signup.volunteer.name or signup.volunteer.phone_masked}")
    return redirect(url_for("admin.activity", activity_id=signup.activity_id) + "#roster")


@bp.post("/activities/<int:activity_id>/hours")
@login_required
def hours(activity_id: int) -> Any:
    act = _activity(activity_id)
    now = _now()
    steps = g.rt.config.admin.hours_rounding
    saved, errors, kicks = 0, [], []
    try:
        for signup, _att in roster(g.db, act.id):
            raw = request.form.get(f"minutes_{signup.id}", "").strip()
            if not raw or signup.status not in (SignupStatus.CONFIRMED, SignupStatus.ATTENDED):
                continue
            try:
                minutes = parse_duration(raw)
                record_hours(g.db, signup, minutes, recorded_by=g.coordinator.name, now=now, steps=steps,
                             coordinator_id=g.coordinator.id)
                saved += 1
                nid = thank_if_star_up(g.push, g.db, signup.volunteer_id, now)
                if nid:
                    kicks.append(nid)
            except InvalidInput as exc:
                errors.append(f"{signup.volunteer.name or '志愿者'}：{_message(exc)}")
        if act.status == ActivityStatus.PUBLISHED and act.ends_at <= now:
            act.status = ActivityStatus.FINISHED
        _commit_and_kick(kicks)
    except YinlingError as exc:
        g.db.rollback()
        errors.append(_message(exc))
    if saved:
        flash(f"已记录{saved}人的服务时长。")
    for e in errors:
        flash(e, "error")
    return redirect(url_for("admin.activity", activity_id=act.id) + "#hours")


# -- notices ------------------------------------------------------------------------------------------------


@bp.get("/notices")
@login_required
def notices() -> Any:
    rows = list(g.db.scalars(select(Notice).where(
        (Notice.team_id.in_(g.team_ids)) | (Notice.created_by == g.coordinator.id),
        Notice.kind.in_(["notice", "cancelled"])).order_by(Notice.id.desc()).limit(50)))
    return render_template("admin/notices.html", notices=rows, names=push_texts.NOTICE_STATUS_NAMES)


def _audience_choices(now: datetime) -> dict[str, Any]:
    acts = list(g.db.scalars(select(Activity).where(Activity.team_id.in_(g.team_ids), Activity.ends_at > now,
                                                    Activity.status == ActivityStatus.PUBLISHED)
                             .order_by(Activity.starts_at).limit(50)))
    return {"teams": _teams(), "activities": acts, "places": _places(), "categories": CATEGORIES}


def _audience_from(form: Any) -> tuple[dict[str, Any], int | None]:
    kind, _, ref = form.get("audience", "").partition(":")
    if kind == "team" and ref.isdigit() and int(ref) in g.team_ids:
        return {"kind": "team", "team_id": int(ref)}, int(ref)
    if kind == "activity" and ref.isdigit():
        act = _activity(int(ref))
        return {"kind": "activity", "activity_id": act.id, "statuses": ["pending", "confirmed", "waitlisted"]}, \
            act.team_id
    if kind == "place" and ref.isdigit() and int(ref) in {p.id for p in _places()}:
        team = int(form.get("team_id") or 0)
        return {"kind": "place", "place_id": int(ref)}, team if team in g.team_ids else None
    if kind == "interests":
        cats = [c for c in form.getlist("categories") if c in CATEGORIES]
        place = int(form.get("place_id") or 0)
        if place not in {p.id for p in _places()}:
            raise InvalidInput("请选择地区")
        team = int(form.get("team_id") or 0)
        return {"kind": "interests", "categories": cats, "place_id": place}, team if team in g.team_ids else None
    raise InvalidInput("请选择发给谁")


@bp.route("/notices/new", methods=["GET", "POST"])
@login_required
def notice_new() -> Any:
    now = _now()
    form = request.form if request.method == "POST" else request.args
    if request.method == "POST":
        try:
            audience, team_id = _audience_from(form)
            notice = g.push.create(g.db, title=form.get("title", ""), body=form.get("body", ""), audience=audience,
                                   now=now, team_id=team_id or (g.team_ids[0] if g.team_ids else None),
                                   activity_id=audience.get("activity_id"), created_by=g.coordinator.id)
            g.db.commit()
            return redirect(url_for("admin.notice", notice_id=notice.id))
        except YinlingError as exc:
            g.db.rollback()
            flash(_message(exc), "error")
    return render_template("admin/notice_form.html", form=form, **_audience_choices(now))


@bp.get("/notices/<int:notice_id>")
@login_required
def notice(notice_id: int) -> Any:
    n = _notice(notice_id)
    preview = g.push.preview(g.db, n.audience, n.kind) if n.status.value == "draft" else None
    progress = g.push.progress(g.db, n.id)
    return render_template("admin/notice.html", n=n, preview=preview, progress=progress,
                           who=describe(g.db, n.audience), forward=push_texts.forward_text(g.db, n),
                           status_names=push_texts.STATUS_NAMES, names=push_texts.NOTICE_STATUS_NAMES)


@bp.get("/notices/<int:notice_id>/progress.json")
@login_required
def notice_progress(notice_id: int) -> Any:
    n = _notice(notice_id)
    p = g.push.progress(g.db, n.id)
    return {"status": n.status.value, "total": n.total, "counts": p.counts, "percent": p.percent}


@bp.post("/notices/<int:notice_id>/send")
@login_required
def notice_send(notice_id: int) -> Any:
    n = _notice(notice_id)
    try:
        g.push.queue(g.db, n, _now())
        _commit_and_kick([n.id])
        flash("开始发送了。这个页面会自动刷新进度。")
    except YinlingError as exc:
        g.db.rollback()
        flash(_message(exc), "error")
    return redirect(url_for("admin.notice", notice_id=n.id))


@bp.post("/notices/<int:notice_id>/cancel")
@login_required
def notice_cancel(notice_id: int) -> Any:
    n = _notice(notice_id)
    try:
        g.push.cancel(g.db, n)
        g.db.commit()
        flash("已停止发送，还没发出的不会再发。")
    except YinlingError as exc:
        g.db.rollback()
        flash(_message(exc), "error")
    return redirect(url_for("admin.notice", notice_id=n.id))


# -- export ----------------------------------------------------------------------------------------------------


@bp.get("/export")
@login_required
def export_page() -> Any:
    today = to_local(_now()).date()
    return render_template("admin/export.html", start=today.replace(day=1).isoformat(), end=today.isoformat())


@bp.get("/export.csv")
@login_required
def export() -> Any:
    """Today's CSV: the `csv` format of the export registry, audited like every export."""
    return download("csv")


def _message(exc: Exception) -> str:
    text = str(exc)
    return text if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "操作没有成功，请检查后再试。"




# -- hand-offs: people waiting to be contacted ----------------------------------------------------------


@bp.get("/handoffs")
@login_required
def handoffs_page(revealed: dict[int, str] | None = None) -> Any:
    """People waiting to be contacted. Numbers are masked, as in every coordinator view; the number of one
    person who asked to be called is shown on purpose, with a button (a POST, logged)."""
    rows = handoffs.waiting_for(g.db, g.coordinator, g.team_ids)
    return render_template("admin/handoffs.html", rows=rows, revealed=revealed or {},
                           route_names=push_texts.HANDOFF_ROUTE_NAMES)


@bp.post("/handoffs/<int:handoff_id>/number")
@login_required
def handoff_number(handoff_id: int) -> Any:
    row = next((h for h in handoffs.waiting_for(g.db, g.coordinator, g.team_ids) if h.id == handoff_id), None)
    if row is None:
        abort(404)
    token = row.callback_enc or row.volunteer.phone_enc
    number = ""
    if token:
        try:
            number = str(g.rt.vault.decrypt(token))
        except InvalidInput:
            number = ""
    log.info("admin: coordinator %s shown the callback number of hand-off %s", g.coordinator.id, row.id)
    return handoffs_page(revealed={row.id: number or "号码无法读取"})


@bp.post("/handoffs/<int:handoff_id>/contacted")
@login_required
def handoff_contacted(handoff_id: int) -> Any:
    row = handoffs.mark_contacted(g.db, handoff_id, g.coordinator, g.team_ids, _now())
    if row is None:
        abort(404)
    g.db.commit()
    flash(f"已标记为联系过：{row.volunteer.name or row.volunteer.phone_masked or '志愿者'}")
    return redirect(url_for("admin.handoffs_page"))
