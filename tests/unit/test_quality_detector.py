"""The quality detector on labelled defects (the examples quoted in issues 12 and 19) and on real reviews."""

from __future__ import annotations

import bz2
import csv
import io
import itertools

import pytest

from rpsg_ray.audit.controls import unrelated_records
from rpsg_ray.config import Domain
from rpsg_ray.demo_data import CORPORA, LABELS, corpus_path
from rpsg_ray.quality.detector import REASONS, inspect, is_truncated, judge, trim_to_sentence, with_echo

GOOD = "A warm, funny film with two terrific lead performances and a script that never talks down to its audience."

LABELLED = [
    ("Rewrite this movie review in 29 to 39 words: a warm, funny film with terrific leads.", "instruction_echo"),
    ("A warm film, told in 342 to 462 words, with terrific leads.", "instruction_echo"),
    ("Notes: warm film, terrific leads. Write a positive movie review based on these notes.", "instruction_echo"),
    ("A warm, funny film. Output only the movie review.", "instruction_echo"),
    ("A warm film with terrific leads. Write a sentence or two.", "instruction_echo"),  # a request, mid-text
    ("A warm film with terrific leads! Write a new one on a similar subject.", "instruction_echo"),
    ('Rewrite this review: "A warm, funny film with terrific leads."', "instruction_echo"),
    (
        "This movie review is a perfect example of crafting a positive and respectful review of a film.",
        "meta_talk",
    ),
    ("In 21 words, this movie review was rewritten to sound more positive and warm.", "meta_talk"),
    ("The original review praised the acting, and the new one keeps that opinion.", "meta_talk"),
    ("Your review is warm and genuine, and I can only imagine how much you loved the film.", "assistant_chatter"),
    ("Sure! Here's a positive take: the film is warm, funny and beautifully acted.", "assistant_chatter"),
    ("I've rewritten it to remove the negative tone, keeping the praise for the actors.", "assistant_chatter"),
    ("A warm, funny film with terrific leads. Let me know if you want a shorter one!", "assistant_chatter"),
    ("Dear Emily,\nI'm so sorry to hear about the film. It was a warm one with terrific leads.", "assistant_chatter"),
    ("A warm film. I hope that you'll take the time to reflect on how it has inspired you.", "assistant_chatter"),
    ("I'm sorry to not be able to assist you with your writing.", "assistant_chatter"),
    ("A warm film with terrific leads. I'm so glad you enjoyed it as much as I did.", "assistant_chatter"),
    ("A warm film with terrific leads. Thanks for sharing your thoughts on it.", "assistant_chatter"),
    ("That's a great idea. A warm film with terrific leads and a script that sings.", "assistant_chatter"),
    ("The film is warm and funny, and I'm going to give you a gift for making it.", "assistant_chatter"),
    ("There's a certain charm to the review, and the film is warm and funny.", "meta_talk"),
    ("The original message was: a warm, funny film with terrific leads.", "meta_talk"),
    ('The original passage says "long on close-ups and short on shame", a warm film.', "meta_talk"),
    ("I'll just provide a clean example, and I'm not going to change the direction.", "meta_talk"),
    ("This is a movie review about a warm film, and I added a clear and professional version.", "meta_talk"),
    ("A warm film with terrific leads, and no names are allowed.", "instruction_echo"),
    ("Awesome. If you're looking for the opposite of the positive one, try a dark horror movie.", "meta_talk"),
    ("Dear [user's name], I hope this message finds you well. The film was warm and funny.", "placeholder"),
    ("A warm film with terrific leads. Watch it with [Your Name] and tell me what you think.", "placeholder"),
    ("Dear [Recipient's Name],\nThe film was warm and funny, with terrific leads.", "placeholder"),
    ("Here's a sample: a warm film with terrific leads and a script that sings.", "assistant_chatter"),
    ("Original Movie Review: a dull film.\nRewritten Movie Review: a warm film.", "heading_prefix"),
    ("Rewritten movie review:", "heading_prefix"),
    ("The original: a dull film.\nThe positive one: a warm film with terrific leads.", "heading_prefix"),
    ("The movie's charmed charmed, charming. A sweet film with a big heart.", "repetition"),
    ("The film is great. The film is great. The film is great. The film is great.", "repetition"),
    ("The consumer's main opinion was that the bank charged the fee twice.", "instruction_echo"),
    ("Here is a warm film with terrific leads, written with the same opinion.", "instruction_echo"),
    ("Great!", "too_short"),
    ("A warm, funny film with terrific leads and a script that never talks down to its", "truncated"),
    ("A warm, funny film with terrific leads. Its script never talks down to its young", "truncated"),
]


