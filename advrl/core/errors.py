"""The one exception type for mistakes a user can fix.

Command-line entry points print a ``UserError`` as one line and exit with status 2, with no
traceback; anything else is a bug in advrl and keeps its traceback.
"""

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A problem in what the user asked for, with a message that names the fix."""


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ' (did you mean X or Y?)' for close matches of ``name``, or ''."""
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        matches = [lowered[m] for m in difflib.get_close_matches(name.lower(), lowered, n=n)]
    return f" (did you mean {' or '.join(matches)}?)" if matches else ""
