"""Target text in a prompt: the words inside its quotes, as a reader would pick them.

MARIO-Eval's convention is "the words inside single quotes"; prompts in the wild also use
double and typographic quotes, and apostrophes (don't, Ocean's, boys') share the single quote
character. One left-to-right scan decides, for each quote mark, what it is:

* a single mark between two letters or digits is an apostrophe (`Don't`, `corgi’s`), never a
  quote: so `'Don't Panic!'` is one quote holding "Don't Panic!";
* a mark can open a quote where the character before it is no letter or digit and the one
  after it is not a space (` 'OPEN`, `("OPEN`); it can close one where the character before
  it is not a space and the one after it is no letter or digit (`OPEN' `, `Panic!'`);
* a closing mark with no quote open is an apostrophe (`the boys' club`);
* inside a quote only its own kind closes it (single or double), so `"it's 'fine'"` is one
  quote; a quote never closed gives nothing, and a second opening mark of the same kind
  starts the quote again (`'90s poster with 'RETRO'` quotes RETRO);
* a plural possessive inside a quote (`'Dogs' Day Out'`): a single mark after an `s` and
  before a space and a word closes the quote unless the next closing mark cannot itself be
  such a possessive, in which case that later mark closes it.

The quoted phrases are split at whitespace, as MARIO-Eval splits them: `'OPEN 24'` targets
the two words OPEN and 24. prompts/README.md lists worked examples.
"""

from __future__ import annotations

SINGLE_OPEN = "'\u2018"  # ' and ‘
SINGLE_CLOSE = "'\u2019"  # ' and ’ (’ is also the typographic apostrophe)
DOUBLE_OPEN = '"\u201c'  # " and “
DOUBLE_CLOSE = '"\u201d'  # " and ”


def _is_word(ch: str | None) -> bool:
    return ch is not None and (ch.isalnum() or ch == "_")


def _is_space(ch: str | None) -> bool:
    return ch is None or ch.isspace()


def _around(text: str, i: int) -> tuple[str | None, str | None]:
    before = text[i - 1] if i > 0 else None
    after = text[i + 1] if i + 1 < len(text) else None
    return before, after


def _can_open(text: str, i: int) -> bool:
    before, after = _around(text, i)
    return not _is_word(before) and not _is_space(after)


def _can_close(text: str, i: int) -> bool:
    before, after = _around(text, i)
    return not _is_space(before) and not _is_word(after)


def _apostrophe(text: str, i: int) -> bool:
    before, after = _around(text, i)
    return text[i] in SINGLE_CLOSE and _is_word(before) and _is_word(after)


def _possessive(text: str, i: int) -> bool:
    """`Dogs' Day`: a single mark after s, then a space and a word."""
    before, after = _around(text, i)
    if before not in ("s", "S") or after is None or not after.isspace():
        return False
    rest = text[i + 1 :].lstrip()
    return bool(rest) and _is_word(rest[0])


def _next_single_close(text: str, start: int) -> int | None:
    """The next single mark after `start` that could close a quote, or None when an opening
    mark (or the end) comes first."""
    for j in range(start, len(text)):
        ch = text[j]
        if ch not in SINGLE_OPEN + SINGLE_CLOSE or _apostrophe(text, j):
            continue
        if _can_open(text, j) and not _can_close(text, j):
            return None
        if ch in SINGLE_CLOSE and _can_close(text, j):
            return j
    return None


def quoted_phrases(text: str) -> list[str]:
    """The text inside each quote of `text`, in order, stripped; empty quotes are left out."""
    phrases: list[str] = []
    kind: str | None = None  # "single" or "double" while a quote is open
    start = 0
    for i, ch in enumerate(text):
        if kind is None:
            if ch in SINGLE_OPEN and not _apostrophe(text, i) and _can_open(text, i):
                kind, start = "single", i + 1
            elif ch in DOUBLE_OPEN and _can_open(text, i):
                kind, start = "double", i + 1
            continue
        opens, closes = (
            (SINGLE_OPEN, SINGLE_CLOSE) if kind == "single" else (DOUBLE_OPEN, DOUBLE_CLOSE)
        )
        if ch in opens and _can_open(text, i) and not _can_close(text, i):
            start = i + 1  # `'90s poster with 'RETRO'`: the first mark opened nothing
            continue
        if ch not in closes or not _can_close(text, i):
            continue
        if kind == "single":
            if _apostrophe(text, i):
                continue
            later = _next_single_close(text, i + 1) if _possessive(text, i) else None
            if later is not None and not _possessive(text, later):
                continue  # `'Dogs' Day Out'`: this mark is the possessive, a later one closes
        phrase = text[start:i].strip()
        if phrase:
            phrases.append(phrase)
        kind = None
    return phrases


def quoted_words(text: str) -> list[str]:
    """Words inside quotes, split at whitespace: "a sign 'OPEN 24' " -> [OPEN, 24]."""
    return [word for phrase in quoted_phrases(text) for word in phrase.split()]
