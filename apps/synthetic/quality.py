"""What the model is asked for a pair, and the automatic checks a pair passes before a person
sees it.

The packaged model is a small *base* model: it continues patterns well and follows
instructions badly. So the app picks the supporting sentence itself (only one that can be a
whole answer: no figure, example placeholder, code, link or earlier sentence it leans on; one
no earlier pair asks about; labelled with the kind of question the sentence shows). A sentence
with a shape to build on ("If X, Y.", "X is a Y.", "The `X` command returns Y.") gets a
question the app composes from its own words; for the others the model writes a short
question by continuing neutral-domain examples, and when its tries all fail the checks, the
next best sentences get a composed one. The answer is always the sentence itself
(extractive). The checks refuse what is still wrong: a copied example, an id, a question the
sentence does not answer, a question the product's own search cannot lead back to its source,
a duplicate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from apps.knowledge import embedding
from apps.knowledge.chunking import sentence_is_markup, sentences_split
from apps.knowledge.models import Chunk
from apps.knowledge.selectors import Filters, chunks_search
from apps.llm import gates
from apps.llm.prompts import RenderedPrompt, prompt_render
from apps.synthetic.models import MODEL_QUESTION_HELD, QUESTION_TEMPLATE_PREFIX
from apps.synthetic.selectors import duplicate_earliest
from apps.synthetic.text import answer_from_sentence, note_dropped, text_tidied

PROMPT_NAME = "qa_question"
_EXAMPLE = re.compile(r'^Fact: (?P<fact>.+)\nJSON: \{"question": "(?P<question>.+)"\}$', re.M)
# A sentence that leans on what came before it ("This is obtained by using the -r switch.",
# "In this case…", "the example above") cannot be an answer on its own: a reviewer saw such
# pairs pass every check, so they are not asked about at all.
_NEEDS_CONTEXT = re.compile(
    r"^\W*(this|these|that|those|it|they|such|here|there|see|also|however|otherwise|but|"
    r"and|or|so|thus|therefore|hence|instead|again|still|yet|then|as a result|in addition|"
    r"additionally|moreover|furthermore|for (example|instance)|similarly|likewise|in fact|"
    r"in that case|if so|if not|both|either|neither|each of|in each|specifically|"
    r"in such|(when|if) this is)\b|"
    # "The command is also used by…": which command is the page's title, not the sentence.
    r"^\W*the (command|function|method|option|argument|parameter|module|feature|field|value|"
    r"reply|result|call|operation|script|file|form|program|application|service|tool|page|"
    r"process|procedure|setting|variable|directive|key|benefit|loan|plan|fee|office)s? "
    r"(is|are|was|were|can|will|may|must|should|has|have|does|do|returns?|also|only|"
    r"accepts?|takes?|works?)\b|"
    r"\b(this|that|these|those) (case|example|option|command|mode|setting|step|page|one|"
    r"reason|way|purpose|point|behaviou?r|feature|approach|configuration|setup|scenario|"
    r"situation|problem|issue|method|function|program|form|process)s?\b|"
    # "during this time period": which period, the sentence before said.
    r"\b(this|that) time (period|frame)\b|"
    r"\b(above|below|the following|as follows|previous(ly)?)\b|"
    # "The two variants are called…", "The latter…": which two, the sentence before said.
    r"^\W*the (two|three|four|both|other|former|latter|remaining|said)\b|"
    # "…if you see your dependent listed there": where, the page around it showed.
    r"\b(listed|shown|found|mentioned|described|included|displayed) there\b|"
    # "The fact that when a client needs to retry…": a point in a list, its lead-in before.
    r"^\W*the fact that\b|"
    # "The second one is saved as…": one of what, the sentence before said.
    r"\bthe (first|second|third|fourth|last|next|other|former|latter|new|old) one\b|"
    # "A real world use case for this is…", "If you don t do this, …": "this" as a pronoun.
    r"\b(for|of|to|with|about|from|on|like|do|does|did) (this|that)(?=\s*[,.;:!?]|\s+(is|are|"
    r"was|were|will|can|may|would|should|must)\b)|"
    # "Starting Redis 7.0, it can be used with…", "By default, it stores…": what "it" is
    # came before. ("If the key does not exist, it is set to 0" says what it is.)
    r"^\W*(starting|since|as of|by default|of course|like|unlike|similarly|instead)\b[^,]{0,40}, "
    r"(it|they)\b|"
    # "Note that this policy doesn't prevent…", "All of these must be true.", "under this
    # plan": which policy, which plan, the sentence does not say. ("Those who…", "those for
    # Direct Loans" name what they mean.)
    r"\b(this|these|those) (?!(is|was|means|way|time|year|month|week|who|that|which|for|of|"
    r"in|with|at|on|from|by|to|whose|where)\b)[a-z][\w-]*|\b(of|all|one|any|none|each|some|"
    r"both|either|many|most) (this|these|those)\b",
    re.IGNORECASE,
)
# A pointer to another page ("For more information please refer to [Introduction to Redis
# Functions](/topics/functions-intro)."): a reviewer cannot approve a link as an answer.
_POINTER = re.compile(
    r"\b(for (more|further|additional|detailed) (information|details)|please (see|read)\b|"
    r"\b(check|see) the [^.]{1,60} (page|documentation|docs)\b|(please )?refers? to "
    r"(the )?\[|see the \[|check the \[)",
    re.IGNORECASE,
)
# Not a sentence a reviewer can take as an answer, though it ends like one: a heading glued
# to the sentence by the page's extraction ("Immigration Status To prove your…", "If you are
# under 18 If you are…"), a definition list's term ("**REPLACE:** appends…"), or a command
# reference's summary with its subject left out ("Return the username…").
_GLUED_HEADING = re.compile(
    r"[a-z0-9)\]] (The|You|Your|If|We|To|Once|It|This|These|In|For|When|Important|Please|"
    r"Our|There|Each|All|Most|Find|Learn|Apply|Call|Visit|Check|See|Did|Do|Are|Here) [a-z]|"
    # "… Download SGLV 8284 PDF To receive…", "… marriage record The New York State…", a
    # site's navigation ("Benefits Planner: Survivors | Planning For…").
    r"\b[A-Z]{2,} (The|You|Your|If|To|We) [a-z]|[a-z] The [A-Z][a-z]+ [A-Z]|\s\|\s|"
    r"\bshare link\b"
)
_TERM_LABEL = re.compile(
    r"^\W*(\*\*|`|_)[^*`_]{1,60}(\*\*|`|_)\s*(:|--|-|\u2014)|^\*\*[^*]+:\*\*|"
    r"^\*\*[^*]+\*\*[^.]*? (--|\u2014) |"
    # "`cluster_state`: State is…", "port (optional): The TCP port of the node."
    r"^`[^`]{1,60}`( and `[^`]{1,60}`)?:\s|"
    r"^(?!(?i:note|important|reminder|remember|tip|warning|caution)\b)[\w-]{1,30}"
    r"( \(optional\))?: [A-Z]"
)
# Cut at its start by the page's extraction: "1 , 2020 , ED will waive…" (a date split at its
# full stop), "is valid and will kill only…".
_CUT_AT_START = re.compile(r"^(\d+ ,|[a-z]|\.\.\.)")
_NO_SUBJECT = re.compile(
    # "Can also be used to…": a list item's continuation, its subject in the item before.
    r"^\W*(can|could|may|might|must|should|will|would|is|has|"
    r"returns?|generates?|increments?|decrements?|appends?|computes?|retrieves?|pops?|"
    r"pushes?|trims?|inserts?|posts?|stores?|removes|sets|gets|counts|lists|reports|adds|"
    r"deletes|resets|creates|moves|renames|sorts|executes|loads|marks|flushes|blocks)\b",
    re.IGNORECASE,
)
# A reference page's one-line summary of a command ("Restore libraries from the serialized
# payload.", "Get the value of `key` and delete the key.") or a site's link text ("Get more
# information about receiving aid."): which command, which page, the sentence does not say.
_SUMMARY_OR_LINK = re.compile(
    r"^\W*(restore|kill|delete|flush|increment|decrement|append|pop|push|trim|insert|rename|"
    r"count|assign|reset|create|get|set|add|remove|list|retrieve|load|save|move|block|unblock|"
    r"return)\b",
    re.IGNORECASE,
)
# A sentence about something the pair cannot show: a figure, a diagram, a table, an example
# ("In the next figure, the blue box represents our query."). "The image of the memory" (a
# core dump) is not a picture, hence the lookahead.
_POINTS_AT = re.compile(
    r"\b(the|this|that|these|those|next|following|preceding|our) "
    r"(figures?|diagrams?|pictures?|screenshots?|illustrations?|charts?|drawings?|tables?|"
    r"examples?|snippets?|listings?|images?(?! of\b))\b|"
    r"\ban? (example|figure|diagram|screenshot|illustration|drawing)\b(?! of\b)|"
    r"\b(figure|fig\.|table|diagram|example|listing) \d|"
    # "You should choose the box which describes…": a form's box, which the pair cannot show.
    r"\b(the|this|that|a|each) (check ?)?box(es)?\b|"
    # "…starting from point 4": a numbered list's item the pair does not show.
    r"\b(point|step|item) #?\d+\b|"
    r"\b(shown|illustrated|depicted|pictured|drawn) (here|above|below)\b|"
    r"\b(in|see|from) (the )?(figure|diagram|picture|screenshot|image)\b",
    re.IGNORECASE,
)
# Names an example gives its parts ("If the master M1 fails, S2 and S3 will agree…", "node
# A", "Client B"): meaningless without the example's drawing. Real names of that shape (the
# L1 cache, Amazon S3, a W2 form) are not placeholders.
_PLACEHOLDER = re.compile(
    r"(?<![\w'/.-])(?!L[1-3]\b|W2\b)[A-Z]\d{1,2}(?![\w'/.-])|"
    r"`[A-Z]\d{0,2}`|"
    r"\b(?i:nodes?|instances?|servers?|replicas?|masters?|slaves?|primar(?:y|ies)|clients?|"
    r"hosts?|machines?|shards?|sentinels?|process(?:es)?|users?|partitions?|computers?|peers?|"
    r"sites?|regions?|clusters?|keys?|databases?|groups?|accounts?|consumers?)"
    r" [A-HJ-Z](?![\w'\u2019&-]|\.\w)|"
    # Two bare capital letters standing for things ("B and C replicating"), not "Part B".
    # A letter of an abbreviation ("U.S.", "M.D.") is neither.
    r"(?<!Part )(?<!Plan )(?<!Type )(?<!Form )(?<!Schedule )(?<!Section )(?<!\.)\b[B-HJ-Z]\b"
    r"(?![\w'\u2019&-]|\.\w).*(?<!Part )(?<!Plan )(?<!Type )(?<!Form )(?<!Schedule )"
    r"(?<!Section )(?<!\.)\b[A-HJ-Z]\b(?![\w'\u2019&-]|\.\w)"
)
_REAL_NAME = re.compile(r"\b(Amazon|AWS) S3\b")
# A word of prose: letters, maybe capitalised, maybe with punctuation around it. Commands,
# flags, paths, numbers and `code spans` are not.
_CODE_SPAN = re.compile(r"`[^`]*`")
# A list item's bullet or number, or a footnote's number ("1 See Respond to…").
_LIST_MARK = re.compile(r"^(?:[-*+\u2022]|\d+[.)]|\d{1,2}(?= [A-Z][a-z]))\s+")
_LETTER = re.compile(r"[A-Za-z]")
_PROSE_WORD = re.compile(r"^[(\"'\u201c]*[A-Za-z][a-z]*(?:['\u2019-][a-z]+)*[)\"'\u201d.,;:!?]*$")
# What each kind of question is about, in the sentence: a pair is labelled with a kind only
# when its answer shows it (an "error code" pair whose sentence holds no code misleads
# whoever trains on the export). A limit is a figure: "goes over the limit" alone is not one.
_LIMIT = re.compile(
    r"\b(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|sixty|ninety|hundred|thousand)\s?(%|percent|[kmgt]i?b|bytes?|bits?|ms|milliseconds?|seconds?|secs?|"
    r"minutes?|mins?|hours?|days?|weeks?|months?|years?|times|x|keys?|fields?|elements?|items?|"
    r"entries|members?|requests?|connections?|clients?|calls?|commands?|messages?|characters?|"
    r"chars?|lines?|slots?|databases?|nodes?|replicas?|threads?|cents?|dollars?|pages?|"
    r"copies|documents?|attempts?|users?|seats?)(?!\w)|"
    r"[$\u20ac\u00a3]\s?\d|\b(maximum|minimum|max|min|at most|at least|up to|no more than|"
    r"no less than|limits?|limited|quotas?|exceed(s|ed|ing)?|cap(ped)?)\b(\W+\w+){0,3}?\W+\d",
    re.IGNORECASE,
)
_ERROR_CODE = re.compile(
    # ERR_RATE_LIMITED or E1042 in prose; in `code` (GEORADIUS_RO is a command) or with more
    # letters (SHA256) only in a sentence about errors, as below.
    r"(?<![\w`])([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{1,2}\d{3,})(?![\w`])|"
    r"\b(error|status|code|HTTP)\s+`?\d{3}\b|\b\d{3}\s+(error|status)\b|"
    # Redis's error replies are also commands or plain words ("the OOM killer", "the
    # READONLY command"): one counts as a code only in a sentence about errors.
    r"^(?=.*\b(errors?|fails?|failed)\b).*(?<![\w-])-?([A-Z][A-Z0-9]*_[A-Z0-9_]+|"
    r"[A-Z]{1,4}\d{3,}|ERR|WRONGTYPE|NOAUTH|NOPERM|OOM|MOVED|ASK|TRYAGAIN|"
    r"CROSSSLOT|CLUSTERDOWN|BUSY|NOSCRIPT|LOADING|READONLY|MASTERDOWN|MISCONF|EXECABORT|"
    r"NOREPLICAS|BUSYKEY|UNBLOCKED|NOPROTO)\b",
)
_STEP_VERBS = (
    r"(click|open|run|set|use|go|select|enable|disable|choose|add|type|enter|call|send|"
    r"configure|install|start|stop|restart|edit|create|remove|delete|sign|log|visit|contact|"
    r"submit|apply|fill|complete|upload|download|check|specify|pass|print|mail|bring|"
    r"request|register|renew|pay|make sure|ensure|file|get|ask|write|provide|show|return|"
    r"keep|wait|read|copy|paste|test|verify|save|compare|right-click|double-click|tap|"
    r"narrow|free|upgrade|switch|turn|follow|find|look|try|sign out|sign in)"
)
_HOW_TO = re.compile(
    # An instruction, maybe after a leading clause ("If it keeps coming back, check…",
    # "In Skylark, open…", "First, check…").
    rf"^\W*([^,]{{0,80}}, )?{_STEP_VERBS}\b|"
    r"\byou(?:'ll|\u2019ll| ll| will)? (can|should|need to|must|have to|may|will need to)"
    rf" (also |then |now |first |still )?{_STEP_VERBS}\b|"
    r"\bby (running|using|setting|calling|adding|sending|clicking|selecting|enabling|"
    r"configuring|specifying|passing|editing|visiting|contacting|submitting|filling|"
    r"completing|calling)\b",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"\b(if|when|whenever|unless|once|in case|as soon as)\b", re.I)
_PLAN = re.compile(
    # "plan" the noun, not the verb ("work with your team to plan and make decisions").
    r"(?<!\bto )\bplans?\b(?! (to|and|on|ahead|for)\b)|"
    r"\b(editions?|tiers?|subscriptions?|enterprise|premium|community edition|"
    r"open source|unlike|compared (to|with)|not available|only available|available only|"
    r"in contrast)\b",
    re.IGNORECASE,
)
# A kind with no signal of its own, for a plain statement that shows none of the others:
# used only when a run asks for it (and QUESTION_KINDS offers it); otherwise such a sentence
# is not asked about rather than mislabelled.
GENERAL_KIND = "fact"
KIND_SIGNAL = {
    "limits": _LIMIT,
    "error_code": _ERROR_CODE,
    "how_to": _HOW_TO,
    "what_if": _CONDITION,
    "plan_difference": _PLAN,
}


# The kind a question's own form asks for, in this order: a pair is filed under what it asks
# ("What does ERR_SYNC_TIMEOUT mean?" is about an error code, though its sentence also holds
# a figure), so the queue's kind filter finds it.
_ASKS_WHAT_IF = re.compile(
    r"^what (happens|can you do|should you do|do you have to do) (if|when|once|whenever|unless)\b|"
    # "How can I check if items were lost?": "if" as "whether" asks no condition.
    r"^(what|how) .*(?<!\bcheck)(?<!\bsee)(?<!\bknow)(?<!\bout)(?<!\btell)(?<!\bdetermine)"
    r"(?<!\bverify)(?<!\bask) (if|when|unless) ",
    re.IGNORECASE,
)
_ASKS_HOW_TO = re.compile(r"^how (do|can|should|to)\b|^what (should|can) (you|i) do\b", re.I)
_ASKS_LIMIT = re.compile(
    r"^how (many|much|long|often|big|large|far)\b|\b(limits?|maximum|minimum|fees?|costs?|"
    r"price|quotas?)\b",
    re.IGNORECASE,
)


def pair_kind(*, question: str, support: Support, kinds: list[str] | None) -> str:
    """The kind a pair is filed under: what its question asks, if the run asks for that kind
    and the sentence shows it (a plain question is a fact); else the sentence's own label."""
    shown = [*sentence_kinds(support.stated), GENERAL_KIND]
    asked = [
        kind
        for kind, form in (
            ("error_code", _ERROR_CODE),
            ("what_if", _ASKS_WHAT_IF),
            ("how_to", _ASKS_HOW_TO),
            ("limits", _ASKS_LIMIT),
            ("plan_difference", _PLAN),
        )
        if form.search(question)
    ] or [GENERAL_KIND]
    wanted = [k for k in asked if k in shown and (kinds is None or k in kinds)]
    return wanted[0] if wanted else support.kind


