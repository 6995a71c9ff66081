"""Tables of the push layer and coordinator tools: notices, deliveries, review escalation, attendance, stars."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .models import Activity, Base, Coordinator, Team, Volunteer, _enum


class NoticeStatus(enum.StrEnum):
    DRAFT = "draft"  # composed, count previewed, not sent
    QUEUED = "queued"  # the fan-out job is waiting
    SENDING = "sending"  # deliveries exist and are being worked
    DONE = "done"  # every delivery reached a final status
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for a batch job to claim it
    SENDING = "sending"  # claimed by one worker (the claim is the idempotency guard)
    RETRY = "retry"  # a transient failure; `next_attempt_at` says when
    SENT = "sent"
    UNREACHABLE = "unreachable"  # no channel could reach the person; `reason` says why
    FAILED = "failed"  # a permanent error
    SKIPPED = "skipped"  # opted out of notices, counted and never sent
    UNCERTAIN = "uncertain"  # the worker died during the send: possibly delivered, never re-sent


FINAL_DELIVERY = (
    DeliveryStatus.SENT,
    DeliveryStatus.UNREACHABLE,
    DeliveryStatus.FAILED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.UNCERTAIN,
)


class Notice(Base):
    """One message to a group (or to one person, for system notices), with its audience and progress.

    `key` makes system notices idempotent: the reminder for activity 7 the day before is created once,
    however many times the reminder tick runs.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(24), default="notice")
    title: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="SET NULL"))
    status: Mapped[NoticeStatus] = mapped_column(_enum(NoticeStatus, "notice_status"), default=NoticeStatus.DRAFT)
    queue: Mapped[str] = mapped_column(String(16), default="notices")  # replies | notices
    total: Mapped[int] = mapped_column(Integer, default=0)
    wecom_status: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    team: Mapped[Team | None] = relationship()
    activity: Mapped[Activity | None] = relationship()
    author: Mapped[Coordinator | None] = relationship()


class Delivery(Base):
    """One notice to one person; unique per (notice, volunteer) so a repeated job never sends twice."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="CASCADE"))
    batch: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.QUEUED
    )
    body: Mapped[str | None] = mapped_column(Text)  # per-person text (monthly summary); else the notice's
    channel: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    answer: Mapped[str | None] = mapped_column(String(8))  # reminders: "1" 我会到 / "2" 去不了
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)

    notice: Mapped[Notice] = relationship()

    __table_args__ = (
        UniqueConstraint("notice_id", "volunteer_id", name="uq_deliveries_notice_volunteer"),
        UniqueConstraint("notice_id", "coordinator_id", name="uq_deliveries_notice_coordinator"),
        Index("ix_deliveries_notice_status", "notice_id", "status"),
        Index("ix_deliveries_notice_batch", "notice_id", "batch"),
    )


class ReviewEscalation(Base):
    """Where a pending sign-up is on the review ladder: coordinators told, leader told, decided."""

    __tablename__ = "review_escalations"

    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), primary_key=True)
    coordinators_at: Mapped[datetime | None] = mapped_column(DateTime)
    leader_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # approved | declined | auto_confirmed


class Attendance(Base):
    """Check-in and hours of one sign-up; `record_id` points at the service record it produced."""

    __tablename__ = "attendance"

    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), primary_key=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    checked_in_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="SET NULL"))
    minutes: Mapped[int | None] = mapped_column(Integer)
    hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id", ondelete="SET NULL"))


class StarLevel(Base):
    """The highest star level a volunteer has reached (星级志愿者), so a thank-you is sent once per level."""

    __tablename__ = "star_levels"

    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(0))
    reached_at: Mapped[datetime] = mapped_column(DateTime)


class HandoffStatus(enum.StrEnum):
    WAITING = "waiting"  # nobody has called the person back yet
    CONTACTED = "contacted"  # a coordinator marked it done on the admin page


class Handoff(Base):
    """One request to speak to a person (`9`, 找人工): who asked, about which team and activity, the route
    the request went by (wechat | sms | wecom | waiting) and whether someone has called back.

    Every hand-off is a row, whatever the route: the admin page of people waiting to be contacted is the
    route of last resort and the record of the rest. `callback_enc` is a number to call on given in the
    conversation (encrypted like every phone), `callback_note` a good time to call, in the person's words.
    """

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="SET NULL"))
    route: Mapped[str] = mapped_column(String(16))
    status: Mapped[HandoffStatus] = mapped_column(_enum(HandoffStatus, "handoff_status"),
                                                  default=HandoffStatus.WAITING)
    callback_enc: Mapped[str | None] = mapped_column(Text)
    callback_masked: Mapped[str | None] = mapped_column(String(16))
    callback_note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    contacted_at: Mapped[datetime | None] = mapped_column(DateTime)
    contacted_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="SET NULL"))

    volunteer: Mapped[Volunteer] = relationship()
    team: Mapped[Team | None] = relationship()
    activity: Mapped[Activity | None] = relationship()
    coordinator: Mapped[Coordinator | None] = relationship(foreign_keys=[coordinator_id])

    __table_args__ = (Index("ix_handoffs_status_team", "status", "team_id"),)


class ExportAudit(Base):
    """One export of service records: who took it, when, in which format, with which filter, how many rows,
    and whether it carried full phone numbers (operators only). `coordinator_name` keeps the name when the
    log-in is later removed."""

    __tablename__ = "export_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="SET NULL"))
    coordinator_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    format: Mapped[str] = mapped_column(String(32))
    filter_text: Mapped[str] = mapped_column(String(255))
    row_count: Mapped[int] = mapped_column(Integer)
    full_phones: Mapped[bool] = mapped_column(Boolean, default=False)