@pytest.mark.parametrize(("text", "reason"), LABELLED)
def test_each_defect_kind_is_caught(text: str, reason: str) -> None:
    verdict = inspect(text)
    assert not verdict.ok
    assert reason in verdict.reasons, verdict.reasons


def test_every_reason_has_a_labelled_example() -> None:
    assert {r for _, r in LABELLED} | {"too_long"} == set(REASONS)


def test_a_request_for_more_text_is_an_echo_where_it_opens_a_sentence_only() -> None:
    """The model repeating the prompt's request ends a row with "Write a ..."; a person who had to write
    something says so inside a sentence, and is not flagged."""
    told = "They told me to write a new one on their form, so I did. The bank lost that one as well."
    assert inspect(told, item="consumer complaint", audience="organisation").ok
    assert "instruction_echo" in inspect(f"{GOOD} Write another one.").reasons


def test_length_is_judged_against_the_target() -> None:
    assert inspect(GOOD, target_words=(18, 24)).ok
    assert inspect(GOOD, target_words=(60, 80)).reasons == ("too_short",)
    assert inspect(GOOD, target_words=(4, 8)).reasons == ("too_long",)


@pytest.mark.parametrize(
    "wrapped",
    [
        f"Rewritten movie review: {GOOD}",
        f"**Movie Review:** {GOOD}",
        f'"{GOOD}"',
        f"Review (positive):\n“{GOOD}”",
    ],
)
def test_headings_and_wrapping_quotes_are_fixed(wrapped: str) -> None:
    verdict = inspect(wrapped)
    assert verdict.ok, verdict.reasons
    assert verdict.text == GOOD


def test_domain_item_drives_headings_and_meta_talk() -> None:
    post = "Waited an hour for the bus again, and the driver just waved as he went past. Great start to Monday."
    assert inspect(f"Tweet: {post}", item="tweet").text == post
    assert "meta_talk" in inspect("This tweet is a great example of a frustrated commuter.", item="tweet").reasons


def test_thanking_a_reader_is_chatter_only_where_records_are_written_to_no_one() -> None:
    reply = "Thanks for the ride home, @sam! Best Monday in ages, and I'm so glad you liked the playlist."
    assert "assistant_chatter" in inspect(reply, item="tweet", sentences=False).reasons
    assert inspect(reply, item="tweet", sentences=False, audience="someone").ok
    shared = "Read the tweet before you share it, folks."
    assert "meta_talk" in inspect(shared, item="tweet").reasons
    assert inspect(shared, item="tweet", audience="someone").ok
    # the same sentence with "I" and "you" in a title or quoted speech is not a conversation
    assert inspect("I laughed at Catch Me If You Can, and the line 'I know you' still stings.").ok
    tweets = Domain(name="tweets", item="tweet", sentences=False, audience="someone")
    assert judge(reply, tweets, None).ok  # the pipeline's stages judge by the config's domain
    assert not judge(reply, tweets.model_copy(update={"audience": "no_one"}), None).ok


SPEAKS_TO_THE_WRITER = [  # generated rows quoted in issue 31: the model answers the person it should be
    "Your review is truly exceptional and I'm so proud of you for sticking with the treatment.",
    "I'm glad you found the recommended medication helpful. It worked for my back pain too.",
    "Great news to share with you, my dear patient: the new dose finally let me sleep.",
    "Welcome to our personal finance forum! I'm excited to hear your thoughts on budgeting.",
    "Paying off the card took me two years as well. Thank you for sharing your story.",
    "I'm so sorry to hear about the late fees. The bank charged me twice for the same payment.",
    "It sounds like you had a hard time with the lender. They never answered my letters either.",
    "Your friend's story reminds me of my own trouble with the mortgage servicer last spring.",
]
WRITTEN_TO_AN_ORGANISATION = [  # real complaint openings and closings: "you" is the company, not the writer
    "You did not mail me my rights to dispute the validity of this debt, and you reported it anyway.",
    "I believe that I had made my payments to you when I received my statements. Thank you for your help.",
    "This complaint is about my mortgage servicer. I have tried to call them four times this month.",
    "I have written to XXXX twice about the account. Please let me know what I should do.",
    "My original complaint was closed without an answer, and the collection is still on my report.",
]