class QuestionDraft(BaseModel):
    """All the model writes: a question. The answer is the chosen sentence itself."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=10, max_length=200)


@dataclass(frozen=True)
class Support:
    index: int
    sentence: str
    # The kind of question the sentence answers (the pair's label), from the sentence itself.
    kind: str = ""
    # The sentence as the question reads it, where that differs: with the page's command
    # named ("This command returns…" on the `ACL CAT` page). The answer stays the sentence.
    named: str = ""

    @property
    def stated(self) -> str:
        return self.named or self.sentence

    @property
    def answer(self) -> str:
        """The pair's answer: the sentence itself, tidied (text.answer_from_sentence)."""
        return answer_from_sentence(self.sentence)


# --- choosing what to ask about ----------------------------------------------------------


def sentence_unaskable(sentence: str) -> str | None:
    """Why a sentence cannot be a pair's whole answer (None: it can): a reviewer must be able
    to approve the pair from the pair alone, so the sentence must be whole prose that stands
    on its own, showing nothing it refers to."""
    words = len(sentence.split())
    if not 6 <= words <= 60:
        return f"{words} words, not 6 to 60"
    if sentence_is_markup(sentence) or sentence.rstrip()[-1:] not in ".!":
        return "not a whole sentence of prose (heading, table row, code or cut off)"
    if _CUT_AT_START.match(sentence):
        return "starts mid-sentence (cut by the page's extraction)"
    if _GLUED_HEADING.search(sentence) or _TERM_LABEL.match(sentence):
        return "a heading or a term glued to the sentence (page extraction)"
    if _NO_SUBJECT.match(sentence):
        return "a summary with its subject left out (which command returns it?)"
    if _SUMMARY_OR_LINK.match(sentence):
        return "a command's summary or a link's text: it does not say which command or page"
    if _POINTS_AT.search(sentence):
        return "refers to a figure, table or example the pair cannot show"
    if _POINTER.search(sentence):
        return "sends the reader to another page rather than saying it"
    if _NEEDS_CONTEXT.search(sentence):
        return "only makes sense after the sentence before it"
    if _PLACEHOLDER.search(_REAL_NAME.sub("", _CODE_SPAN.sub(_code_or_placeholder, sentence))):
        return "names the parts of an example (M1, node A) the pair cannot show"
    if _mostly_code(sentence):
        return "mostly code or commands, little prose"
    return None


