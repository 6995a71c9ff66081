"""One error tree for domain failures; the pipeline maps each to a polite reply."""


class YinlingError(Exception):
    """Base of every expected failure; `code` names it for replies and logs."""

    code = "error"


class NotFound(YinlingError):
    code = "not_found"


class NotOpen(YinlingError):
    """The activity is cancelled, finished, a draft, or already started."""

    code = "not_open"


class AlreadySignedUp(YinlingError):
    code = "already_signed_up"


class Overlap(YinlingError):
    """The volunteer already has a live sign-up at an overlapping time."""

    code = "overlap"

    def __init__(self, other_activity_id: int) -> None:
        super().__init__(f"overlaps activity {other_activity_id}")
        self.other_activity_id = other_activity_id


class InvalidInput(YinlingError):
    code = "invalid_input"
