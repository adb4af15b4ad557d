"""Reading what a URL carries, strictly: a user's id in a path, a page in a query string."""

import re

from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter


def whole_number(name: str, lowest: int, highest: int, default: int) -> int:
    """The query parameter `name` as an int from lowest to highest, or raise 400."""
    values = request.args.getlist(name)
    if not values:
        return default
    value = values[0] if len(values) == 1 else ""  # given twice: parsers differ on which wins
    # ASCII digits only: int() would also read "+1", "1_0" and "١" (Arabic-Indic one).
    if not re.fullmatch(r"[0-9]{1,10}", value) or not lowest <= int(value) <= highest:
        raise BadRequest(
            f"'{name}' must be a whole number from {lowest} to {highest}, given once."
        )
    return int(value)


class UserId(IntegerConverter):
    """An id in a path, in digits of any length; one that no INTEGER column can hold is
    None. Werkzeug checks a route's method before its converter's max: with int(max=...),
    DELETE of such an id would be a 405 that names GET, not the route's own 404 (or 403)."""

    def to_python(self, value: str) -> int | None:
        return int(value) if len(value) <= 10 and int(value) <= 2147483647 else None