def _code_or_placeholder(span: re.Match) -> str:
    """A `code span` drops out of the placeholder search, unless it is one (`A`, `M1`)."""
    return span.group(0) if re.fullmatch(r"`[A-Z]\d{0,2}`", span.group(0)) else ""


def _mostly_code(sentence: str) -> bool:
    """Fewer than five words of prose, or prose under 60% of the sentence's words (numbers
    and punctuation aside, so a phone number does not count as code; each word of a `code
    span` does): a command line with a verb around it, which the question would have to
    quote back."""
    spans = sum(len(span.split()) for span in _CODE_SPAN.findall(sentence))
    words = [w for w in _CODE_SPAN.sub(" ", sentence).split() if _LETTER.search(w)]
    prose = [w for w in words if _PROSE_WORD.match(w)]
    return len(prose) < 5 or len(prose) < 0.6 * (len(words) + spans)


def sentence_kinds(sentence: str) -> list[str]:
    """The kinds of question the sentence can answer, in their usual order."""
    return [kind for kind, signal in KIND_SIGNAL.items() if signal.search(sentence)]


def support_candidates(
    *,
    text: str,
    kind: str,
    kinds: list[str] | None = None,
    taken: frozenset[str] = frozenset(),
    subject: str = "",
    opens_page: bool = False,
) -> list[Support]:
    """Sentences worth a question, best first, each labelled with the kind it answers.

    Only sentences a pair can stand on (`sentence_unaskable`), not in `taken` (sentences
    already asked about), and answering one of `kinds` (all kinds when None; any sentence
    when GENERAL_KIND is among them): those showing `kind` first, then those showing another
    of `kinds`, each group by content words. Ties keep text order. With the page's
    `subject` (page_subject), a sentence that leans on it counts with the subject named;
    `opens_page`: `text` is the page's first chunk, whose first sentence may be a summary."""
    allowed = [k for k in (kinds or list(KIND_SIGNAL)) if k in KIND_SIGNAL]
    general = GENERAL_KIND in (kinds or [])
    scored = []
    for index, sentence in enumerate(_sentences(text)):
        if sentence in taken:
            continue
        named = ""
        if sentence_unaskable(sentence):
            opens = opens_page and index == 0
            named = sentence_named(sentence, subject=subject, opens_page=opens) or ""
            if not named or sentence_unaskable(named):
                continue
        shown = [k for k in sentence_kinds(named or sentence) if k in allowed] or (
            [GENERAL_KIND] if general else []
        )
        if not shown:
            continue
        label = kind if kind in shown else shown[0]
        rank = (label != kind, -len(gates.content_words(sentence)), index)
        scored.append((rank, Support(index, sentence, label, named)))
    return [support for _, support in sorted(scored, key=lambda item: item[0])]


