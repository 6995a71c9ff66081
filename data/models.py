"""Typed SQLAlchemy 2.0 models of the project database (volunteer-record rules shaped)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    column,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CATEGORIES: tuple[str, ...] = (
    "助老",
    "助残",
    "关爱儿童",
    "环境保护",
    "文明交通",
    "社区服务",
    "医疗健康",
    "文化教育",
    "赛会服务",
    "应急救援",
    "扶贫济困",
    "法律咨询",
)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations are stable on every database."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class PlaceLevel(enum.StrEnum):
    """盟/市 > 旗/县/区 > 苏木/乡/镇/街道 > 嘎查/村/社区."""

    PREFECTURE = "prefecture"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


class TeamKind(enum.StrEnum):
    COMMUNITY = "community"  # 社区志愿服务队
    YOUTH = "youth"  # 青年志愿者
    ORGAN = "organ"  # 机关志愿者
    WOMEN = "women"  # 巾帼志愿者 (妇联)
    OTHER = "other"


TEAM_KIND_NAMES: dict[TeamKind, str] = {
    TeamKind.COMMUNITY: "社区志愿服务队",
    TeamKind.YOUTH: "青年志愿者队",
    TeamKind.ORGAN: "机关志愿者队",
    TeamKind.WOMEN: "巾帼志愿者队",
    TeamKind.OTHER: "其他志愿队",
}


class ActivityStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class SignupStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


LIVE_SIGNUP = (SignupStatus.PENDING, SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)
HOLDS_PLACE = (SignupStatus.PENDING, SignupStatus.CONFIRMED)


class Place(Base):
    """A node of the region's hierarchy; `path` is a materialized path like `/1/4/9/` for subtree queries."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[PlaceLevel] = mapped_column(_enum(PlaceLevel, "place_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    path: Mapped[str] = mapped_column(String(255), default="/", index=True)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    landmark: Mapped[str | None] = mapped_column(String(128))

    parent: Mapped[Place | None] = relationship(remote_side=[id])

    __table_args__ = (
        UniqueConstraint("parent_id", "name", name="uq_places_parent_name"),
        Index("ix_places_lat_lon", "lat", "lon"),  # the box around a point ("附近5公里")
    )


class Volunteer(Base):
    """A person who volunteers. Phone is encrypted; `phone_hash` is a keyed hash for lookup."""

    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(64))
    gender: Mapped[str | None] = mapped_column(String(8))
    birth_year: Mapped[int | None]
    home_place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_masked: Mapped[str | None] = mapped_column(String(16))
    skills: Mapped[list[str]] = mapped_column(default=list)
    categories: Mapped[list[str]] = mapped_column(default=list)
    # 21 bits: bit (day * 3 + part), day 0=Monday, part 0=上午 1=下午 2=晚上.
    availability: Mapped[int] = mapped_column(Integer, default=0)
    # 1 light (sitting, talking), 2 moderate (walking, standing), 3 heavy (carrying, long hours).
    max_load: Mapped[int] = mapped_column(Integer, default=2)
    recommend_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    notices_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    elder_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    # 以后都念给我听: every WeChat reply also goes out as a voice message (bot/channels/tts.py).
    read_aloud: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_lat: Mapped[float | None]
    last_lon: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)

    home_place: Mapped[Place | None] = relationship()
    identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="volunteer", cascade="all, delete-orphan"
    )
    consents: Mapped[list[Consent]] = relationship(back_populates="volunteer", cascade="all, delete-orphan")


class ChannelIdentity(Base):
    """How a volunteer is reached: a WeChat openid, or an SMS number (stored as keyed hash + ciphertext)."""

    __tablename__ = "channel_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    address_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Opt-out (退订 / WeChat unsubscribe / provider signal): no non-reply sending on this identity.
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime)
    opted_out_reason: Mapped[str | None] = mapped_column(String(64))

    volunteer: Mapped[Volunteer] = relationship(back_populates="identities")

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)


