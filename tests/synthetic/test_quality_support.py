"""Which sentence a generated pair asks about: only one a reviewer can approve as the whole
answer (no figure, example placeholder or code it leans on), labelled with the kind of
question the sentence itself answers, and never one an earlier pair already asks about.

The sentences are real ones, from ../shared/data/redis-docs and ../shared/data/doc2dial."""

import pytest

from apps.knowledge.models import Chunk
from apps.synthetic import quality, services
from apps.synthetic.models import QAPair
from tests import factories
from tests.fakes import ScriptedBackend, fact_question

# Real sentences a pair can stand on, one per kind of question.
WHAT_IF = "If you request details about non-existing commands, their return position will be nil."
LIMITS = (
    "You must register your vehicle at the DMV within 180 days of the effective date on your "
    "insurance ID card."
)
HOW_TO = (
    "You can use your ID and password to log in on any computer that can access the Internet "
    "with an acceptable connection."
)


@pytest.mark.parametrize(
    "sentence",
    [
        # redis-docs
        "In the next figure, the blue box represents our query.",
        "Consequently, the number of total queries performed per second initially increases "
        "almost linearly with longer pipelines, and eventually reaches 10 times the baseline "
        "obtained without pipelining, as shown in this figure.",
        # doc2dial
        "The table only provides an estimate of how many work credits you need.",
        "The fees listed in the chart are for commercial vehicles that weigh less than 18,000 lbs.",
        "Here is an example to show how your refund amount is determined.",
        "In the example , you would not be eligible for discharge of any loans you received "
        "for Program A, because the school s closure did not prevent you from completing that "
        "program.",
    ],
)
def test_a_sentence_about_a_figure_table_or_example_is_never_asked_about(sentence):
    assert "figure, table or example" in quality.sentence_unaskable(sentence)
    assert quality.support_candidates(text=f"{sentence} {WHAT_IF}", kind="what_if") == [
        quality.Support(1, WHAT_IF, "what_if")
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "If the master M1 fails, S2 and S3 will agree about the failure and will be able to "
        "authorize a failover, making clients able to continue.",
        "We have a setup with node A acting as master, with persistence turned down, and "
        "nodes B and C replicating from node A.",
        "If you are using Redis as a cache, it could be handy that Client B is still able to "
        "write to the old master, even if its data will be lost.",
        "Even if `B` is writable, C will not see `B` writes and will instead have identical "
        "dataset as the master instance `A`.",
    ],
)
def test_a_sentence_naming_the_parts_of_an_example_is_never_asked_about(sentence):
    assert "parts of an example" in quality.sentence_unaskable(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "* `cluster_current_epoch`: The local `Current Epoch` variable.",
        "* `ASYNC`: Asynchronously flush the libraries.",
        "Shebang format: `#!<engine name> name=<library name>`.",
    ],
)
def test_a_sentence_that_is_mostly_code_is_never_asked_about(sentence):
    assert quality.sentence_unaskable(quality.sentence_normal(sentence)) is not None


@pytest.mark.parametrize(
    "sentence",
    [
        # Names that look like placeholders but are real, words that look like figure words.
        "RDB is very good for disaster recovery, being a single compact file that can be "
        "transferred to far data centers, or onto Amazon S3 (possibly encrypted).",
        "The next step is to generate the core dump, that is the image of the memory of the "
        "running Redis process.",
        "In other words the specified node is removed from the *nodes table* of the node "
        "receiving the command.",
        # Code inside prose, and a phone number, are not "mostly code".
        "Redis 2.2 introduced new bit and byte level operations: `GETRANGE`, `SETRANGE`, "
        "`GETBIT` and `SETBIT`.",
        "People who are deaf or hard of hearing can call our toll - free TTY number , 1 - 800 "
        "- 325 - 0778.",
        WHAT_IF,
        LIMITS,
    ],
)
def test_a_sentence_that_stands_on_its_own_is_kept(sentence):
    assert quality.sentence_unaskable(sentence) is None


