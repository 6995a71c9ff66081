"""Family helpers (亲情助手): a son or daughter linked to a parent volunteer, with the parent's consent."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .models import Base, Volunteer, _enum


class LinkState(enum.StrEnum):
    PENDING = "pending"  # a code is out, or a helper sent it and the parent has not said yes yet
    ACTIVE = "active"  # the parent said yes
    UNLINKED = "unlinked"  # either side ended it, the parent said no, or the code ran out


class FamilyLink(Base):
    """One parent–helper link. The code is kept only as its keyed hash, single use, for 24 hours.

    `relation` is the parent's word for the helper (儿子, 女儿); `helper_name` a name the parent gave;
    `elder_word` the helper's word for the parent, learnt from what they say (我妈 → 母亲).
    `consent_at`/`consent_channel` record the parent's yes; `ended_by` who ended it (a volunteer id).
    """

    __tablename__ = "family_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    helper_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str | None] = mapped_column(String(16))
    helper_name: Mapped[str | None] = mapped_column(String(64))
    elder_word: Mapped[str | None] = mapped_column(String(16))  # the helper's word for the parent (母亲)
    state: Mapped[LinkState] = mapped_column(_enum(LinkState, "family_link_state"), default=LinkState.PENDING)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime)
    consent_channel: Mapped[str | None] = mapped_column(String(16))
    ring_on_handoff: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"))

    parent: Mapped[Volunteer] = relationship(foreign_keys=[parent_id])
    helper: Mapped[Volunteer | None] = relationship(foreign_keys=[helper_id])

    __table_args__ = (Index("ix_family_links_state_parent", "state", "parent_id"),)