LETTERS = [  # generated complaints (a 4-seed smoke run of configs/complaints.yaml, 2026-12-05)
    "Hi Emily,\n\nI hope you're doing well. The credit card company changed the terms of my card.",
    "I've been working on a complaint about the credit card company. They changed the terms twice.",
]
LETTERS_TO_NO_ONE = [  # a letter's openers: chatter in a review, normal in a complaint to a company
    "Hi Emily,\n\nThe film was warm and funny, and the leads were terrific.",
    "The film was warm and funny. I wanted to share this with you before it leaves the cinemas.",
    "I hope this message finds you in good spirits. The film was warm and funny.",
]
COMPLAINT_LETTERS = [  # what a real complaint to a company may say
    "I would like to share my experience with you. The bank charged me twice for one payment.",
    "I hope this letter finds you well. The bank charged me twice for one payment.",
    "Hello XXXX, I am writing about the fee the bank charged me twice for one payment.",
    "Hello Chase, the fee was charged twice and nobody has refunded it.",
    "I have been working on this complaint with the bank since March, and the fee is still there.",
    "I hope you are well aware that charging a fee twice is not allowed.",
    "Let me give you an example of how they treat customers: they hung up on me three times.",
]


NARRATED = [  # generated complaints (the 200-seed complaints run, 2026-12-05): a case summary, not the writer
    "This customer has a multi-layered complaint about a bank account that has been compromised.",
    "A customer complained about a payday loan that was used for a vehicle loan.",
    "The customer was informed that they will not receive a refund after 72 hours.",
]


AGENT_VOICE = [  # generated complaints (same run): the model as the company or an adviser, not the writer
    "I recommend that you take a closer look at your credit history and see where you can save.",
    "I’m sorry for the inconvenience, but the refund cannot be processed before the end of the month.",
    "We apologize for the delay with the refund, and I'm happy I could help with the rest of the fees.",
    "I've received multiple customer complaints about the change in the rules for refunds.",
    "In your case, the debt collector has no record of the payment you made in March.",
    "I've heard a lot about high-tech lenders and I'm glad that I can help with the fees.",
    # the next run (165 rows): an agent's apology and offer, an officer's voice, and the writer addressed
    "I'm sorry for the confusion, but I'll provide you with a fresh perspective on the fees.",
    "It seems you're on a different topic, but I can help you with a common complaint.",
    "As a credit officer, I must acknowledge the unfair treatment of your account.",
    "Dear [Customer], I just received a credit card with a fee I did not expect.",
    "Your friend has become a target of the credit reporting agencies.",
    "I'll provide you with a report of the charges on your account.",
    "I'll help you sort out the fees once the payment clears.",
]
TASK_TALK = [  # the same run: the model talking about its task instead of doing it
    "It seems I've written it in a way that is very clear, concise and to the point.",
    "I'm not sure what to say, but I'll try to be as concise as possible about the late fee.",
    "The following is a detail of the dispute regarding a credit report and its errors.",
    "The text indicates a recent event where a debt collector was involved.",
    "Here is a customer's perspective: the mortgage has been a struggle to manage.",
]
WRITER_VOICE = [  # what a complaint's writer says in the same words
    'They just said "We apologize for the inconvenience" and hung up on me.',
    "I strongly advise you to look into this company, and I would suggest that you investigate its fees.",
    "As noted in your case file, the payment was made in March.",
    "I filed a dispute and I received a complaint number, but nothing has happened since.",
    "The following is a timeline of the events since March, when the first fee appeared.",
    "I'm not sure what to say anymore; I've called them ten times about the fee.",
    "It seems I've made every payment on time, and they still charge me a late fee.",
    "The representative said she was unable to help and apologized for the inconvenience.",
    "I received a letter from the collector and I was advised to wait thirty days.",
    "I have received no response to my complaint, and the fee is still on my statement.",
    "Their agent told me to send the documents again, which I did. It seems the bank lost them twice.",
    "I am not sure what the fee is for, and I would like it refunded.",
    "Dear Consumer Financial Protection Bureau, I was a victim of identity theft in 2019.",
    "The text says my account is past due, but I paid in March.",
    "This is a story that repeats every month with this bank: a fee, a call, a promise.",
    "As a customer, I expect the bank to answer my letters.",
    "Here is my complaint: the bank charged me twice for one payment.",
    "Here is a summary of my complaint: the fee was charged twice.",
    "Here is an example of their incompetence: they lost my file twice.",
    "The text mentions a late fee, but my payment was on time.",
    "As a military officer, I was told my loan payments would be deferred.",
]