@pytest.mark.parametrize(
    "sentence",
    [
        # doc2dial: headings glued to the sentence by the page's extraction.
        "Immigration Status To prove your U.S. immigration status , you must show us your "
        "current U.S. immigration document.",
        "If you are under 18 If you are under age 18 , you must wait at least 6 months from "
        "the date you received your learner permit to schedule your road test.",
        # redis-docs: a definition list's term, a command summary without its subject.
        "**REPLACE:** appends the restored libraries to the existing libraries, replacing any "
        "existing ones in case of name collisions.",
        "**SET** `<encoding>` `<offset>` `<value>` -- Set the specified bit field and returns "
        "its old value.",
        "Return the username the current connection is authenticated with.",
        # doc2dial: which period, the sentence before said.
        "The fire destroyed 75% of the records held for Veterans discharged from the Air Force "
        "during this time period.",
    ],
)
def test_a_sentence_a_reviewer_could_not_take_as_an_answer_is_never_asked_about(sentence):
    assert quality.sentence_unaskable(sentence) is not None


@pytest.mark.parametrize(
    "sentence",
    [
        # Seen in the queue, doc2dial: a page's navigation or heading glued to the sentence.
        "Benefits Planner: Survivors | Planning For Your Survivors As you plan for the future , "
        "you'll want to think about what your family would need if you should die now.",
        "Download SGLV 8284 PDF To receive an insurance payment in their time of need , a "
        "family member would file a Claim for Death Benefits SGLV 8283.",
        "I don't have my original U.S. birth certificate or marriage record The New York State "
        "Department of Health Vital Records office [1] can help you with obtaining vital "
        "records in the state.",
        "Agent Orange exposure on Navy or Coast Guard ships Did you serve on a Blue Water Navy "
        "vessel offshore of the Republic of Vietnam, or on another U.S.",
        # doc2dial: a date split at its full stop, so the sentence starts mid-way.
        "1 , 2020 , ED will waive interest on the federal student loans that it holds for the "
        "period between the date you submitted your borrower defense application and the date "
        "of your notification email.",
        # Leaning on the sentence before it.
        "In each , you d live there full time and have access to nursing and medical care, as "
        "well as help with daily tasks 24 hours a day.",
        "Specifically it assigns a set of hash slots to the node receiving the command.",
        "When this is the case, please check the `BRPOPLPUSH` command, that is a variant of "
        "`BLPOP` that adds the returned element to a target list before returning it to the "
        "client.",
        "In such contexts to use server time and bandwidth in order to send back replies to "
        "clients, which are going to be ignored, is considered wasteful.",
        # redis-docs: a command summary without its subject, definition lists' terms.
        "Adds all the commands there are in the server, including *future commands* loaded "
        "via module, to be executed by this user.",
        "`cluster_state`: State is `ok` if the node is able to receive queries.",
        "port (optional): The TCP (non-TLS) port of the node.",
        "Exploring Your Career Options share link A college or career school education can give "
        "you the skills needed to pursue a career that really interests you.",
        # Which two variants? What is "this"?
        "The two variants are called `GEORADIUS_RO` and `GEORADIUSBYMEMBER_RO`, and can safely "
        "be used in replicas.",
        "A real world use case for this is to mass promote replicas in a different data center "
        "to masters in order to perform a data center switch.",
        # A command's one-line summary, a site's link text.
        "Restore libraries from the serialized payload.",
        "Get more information about receiving aid.",
        # Which policy? A link to another page?
        "Note that this policy doesn't prevent function name collisions, only libraries.",
        "For more information please refer to [Introduction to Redis Functions]"
        "(/topics/functions-intro).",
        "If you feel you have a NYS Lemon Law complaint , please see Lemon Law Complaints [3].",
    ],
)
def test_a_sentence_cut_glued_or_leaning_on_another_is_never_asked_about(sentence):
    assert quality.sentence_unaskable(sentence) is not None