class Consent(Base):
    """One consent decision (granted or withdrawn) with its time, kept as history."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # privacy, notices, recommendations, share_teams, location
    granted: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime)

    volunteer: Mapped[Volunteer] = relationship(back_populates="consents")


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[TeamKind] = mapped_column(_enum(TeamKind, "team_kind"))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    description: Mapped[str | None] = mapped_column(Text)
    wecom_webhook: Mapped[str | None] = mapped_column(String(512))

    place: Mapped[Place | None] = relationship()
    coordinators: Mapped[list[TeamCoordinator]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True
    )
    joined_at: Mapped[datetime] = mapped_column(DateTime)


class Coordinator(Base):
    """A person who runs teams. `contact_phone` is a work number shown to volunteers on purpose."""

    __tablename__ = "coordinators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    contact_phone: Mapped[str] = mapped_column(String(32))
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"))
    area_place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)

    teams: Mapped[list[TeamCoordinator]] = relationship(back_populates="coordinator")
    area: Mapped[Place | None] = relationship()


class TeamCoordinator(Base):
    __tablename__ = "team_coordinators"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    coordinator_id: Mapped[int] = mapped_column(
        ForeignKey("coordinators.id", ondelete="CASCADE"), primary_key=True
    )
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)

    team: Mapped[Team] = relationship(back_populates="coordinators")
    coordinator: Mapped[Coordinator] = relationship(back_populates="teams")


class Activity(Base):
    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(255))
    landmark: Mapped[str | None] = mapped_column(String(128))
    starts_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # UTC, naive
    ends_at: Mapped[datetime] = mapped_column(DateTime)  # UTC, naive
    capacity: Mapped[int] = mapped_column(Integer)
    physical_load: Mapped[int] = mapped_column(Integer, default=1)
    requirements: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    contact_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[ActivityStatus] = mapped_column(
        _enum(ActivityStatus, "activity_status"), default=ActivityStatus.PUBLISHED
    )
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_confirm: Mapped[bool] = mapped_column(Boolean, default=True)
    external_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    team: Mapped[Team] = relationship()
    place: Mapped[Place | None] = relationship()

    # Indexes that match the search queries: published + time window, + category, + place subtree;
    # on PostgreSQL a GIN index of the character pairs of title and description for text search
    # (yl_text_grams is an SQL function, created by migration 0003).
    __table_args__ = (
        Index("ix_activities_status_starts_at", "status", "starts_at", "id"),
        Index("ix_activities_status_category_starts_at", "status", "category", "starts_at", "id"),
        Index("ix_activities_status_place_starts_at", "status", "place_id", "starts_at", "id"),
        Index("ix_activities_text_grams", func.yl_text_grams(column("title"), column("description")),
              postgresql_using="gin").ddl_if(dialect="postgresql"),
    )


class Signup(Base):
    """A volunteer's place on an activity; at most one live (pending/confirmed/waitlisted) per pair."""

    __tablename__ = "signups"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    status: Mapped[SignupStatus] = mapped_column(_enum(SignupStatus, "signup_status"))
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    channel: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="SET NULL"))
    # 家人代报: the family helper (data.models_family) who made this sign-up for the volunteer.
    made_by_helper_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"))

    activity: Mapped[Activity] = relationship()
    volunteer: Mapped[Volunteer] = relationship(foreign_keys=[volunteer_id])

    __table_args__ = (
        Index(
            "uq_signups_live",
            "activity_id",
            "volunteer_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'confirmed', 'waitlisted')"),
            postgresql_where=text("status IN ('pending', 'confirmed', 'waitlisted')"),
        ),
    )


class ServiceRecord(Base):
    """One line of a volunteer's service record (志愿服务记录): what, when, where, how long, who vouches."""

    __tablename__ = "service_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="SET NULL"), index=True
    )
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    activity_name: Mapped[str] = mapped_column(String(128))
    service_date: Mapped[datetime] = mapped_column(DateTime)  # UTC start of the service
    place_text: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    organiser: Mapped[str] = mapped_column(String(128))
    person_in_charge: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class MessageLog(Base):
    """Conversation log for hand-off and audits; `address` holds a masked phone or an openid."""

    __tablename__ = "message_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(4))  # in / out
    address: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
