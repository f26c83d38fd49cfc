"""How a quoted sentence reads as a pair's answer: pure text rules, shared by generation (which
writes the answer) and the pair page (which says whether the answer is still the source's)."""

import re

# "Note that…", "Please note that…", "NOTE:", "Note:": the page's aside marker, no part of
# the fact.
_NOTE = re.compile(r"^\W*(?:please\s+)?note(?:\s+that\b|\s*:)\s*", re.IGNORECASE)


def answer_from_sentence(sentence: str) -> str:
    """The quoted sentence as an answer: without bold marks (the page's emphasis, which a
    fine-tuned model would learn to write) and without a leading "Note that"; code marks
    stay, since answers are Markdown in the dataset. The quote keeps the sentence as is."""
    text = " ".join(sentence.replace("**", "").split())
    text = _NOTE.sub("", text)
    return text[:1].upper() + text[1:] if text[:1].isalpha() else text