@pytest.mark.parametrize(
    "sentence",
    [
        "Note: You have up to 1 year from the date we receive your claim to turn in any "
        "information and evidence.",
        "NOTE: The master will always rollback if the `PSYNC FAILOVER` request is rejected by "
        "the target replica.",
    ],
)
def test_a_note_is_asked_about_like_any_sentence(sentence):
    assert quality.sentence_unaskable(sentence) is None


def test_a_list_item_or_footnote_number_is_no_part_of_the_answer():
    assert quality.sentence_normal(f"* {WHAT_IF}") == WHAT_IF
    assert quality.sentence_normal(f"3. {WHAT_IF}") == WHAT_IF
    # doc2dial's footnote numbers: once dropped, "See …" is refused as needing context.
    footnote = "1 See Respond to DMV insurance letters and orders [1] for instructions."
    assert quality.sentence_normal(footnote).startswith("See Respond")
    assert quality.sentence_unaskable(quality.sentence_normal(footnote)) is not None


# --- the kind label comes from the sentence --------------------------------------------------


def test_the_kind_label_is_what_the_chosen_sentence_shows_not_what_the_slot_asked_for():
    (support,) = quality.support_candidates(text=WHAT_IF, kind="error_code")
    assert support.kind == "what_if"
    code = "If a client goes over the limit, it gets the error ERR_RATE_LIMITED and a header."
    assert quality.support_candidates(text=f"{WHAT_IF} {code}", kind="error_code")[0] == (
        quality.Support(1, code, "error_code")
    )


@pytest.mark.parametrize(
    "sentence",
    [
        # An OOM killer and a READONLY command are not error codes.
        "If Linux does not have swap set up, and your Redis instance accidentally consumes too "
        "much memory, Redis can crash when it is out of memory, or the Linux kernel OOM killer "
        "can kill the Redis process.",
        "Read-only replicas in a Redis Cluster will redirect it to the master instance even if "
        "the connection is in read-only mode (see the `READONLY` command of Redis Cluster).",
        # Command names and algorithms, seen labelled "error code" on redis-docs.
        "The two variants are called `GEORADIUS_RO` and `GEORADIUSBYMEMBER_RO`, and can safely "
        "be used in replicas.",
        "A Redis hashed password is hashed with SHA256 and translated into a hexadecimal string.",
    ],
)
def test_a_word_in_capitals_is_no_error_code_outside_a_sentence_about_errors(sentence):
    assert "error_code" not in quality.sentence_kinds(sentence)


def test_plan_the_verb_is_no_difference_between_plans():
    # doc2dial, labelled "differences between product lines" before.
    verb = (
        "You ll be an active member of the team , and you ll work with your team to plan and "
        "make decisions to meet your personal health goals."
    )
    assert "plan_difference" not in quality.sentence_kinds(verb)
    noun = (
        "The Income-Sensitive Repayment Plan is available to low-income borrowers who have "
        "Federal Family Education Loan (FFEL) Program loans."
    )
    assert "plan_difference" in quality.sentence_kinds(noun)


def test_the_demo_docs_error_codes_are_error_codes():
    for sentence in (
        "E1042 means the session token has expired or was revoked, for example after a "
        "password change.",
        "ERR_SYNC_TIMEOUT means the desktop client could not finish an upload within 120 seconds.",
    ):
        assert "error_code" in quality.sentence_kinds(sentence)


def test_a_sentence_showing_none_of_the_run_kinds_is_not_asked_about():
    assert quality.support_candidates(text=WHAT_IF, kind="limits", kinds=["limits"]) == []
    # Unless the run asks for plain facts too.
    (support,) = quality.support_candidates(
        text=WHAT_IF, kind="limits", kinds=["limits", quality.GENERAL_KIND]
    )
    assert support.kind == quality.GENERAL_KIND


@pytest.fixture
def chunk(db):
    """A chunk of three real sentences a pair can stand on, and one it cannot."""
    chunk = factories.chunk()
    Chunk.objects.filter(pk=chunk.pk).update(
        text=(
            "In the next figure, the blue box represents our query.\n\n"
            f"{WHAT_IF} {LIMITS}\n\n* {HOW_TO}"
        )
    )
    chunk.refresh_from_db()
    return chunk