# A reference page named after a command, an API call or a setting ("ACL SETUSER", "GETDEL",
# "CLUSTER SETSLOT"): its sentences say "This command…", or leave the subject out as a
# summary does ("Returns the username…", "Get the value of `key`…"), meaning the page's.
_COMMAND_TITLE = re.compile(r"^[A-Z][A-Z0-9_.:-]{1,30}(?: [A-Z][A-Z0-9_.:-]*){0,3}$")
_THE_COMMAND = re.compile(r"^\W*(the|this) (sub)?command\b", re.IGNORECASE)


def page_subject(title: str) -> str:
    """The command a page is about, when its title is one ("" otherwise)."""
    title = title.strip()
    return title if len(title) <= 40 and _COMMAND_TITLE.match(title) else ""


def sentence_named(sentence: str, *, subject: str, opens_page: bool = False) -> str | None:
    """The sentence with the page's command named where it leans on the page's title ("This
    command returns…" → "The `GETDEL` command returns…"; the summary "Get the value of `key`
    and delete the key." → "The `GETDEL` command gets the value…"), else None. A sentence in
    the base form is the command's summary only where it `opens_page`: further down, "Delete
    all the keys found expired." is a step of something the page describes."""
    if not subject:
        return None
    named = f"The `{subject}` command"
    if _THE_COMMAND.match(sentence):
        return _THE_COMMAND.sub(named, sentence, count=1)
    summary = _NO_SUBJECT.match(sentence) or _SUMMARY_OR_LINK.match(sentence)
    if summary is None:
        return None
    # "Returns…" keeps its verb, "Return…" / "Get…" (a summary's base form) gets an "s",
    # "Can also…" keeps its modal.
    verb = summary.group(1).lower()
    if not (verb.endswith("s") or verb in _AUXILIARIES):
        if not opens_page:
            return None
        verb = _verb_third(verb)
    return f"{named} {verb}{sentence[summary.end(1) :]}"


_AUXILIARIES = frozenset(
    {"can", "could", "may", "might", "must", "should", "will", "would", "is", "has"}
)


_NAMED_CODE = re.compile(r"`[A-Z][A-Z0-9_.:-]*(?: [A-Z][A-Z0-9_.:-]*)*`")


def question_in_context(question: str, *, subject: str, sentence: str) -> str:
    """A question on a command's page that names no code and whose sentence does not name
    the command either, asked of that command ("What happens if the user already exists?" on
    the `ACL SETUSER` page → "With `ACL SETUSER`, what happens if the user already exists?"):
    without it, the question fits every page. When the sentence names the command, the
    question is left as is, so it does not give its answer away."""
    # A code span in capitals names a command ("`ZSCAN`"); "`key`" is an argument.
    if not subject or _NAMED_CODE.search(question) or subject in sentence:
        return question
    first, _, rest = question.partition(" ")
    return f"With `{subject}`, {first.lower()} {rest}"


def _verb_third(verb: str) -> str:
    """ "get" → "gets", "flush" → "flushes", "count" → "counts"."""
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def sentence_normal(sentence: str) -> str:
    """A sentence as a pair quotes it (and as it is compared with earlier pairs' quotes):
    spacing aside, without the bullet or number of a list item, which is no part of an
    answer and would otherwise make the same sentence look new."""
    return _LIST_MARK.sub("", " ".join(sentence.split()))


def _sentences(text: str) -> list[str]:
    return [sentence_normal(sentence) for sentence in sentences_split(text)]


def support_missing(*, text: str, kinds: list[str] | None, taken: frozenset[str]) -> str:
    """Why no sentence of `text` was chosen, in a reviewer's words."""
    standalone = [s for s in _sentences(text) if not sentence_unaskable(s)]
    if not standalone:
        return (
            "no sentence of this chunk can be an answer on its own (whole prose of 6 to 60 "
            "words, not mostly code, referring to no figure, example or earlier sentence)"
        )
    if all(s in taken for s in standalone):
        return "every sentence of this chunk worth asking about already has a pair"
    wanted = ", ".join(kinds or KIND_SIGNAL)
    return f"no sentence of this chunk answers a question of the kinds asked for ({wanted})"


def support_choose(
    *, text: str, kind: str, kinds: list[str] | None = None, taken: frozenset[str] = frozenset()
) -> Support | None:
    """The sentence a new pair asks about: the best one nobody has asked about yet (pairs of
    one chunk, and pairs of later runs, ask about other sentences)."""
    candidates = support_candidates(text=text, kind=kind, kinds=kinds, taken=taken)
    return candidates[0] if candidates else None


# --- the prompt ------------------------------------------------------------------------------


def question_prompt(*, sentence: str, attempt: int = 0) -> RenderedPrompt:
    """The few-shot prompt; a retry shows the examples in another order (a base model leans on
    the last example it saw), on top of sampling."""
    prompt = prompt_render(PROMPT_NAME, sentence=" ".join(sentence.split()))
    if attempt == 0:
        return prompt
    blocks = prompt.text.split("\n\n")
    head, examples, tail = blocks[0], blocks[1:-1], blocks[-1]
    shift = attempt % len(examples)
    rotated = examples[shift:] + examples[:shift]
    text = "\n\n".join([head, *rotated, tail])
    return RenderedPrompt(prompt.name, prompt.content_hash, prompt.template, text)


def prompt_example_texts() -> list[str]:
    """Every fact and question the prompt shows: output resembling one is a copy."""
    template = prompt_render(PROMPT_NAME, sentence="").template
    return [text for match in _EXAMPLE.finditer(template) for text in match.groups()]


# --- questions from the sentence's own structure ---------------------------------------------

# A pair whose question the app composed (the model's failed the checks) says so with this
# in place of a prompt version; raise the number when the shapes below change.
TEMPLATE_VERSION = f"{QUESTION_TEMPLATE_PREFIX}1"
# How many of a chunk's best sentences are tried for a composed question, in order, after the
# model's questions failed (before it is asked: settings.SYNTHETIC_COMPOSE_FIRST).
TEMPLATE_SENTENCES = 8

