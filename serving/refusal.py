"""A request anbu will not answer as asked, raised wherever the rule lives (a list's area, a record's
round, a key's scope) and answered in one place: the API turns it into the one error body
(serving/http/errors.py), `anbu rank` into one sentence naming its option.
"""

from __future__ import annotations


class Refused(Exception):
    """The HTTP status, the request field to blame, one sentence that begins with that field, the
    error code a client branches on (serving/http/errors.py: ERROR_CODES) and any facts the body
    carries beside them (`limit`, `unknown_household_ids`, …)."""

    def __init__(self, status: int, field: str, message: str, *, code: str, **facts) -> None:
        super().__init__(message)
        self.status, self.field, self.message, self.code, self.facts = status, field, message, code, facts
