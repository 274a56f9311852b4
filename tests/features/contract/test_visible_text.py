"""One set of refused characters, read alike by Python's re (the API) and RE2 (Arrow, validation)."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc

from features.contract.visible_text import INVISIBLE_RE, INVISIBLE_RE2, describe, escaped, refused_in

_BMP = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]


def test_python_and_re2_refuse_exactly_the_same_characters() -> None:
    in_python = [INVISIBLE_RE.search(char) is not None for char in _BMP]
    in_re2 = pc.match_substring_regex(pa.array(_BMP), INVISIBLE_RE2).to_pylist()
    assert in_python == in_re2
    assert sum(in_python) > 100


def test_the_characters_of_the_brief_are_refused_and_printable_ascii_and_korean_are_not() -> None:
    refused = [0x202A, 0x202E, 0x2066, 0x2069, 0x200E, 0x200F, 0x061C, 0x200B, 0x200D, 0x2060]
    refused += [0x2064, 0xFEFF, 0x00AD, 0x2028, 0x2029, 0x115F, 0x1160, 0x3164, 0xFFA0]
    refused += [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x7F, 0x85, 0x9F]
    assert all(INVISIBLE_RE.fullmatch(chr(c)) for c in refused)
    # Validation skips an all-printable-ASCII column on that promise (features/contract/parsing.py).
    assert not any(INVISIBLE_RE.search(chr(c)) for c in range(0x20, 0x7F))
    assert not INVISIBLE_RE.search("관악구 보라매동 가족 확인, 재방문 불필요 ❤️ 1162052500")


def test_a_refused_character_is_named_and_shown_where_it_is() -> None:
    assert describe("\u200b") == "U+200B ZERO WIDTH SPACE"
    assert describe("\x07") == "U+0007 <control>"
    assert escaped("H1\u200b") == "H1\\u200b"
    assert refused_in("a\u202eb\u202ec\u2066") == [
        "U+202E RIGHT-TO-LEFT OVERRIDE",
        "U+2066 LEFT-TO-RIGHT ISOLATE",
    ]


def test_the_set_imports_without_pandas_or_arrow() -> None:
    probe = (
        "import sys, features.contract.visible_text; "
        "print(sorted(m for m in ('pandas', 'pandera', 'pyarrow', 'numpy') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
