"""File names as text: the one place a path becomes a string that outputs (tables, messages, JSON) can hold.

POSIX file names are bytes. Python keeps bytes that are not UTF-8 (names from old archives and Samba shares) as lone
surrogates, which no UTF-8 writer accepts: Parquet, CSV and a strict-UTF-8 stdout raised UnicodeEncodeError on them.
"""

from __future__ import annotations

import os


def as_text(value: str | os.PathLike) -> str:
    """`value` (a path, or a message that names one) with every byte that is not UTF-8 shown as `\\xNN`; other text as
    it is."""
    text = os.fspath(value)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that did not come from a file name's byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