# "If X, Y." / "When X, Y.": the question asks about the condition, the sentence answers it.
_CONDITIONAL = re.compile(
    r"^(?P<word>if|when|whenever|once|unless)\s+(?P<rest>[^;:]+)$", re.IGNORECASE
)
# Where the condition ends and the main clause starts, at a comma: "If you are a J-1 student,
# student intern or international visitor, you must…", "If you received loans before July 1,
# 1993, you might…", "If the client blocks for multiple keys, but one key has elements, the
# returned key…": the condition runs on until a part opens like a main clause.
_MAIN_OPENER = re.compile(
    rf"^(you|we|they|it|he|she|the|your|our|their|there|this|that|these|those|a|an|then|"
    rf"please|all|any|each|no|redis|{_STEP_VERBS})\b|^[`*]",
    re.IGNORECASE,
)
_YOU_MUST = re.compile(
    r"^(you|you ll|you'll|you\u2019ll)\s+(must|need to|will need to|ll need to|have to|"
    r"will have to)\b",
    re.IGNORECASE,
)
_YOU_SHOULD = re.compile(r"^you\s+(should|ought to)\b", re.IGNORECASE)
# "you can t renew" is what happens, not something you can do.
_YOU_CAN = re.compile(
    r"^(you|you ll|you'll|you\u2019ll)\s+(can|may|could|will be able to)\b"
    r"(?!\s?['\u2019]?\s?t\b|not\b)",
    re.IGNORECASE,
)
# A condition about "it" or "they" names nothing on its own: "What happens if it is expired?"
_PRONOUN_CLAUSE = re.compile(r"^(it|they|this|that|these|those|he|she|so|not)\b", re.I)
_IMPERATIVE = re.compile(rf"^(please\s+)?{_STEP_VERBS}\b", re.IGNORECASE)
# "`BLMPOP` is the blocking variant of `LMPOP`.", "A shard is defined as …": what it is.
_DEFINITION = re.compile(
    r"^(?P<subject>(?:(?:the|a|an) )?(?:`[^`]{1,40}`|[A-Za-z][\w/-]*)(?: (?:`[^`]{1,40}`|"
    r"[A-Za-z][\w/-]*)){0,3}) (?P<verb>is|are) (?P<rest>(?:a|an|the|one of|either|defined as|"
    r"called|known as|used (?:to|for)|meant for|responsible for)\b.+)$"
)
# "The `CONFIG HELP` command returns a helpful text …", "Redis Sentinel provides high
# availability …": what a named command, option, program or tool does.
_NAME = r"(?:`[^`]{1,40}`|(?!(?:The|A|An|Each|Every|This|That)\b)[A-Z][\w/.-]*)"
_GENERIC = (
    r"command|subcommand|option|argument|flag|variant|modifier|directive|parameter|program|"
    r"plan|tool|service|form|card|system|feature|mode|policy|estimator|calculator|application"
)
_NAMED_DOES = re.compile(
    rf"^(?P<subject>(?:[Tt]he )?{_NAME}(?: {_NAME}){{0,5}}(?: (?:{_GENERIC}))?) "
    r"(?P<verb>(?!(?:is|was|has|does)\b)[a-z]+s|can be used (?:to|for))\b"
)
# What a thing does, asked with the sentence's own verb ("What does `CONFIG HELP` return?");
# other verbs are asked as "What does … do?" (of a command or option only: "Redis forks"
# says what Redis does, not what anybody asks about it).
_DOES_WHAT = re.compile(
    # Verbs that take an object: "The amount changes from year to year" asks nothing.
    r"^(returns|controls|deletes|removes|provides|sets|adds|lists|shows|reports|stores|"
    r"creates|resets|accepts|takes|gives|kills|loads|saves|checks|"
    r"marks|flushes|sends|assigns|disables|offers|pays|covers|supports|"
    r"requires|includes|contains|protects|replaces|increments|decrements|appends|"
    r"retrieves|computes|generates|converts|defines|describes|specifies|determines|"
    r"represents|means|indicates|holds|affects)$"
)
# "The 'nodes' field contains a list of all nodes within the shard.": what a described thing
# does, asked with the sentence's own verb.
_THING_DOES = re.compile(
    r"^(?P<subject>(?:[Tt]he|[Aa]n?|[Ee]ach) "
    r"(?:(?!(?:is|are|was|were|will|can|may|must|should|would|"
    r"could|has|have|had|to|that|which|who|whether|if|when|not|year|time)\b)[^\s,;:()]+ ){1,6}?)"
    r"(?P<verb>" + _DOES_WHAT.pattern[2:-2] + r")\b"
)
_ADVERB_END = re.compile(r"(\s+(only|just|also|usually|always|then|now|simply|still))+$", re.I)
# "What does the command return?": which command, the question would not say.
_VAGUE_SUBJECT = re.compile(r"^(the|a|an|each) [\w'-]+$", re.IGNORECASE)
# "The command fails if the same slot is specified multiple times.": a condition at the end,
# asked about as a condition (the main clause is the answer).
_TRAILING_CONDITION = re.compile(
    r"^(?P<main>[A-Z](?:(?!\b(?:if|whether)\b)[^,;:]){10,160}?)"
    # "will let you know if…", "decides if…", "find out if…": "if" as "whether"; "even if"
    # concedes rather than conditions.
    r"(?<!\bknow)(?<!\bdecide)(?<!\bdecides)(?<!\bcheck)(?<!\bsee)(?<!\bout)(?<!\bask)"
    r"(?<!\bdetermine)(?<!\bdetermines)(?<!\btell)(?<!\bverify)(?<!\bconfirm)(?<!\beven)"
    r"(?<!\bwonder)(?<!\bshow)(?<!\bshows)(?<!\bsure)(?<!\bas)(?<!\byou)"
    # "…is to understand when the last reply was sent": "when" as "the moment at which".
    r"(?<!\bunderstand)(?<!\blearn)(?<!\bremember)(?<!\bdecide when)(?<!\bdiscover) "
    r"(?P<word>if|when|whenever|unless|once) "
    # The condition, up to a comma that does not go on with it (", otherwise…").
    r"(?P<clause>(?:[^,;:]|,\s(?=(?:or|and) (?:if|when|whenever)\b)){15,200}?)(?:,\s.*)?$"
)
# "Every user can have many active passwords, so that…": a yes/no question on the statement,
# without its negation ("Functions should never access…" → "Should functions access…?") and
# without what follows its first comma.
_MODAL_STATEMENT = re.compile(
    r"^(?P<subject>(?:(?!(?:is|are|was|were|will|can|should|must|may|to|that|which|who|if|"
    r"when|how|what|whether|out|believe|think)\b)[^\s,;:()]+ ){1,6}?)"
    r"(?P<modal>can|should|must)\b(?!\s?['\u2019]?\s?t\b)(?: (?:not|never)\b)?"
    r"(?: (?:also|still|only|always)\b)?\s"
    # What follows a comma goes only if it is a reason or a contrast, not part of a list.
    r"(?P<rest>[^,;:]{8,160}?)(?:,\s(?:so|so that|because|as|but|which|since|for|and it)\b.*)?$",
    re.IGNORECASE,
)
# The subject of a plain statement: up to seven words before its verb, none of them a verb
# or a word that starts a clause.
_STATED_SUBJECT = (
    r"(?P<subject>(?:(?!(?:is|are|was|were|will|can|cannot|should|must|may|to|that|which|who|"
    r"if|when|how|what|whether|does|do|doesn|don|not)\b)[^\s,;:()]+ ){1,7}?)"
)
# "The fee to change information on a driver license is $12.50.": the sentence gives an
# amount of a thing it names.
_VALUE = re.compile(
    r"^(?P<subject>(?:the|your) (?:[\w-]+ ){0,2}(?:fee|fees|cost|costs|price|charge|limit|"
    r"maximum|minimum|default|deadline|amount|rate|penalty|age|size|length|duration|timeout|"
    r"period|premium|interest rate)\b[^,;:]{0,80}?) (?P<be>is|are) "
    r"(?:about |approximately |up to |at least |at most |only |now |currently )?"
    r"(?:\$|\d|one|two|three|four|five|six|seven|eight|nine|ten|twelve)",
    re.IGNORECASE,
)
# "New connections are authenticated with the default user.": how a named thing is done.
# Only verbs "how" asks well ("How is X required?" asks nothing a reader would).
_HOW_DONE = (
    r"authenticated|persisted|stored|interpreted|treated|calculated|computed|encoded|"
    r"represented|determined|measured|handled|processed|delivered|paid|issued|performed|"
    r"implemented|selected|chosen|generated|assigned|counted|sorted|ordered|organized|"
    r"structured|formatted|reported|propagated|replicated|applied|evaluated|executed|"
    r"identified|protected|secured|verified|charged|taxed|funded|updated|notified|encrypted|"
    r"serialized|compressed|distributed|estimated|scored|ranked|indexed|cached|logged|tracked|"
    r"billed|refunded|reviewed|transferred|mailed|renewed|replaced|expressed|encoded|deducted"
)
# "The way the rehashing …", "The reason the key …": a clause, not a thing to ask about.
_CLAUSE_SUBJECT = re.compile(
    r"^(the )?(way|reason|fact|time|moment|place|extent|degree|idea) ", re.IGNORECASE
)
_PASSIVE = re.compile(
    rf"^{_STATED_SUBJECT}(?P<be>is|are) (?:(?:usually|always|also|then|now|automatically|"
    rf"generally|normally|only) )?(?:(?P<based>based on)|(?P<available>available to)|"
    rf"(?P<done>{_HOW_DONE}))\b",
    re.IGNORECASE,
)
# "The health care law doesn t change your VA health benefits.": the question it answers no
# to. Only up to a comma that starts a reason or a contrast.
_NEGATION = re.compile(
    rf"^{_STATED_SUBJECT}(?P<neg>doesn ?['\u2019]? ?t|does not|don ?['\u2019]? ?t|do not|cannot|"
    r"can ?['\u2019]? ?t|can not) (?P<verb>[a-z]+)\b(?P<rest>[^,;:]{0,160}?)"
    r"(?:,\s(?:so|so that|because|as|but|which|since|and|unless|if)\b.*)?$",
    re.IGNORECASE,
)
# "To apply for a loan, complete the online form.", "To see the list of available commands
# you can call `ACL HELP`.": how to reach the goal the sentence opens with, when its main
# clause tells you what to do.
_PURPOSE = re.compile(
    r"^(?:in order )?to (?P<goal>[a-z][^,;:()]{8,140}?)"
    r"(?:\s?,\s+|\s(?=(?:you|you ll|you'll) (?:can|may|must|should|need to|have to|will need to)"
    r"\b))(?P<main>[^;:]+)$",
    re.IGNORECASE,
)
# "Blue Water Navy Veterans are now entitled to a presumption of …", "Eligible Veterans …
# can get accelerated benefits.": who is entitled to, or may get, what the sentence names.
_WHO_GETS = re.compile(
    r"^(?P<subject>(?:(?!(?:if|when|whether|that|which|who|to|it|this|there|they)\b)"
    r"[^\s;:()]+ ){1,15}?)"
    r"(?P<verb>(?:is|are)(?: (?:now|also|still|generally|usually))? (?P<neg>not )?"
    r"(?:eligible for|entitled to)|(?:may|can)(?: also)? (?:be eligible for|be entitled to|get|"
    r"apply for|qualify for)) "
    r"(?P<rest>[^,;:]{3,160}?)(?: only)?(?:\s?,\s.*)?$",
    re.IGNORECASE,
)
# "The `GT`, `LT` and `NX` options are mutually exclusive.": the yes/no question a plain
# "is" statement answers (a definition, "X is a Y", is asked as one above).
_BE_STATEMENT = re.compile(
    # The subject may be a list ("The `GT`, `LT` and `NX` options").
    rf"^{_STATED_SUBJECT.replace(',;', ';')}(?P<be>is|are) (?:not )?"
    r"(?P<rest>(?!(?:a|an|the|one|to|that|which|what|how|why|there|also|then|so|as|due|in|"
    r"on|at|not|no(?! longer))\b)[^,;:]{6,140}?)"
    r"(?:\s?,\s(?:so|so that|because|as|but|which|since|and|unless|if|while|although)\b.*)?$",
    re.IGNORECASE,
)
# Who can, should or must: anybody named, "you", "every user"; not "it" or "this".
_NOT_A_MODAL_SUBJECT = re.compile(
    r"^(it|this|that|these|those|there|here|if|when|once|unless|while|after|before|because|"
    r"since|although|though|as|to|in|on|for|with|by|at|from|what|which|who|how|note|so|but|"
    r"and|or|we|they|he|she|one|only)\b",
    re.IGNORECASE,
)
_NOT_A_SUBJECT = re.compile(
    r"^(if|when|once|unless|while|after|before|because|since|although|though|as|to|in|on|"
    r"for|with|by|at|from|it|this|that|these|those|there|here|each|every|all|some|any|one|"
    r"you|we|they|he|she|without|within|under|during|between|about|through|unlike|like|"
    r"except|despite|upon|via|per|"
    r"what|which|who|how|note|so|but|and|or)\b|"
    # A heading glued to the sentence: "Planning For Retirement Planning is the key…".
    r"^\S+ (?-i:For|And|Of|To|In|With|On|At|By|From|The)\b",
    re.IGNORECASE,
)


