"""Field types of the command and event data (section 4) beyond those of section 3.

The contract gives no length for these free strings; the bounds below are this
package's choice, and every free string must hold a non-whitespace character
(``NON_BLANK``). Strings are strict: a JSON number or boolean is an error, never
coerced. Identifiers are UUIDs, accepted as canonical or hyphen-less strings.
"""

from typing import Annotated, Final, Literal

from pydantic import BeforeValidator, Field, StrictInt, StringConstraints

NON_BLANK: Final = r"\S"


def _exact_int(value: object) -> object:
    """Refuse what a lax int would coerce: booleans, floats, numeric strings."""
    if type(value) is not int:
        raise ValueError("must be an integer")
    return value


#: customer name: 1–200 characters, not blank
Name = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=200, pattern=NON_BLANK)
]
#: e-mail address: at most 254 characters (RFC 5321 path limit), basic ``local@domain.tld``
#: check (one ``@``, no whitespace, a dot in the domain); not verified beyond that
Email = Annotated[
    str,
    StringConstraints(
        strict=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
#: phone number: at most 32 characters, digits with an optional leading ``+`` and the
#: separators space ( ) . / - (``+44 20 7946 0958``, ``(555) 010-2030``)
Phone = Annotated[
    str,
    StringConstraints(
        strict=True, min_length=1, max_length=32, pattern=r"^\+?[0-9 ()./-]*[0-9][0-9 ()./-]*$"
    ),
]
#: identification method (``account_number``, ``voice_print``): 1–64 characters, not blank
Method = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=NON_BLANK)
]
#: queue name: 1–64 characters, not blank
Queue = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=NON_BLANK)
]
#: feedback topic (``price``, ``delivery``): 1–100 characters, not blank
Topic = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=100, pattern=NON_BLANK)
]
#: feedback text: 1–5,000 characters (section 4)
FeedbackText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=5000)]
#: rating: integer 0–10 (a JSON string or boolean is an error)
Rating = Annotated[StrictInt, Field(ge=0, le=10)]
#: sentiment score in [-1, 1] (integers accepted, booleans and NaN rejected)
Score = Annotated[float, Field(strict=True, ge=-1, le=1, allow_inf_nan=False)]
#: the scorer that produced a sentiment score (``vader-3.3.2``): 1–64 characters, not blank
Scorer = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=NON_BLANK)
]
#: an idea vote: exactly +1 or -1 (``true`` and ``"1"`` are errors)
Vote = Annotated[Literal[1, -1], BeforeValidator(_exact_int)]