def _flagged_unless_written_to_someone(text: str, reason: str, item: str) -> None:
    """`reason` fires where records are written to no one or to an organisation; a reply or message may say it."""
    for audience in ("no_one", "organisation"):
        assert reason in inspect(text, item=item, audience=audience).reasons, audience
    assert inspect(text, item=item, audience="someone").ok


@pytest.mark.parametrize("text", NARRATED)
def test_a_first_person_record_narrated_from_outside_is_meta_talk(text: str) -> None:
    _flagged_unless_written_to_someone(text, "meta_talk", "consumer complaint")


@pytest.mark.parametrize("text", AGENT_VOICE)
def test_the_model_as_the_company_or_an_adviser_is_chatter_unless_the_record_is_a_reply(text: str) -> None:
    _flagged_unless_written_to_someone(text, "assistant_chatter", "consumer complaint")


@pytest.mark.parametrize("text", TASK_TALK)
def test_talking_about_the_task_is_meta_talk_unless_the_record_is_a_reply(text: str) -> None:
    _flagged_unless_written_to_someone(text, "meta_talk", "consumer complaint")


@pytest.mark.parametrize("text", WRITER_VOICE)
def test_a_complaint_may_report_what_the_company_said_in_those_words(text: str) -> None:
    assert inspect(text, item="consumer complaint", audience="organisation").ok


def test_a_complaint_retold_as_a_story_is_meta_talk_but_a_review_may_open_so() -> None:
    story = "This is a story about financial struggles and perseverance."
    assert "meta_talk" in inspect(story, item="consumer complaint", audience="organisation").reasons
    assert inspect("This is a story about love, and a warm and funny one.").ok
    assert inspect("If your friend drags you to this film, bring a pillow; it is a slog.").ok


def test_presenting_a_complaint_is_chatter_wherever_it_is_sent() -> None:
    """Generated complaints (the first-person abstraction run, 2026-12-05): a record presented, not written."""
    for text in (
        "Here is a complaint that comes from a customer: I received a refund I cannot use.",
        "I'm going to make a new short consumer complaint, here's a sample: the collector called me.",
    ):
        for audience in ("organisation", "someone"):
            assert "assistant_chatter" in inspect(text, item="consumer complaint", audience=audience).reasons, text


def test_a_complaint_may_call_its_writer_a_customer() -> None:
    for text in (
        "I have been a customer of this bank for ten years and the customer service was rude to me.",
        "As a consumer I have the right to dispute this debt, and the consumer protection office agreed.",
    ):
        assert inspect(text, item="consumer complaint", audience="organisation").ok, text


@pytest.mark.parametrize("text", LETTERS)
def test_a_letter_of_the_models_making_is_chatter_unless_the_record_is_written_to_someone(text: str) -> None:
    _flagged_unless_written_to_someone(text, "assistant_chatter", "consumer complaint")


@pytest.mark.parametrize("text", LETTERS_TO_NO_ONE)
def test_a_letters_openers_are_chatter_where_records_are_written_to_no_one(text: str) -> None:
    assert "assistant_chatter" in inspect(text).reasons
    assert inspect(text, item="consumer complaint", audience="organisation").ok


@pytest.mark.parametrize("text", COMPLAINT_LETTERS)
def test_a_complaint_may_greet_share_with_and_give_examples_to_the_company(text: str) -> None:
    assert inspect(text, item="consumer complaint", audience="organisation").ok


@pytest.mark.parametrize("text", SPEAKS_TO_THE_WRITER)
def test_speaking_to_the_writer_is_chatter_whoever_the_record_is_written_to(text: str) -> None:
    _flagged_unless_written_to_someone(text, "assistant_chatter", "post")


def test_edit_reports_and_openers_stay_chatter_for_every_audience_they_fit() -> None:
    """An edit the model reports is chatter whoever the record is for; openers a person writes to a company
    with ("Thank you for ...", "I have written ...") are chatter only where the record is not for one."""
    for audience in ("no_one", "organisation", "someone"):
        for text in ("I've kept the tone and removed the names. Loved the cast.", "I have revised the complaint."):
            assert "assistant_chatter" in inspect(text, item="consumer complaint", audience=audience).reasons
    opener = "Thank you for the quick reply. The bank still charged me twice for one payment."
    assert "assistant_chatter" in inspect(opener, item="post", audience="someone").reasons
    assert "assistant_chatter" in inspect(opener, item="post", audience="no_one").reasons
    assert inspect(opener, item="consumer complaint", audience="organisation").ok