def question_templated(sentence: str, *, fallback: bool = False) -> str | None:
    """A plain question composed from the sentence's own structure, or None when it has none
    of the shapes below. It uses only the sentence's words, so it seldom misreads it (a
    condition is asked about as a condition, a definition as a definition). `fallback`: also
    shapes for when the model's questions failed, which read less naturally or mislead more
    often: a condition at the sentence's end ("X fails if Y."), and a yes/no question on a
    "can/should/must" statement ("Every user can have many passwords" → "Can every user have
    many passwords?")."""
    # Bold marks are the page's emphasis, no part of a question; code marks name code.
    text = _LIST_MARK.sub("", text_tidied(sentence)).rstrip(" .!")
    # "Note that each `OVERFLOW` statement only affects…": the note is no part of the shape.
    text = note_dropped(text)
    conditional = _CONDITIONAL.match(text)
    if conditional:
        return _question_on_condition(conditional.group("word").lower(), conditional["rest"])
    definition = _DEFINITION.match(text)
    if definition and not _NOT_A_SUBJECT.match(definition.group("subject")):
        subject, verb, rest = definition.group("subject", "verb", "rest")
        # "Direct deposit is…": the capital is the sentence's, not a name's.
        subject = _sentence_case(subject)
        if rest.startswith("used "):
            return f"What {verb} {subject} used for?"
        return f"What {verb} {subject}?"
    named = _NAMED_DOES.match(text)
    if named and not _NOT_A_SUBJECT.match(named.group("subject")):
        subject, verb = named.group("subject"), named.group("verb")
        subject = _lower_first(subject)
        if verb.startswith("can be used"):
            return f"What can {subject} be used for?"
        if _DOES_WHAT.match(verb):
            return f"What does {subject} {_verb_base(verb)}?"
        if "`" in subject or re.search(rf"\b({_GENERIC})$", subject, re.IGNORECASE):
            return f"What does {subject} do?"
    described = _THING_DOES.match(text)
    if described:
        subject = _ADVERB_END.sub("", described.group("subject").strip())
        if not _VAGUE_SUBJECT.match(subject):
            return f"What does {_lower_first(subject)} {_verb_base(described.group('verb'))}?"
    stated = _question_on_statement(text)
    if stated is not None:
        return stated
    if not fallback:
        return None
    condition = _TRAILING_CONDITION.match(text)
    # "The command only works if X": X is what it needs, not what makes something happen.
    only = re.search(r"\bonly\b", condition["main"]) if condition else None
    if condition and not _IMPERATIVE.match(condition["main"]) and not only:
        main, word, clause = condition.group("main", "word", "clause")
        return _question_on_condition(word.lower(), f"{clause}, {main}")
    modal = _MODAL_STATEMENT.match(text)
    if modal and not _NOT_A_MODAL_SUBJECT.match(modal.group("subject")):
        subject, verb, rest = modal.group("subject", "modal", "rest")
        subject = _lower_first(subject.strip())
        if verb.lower() == "must" and subject.lower() == "you":
            return f"Do you have to {rest}?"
        return f"{verb.capitalize()} {subject} {rest}?"
    return _question_on_being(text)