def _run(chunk, *, per_chunk=1, kinds=("error_code",)):
    run = services.generation_run_create(
        kinds=list(kinds), per_chunk=per_chunk, chunk_limit=1, documents=[chunk.document_id]
    )
    backend = ScriptedBackend(when_empty=fact_question)
    services.generation_run_execute(run_id=run.pk, backend=backend)
    return run, backend


def _asked(backend) -> list[str]:
    return [prompt.rsplit("Fact: ", 1)[1].split("\n", 1)[0] for prompt in backend.prompts]


def test_a_pair_of_an_error_code_run_without_any_code_is_labelled_by_its_sentence(chunk):
    run, _ = _run(chunk, kinds=["error_code", "what_if", "limits"])
    (pair,) = run.pairs.all()
    assert pair.quote in (WHAT_IF, LIMITS, HOW_TO)
    assert pair.kind != "error_code"
    assert pair.kind in quality.sentence_kinds(pair.quote)


# --- a sentence already asked about is not asked about again ---------------------------------


def test_a_second_run_asks_about_the_next_sentence_not_again_about_the_first(chunk):
    first, backend = _run(chunk, kinds=["what_if", "limits"])
    (earlier,) = first.pairs.all()
    QAPair.objects.filter(pk=earlier.pk).update(status=QAPair.Status.APPROVED)
    second, backend = _run(chunk, kinds=["what_if", "limits"])
    (later,) = second.pairs.all()
    assert later.quote != earlier.quote
    assert _asked(backend) == [later.quote] * len(backend.prompts)
    assert earlier.quote not in _asked(backend)


def test_a_sentence_whose_pair_was_rejected_may_be_asked_about_again(chunk, model_writes_first):
    first, _ = _run(chunk, kinds=["what_if", "limits"])
    (earlier,) = first.pairs.all()
    QAPair.objects.filter(pk=earlier.pk).update(status=QAPair.Status.REJECTED)
    second, _ = _run(chunk, kinds=["what_if", "limits"])
    assert second.pairs.get().quote == earlier.quote


def test_pairs_of_one_chunk_ask_about_different_sentences_and_stop_when_none_is_left(chunk):
    run, backend = _run(chunk, per_chunk=4, kinds=["what_if", "limits", "how_to"])
    pairs = list(run.pairs.order_by("slot"))
    quotes = [p.quote for p in pairs[:3]]
    assert sorted(quotes) == sorted([WHAT_IF, LIMITS, HOW_TO])  # the bullet is not quoted
    # The model is asked about each sentence whose question the app did not compose itself.
    composed = {p.quote for p in pairs[:3] if p.question_composed}
    assert set(_asked(backend)) == set(quotes) - composed
    last = pairs[3]
    assert last.status == QAPair.Status.FAILED_CHECKS and last.quote == ""
    assert last.checks[0]["detail"] == (
        "every sentence of this chunk worth asking about already has a pair"
    )


# --- questions from the sentence's own structure ---------------------------------------------