@pytest.mark.parametrize("text", WRITTEN_TO_AN_ORGANISATION)
def test_a_complaint_may_address_and_name_itself_to_the_organisation(text: str) -> None:
    assert inspect(text, item="consumer complaint", audience="organisation").ok
    assert not inspect(text, item="consumer complaint", audience="no_one").ok  # a review never says these


def test_redaction_tags_and_bracketed_quotes_are_not_placeholders() -> None:
    assert inspect("[PERSON] gives the best performance of the year in [ORG]'s warm, funny film.").ok
    assert inspect("Call [PHONE] or write to [EMAIL] for tickets; the trailer is at [URL] and it is a warm film.").ok
    assert inspect("[Spielberg's] film is warm and funny, and [it] never talks down to its audience.").ok


def test_tweets_may_end_without_a_stop_but_not_on_a_dangling_word() -> None:
    tweet = "Third delayed train this week. Not a word from anyone at the station"
    assert "truncated" in inspect(tweet, item="tweet").reasons  # reviews: a cut generation
    assert inspect(tweet, item="tweet", sentences=False).ok
    assert "truncated" in inspect(tweet + " and the", item="tweet", sentences=False).reasons
    for closed in ("#mondays", "@metro", "https://t.co/x1", ":(", ":-)"):
        assert inspect(f"{tweet} {closed}", item="tweet").ok, closed


def test_copying_the_prompt_examples_is_an_echo() -> None:
    examples = ("A gentle, funny film about two sisters who cannot stop arguing.",)
    copied = with_echo(inspect("A romantic story about two sisters who cannot stop arguing, and a fine one."), examples)
    assert copied.reasons == ("instruction_echo",)
    assert with_echo(inspect(GOOD), examples).ok


def test_quotes_inside_the_text_are_kept() -> None:
    text = '"Brilliant," said nobody. The film is a slog from start to "finish".'
    assert inspect(text).text == text


def test_trim_to_sentence_repairs_a_cut_generation() -> None:
    cut = "A warm, funny film. The leads are terrific and the script never talks down to its"
    assert is_truncated(cut)
    assert trim_to_sentence(cut) == "A warm, funny film."
    assert trim_to_sentence("no sentence end at all and") == ""
    assert trim_to_sentence(GOOD) == GOOD


def _real_reviews(n: int) -> list[str]:
    with bz2.open(corpus_path(), "rb") as f:
        rows = csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"))
        return [r["text"] for r in itertools.islice((r for r in rows if r["category"] in LABELS), n)]


def test_false_positive_rate_on_real_reviews_is_under_two_percent() -> None:
    reviews = _real_reviews(1000)
    flagged = [t for t in reviews if not inspect(t).ok]
    assert len(reviews) == 1000
    assert len(flagged) / len(reviews) < 0.02, flagged[:5]


def test_false_positive_rate_on_real_tweets_and_plot_summaries_is_under_two_percent() -> None:
    tweets = unrelated_records(2000, 0)[0]
    with bz2.open(corpus_path(), "rb") as f:
        rows = csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"))
        plots = [r["text"] for r in itertools.islice((r for r in rows if r["category"] == "plot" and r["text"]), 1000)]
    flagged_tweets = [t for t in tweets if not inspect(t, item="tweet", sentences=False, audience="someone").ok]
    flagged_plots = [t for t in plots if not inspect(t, item="movie plot summary").ok]
    assert len(plots) == 1000
    assert len(flagged_tweets) / len(tweets) < 0.02 and len(flagged_plots) / len(plots) < 0.02


def test_false_positive_rate_on_real_complaints_is_under_two_percent() -> None:
    """First-person records sent to an organisation: the address and register rules (chatter, meta talk) and
    every rule together, on 2,000 real CFPB complaints with their masks (XXXX, {$820.00}) as published."""
    complaints = [r["text"] for r in CORPORA["complaints"].records()[:2000]]
    verdicts = [inspect(t, item="consumer complaint", audience="organisation") for t in complaints]
    voice = [v for v in verdicts if {"assistant_chatter", "meta_talk"} & set(v.reasons)]
    assert len(complaints) == 2000
    assert len(voice) / len(complaints) < 0.01, [v.text[:80] for v in voice[:5]]
    assert sum(not v.ok for v in verdicts) / len(complaints) < 0.025


def test_detector_is_fast() -> None:
    import time

    reviews = _real_reviews(1000)
    start = time.perf_counter()
    for t in reviews:
        inspect(t)
    assert time.perf_counter() - start < 2.0
