"""Names a writer introduces: the words after "my name is", "call me", "Dr.", "my sister", or a sign-off.

An NER model tags a name by what it looks like, so an uncommon one ("My name is Zbigniew Lefèvre") slips
past it. The context gives such a name away whatever it looks like, so these spans are found by the words
around them: no name list is used, so names from any culture are found alike. A strong trigger ("my name
is", "call me", a capitalised title, a sign-off) takes one capitalised word or more; a weak one ("I'm")
takes two or more, so that "I'm Happy with it" is left alone. A dash opens a sign-off only on the last line
of a text with no other dashed line (a list is not signed). After "my name is" a lower-case name counts too
("my name is zofia nowak"), stopping at the first ordinary word.
"""

from __future__ import annotations

import re

from spacy.lang.en.stop_words import STOP_WORDS

PARTICLE_WORDS = "de da das do dos di du del della der den van von ter ten la le bin ibn al el ní nic ó mac y st"
PARTICLES = frozenset(PARTICLE_WORDS.split())
"""Lower-case words inside a name ("Jean de la Fontaine"), never its first word."""
MAX_WORDS = 5
WORD = re.compile(r"[^\W\d_][\w'’-]*")
GAP = re.compile(r"[ \t]+")
INITIAL_GAP = re.compile(r"\.[ \t]*")
"""Between two words of one name: spaces, or after a one-letter initial its full stop ("J. R. Okafor"); any
other full stop ends the sentence, and the name with it."""

STRONG = re.compile(
    r"\b(?:my\s+name\s+is|my\s+name['’]s|name:|call\s+me|i\s+go\s+by|known\s+as"
    r"|(?:my|our)\s+(?:friend|neighbou?r|doctor|dentist|nurse|therapist|wife|husband|partner|boyfriend|girlfriend"
    r"|son|daughter|sister|brother|mother|father|mom|mum|dad|aunt|uncle|cousin|boss|colleague|landlord|teacher),?)"
    r"[ \t]+"
    # A sign-off takes its comma or line break ("Best, Ana Lima"; not "Best Picture").
    r"|\b(?:regards|sincerely|cheers|thanks|thank\s+you|best|love|xoxo|signed)(?:,[ \t]*\n?|[ \t]*\n)[ \t]*",
    re.IGNORECASE,
)
TITLE = re.compile(
    r"\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|Sr|Sra|Fr)\.?[ \t]+|\b(?:Doctor|Nurse|Miss|Madame|Monsieur|Herr|Frau)[ \t]+"
)
"""Titles as they are written, capitalised: "I miss Paris" and "MS Word" hold none."""
DASH_SIGN_OFF = re.compile(r"(?:^|\n)[ \t]*(?:—|--|-|~)[ \t]*(?=[^\n]*\s*$)")
"""A dash opening the last line ("— Ana Lima" at the end); where other lines open with one, it is a list."""
DASHED_LINE = re.compile(r"^[ \t]*(?:—|--|-|~)", re.MULTILINE)
WEAK = re.compile(r"\b(?:i\s+am|i['’]m)[ \t]+", re.IGNORECASE)
POSSESSIVE = re.compile(r"['’]s$")
LOWER_CASE_OK = re.compile(r"my\s+name(?:\s+is|['’]s)", re.IGNORECASE)


def introduced_names(text: str) -> list[tuple[int, int]]:
    """Character spans of the names that follow an introduction, a title or a sign-off, in text order."""
    spans = []
    for pattern, min_words in ((STRONG, 1), (TITLE, 1), (DASH_SIGN_OFF, 1), (WEAK, 2)):
        for trigger in pattern.finditer(text):
            lower_ok = bool(LOWER_CASE_OK.match(trigger.group(0).strip()))
            span = _name_after(text, trigger.end(), min_words, lower_ok)
            if span and (pattern is not DASH_SIGN_OFF or _signed(text, span)):
                spans.append(span)
    return sorted(set(spans))


def _signed(text: str, span: tuple[int, int]) -> bool:
    """The dashed name ends the text, and no other line opens with a dash."""
    return not text[span[1] :].strip() and len(DASHED_LINE.findall(text)) == 1


def _name_after(text: str, pos: int, min_words: int, lower_ok: bool) -> tuple[int, int] | None:
    """The run of name words starting at `pos` (a possessive "'s" left out), if it holds `min_words` or more."""
    words: list[re.Match[str]] = []
    while len(words) < MAX_WORDS:
        word = WORD.match(text, pos)
        if not word or not _name_word(word.group(0), lower_ok, first=not words):
            break
        words.append(word)
        gap = (INITIAL_GAP if len(word.group(0)) == 1 else GAP).match(text, word.end())
        if not gap:
            break
        pos = gap.end()
    while words and words[-1].group(0).lower() in PARTICLES:
        words.pop()
    if sum(w.group(0).lower() not in PARTICLES for w in words) < min_words:
        return None
    last = words[-1]
    possessive = POSSESSIVE.search(last.group(0))
    return words[0].start(), last.end() - (len(possessive.group(0)) if possessive else 0)


def _name_word(word: str, lower_ok: bool, first: bool) -> bool:
    bare = POSSESSIVE.sub("", word)
    if bare.lower() in PARTICLES:
        return not first
    if bare.lower() in STOP_WORDS:
        return False
    return bare[:1].isupper() or lower_ok
