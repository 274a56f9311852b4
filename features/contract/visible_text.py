"""Characters a person cannot see, or that change the order in which they see the rest.

A household id `H1\\u200b` prints as `H1` in every list and file but is another household; a reason
holding U+202E reads backwards from there on. Such text says something other than what a reader
sees, so the contract's string columns and the API's free text refuse it. The set is declared
here once, in plain Python (no pandas, pandera or Arrow to import), and spelt for each regex engine
that checks it:

- C0 and C1 control characters and DEL (U+0000–U+001F, U+007F–U+009F), tab and line feed included:
  no code, id or name of the contract holds one;
- the line and paragraph separators U+2028 and U+2029;
- the Basic Multilingual Plane's default-ignorable code points (Unicode's
  Default_Ignorable_Code_Point, which renderers draw as nothing): the soft hyphen, zero-width
  spaces and joiners, the byte order mark, the bidi marks, embeddings, overrides and isolates
  (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069), the Hangul fillers (U+115F, U+1160,
  U+3164, U+FFA0) and the rest of that property's BMP code points, except the variation selectors
  U+FE00–U+FE0F, which choose a glyph (the emoji ❤️, a CJK variant) rather than hide one;
- the interlinear annotation marks U+FFF9–U+FFFB.

Only the BMP, so that `INVISIBLE` means the same in Python's `re` and in a JSON-schema pattern
(ECMA-262 without the `u` flag cannot name a code point above U+FFFF in a class).
Every refused character is below U+0020, U+007F or above it: printable ASCII holds none, which
lets a checker skip an all-ASCII column with one pass over its bytes.
"""

from __future__ import annotations

import re
import unicodedata

_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),  # C0 controls
    (0x007F, 0x009F),  # DEL and C1 controls
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; left-to-right and right-to-left marks
    (0x2028, 0x202E),  # line and paragraph separators; bidi embeddings, pop, overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated format characters
    (0x3164, 0x3164),  # Hangul filler
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFFB),  # unassigned specials; interlinear annotation marks
)


def _spelt(escape: str) -> str:
    return "".join(
        escape.format(low) if low == high else f"{escape.format(low)}-{escape.format(high)}"
        for low, high in _RANGES
    )


INVISIBLE = _spelt(r"\u{:04x}")
"""The refused characters as the inside of a regex character class (`f"[{INVISIBLE}]"`,
`f"[^{INVISIBLE}]"`), spelt with `\\uXXXX` escapes that Python's `re` and ECMA-262 (JSON Schema)
read alike."""
INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")
_LINE_BREAKS = frozenset({0x09, 0x0A, 0x0D})


def _without_line_breaks(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    kept = []
    for low, high in ranges:
        points = [p for p in range(low, high + 1) if p not in _LINE_BREAKS]
        while points:
            run = [points.pop(0)]
            while points and points[0] == run[-1] + 1:
                run.append(points.pop(0))
            kept.append((run[0], run[-1]))
    return tuple(kept)


INVISIBLE_IN_PROSE = "".join(
    rf"\u{low:04x}" if low == high else rf"\u{low:04x}-\u{high:04x}"
    for low, high in _without_line_breaks(_RANGES)
)
"""The same class less tab, line feed and carriage return: what a person's free text (a reason, a
visit note) refuses, since a note may run over lines; a code or id of the contract refuses those too."""
INVISIBLE_RE2 = "[" + _spelt(r"\x{{{:X}}}") + "]"
"""The same class in RE2's spelling (`\\x{200B}`), for Arrow's and DuckDB's regex functions."""


BEYOND_THE_BMP_RE = re.compile("[\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
"""Invisible code points above U+FFFF (shorthand format controls, musical formatting controls, the
tag characters that can hide text, the supplementary variation selectors): Python's `re` names
them; a JSON-schema pattern cannot, so the API's validator checks them beside its pattern."""
_UNSEEN_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})


def has_visible(text: str) -> bool:
    """Whether `text` has at least one character a reader sees: not a space, a control, a format
    or combining mark, a variation selector, a blank braille cell or a filler."""
    return any(
        unicodedata.category(char) not in _UNSEEN_CATEGORIES
        and not INVISIBLE_RE.match(char)
        and not BEYOND_THE_BMP_RE.match(char)
        and char != "\u2800"
        for char in text
    )


def describe(char: str) -> str:
    """A character as a reader can name it: `U+200B ZERO WIDTH SPACE`, `U+0007 <control>`."""
    name = unicodedata.name(char, "")
    if not name:
        name = "<control>" if unicodedata.category(char) == "Cc" else "<unassigned>"
    return f"U+{ord(char):04X} {name}"


def escaped(text: str) -> str:
    """`text` with every refused character written as `\\uXXXX`, so a reader sees where it is."""
    return INVISIBLE_RE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def refused_in(text: str) -> list[str]:
    """The distinct refused characters of `text`, described, in the order they first occur."""
    return [describe(char) for char in dict.fromkeys(INVISIBLE_RE.findall(text))]


def unreadable(value: str) -> tuple[str, str] | None:
    """(code, sentence) for text that matches the document's pattern yet a reader still cannot see
    as typed: invisible characters above U+FFFF (tag characters), or only marks, variation selectors
    and blank braille cells. The pattern cannot say these, so the route refuses them (422)."""
    beyond = [describe(char) for char in dict.fromkeys(BEYOND_THE_BMP_RE.findall(value))]
    if beyond:
        return "invisible_characters", f"holds {', '.join(beyond[:3])}: text must read as it was written"
    if not has_visible(value):
        return "blank_text", "must have a visible character, not only spaces, marks or fillers"
    return None