def _question_on_being(text: str) -> str | None:
    """ "X are mutually exclusive." → "Are X mutually exclusive?": asked only when the plainer
    shapes have nothing, since many such statements lean on the page around them."""
    stated = _BE_STATEMENT.match(text)
    if stated is None:
        return None
    subject, rest = stated["subject"].strip(), stated["rest"]
    cut = stated.end("rest") < len(text)
    if (
        # "… with the sole difference that instead of taking, as the center…": cut short.
        _DANGLING_END.search(rest)
        or (cut and re.search(r"ing$", rest))
        or _NOT_A_SUBJECT.match(subject)
        or _CLAUSE_SUBJECT.match(f"{subject} ")
        # "Normally Redis keys are…": an adverb, not the subject, opens the sentence.
        or re.match(r"[A-Z][a-z]+ly\b|of course\b", subject, re.IGNORECASE)
        # "Guarantees A shop is…": a heading glued on.
        or re.search(r"\s(?:A|An|The)\s", subject)
        # "The disadvantage is your benefit is reduced.": a second clause, no one question.
        or re.search(r"\b(is|are|was|were)\b", rest)
        # "Benefits usually continue until you are…": a clause, not a subject.
        or re.search(r"\b(you|until|unless|we|they|he|she|it)\b", subject, re.IGNORECASE)
        # "Its dataset is flushed.", "No benefits are…": leans on the sentence before, or
        # asks the opposite.
        or re.match(r"(its|their|his|her|no|none)\b", subject, re.IGNORECASE)
        # "Payments are…": one word, whose capital may be the sentence's or a name's.
        or len(subject.split()) < 2
        # "However, the command is…": a comma only within a list.
        or ("," in subject and not re.search(r",[^,]* (and|or) ", subject))
    ):
        return None
    return f"{stated['be'].capitalize()} {_sentence_case(subject)} {rest}?"


def _sentence_case(subject: str) -> str:
    """The subject as it reads inside a question: "Unpaid interest" → "unpaid interest" (the
    capital was the sentence's), "Redis keys" and "`GETEX`" keep theirs."""
    words = subject.split()
    if len(words) > 1 and re.fullmatch(r"[A-Z][a-z]+", words[0]) and words[1].islower():
        return " ".join([words[0].lower(), *words[1:]])
    return _lower_first(subject)


def _question_on_statement(text: str) -> str | None:
    """What a plain statement says, asked back in its own words: an amount ("The fee … is
    $12.50." → "What is the fee …?"), how something is done ("New connections are
    authenticated with…" → "How are new connections authenticated?"), what it rests on or who
    may have it ("… are based on…", "… is available to…"), how to reach a goal ("To apply,
    complete the form." → "How do you apply?"), who is entitled to something, and a negation
    as the yes/no question it answers ("The law doesn't change your benefits." → "Does the law
    change your benefits?")."""
    value = _VALUE.match(text)
    if value:
        return f"What {value['be']} {_lower_first(value['subject'])}?"
    purpose = _question_on_purpose(text)
    if purpose is not None:
        return purpose
    return _question_on_who_gets(text) or _question_on_negation_or_passive(text)


def _question_on_who_gets(text: str) -> str | None:
    """ "Borrowers may be eligible for forgiveness…" → "Who may be eligible for forgiveness…?"
    ("What" when the subject names no people: "Most federal student loans are eligible…")."""
    gets = _WHO_GETS.match(text)
    if gets is None or _NOT_A_SUBJECT.match(gets["subject"]):
        return None
    # "Find out how much coverage you may qualify for…": no subject, a clause; "Others may…"
    # leans on the sentence before.
    if re.search(
        r"\b(you|how|what|we|only)\b|^(others|some|many|most|both|all)$",
        gets["subject"].strip(),
        re.IGNORECASE,
    ):
        return None
    verb = " ".join(gets["verb"].split()).lower()
    verb = re.sub(r"^(is|are)( (now|also|still|generally|usually))?", "is", verb)
    verb = re.sub(r" also\b", "", verb)
    asker = "Who" if _PEOPLE.search(gets["subject"]) else "What"
    return f"{asker} {verb} {gets['rest'].strip()}?"


_PEOPLE = re.compile(
    r"\b(veterans?|students?|borrowers?|members?|spouses?|applicants?|people|persons?|adults?|"
    r"child(?:ren)?|citizens?|noncitizens?|individuals?|users?|clients?|employees?|workers?|"
    r"parents?|survivors?|widows?|widowers?|policyholders?|recipients?|residents?|drivers?|"
    r"owners?|beneficiaries|dependents?|families|family|servicemembers?|retirees?|reservists?)\b"
    # "federal student loans" are loans.
    r"(?! (?:loans?|aid|accounts?|records?|debt|benefits?|information|data)\b)",
    re.IGNORECASE,
)


def _question_on_negation_or_passive(text: str) -> str | None:
    """ "X doesn't Y." → "Does X Y?"; "X are authenticated with Y." → "How are X
    authenticated?"; "… based on", "… available to"."""
    negation = _NEGATION.match(text)
    # "I don't have enough proof of identity." is a reader's situation (a heading), not a rule.
    if (
        negation
        and not _NOT_A_MODAL_SUBJECT.match(negation["subject"])
        and not re.match(r"i\b", negation["subject"], re.IGNORECASE)
    ):
        neg = negation["neg"].lower()
        aux = "Can" if neg.startswith("can") else "Does" if neg.startswith("does") else "Do"
        subject = _lower_first(negation["subject"].strip())
        return f"{aux} {subject} {negation['verb']}{negation['rest']}?"
    passive = _PASSIVE.match(text)
    if passive is None or _NOT_A_SUBJECT.match(passive["subject"]):
        return None
    if _CLAUSE_SUBJECT.match(passive["subject"]):
        return None  # "The way the rehashing is performed is…": the subject is a clause
    be, subject = passive["be"], _lower_first(passive["subject"].strip())
    if passive["based"]:
        return f"What {be} {subject} based on?"
    if passive["available"]:
        return f"Who {be} {subject} available to?"
    return f"How {be} {subject} {passive['done']}?"


