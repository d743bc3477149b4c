"""Number text as people type it in Chinese office software, made parseable.

The readers keep cells exactly as in the file; validators call :func:`normalise_number_text`
before parsing coordinates, azimuths and heights.
"""

from __future__ import annotations

import re

__all__ = ["normalise_number_text"]

_FULL_WIDTH = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},  # ０-９
        "\uff0b": "+",  # ＋
        "\uff0d": "-",  # －
        "\u2212": "-",  # − minus sign
        "\uff0e": ".",  # ．
        "\uff0c": ",",  # ，
        "\uff45": "e",  # ｅ
        "\uff25": "E",  # Ｅ
    }
)
# Unambiguous thousands grouping: several groups, or one group followed by a decimal part.
# "3,5" (decimal comma?) and "1,234" (1234 or 1.234?) do not match and are left alone.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:(?:,\d{3}){2,}(?:\.\d*)?|,\d{3}\.\d*)")
_SPACES = " \t\r\n\u3000\u00a0\u2002\u2003\u2009\u202f\ufeff"


def normalise_number_text(s: str) -> str:
    """Make number text ASCII: full-width digits and signs, thousands separators, spaces.

    Converts full-width digits ``０``-``９`` and ``＋ － ． ， Ｅ`` (and U+2212 minus) to ASCII,
    trims surrounding spaces including the ideographic space U+3000 and no-break spaces, and
    drops thousands separators when the grouping is unambiguous ("1,234.5", "1,234,567").
    A single comma group without a decimal part ("3,5", "1,234") is left as it is so that the
    caller can report it as ambiguous.

    Parameters
    ----------
    s : str
        A cell as read from the file.

    Returns
    -------
    str
        The normalised text (not validated: it may still not be a number).
    """
    text = s.translate(_FULL_WIDTH).strip(_SPACES)
    if "," in text and _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    return text