@pytest.mark.parametrize(
    "sentence, question",
    [
        # A condition is asked about as a condition, with what the sentence tells you to do.
        (
            "If the registration suspension period is more than 90 days , you must surrender "
            "your vehicle registration and plates.",
            "What do you have to do if the registration suspension period is more than 90 days?",
        ),
        (
            "If your disability gets worse , you can file a claim for an increase in benefits.",
            "What can you do if your disability gets worse?",
        ),
        (
            "If you have questions about why your aid hasn t been paid out yet, or why it wasn t "
            "the amount you expected , contact your school.",
            "What should you do if you have questions about why your aid hasn t been paid out "
            "yet, or why it wasn t the amount you expected?",
        ),
        (
            "When all sorted sets are empty, Redis will block the connection until another "
            "client adds members to one of the keys.",
            "What happens when all sorted sets are empty?",
        ),
        (
            "NOTE: If no reset type is specified, the default is **soft**.",
            "What happens if no reset type is specified?",
        ),
        # The condition runs on to where the main clause starts (a date's comma, a list).
        (
            "If you received federal student loans before July 1 , 1993 , you might be "
            "eligible for additional deferments.",
            "What happens if you received federal student loans before July 1, 1993?",
        ),
        (
            "If the client tries to blocks for multiple keys, but at least one key contains "
            "elements, the returned key / element pair is the first key from left to right.",
            "What happens if the client tries to blocks for multiple keys, but at least one key "
            "contains elements?",
        ),
        # A condition about "it" names nothing; "you can t" is not something you can do.
        ("If it is expired for 2 years or more, you can t renew - there are no exceptions.", None),
        # A definition as a definition; a named command by what it does.
        (
            "Direct deposit is a simple, safe, and secure way to get benefits.",
            "What is direct deposit?",
        ),
        ("If you are a non - citizen and your status changes.", None),
        ("`BLMPOP` is the blocking variant of `LMPOP`.", "What is `BLMPOP`?"),
        (
            "A shard is defined as a collection of nodes that serve the same set of slots and "
            "that replicate from each other.",
            "What is a shard?",
        ),
        (
            "The `CONFIG HELP` command returns a helpful text describing the different "
            "subcommands.",
            "What does the `CONFIG HELP` command return?",
        ),
        (
            "The `CLIENT NO-TOUCH` command controls whether commands sent by the client will "
            "alter the LRU/LFU of the keys they access.",
            "What does the `CLIENT NO-TOUCH` command control?",
        ),
        (
            "Redis Sentinel provides high availability for Redis when not using Redis Cluster.",
            "What does Redis Sentinel provide?",
        ),
        (
            "`SETRANGE` can be used to overwrite an existing time series.",
            "What can `SETRANGE` be used for?",
        ),
        # A described thing by what it does, with the sentence's own verb; not a vague one.
        (
            "The 'nodes' field contains a list of all nodes within the shard.",
            "What does the 'nodes' field contain?",
        ),
        (
            "The `ID` filter only returns entries for clients with IDs matching the `client-id` "
            "arguments.",
            "What does the `ID` filter return?",
        ),
        ("The command just returns the ID of the current connection.", None),
        ("The amount needed for a work credit changes from year to year.", None),
        # A condition at the end only when asked for (after the model's questions failed).
        ("The command fails if the same slot is specified multiple times.", None),
        # No shape to build on: no question.
        ("Redis forks, the parent continues to serve the clients.", None),
        ("It is the default for new connections.", None),
    ],
)
def test_a_question_is_composed_from_the_sentence_s_own_structure(sentence, question):
    assert quality.question_templated(sentence) == question