def _question_on_purpose(text: str) -> str | None:
    """ "To X, do Y." → "How do you X?"; "To X you can Y." → "How can you X?". Only when the
    main clause tells the reader what to do: "To qualify, students must…" is about students."""
    purpose = _PURPOSE.match(text)
    if purpose is None:
        return None
    goal, main = purpose["goal"].strip(), purpose["main"].strip()
    goal = re.sub(r"^(also|then|first|simply|just) ", "", goal, flags=re.IGNORECASE)
    if _PRONOUN_CLAUSE.match(goal) or len(goal.split()) < 2:
        return None  # "To do so, …", "To apply, …": names nothing on its own
    # "To be notified…" asks how you can be, not how you do be.
    if _YOU_CAN.match(main) or goal.lower().startswith("be "):
        asked = "How can you"
    elif _IMPERATIVE.match(main) or _YOU_MUST.match(main) or _YOU_SHOULD.match(main):
        asked = "How do you"
    else:
        return None
    return f"{asked} {goal}?"


# A clause that stops where a comma interrupts it ("if all the slots are, from the point of
# view of the node, …"): what follows the comma finishes it, so no question can stop there.
_DANGLING_END = re.compile(
    r"\b(is|are|was|were|be|been|being|of|to|the|a|an|from|with|for|in|on|by|and|or|than|as|"
    r"that|which|not)$",
    re.IGNORECASE,
)


def _question_on_condition(word: str, rest: str) -> str | None:
    """ "If X, Y." asked as "What happens if X?", or "What do you have to do / can you do /
    should you do if X?" when Y tells you to."""
    parts = [part.strip() for part in re.split(r"\s?,\s+", rest)]
    opens = next((i for i, part in enumerate(parts) if i and _MAIN_OPENER.match(part)), None)
    if opens is None:
        return None
    clause = ", ".join(parts[:opens])
    if not 4 <= len(clause.split()) <= 30 or _PRONOUN_CLAUSE.match(clause):
        return None  # "If you do not, …", "If it is expired…": names nothing on its own
    if _DANGLING_END.search(clause):
        return None  # "if all the specified slots are, from the point of view…": cut short
    asked = "What happens"
    for part in parts[opens:] if word != "unless" else []:
        if _YOU_MUST.match(part):
            asked = "What do you have to do"
        elif _YOU_SHOULD.match(part) or _IMPERATIVE.match(part):
            asked = "What should you do"
        elif _YOU_CAN.match(part):
            asked = "What can you do"
        else:
            continue
        break
    return f"{asked} {word} {_lower_first(clause)}?"


def _verb_base(verb: str) -> str:
    """ "returns" → "return", "flushes" → "flush", "specifies" → "specify"."""
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith(("sses", "shes", "ches", "xes", "zes")):
        return verb[:-2]
    return verb[:-1]


def _lower_first(text: str) -> str:
    """Lower-case the first word when it is plain English ("The", "Your", "Consolidating");
    a name keeps its capital ("Redis", "ACL", "`GET`")."""
    first, _, rest = text.partition(" ")
    if not _COMMON_FIRST.match(first) and not re.fullmatch(r"[A-Z][a-z]+ing", first):
        return text
    return f"{first.lower()} {rest}".strip()


# Sentence-opening words that are plain English, lower-cased inside a question; anything else
# capitalised (Redis, Sentinel, Medicare) is a name and keeps its capital.
_COMMON_FIRST = re.compile(
    r"^(the|a|an|you|your|we|our|they|their|it|its|this|that|these|those|there|my|his|her|all|"
    r"any|each|every|some|no|one|two|three|most|many|more|new|old|anyone|everyone|someone|"
    r"many)$",
    re.IGNORECASE,
)


# --- the checks -----------------------------------------------------------------------------


def pair_checks(
    *,
    question: str,
    answer: str,
    quote: str,
    chunk: Chunk | None,
    before: int | None = None,
    subject: str = "",
) -> list[gates.GateResult]:
    """Every automatic check on a pair's text, in the order a reviewer reads them. `subject`:
    the command the page is about (page_subject), which its sentences often leave unsaid:
    the quote is read with it for answerability, as search reads a chunk with its title."""
    examples = prompt_example_texts()
    limit = settings.SYNTHETIC_COPY_LIMIT
    results = [
        # The shared gate: also refuses the sentence itself with a question mark.
        gates.gate_is_question(text=question, statement=quote),
        gates.gate_not_an_id(name="question", text=question),
        gates.gate_not_prompt_copy(name="question", text=question, examples=examples, limit=limit),
        gates.gate_not_empty(name="answer", text=answer),
        gates.gate_not_an_id(name="answer", text=answer),
        gates.gate_not_truncated(name="answer", text=answer),
        gates.gate_not_prompt_copy(name="answer", text=answer, examples=examples, limit=limit),
    ]
    if not question.strip() or not quote.strip():
        return results
    results.append(gates.gate_answer_type(question=question, support=quote))
    source = f"{subject}: {quote}" if subject else quote
    question_vector, quote_vector = embedding.embed([question, source])
    results.append(
        gates.gate_answerable(
            question=question,
            support=source,
            similarity=float(question_vector @ quote_vector),
            min_similarity=settings.SYNTHETIC_ANSWERABLE_SIMILARITY,
            min_shared=1,
        )
    )
    if chunk is not None:
        rank = round_trip_rank(question=question, vector=question_vector, chunk=chunk, quote=quote)
        results.append(gates.gate_round_trip(rank=rank, k=settings.SYNTHETIC_ROUND_TRIP_K))
    results.append(duplicate_gate(vector=question_vector, before=before))
    return results


def round_trip_rank(*, question: str, vector, chunk: Chunk, quote: str) -> int | None:
    """Where the product's own search (hybrid, within the pair's product line) puts the source:
    the chunk itself, or a chunk of the same document holding the quoted sentence (chunks
    overlap)."""
    filters = Filters(product_lines=[chunk.product_line_id] if chunk.product_line_id else [])
    result = chunks_search(
        query=question,
        filters=filters,
        k=settings.SYNTHETIC_ROUND_TRIP_K,
        infer_filters=False,
        query_vector=vector,
    )
    wanted = " ".join(quote.split())
    for rank, hit in enumerate(result.hits, start=1):
        same = hit.chunk.pk == chunk.pk
        holds = hit.chunk.document_id == chunk.document_id and wanted in " ".join(
            hit.chunk.text.split()
        )
        if same or holds:
            return rank
    return None


def duplicate_gate(*, vector, before: int | None) -> gates.GateResult:
    earliest = duplicate_earliest(embedding=vector, before=before)
    if earliest is None:
        return gates.gate_not_duplicate(duplicate_of=None)
    return gates.gate_not_duplicate(duplicate_of=earliest.pk, similarity=1 - earliest.distance)


def model_question_held(*, model: str) -> gates.GateResult:
    """The check a question the model wrote fails while SYNTHETIC_QUEUE_MODEL_QUESTIONS is
    off: it passed the other checks, but a read of the packaged model's questions found most
    of those misread their sentence, and no check tells them apart."""
    return gates.GateResult(
        MODEL_QUESTION_HELD,
        False,
        f"written by the model ({model or 'unknown'}), whose questions misread their sentence "
        "more often than not, so it was held back from the queue: check it against the quote "
        "and edit it to approve it",
    )


def checks_as_json(results: list[gates.GateResult], *, version: int) -> list[dict]:
    """Stored with the pair version they were run on: after an edit, the screen says whether
    it shows the checks of the AI's text or of the edited one."""
    return [{**result.as_dict(), "version": version} for result in results]
