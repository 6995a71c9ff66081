"""Service hours: total, this year, number of activities, the last three, and who issues a proof."""

from __future__ import annotations

from typing import TYPE_CHECKING

from data import profiles
from data.models import Activity
from data.services import hours_summary

from .. import texts as T
from ..common import menu, say, short
from ..registry import Flow, Result
from ..replies import Reply, Text
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


def show(turn: Turn, st: State) -> Result:
    s = hours_summary(turn.session, turn.volunteer.id, turn.now)
    if s.activities == 0:
        return [Text(T.HOURS_NONE), menu(turn)], "help.menu"
    lines = [say(turn, T.HOURS, T.HOURS_SHORT, total=T.hours(s.total), year=T.hours(s.this_year), n=s.activities)]
    if not short(turn) and s.last:
        lines.append(T.HOURS_LAST)
        for r in s.last:
            lines.append(T.HOURS_LINE.format(day=T.day(r.service_date), title=r.activity_name,
                                             hours=T.hours(r.hours)))
    # Who issues the proof: the team that organised the latest activity, else the home team.
    latest = turn.session.get(Activity, s.last[0].activity_id) if s.last and s.last[0].activity_id else None
    coord, team = profiles.coordinator_for(turn.session, turn.volunteer, latest)
    if coord is not None and team is not None:
        lines.append(say(turn, T.HOURS_PROOF, T.HOURS_PROOF_SHORT, team=team.name, name=coord.name,
                         phone=coord.contact_phone))
    else:
        lines.append(T.HOURS_PROOF_ANY)
    replies: list[Reply] = [Text("\n".join(lines)), Text(say(turn, T.EXITS, T.EXITS_SHORT))]
    return replies, None


FLOW = Flow(name="hours", entries={"my_hours": show})