@pytest.mark.parametrize(
    "sentence, question",
    [
        (
            "The command fails if the same slot is specified multiple times.",
            "What happens if the same slot is specified multiple times?",
        ),
        (
            "The node will accept queries if all the keys in the command exist already, "
            "otherwise it will emit what is called an **ASK redirection**.",
            "What happens if all the keys in the command exist already?",
        ),
        # "if" as "whether", "as if", "even if": no condition to ask about.
        (
            "Your loan servicer will let you know if you are eligible or ineligible for a refund "
            "of payments.",
            None,
        ),
        (
            "We calculate a basic amount as if you had reached full retirement age at the time "
            "you die.",
            None,
        ),
        ("Complete the process online even if you live outside the United States.", None),
        (
            "Your employer will tell you if you will have retiree health benefits or if you can "
            "temporarily extend your health insurance coverage after you retire.",
            None,
        ),
        # A yes/no question on what someone can, should or must do.
        (
            "Every user can have many active passwords, so that password rotation will be simpler.",
            "Can every user have many active passwords?",
        ),
        (
            "You must appear for a hearing in a TVB office.",
            "Do you have to appear for a hearing in a TVB office?",
        ),
        # "may" is a maybe, not a rule.
        ("The type of Veteran designation may vary from state to state.", None),
        (
            "Functions should never access keys with programmatically-generated names or based "
            "on the contents of data structures stored in the database.",
            # The sentence's capital is kept: "Redis" or "Functions", a name or not, the app
            # cannot tell.
            "Should Functions access keys with programmatically-generated names or based on the "
            "contents of data structures stored in the database?",
        ),
    ],
)
def test_fallback_shapes_are_composed_only_when_asked_for(sentence, question):
    assert quality.question_templated(sentence, fallback=True) == question


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        (
            "The `GT`, `LT` and `NX` options are mutually exclusive.",
            "Are the `GT`, `LT` and `NX` options mutually exclusive?",
        ),
        (
            "Unpaid interest is never capitalized on Perkins Loans.",
            "Is unpaid interest never capitalized on Perkins Loans?",
        ),
        (
            "Strings with a similar prefix are nearby, but the contrary is not true.",
            "Are strings with a similar prefix nearby?",
        ),
        # A definition is asked as one; a second clause, a pronoun, an adverb, a glued
        # heading or a one-word subject (a name's capital or the sentence's?) get no question.
        ("A manual failover is a special kind of failover.", "What is a manual failover?"),
        ("The disadvantage is your benefit is reduced.", None),
        # "The idea is…", "The reason is…": a clause follows, not a property of a thing.
        ("The idea is simply send an `INCR` command to Redis every time.", None),
        ("The reason is simple and well known to everyone here.", None),
        ("Its dataset is flushed, so at the end the node will be an empty master.", None),
        ("Normally Redis keys are created without an associated time to live.", None),
        ("Guarantees A shop is not required to guarantee its work.", None),
        ("Payments are made for up to 10 years.", None),
        ("Benefits usually continue until you are able to work again.", None),
    ],
)
def test_a_plain_is_statement_gets_its_yes_no_question_only_as_a_fallback(sentence, question):
    if question is not None and not question.startswith("What"):
        assert quality.question_templated(sentence) is None
    assert quality.question_templated(sentence, fallback=True) == question


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        # An amount of a thing the sentence names ("for" in lower case is no heading).
        ("The fees for a road test are $10.", "What are the fees for a road test?"),
        (
            "The fee to change information amend on a driver license or learner permit is $12.50.",
            "What is the fee to change information amend on a driver license or learner permit?",
        ),
        # How something is done, what it rests on, who may have it.
        (
            'New connections are authenticated with the "default" user.',
            "How are new connections authenticated?",
        ),
        (
            "**The timeout argument is interpreted as a double value specifying the maximum "
            "number of seconds to block**.",
            "How is the timeout argument interpreted?",
        ),
        (
            "Social Security work credits are based on your total yearly wages or self - "
            "employment income.",
            "What are Social Security work credits based on?",
        ),
        (
            "The Income-Sensitive Repayment Plan is available to low-income borrowers who have "
            "Federal Family Education Loan (FFEL) Program loans.",
            "Who is the Income-Sensitive Repayment Plan available to?",
        ),
        # A negation, asked as the yes/no question it answers: "can t" asks "can", not "can't".
        (
            "The health care law doesn t change your VA health benefits or your out - of - "
            "pocket costs.",
            "Does the health care law change your VA health benefits or your out - of - pocket "
            "costs?",
        ),
        ("You can t select multiple benefit types.", "Can you select multiple benefit types?"),
        # Who "we" are, the question would not say; "How is X required?" asks nothing.
        ("We cannot accept a receipt showing you applied for the document.", None),
        # A preposition or a glued heading where the subject should be.
        ("Without `ASKING` the behavior is the same as usually.", None),
        ("Planning For Retirement Planning is the key to creating your best retirement.", None),
        # A reader's situation (a heading), a clause as the subject.
        ("I don t have enough proof of name identification to bring to the DMV.", None),
        (
            "The way the rehashing is performed is exposed in the Redis Cluster specification.",
            None,
        ),
        ("A medical certificate is required for every commercial driver.", None),
        # How to reach the goal a sentence opens with, when it tells the reader what to do.
        (
            "To apply for federal student loan forgiveness based on borrower defense , complete "
            "an online application form.",
            "How do you apply for federal student loan forgiveness based on borrower defense?",
        ),
        (
            "To see the list of available commands you can call `ACL HELP`.",
            "How can you see the list of available commands?",
        ),
        (
            "To be notified by the US Postal Service that we received your plates, send them by "
            "registered or certified mail.",
            "How can you be notified by the US Postal Service that we received your plates?",
        ),
        ("To apply , fill out and sign a Claim for Disability Insurance VA Form 29 - 357.", None),
        (
            "To qualify for federal student aid , certain eligible noncitizens must be able to "
            "provide evidence from the USCIS.",
            None,
        ),
        # Who is entitled to something; "what" when the subject names no people.
        (
            "Blue Water Navy Veterans are now entitled to a presumption of service connection "
            "for illnesses related to Agent Orange exposure.",
            "Who is entitled to a presumption of service connection for illnesses related to "
            "Agent Orange exposure?",
        ),
        (
            "Undocumented students, including DACA recipients, are not eligible for federal "
            "student aid , but you may still be eligible for state or college aid.",
            "Who is not eligible for federal student aid?",
        ),
        (
            "Most federal student loans are eligible for at least one income - driven repayment "
            "plan.",
            "What is eligible for at least one income - driven repayment plan?",
        ),
        ("Others may be eligible for free care for some, but not all, of their needs.", None),
        (
            "Find out how much coverage you may qualify for and how to apply for benefits.",
            None,
        ),
    ],
)
def test_plain_statements_are_asked_back_in_their_own_words(sentence, question):
    assert quality.question_templated(sentence) == question


