"""How a quoted sentence reads as a pair's answer: pure text rules, shared by generation (which
writes the answer) and the pair page (which says whether the answer is still the source's)."""

import re

# "Note that…", "Please note that…", "NOTE:", "Note:": the page's aside marker, no part of
# the fact.
_NOTE = re.compile(r"^\W*(?:please\s+)?note(?:\s+that\b|\s*:)\s*", re.IGNORECASE)


# "[Documented here](/topics/protocol)": the link's text, not its address.
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()\s]*\))+\)")
# "… from a DMV office [1] or …": a page's footnote marks.
_FOOTNOTE = re.compile(r"\s?\[\d{1,2}\]")
# "… Center , call …": a space the page's extraction left before punctuation.
_SPACE_BEFORE = re.compile(r"\s+([,.;:!?])(?=\s|$)")


def text_tidied(sentence: str) -> str:
    """A sentence as a pair shows it: without bold marks (the page's emphasis, which a
    fine-tuned model would learn to write), Markdown links (their text stays), footnote marks
    and spaces before punctuation; code marks stay, since answers are Markdown."""
    text = " ".join(sentence.replace("**", "").split())
    text = _FOOTNOTE.sub("", _LINK.sub(r"\1", text))
    return _SPACE_BEFORE.sub(r"\1", text)


def note_dropped(text: str) -> str:
    """The text without a leading "Note that", "Please note that" or "Note:"."""
    return _NOTE.sub("", text)


def answer_from_sentence(sentence: str) -> str:
    """The quoted sentence as an answer: tidied (text_tidied), without a leading "Note
    that". The quote keeps the sentence as is."""
    text = note_dropped(text_tidied(sentence))
    return text[:1].upper() + text[1:] if text[:1].isalpha() else text
