"""Usernames and passwords, prepared by RFC 8265 (PRECIS) with precis-i18n."""

from precis_i18n import get_profile
from werkzeug.exceptions import BadRequest

# Why precis-i18n refuses a value, in the words a client is told instead of its codes.
REFUSALS = {
    "DISALLOWED/spaces": "must not contain spaces",
    "DISALLOWED/controls": "must not contain control characters",
    "DISALLOWED/precis_ignorable_properties": "must not contain invisible characters",
    "DISALLOWED/zero_width_joiner": "must not contain an invisible joiner here",
    "DISALLOWED/zero_width_nonjoiner": "must not contain an invisible non-joiner here",
    "DISALLOWED/has_compat": "must not contain compatibility forms (ligatures, special spaces)",
    "DISALLOWED/symbols": "must not contain symbols or emoji",
    "DISALLOWED/punctuation": "must not contain punctuation beyond ASCII",
    "DISALLOWED/other": "must not contain surrogates, line separators or private-use characters",
    "DISALLOWED/unassigned": "must not contain code points unassigned in this server's Unicode",
    "DISALLOWED/bidi_rule": "must not mix left-to-right and right-to-left letters (RFC 5893)",
}


def prepare(field: str, value: str, profile: str, shortest: int, longest: int) -> str:
    """Return the value as an RFC 8265 profile prepares it, or raise 400 saying why not."""
    try:
        value = get_profile(profile).enforce(value) if value else value  # "" is refused below
    except UnicodeEncodeError as error:
        words = REFUSALS.get(error.reason, "must not contain this character here")
        if error.end - error.start == 1:  # one character is to blame: name it
            words += f" (U+{ord(error.object[error.start]):04X})"
        raise BadRequest(f"'{field}' {words}.") from None
    if not shortest <= len(value) <= longest:  # counted once prepared, never cut short
        raise BadRequest(f"'{field}' must be {shortest} to {longest} characters long.")
    return value


def prepare_credentials(username: str, password: str) -> tuple[str, str]:
    """Prepare both by RFC 8265 (PRECIS), alike at registration and login, or raise 400."""
    # A name is an identifier, compared as people read it ("ａｌｉｃｅ" is "alice"); a
    # password is free text, in NFC with ASCII spaces, as NIST SP 800-63B-4 asks.
    username = prepare("username", username, "UsernameCasePreserved", 1, 32)
    # HTTP Basic credentials are "username:password", so a colon in a
    # username would make that user unable to log in (RFC 7617).
    if ":" in username:
        raise BadRequest("'username' must not contain a colon.")
    return username, prepare("password", password, "OpaqueString", 15, 128)