@pytest.mark.parametrize(
    ("title", "subject"),
    [("GETDEL", "GETDEL"), ("ACL SETUSER", "ACL SETUSER"), ("BITFIELD_RO", "BITFIELD_RO")],
)
def test_a_page_titled_with_a_command_is_about_that_command(title, subject):
    assert quality.page_subject(title) == subject


@pytest.mark.parametrize("title", ["Sync troubleshooting", "Getting started", ""])
def test_a_page_with_a_plain_title_names_no_command(title):
    assert quality.page_subject(title) == ""


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        # A summary with its subject left out, in the base form or the third person.
        ("Get the value of `key` and delete the key.", "What does the `GETDEL` command do?"),
        ("Returns the number of keys that were removed.", "What does the `GETDEL` command return?"),
        # "The command…" / "This command…" mean the page's.
        (
            "This command returns the string value stored at `key` before deleting it.",
            "What does the `GETDEL` command return?",
        ),
    ],
)
def test_a_sentence_leaning_on_the_pages_command_is_asked_with_the_command_named(
    sentence, question
):
    assert quality.sentence_unaskable(sentence) is not None
    (support,) = quality.support_candidates(
        text=sentence, kind="fact", kinds=["fact"], subject="GETDEL", opens_page=True
    )
    # The answer stays the page's own sentence; only the question names the command.
    assert support.sentence == sentence
    assert quality.question_templated(support.stated) == question


def test_an_order_further_down_a_command_page_is_a_step_not_the_commands_summary():
    # Seen on the `EXPIRE` page: a step of the expiry algorithm, not what `EXPIRE` deletes.
    steps = "Redis does this ten times per second. Delete all the keys found expired."
    assert (
        quality.support_candidates(
            text=steps, kind="fact", kinds=["fact"], subject="EXPIRE", opens_page=True
        )
        == []
    )
    assert quality.sentence_named("Delete all the keys found expired.", subject="EXPIRE") is None


def test_without_a_command_title_such_a_sentence_is_still_not_asked_about():
    sentence = "This command returns the string value stored at `key` before deleting it."
    assert quality.support_candidates(text=sentence, kind="fact", kinds=["fact"]) == []


