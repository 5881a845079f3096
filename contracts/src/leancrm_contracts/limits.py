"""Bounds on what a message may be (contract section 2.5), shared by every consumer.

A consumer reads records from systems it does not control: any bytes, any size, any
nesting, any timestamp. These bounds make each record's verdict cheap and certain; a
record outside them is refused with a reason naming the bound (a dead letter, or a
``rejected``/``invalid`` result when it still has a usable ``command_id``).
"""

from datetime import UTC, datetime
from typing import Final

#: the largest message value a consumer reads (bytes); larger ones are not parsed
MAX_MESSAGE_BYTES: Final = 262_144
#: the deepest nesting of JSON objects and arrays in a message value
MAX_NESTING: Final = 64
#: the earliest timestamp a message may carry (inclusive)
TIMESTAMP_MIN: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: the first instant after the latest timestamp a message may carry (exclusive)
TIMESTAMP_MAX: Final = datetime(2200, 1, 1, tzinfo=UTC)

#: a dead letter's value is the original bytes up to this size, then truncated
DLQ_MAX_VALUE_BYTES: Final = MAX_MESSAGE_BYTES
#: a dead letter's key is the original key up to this size, then truncated
DLQ_MAX_KEY_BYTES: Final = 1024
#: the original headers a dead letter carries, at most this many bytes of names and values
DLQ_MAX_ORIGINAL_HEADER_BYTES: Final = 16_384
#: a dead letter's reason and a rejected result's message are at most this many characters
MAX_REASON_CHARS: Final = 1000
