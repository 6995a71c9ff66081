"""Demo data: the region's places, teams, coordinators, volunteers and activities relative to today."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..crypto import PhoneVault, mask_phone
from ..models import (
    Activity,
    ActivityStatus,
    ChannelIdentity,
    Consent,
    Coordinator,
    Place,
    PlaceLevel,
    ServiceRecord,
    Signup,
    SignupStatus,
    Team,
    TeamCoordinator,
    TeamKind,
    TeamMember,
    Volunteer,
)
from ..services import activity_hours
from ..timeutil import LOCAL, to_local, to_utc

SEED_DIR = Path(__file__).resolve().parent
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = [
    "桂兰", "秀英", "建国", "玉梅", "淑珍", "国庆", "凤英", "志强", "丽华", "德明", "素梅", "春生",
    "金花", "宝山", "红梅", "振华", "桂芝", "永福", "巴特尔", "其其格", "乌云", "斯琴", "海英", "占山",
    "玉兰", "文华", "秀兰", "长林", "翠英", "福来", "宝音", "萨仁", "淑兰", "广才", "美荣", "树林",
]


def load_places(session: Session, path: Path | None = None) -> dict[str, Place]:
    """Insert the place tree from YAML (idempotent by parent + name); returns places by name."""
    tree = yaml.safe_load((path or SEED_DIR / "places.yaml").read_text(encoding="utf-8"))
    by_name: dict[str, Place] = {}

    def walk(nodes: list[dict[str, Any]], parent: Place | None) -> None:
        for node in nodes:
            parent_id = parent.id if parent else None
            place = session.scalars(
                select(Place).where(Place.name == node["name"], Place.parent_id.is_(parent_id)
                                    if parent_id is None else Place.parent_id == parent_id)
            ).first()
            if place is None:
                place = Place(
                    name=node["name"],
                    level=PlaceLevel(node["level"]),
                    parent_id=parent_id,
                    lat=node.get("lat"),
                    lon=node.get("lon"),
                    landmark=node.get("landmark"),
                )
                session.add(place)
                session.flush()
                place.path = f"{parent.path if parent else '/'}{place.id}/"
            by_name[place.name] = place
            walk(node.get("children") or [], place)

    walk(tree, None)
    session.flush()
    return by_name


def resolve_when(when: str, today: date) -> date:
    """`+N`/`-N` days, `sat`/`sun` (coming, today included), `next_mon`…, or `MM-DD` (next occurrence)."""
    when = str(when).strip()
    if when[0] in "+-":
        return today + timedelta(days=int(when))
    if when in WEEKDAY_KEYS:
        return today + timedelta(days=(WEEKDAY_KEYS.index(when) - today.weekday()) % 7)
    if when.startswith("next_"):
        monday_next = today + timedelta(days=7 - today.weekday())
        return monday_next + timedelta(days=WEEKDAY_KEYS.index(when[5:]))
    month, day = (int(x) for x in when.split("-"))
    candidate = date(today.year, month, day)
    return candidate if candidate > today else date(today.year + 1, month, day)


def _local_dt(day: date, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=LOCAL)


def is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Activity))


def load_demo(session: Session, now: datetime, vault: PhoneVault, seed: int = 7) -> dict[str, int]:
    """Load the whole demo region. `now` is naive UTC; activities are placed relative to its local day.

    Returns counts per kind. Callers check `is_empty` first; this function does not commit.
    """
    rng = random.Random(seed)
    today = to_local(now).date()
    places = load_places(session)

    teams: dict[str, Team] = {}
    coordinators: list[Coordinator] = []
    for t in yaml.safe_load((SEED_DIR / "teams.yaml").read_text(encoding="utf-8")):
        team = Team(name=t["name"], kind=TeamKind(t["kind"]), place_id=places[t["place"]].id,
                    description=t.get("description"))
        session.add(team)
        session.flush()
        teams[team.name] = team
        for c in t.get("coordinators", []):
            coord = Coordinator(name=c["name"], contact_phone=str(c["phone"]), username=c.get("username"),
                                area_place_id=team.place_id)
            session.add(coord)
            session.flush()
            session.add(TeamCoordinator(team_id=team.id, coordinator_id=coord.id, is_leader=bool(c.get("leader"))))
            coordinators.append(coord)

    villages = [p for p in places.values() if p.level == PlaceLevel.VILLAGE]
    categories_pool = ["助老", "环境保护", "社区服务", "医疗健康", "文化教育", "关爱儿童", "文明交通", "助残"]
    volunteers: list[Volunteer] = []

    def add_volunteer(name: str, home: Place, openid: str | None, phone: str | None) -> Volunteer:
        v = Volunteer(
            name=name,
            gender=rng.choice(["女", "男"]),
            birth_year=rng.randint(1946, 1966),
            home_place_id=home.id,
            categories=rng.sample(categories_pool, k=rng.randint(1, 3)),
            skills=rng.sample(["理发", "写毛笔字", "修小家电", "做饭", "唱歌", "量血压", "蒙古语"], k=rng.randint(0, 2)),
            availability=rng.getrandbits(21),
            max_load=rng.choice([1, 1, 2, 2, 3]),
            created_at=now - timedelta(days=rng.randint(30, 400)),
        )
        if phone:
            v.phone_enc = vault.encrypt(phone)
            v.phone_hash = vault.lookup_hash(phone)
            v.phone_masked = mask_phone(phone)
        session.add(v)
        session.flush()
        if openid:
            session.add(ChannelIdentity(volunteer_id=v.id, channel="wechat", external_id=openid,
                                        created_at=v.created_at))
        if phone:
            session.add(ChannelIdentity(volunteer_id=v.id, channel="sms", external_id=vault.lookup_hash(phone),
                                        address_enc=vault.encrypt(phone), created_at=v.created_at))
        for kind in ("privacy", "notices", "recommendations"):
            session.add(Consent(volunteer_id=v.id, kind=kind, granted=True, channel="wechat" if openid else "sms",
                                at=v.created_at))
        return v

    # Two named demo volunteers the README's chat examples use.
    demo_zhang = add_volunteer("张桂兰", places["阳光社区"], "demo-zhangguilan", "13900000001")
    demo_zhang.categories, demo_zhang.availability, demo_zhang.max_load = ["助老", "社区服务"], 0b101101101101101, 2
    demo_li = add_volunteer("李建华", places["巨海城社区"], None, "13900000002")
    demo_zhang.gender, demo_li.gender = "女", "男"  # the family helper's words (您母亲张桂兰) follow them
    volunteers += [demo_zhang, demo_li]
    for i in range(2, 40):
        name = SURNAMES[i * 7 % len(SURNAMES)] + GIVEN[i % len(GIVEN)]
        has_wechat = i % 5 != 0
        phone = f"139{4710000 + i:08d}" if i % 3 != 1 else None
        openid = f"demo-openid-{i:03d}" if has_wechat else None
        volunteers.append(add_volunteer(name, rng.choice(villages), openid, phone))

    for v in volunteers:
        home = session.get(Place, v.home_place_id)
        for team in teams.values():
            if team.place and home and home.path.startswith(team.place.path) and rng.random() < 0.8:
                session.add(TeamMember(team_id=team.id, volunteer_id=v.id, joined_at=v.created_at))
    # Coordinator 李建国 is also a volunteer (the coordinator chat commands use this link).
    coordinators[1].volunteer_id = volunteers[5].id

    pool = [v for v in volunteers if v.id not in (demo_zhang.id, demo_li.id)]
    counts = {"activities": 0, "signups": 0, "records": 0}
    seen_keys: set[str] = set()
    for a in yaml.safe_load((SEED_DIR / "activities.yaml").read_text(encoding="utf-8")):
        day = resolve_when(str(a["when"]), today)
        start_s, end_s = str(a["time"]).split("-")
        place = places[a["place"]]
        team = teams[a["team"]]
        coordinator = next((tc.coordinator for tc in team.coordinators), None)
        key = f"demo:{a['title']}"
        if key in seen_keys:
            raise ValueError(f"duplicate demo activity {a['title']}")
        seen_keys.add(key)
        finished = bool(a.get("finished"))
        act = Activity(
            title=a["title"], category=a["category"], team_id=team.id, place_id=place.id,
            address=a.get("address"), landmark=a.get("landmark") or place.landmark,
            starts_at=to_utc(_local_dt(day, start_s)), ends_at=to_utc(_local_dt(day, end_s)),
            capacity=int(a["capacity"]), physical_load=int(a.get("load", 1)),
            requirements=a.get("requirements"), description=a.get("description"),
            contact_name=coordinator.name if coordinator else None,
            contact_phone=coordinator.contact_phone if coordinator else None,
            status=ActivityStatus.FINISHED if finished else ActivityStatus.PUBLISHED,
            needs_review=bool(a.get("needs_review")), external_key=key, created_at=now, updated_at=now,
        )
        session.add(act)
        session.flush()
        counts["activities"] += 1
        chosen = rng.sample(pool, k=min(len(pool), int(a.get("fill", 0)) + int(a.get("waitlist", 0))))
        if finished:
            chosen = [demo_zhang, *chosen[:-1]] if chosen else [demo_zhang]
        for n, v in enumerate(chosen):
            if finished:
                status = SignupStatus.ATTENDED
            elif n < int(a.get("fill", 0)):
                status = SignupStatus.PENDING if act.needs_review and n % 2 else SignupStatus.CONFIRMED
            else:
                status = SignupStatus.WAITLISTED
            created = now - timedelta(hours=len(chosen) - n) - (timedelta(days=70) if finished else timedelta())
            session.add(Signup(activity_id=act.id, volunteer_id=v.id, status=status, party_size=1, channel="wechat",
                               created_at=created, updated_at=created,
                               confirmed_at=created if status != SignupStatus.WAITLISTED else None))
            counts["signups"] += 1
            if finished:
                hours = activity_hours(act)
                session.add(ServiceRecord(
                    volunteer_id=v.id, activity_id=act.id, activity_name=act.title, service_date=act.starts_at,
                    place_text=f"{place.name}{('，' + act.address) if act.address else ''}",
                    content=act.description or act.title, hours=hours, organiser=team.name,
                    person_in_charge=coordinator.name if coordinator else "", recorded_by=coordinator.name
                    if coordinator else "system", recorded_at=act.ends_at + timedelta(days=1)))
                counts["records"] += 1
    session.flush()
    _fill_teams(session, teams, volunteers, demo_zhang, demo_li, now, seed)
    counts.update(places=len(places), teams=len(teams), coordinators=len(coordinators), volunteers=len(volunteers))
    return counts


MIN_MEMBERS = 6


def _fill_teams(session: Session, teams: dict[str, Team], volunteers: list[Volunteer], demo_zhang: Volunteer,
                demo_li: Volunteer, now: datetime, seed: int) -> None:
    """Every demo team has members, so that a notice to it reaches people and a hand-off to its
    coordinator has someone behind it: the two demo volunteers join their community's team, and teams
    with fewer than MIN_MEMBERS take volunteers from around them (a separate random stream, so the rest
    of the demo stays as it was)."""
    rng = random.Random(seed + 1)
    members: dict[int, set[int]] = {}
    for team_id, volunteer_id in session.execute(select(TeamMember.team_id, TeamMember.volunteer_id)):
        members.setdefault(team_id, set()).add(volunteer_id)

    def join(team: Team, v: Volunteer) -> None:
        if v.id not in members.setdefault(team.id, set()):
            session.add(TeamMember(team_id=team.id, volunteer_id=v.id, joined_at=v.created_at))
            members[team.id].add(v.id)

    join(teams["阳光社区志愿服务队"], demo_zhang)
    join(teams["巨海城社区志愿服务队"], demo_li)
    paths = {v.id: (home.path if (home := session.get(Place, v.home_place_id)) is not None else "")
             for v in volunteers}
    for team in teams.values():
        if len(members.get(team.id, ())) >= MIN_MEMBERS or team.place is None:
            continue
        # Nearest first: the same county (the team's place's county, or the place itself), then anyone.
        county = team.place.path.split("/")[:4]
        near = [v for v in volunteers if paths[v.id] and paths[v.id].split("/")[:4] == county]
        rest = [v for v in volunteers if v not in near]
        rng.shuffle(near)
        rng.shuffle(rest)
        for v in near + rest:
            if len(members.get(team.id, ())) >= MIN_MEMBERS:
                break
            join(team, v)
    session.flush()