@pytest.mark.parametrize(
    "sentence",
    [
        # Cut at a comma that interrupts the statement: what follows finishes it.
        "The `GEORADIUSBYMEMBER` command is exactly like `GEORADIUS` with the sole difference "
        "that instead of taking, as the center of the area to query, a longitude and latitude.",
        "The command only works if all the specified slots are, from the point of view of the "
        "node receiving the command, currently not served.",
        # "when" as "the moment at which": no condition to ask about.
        "The magic needed inside the pipe mode is to understand when the last reply was sent "
        "by the server at the same time.",
        # "Only works if": what the command needs, not what happens then.
        "The `CLUSTER SETSLOT` command only works if the node is not already owner of the "
        "specified hash slot.",
    ],
)
def test_no_question_is_composed_from_a_statement_cut_short_or_a_requirement(sentence):
    assert quality.question_templated(sentence, fallback=True) is None


@pytest.mark.parametrize(
    "sentence",
    [
        # Seen in a new user's queue: each leans on what the pair cannot show.
        "The second one is saved as `name (conflicted copy YYYY-MM-DD).ext` in the same folder.",
        "Can also be used to check whether any items were lost in the stream since the last read.",
        "The replica skips the handshake and starts the failover from point 4 of the list.",
        "You should choose the box which describes the type of driving that you perform.",
        "The fact that when a client needs to retry a lock, it waits a time which is larger.",
    ],
)
def test_a_sentence_leaning_on_a_list_or_an_earlier_item_is_not_asked_about(sentence):
    assert quality.sentence_unaskable(sentence) is not None


def test_a_list_items_continuation_on_a_command_page_is_asked_with_the_command_named():
    sentence = "Can also be used to check whether any items were lost in the stream."
    assert quality.sentence_named(sentence, subject="XINFO STREAM") == (
        "The `XINFO STREAM` command can also be used to check whether any items were lost in "
        "the stream."
    )


@pytest.mark.parametrize(
    ("question", "sentence", "asked"),
    [
        # Fits every page without the command: asked of the page's.
        (
            "What happens if the user already exists?",
            "If the user already exists, the provided ACL rules are simply applied.",
            "With `ACL SETUSER`, what happens if the user already exists?",
        ),
        # An argument in code marks names no command (seen on the `SADD` page).
        (
            "What happens if `key` does not exist?",
            "If `key` does not exist, a new set is created before adding the members.",
            "With `ACL SETUSER`, what happens if `key` does not exist?",
        ),
        # Names a command already, or its sentence names the page's (it would give the answer
        # away): left as is.
        (
            "What does the `CLIENT REPLY` command control?",
            "The `CLIENT REPLY` command controls whether the server will reply.",
            "What does the `CLIENT REPLY` command control?",
        ),
        (
            "How can you see the list of available commands?",
            "To see the list of available commands you can call `ACL SETUSER`.",
            "How can you see the list of available commands?",
        ),
    ],
)
def test_a_composed_question_on_a_command_page_is_asked_of_that_command(question, sentence, asked):
    assert quality.question_in_context(question, subject="ACL SETUSER", sentence=sentence) == asked


def test_a_sentence_pointing_at_what_the_page_shows_there_is_not_asked_about():
    sentence = "If you see your dependent listed there , you should be eligible for compensation."
    assert quality.sentence_unaskable(sentence) == "only makes sense after the sentence before it"


def test_a_word_spelt_like_the_command_does_not_count_as_naming_it():
    # Seen on the `KEYS` page: "keys" in the sentence is not the command.
    asked = quality.question_in_context(
        "What happens if a pattern can only match keys of one slot?",
        subject="KEYS",
        sentence="If a pattern can only match keys of one slot, Redis only iterates over them.",
    )
    assert asked == "With `KEYS`, what happens if a pattern can only match keys of one slot?"


def test_a_requirement_with_only_if_is_not_asked_as_what_happens_then():
    sentence = (
        "The `SCAN` algorithm is guaranteed to terminate only if the size of the iterated "
        "collection remains bounded to a given maximum size."
    )
    assert quality.question_templated(sentence, fallback=True) == (
        "Is the `SCAN` algorithm guaranteed to terminate only if the size of the iterated "
        "collection remains bounded to a given maximum size?"
    )
