"""Each stage on real packaged models and tiny batches, called directly (no Ray)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from faker import Faker

from rpsg_ray.config import (
    AbstractConfig,
    Domain,
    Engine,
    LabelConfig,
    NllFilterConfig,
    QualityConfig,
    RedactConfig,
    RewriteConfig,
    SelectConfig,
    SimilarityFilterConfig,
)
from rpsg_ray.engines import registry
from rpsg_ray.engines.base import Chat, Completion, Prediction, Sampling, TextGenerator
from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.privacy.keys import new_key
from rpsg_ray.privacy.mechanisms import score
from rpsg_ray.quality.detector import judge, length_span, repair
from rpsg_ray.rows import ROW_SCHEMA
from rpsg_ray.similarity.shard import IndexShard
from rpsg_ray.stages import abstract, nll_filter, rewrite, select, similarity_filter
from rpsg_ray.stages.abstract import Abstract
from rpsg_ray.stages.label import Label
from rpsg_ray.stages.nll_filter import NllFilter
from rpsg_ray.stages.prompts import (
    abstraction_chat,
    estimate_tokens,
    fit_abstraction_chat,
    rewrite_chat,
    shown_examples,
)
from rpsg_ray.stages.quality import Quality
from rpsg_ray.stages.redact import Redact, redact_patterns
from rpsg_ray.stages.rewrite import Rewrite, fit_target, guard, row_max_tokens, target_words
from rpsg_ray.stages.select import Select
from rpsg_ray.stages.similarity_filter import SimilarityFilter

HF = Engine(kind="transformers", dtype="float32")


def _memoised(load: Callable[..., Any]) -> Callable[..., Any]:
    loaded: dict[str, Any] = {}

    def cached(*args: Any, **kwargs: Any) -> Any:
        key = repr((args, kwargs))
        if key not in loaded:
            loaded[key] = load(*args, **kwargs)
        return loaded[key]

    return cached


@pytest.fixture(autouse=True, scope="module")
def one_model_load_per_spec() -> Iterator[None]:
    """Stages built in this module share one loaded model per engine spec, as one actor's stage would: each
    test otherwise loads SmolLM2 and MiniLM again. Engines seed per prompt, so sharing carries no state."""
    modules: list[tuple[ModuleType, str]] = [
        (abstract, "load_generator"),
        (rewrite, "load_generator"),
        (select, "load_generator"),
        (select, "load_embedder"),
        (nll_filter, "load_scorer"),
        (similarity_filter, "load_embedder"),
    ]
    memo = {name: _memoised(getattr(registry, name)) for _, name in modules}
    with pytest.MonkeyPatch.context() as patch:
        for module, name in modules:
            patch.setattr(module, name, memo[name])
        yield


DOMAIN = Domain()
SEEDS = [
    ("r1", "A gorgeous, tender film with wonderful performances and a generous heart.", "positive"),
    ("r2", "Tedious, ugly and far too long; the jokes die on the screen.", "negative"),
    ("r3", "The plot wanders but the lead actor keeps it watchable.", None),
]


def batch(rows: list[tuple[str, str, str | None]], **extra: list) -> pa.Table:
    base = pa.Table.from_pylist(
        [
            {
                "id": i,
                "text": t,
                "label": lab,
                "source": f"f:{n}",
                "pos": n,
                "status": "ok",
                "stage": None,
                "reason": None,
            }
            for n, (i, t, lab) in enumerate(rows)
        ],
        schema=ROW_SCHEMA,
    )
    base = base.append_column("prompt_text", base.column("text"))  # what scrub gives a seed with no PII in it
    for name, values in extra.items():
        base = base.append_column(name, pa.array(values))
    return base


def test_label_fills_only_missing_labels() -> None:
    out = Label(LabelConfig())(batch(SEEDS))
    assert out.column("label").to_pylist()[:2] == ["positive", "negative"]
    assert out.column("label_source").to_pylist() == ["input", "input", "classifier"]
    assert out.column("label").to_pylist()[2] in ("positive", "negative", "unknown")


def test_stage_passes_settled_rows_untouched() -> None:
    b = batch(SEEDS)
    b = b.set_column(5, "status", pa.array(["ok", "quarantined", "ok"]))
    out = Label(LabelConfig())(b)
    assert out.column("label_source").to_pylist()[1] is None and out.num_rows == 3


def test_abstract_gives_k_candidates_per_seed() -> None:
    out = Abstract(AbstractConfig(engine=HF, candidates=3, max_tokens=24), DOMAIN, new_key())(batch(SEEDS[:2]))
    cands = out.column("candidates").to_pylist()
    assert [len(c) for c in cands] == [3, 3] and all(any(x.strip() for x in c) for c in cands)
    assert all(t > 0 for t in out.column("tokens_abstract").to_pylist())


def test_select_zero_noise_picks_the_argmax() -> None:
    candidates = [
        ["A tender film with wonderful performances.", "Traffic was heavy on the highway.", "Terrible and boring."],
        ["The jokes are tedious and the film is too long.", "A lovely, warm family picnic.", "Bananas are yellow."],
    ]
    cfg = SelectConfig(retry=False)
    stage = Select(cfg, sigma=0.0, abstract=AbstractConfig(engine=HF), domain=DOMAIN, key=new_key())
    out = stage(batch(SEEDS[:2], candidates=candidates))
    embedder = load_embedder(cfg.embedder)
    for r, (_, text, label) in enumerate(SEEDS[:2]):
        cos = embedder.embed(candidates[r]) @ embedder.embed([text])[0]
        agree = [s.label == label for s in stage.classifier.classify(candidates[r])]
        expected = candidates[r][int(np.argmax(score(cos, agree, True, 0.75, 0.25, 0.15, 0.0, 1.0)))]
        assert out.column("abstraction").to_pylist()[r] == expected
    assert out.column("abstraction").to_pylist() == [candidates[0][0], candidates[1][0]]


def test_select_huge_noise_is_near_uniform() -> None:
    """With σ ≫ score range the pick ignores the scores: across seeds (record ids) all candidates are chosen alike."""
    candidates = ["A tender film with wonderful performances.", "Traffic was heavy.", "Terrible.", "Bananas."]
    rows = [(f"id{i}", SEEDS[0][1], "positive") for i in range(400)]
    stage = Select(
        SelectConfig(retry=False), sigma=1e4, abstract=AbstractConfig(engine=HF), domain=DOMAIN, key=new_key()
    )
    out = stage(batch(rows, candidates=[candidates] * len(rows)))
    counts = np.array([out.column("abstraction").to_pylist().count(c) for c in candidates])
    assert ((counts - 100) ** 2 / 100).sum() < 16.27  # chi-square, 3 dof, p = 0.001


def test_select_retry_pass_runs_for_disagreeing_picks() -> None:
    candidates = [["Awful, boring, terrible.", "Dreadful and dull.", "Ugly and painful."]]
    stage = Select(
        SelectConfig(retry=True),
        sigma=0.0,
        abstract=AbstractConfig(engine=HF, candidates=3, max_tokens=24),
        domain=DOMAIN,
        key=new_key(),
    )
    out = stage(batch(SEEDS[:1], candidates=candidates))
    assert out.column("select_pass").to_pylist() == [2]
    assert out.column("tokens_select").to_pylist()[0] > 0


def _verdicts(attempts: list[str]) -> list:
    return [repair(a, target_words=(3, 8)) for a in attempts]


def test_guard_prefers_quality_then_matching_sentiment() -> None:
    attempts = ["I hated it, a dull mess.", "I loved it so much, a joy.", ""]
    sentiments = [Prediction("negative", 0.9), Prediction("positive", 0.5), Prediction("unknown", 1.0)]
    assert guard(_verdicts(attempts), sentiments, "positive", 5) == ("I loved it so much, a joy.", True)
    assert guard(_verdicts(attempts), sentiments, "negative", 5) == ("I hated it, a dull mess.", True)
    assert guard(_verdicts(["", " "]), sentiments[:2], "positive", 5) == ("", False)
    chatty = ["Sure, here's a review: I loved it.", "I loved it, a joy.", "Rewritten review: A pure joy, loved it."]
    confident = [Prediction("positive", 0.99), Prediction("negative", 0.6), Prediction("positive", 0.5)]
    # the chatter is more confident and matches, but a clean attempt wins; its heading is cut off
    assert guard(_verdicts(chatty), confident, "positive", 5) == ("A pure joy, loved it.", True)
    assert guard(_verdicts(chatty[:2]), confident[:2], "positive", 5) == ("I loved it, a joy.", False)


class _Fixed:
    """A classifier that calls everything negative, so the guard's outcome per label is known."""

    def classify(self, texts: list[str]) -> list[Prediction]:
        return [Prediction("negative", 1.0) for _ in texts]


class _Counting:
    """Wraps the real generator and records the prompts of each call."""

    def __init__(self, inner: TextGenerator) -> None:
        self.inner, self.prompts, self.budgets, self.chats = inner, [], [], []

    def generate(
        self, chats: list[Chat], sampling: Sampling, seeds: list[int], max_tokens: list[int] | None = None
    ) -> list[Completion]:
        self.prompts.append(len(chats))
        self.chats.append(chats)
        self.budgets.append(max_tokens)
        return self.inner.generate(chats, sampling, seeds, max_tokens)


@pytest.mark.parametrize("extra_rounds", [0, 1])
def test_rewrite_guard_outcome_and_extra_rounds(extra_rounds: int) -> None:
    cfg = RewriteConfig(engine=HF, attempts=2, max_tokens=48, extra_rounds=extra_rounds)
    b = batch(SEEDS, abstraction=["A warm film with fine acting.", "A long, boring comedy.", "A slow drama."])
    stage = Rewrite(cfg, DOMAIN, new_key(), 1, "abstraction")
    stage.classifier, stage.generator = _Fixed(), _Counting(stage.generator)
    out = stage(b)
    # positive seed: nothing can match; negative seed: everything does; unlabelled: always a match
    assert out.column("rewrite_1_match").to_pylist() == [False, True, True]
    assert stage.generator.prompts[0] == 3
    assert len(stage.generator.budgets[0]) == 3 and max(stage.generator.budgets[0]) <= 48  # one call, per-row budgets
    if extra_rounds:  # the positive seed never settles, so it is sampled again (and its tokens counted)
        assert len(stage.generator.prompts) >= 2 and 1 <= sum(stage.generator.prompts[1:]) <= 3
    else:
        assert stage.generator.prompts == [3]
    assert all(t > 0 for t in out.column("tokens_rewrite_1").to_pylist())


def test_rewrite_two_passes_keep_the_target_and_fit_it() -> None:
    cfg = RewriteConfig(engine=HF, attempts=2, max_tokens=48)
    b = batch(SEEDS[:2], abstraction=["A warm film with fine acting.", "A long, boring comedy."])
    key = new_key()
    first = Rewrite(cfg, DOMAIN, key, 1, "abstraction")(b)
    assert all(t for t in first.column("rewrite_1").to_pylist())
    # 20 words (the floor) need 23 x 1.5 + 16 = 51 tokens, over the 48 ceiling: the target shrinks to fit
    assert first.column("target_words").to_pylist() == [18, 18]
    second = Rewrite(cfg, DOMAIN, key, 2, "rewrite_1")(first)
    assert second.column("rewrite_2").to_pylist() != first.column("rewrite_1").to_pylist()
    assert second.column("target_words").to_pylist() == [18, 18]


@pytest.mark.parametrize("seed_words", [10, 40, 200, 2000])
def test_length_target_and_max_tokens_fit_the_context(seed_words: int) -> None:
    cfg = RewriteConfig(engine=Engine(max_model_len=512), max_tokens=160)
    target = fit_target(target_words("word " * seed_words, cfg), cfg, DOMAIN)
    high = length_span(target, cfg.length_tolerance)[1]
    first_pass_text = "word " * high
    chat = rewrite_chat(DOMAIN, first_pass_text, "positive", target, second_pass=True)
    budget = row_max_tokens(target, cfg, chat)
    assert estimate_tokens(chat) + budget < 512
    assert budget >= cfg.tokens_per_word * high  # the generation can hold the whole target
    assert target <= max(cfg.min_words, round(0.8 * seed_words))


@pytest.mark.parametrize("target", [3, 12, 20, 40, 90, 400, 1009])
def test_rewrite_prompts_state_no_numbers(target: int) -> None:
    for second in (False, True):
        ask = rewrite_chat(DOMAIN, "a warm film", "positive", target, second_pass=second)[-1]["content"]
        assert not any(ch.isdigit() for ch in ask), ask


def test_prompts_name_the_class_by_its_public_description() -> None:
    """A declared class reaches the prompt as the user's description, never as its raw value ("3"); the
    sentiment set keeps its word; a value outside the set (a classifier's "unknown") adds nothing."""
    topics = Domain(item="question", labels={"3": "a question about sports", "4": "a question about cooking"})
    ask = rewrite_chat(topics, "who won the final", "3", 20, second_pass=False)[-1]["content"]
    assert "short question (a question about sports)" in ask and "3" not in ask
    assert "(" not in rewrite_chat(topics, "who won", "unknown", 20, second_pass=False)[-1]["content"]
    sentiment = rewrite_chat(DOMAIN, "a warm film", "positive", 20, second_pass=False)[-1]["content"]
    assert "short positive movie review" in sentiment


def test_domain_examples_are_earlier_answers() -> None:
    domain = Domain(examples=["A fine film.", "A dull film."])
    chat = rewrite_chat(domain, "a warm film", None, 20, second_pass=False)
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert [chat[2]["content"], chat[4]["content"]] == domain.examples


POOL = ["Fine.", "A dull film.", "Warm and wise.", "Too long by an hour.", "A joy from start to end, truly."]


def test_a_prompt_shows_a_drawn_few_of_the_example_pool() -> None:
    """examples_shown: each prompt shows that many of the pool, drawn per draw; prompts are sized by the longest
    choice (not the whole pool); without it, every example in order."""
    pool = Domain(examples=POOL, examples_shown=2)
    draws = {tuple(shown_examples(pool, random.Random(s))) for s in range(30)}
    assert len(draws) > 5 and all(len(set(d)) == 2 and set(d) <= set(POOL) for d in draws)
    assert shown_examples(pool) == [POOL[4], POOL[3]]
    whole = Domain(examples=POOL)
    assert shown_examples(whole, random.Random(0)) == POOL
    sized = estimate_tokens(rewrite_chat(pool, "", None, 20, True))
    assert sized == estimate_tokens(rewrite_chat(pool, "", None, 20, True, examples=POOL[3:]))
    assert sized < estimate_tokens(rewrite_chat(whole, "", None, 20, True))
    with pytest.raises(ValueError, match="pool has 5 examples"):
        Domain(examples=POOL, examples_shown=6)


def test_a_prompt_for_a_label_draws_its_examples_from_that_label_and_the_shared_pool_only() -> None:
    """examples_by_label: a negative prompt never shows a positive example; prompts are sized over every pool;
    an output that copies a labelled example is an echo; the config refuses a label outside the set and a pool
    smaller than examples_shown."""
    pos, neg = ["Warm and wise.", "A joy."], ["A dull film.", "Too long by an hour.", "Flat."]
    domain = Domain(examples=["Fine."], examples_by_label={"positive": pos, "negative": neg}, examples_shown=2)
    drawn = {e for s in range(40) for e in shown_examples(domain, random.Random(s), "negative")}
    assert drawn == {"Fine.", *neg}
    assert {e for s in range(40) for e in shown_examples(domain, random.Random(s), None)} == {"Fine.", *pos, *neg}
    assert shown_examples(domain) == ["Too long by an hour.", "Warm and wise."]  # sized by the longest anywhere
    assert "instruction_echo" in judge("Too long by an hour. A dull film indeed.", domain, None).reasons
    with pytest.raises(ValueError, match="outside the label set"):
        Domain(examples_by_label={"neutral": ["Fine."]})
    with pytest.raises(ValueError, match="a label's pool has 2"):
        Domain(examples_by_label={"positive": pos, "negative": neg}, examples_shown=3)


def test_rewrite_rows_see_keyed_draws_of_the_pool() -> None:
    """Each row's prompt shows its own draw, fixed by the run's key: the same key draws the same examples again
    (a resumed run rebuilds the same prompts), another key others."""
    pool = Domain(examples=POOL, examples_shown=2)
    cfg = RewriteConfig(engine=HF, attempts=1, max_tokens=16, extra_rounds=0)
    b = batch(SEEDS, abstraction=["A warm film with fine acting.", "A long, boring comedy.", "A slow drama."])

    def shown(key: object) -> list[tuple[str, ...]]:
        stage = Rewrite(cfg, pool, key, 1, "abstraction")
        stage.classifier, stage.generator = _Fixed(), _Counting(stage.generator)
        stage(b)
        return [tuple(m["content"] for m in chat if m["role"] == "assistant") for chat in stage.generator.chats[0]]

    key = new_key()
    first = shown(key)
    assert all(len(s) == 2 and set(s) <= set(POOL) for s in first) and len(set(first)) > 1
    assert shown(key) == first
    assert shown(new_key()) != first


def test_a_document_prompt_is_a_page_to_continue() -> None:
    """prompt_style document: one document message (no system turn, no request to answer), the public
    examples as earlier entries, the abstraction as the next entry's topic, its kind and size in words."""
    domain = Domain(examples=["A fine film.", "A dull film."])
    first = rewrite_chat(domain, "a warm film", "positive", 20, False, "document")
    assert [m["role"] for m in first] == ["document"]
    page = first[0]["content"]
    assert page.index("A fine film.") < page.index("A dull film.") < page.index("topic: a warm film")
    assert page.endswith("Movie review (short positive movie review), topic: a warm film\n")
    assert not any(ch.isdigit() for ch in page)
    second = rewrite_chat(domain, "The film is warm.", "positive", 20, True, "document")[0]["content"]
    assert second.endswith("on the same points as this one: The film is warm.\n")
    bare = rewrite_chat(domain, "a warm film", "positive", 20, False, "chat_without_system")
    assert [m["role"] for m in bare] == ["user", "assistant", "user", "assistant", "user"]


def test_abstract_cuts_an_overlong_seed_on_purpose_and_flags_it() -> None:
    long_seed = " ".join(["The film follows a family through a long hard winter on the farm."] * 60)
    cfg = AbstractConfig(
        engine=Engine(kind="transformers", dtype="float32", max_model_len=256), candidates=1, max_tokens=16
    )
    chat, cut = fit_abstraction_chat(DOMAIN, long_seed, cfg)
    assert cut and estimate_tokens(chat) + cfg.max_tokens < 256
    assert fit_abstraction_chat(DOMAIN, SEEDS[0][1], cfg) == (abstraction_chat(DOMAIN, SEEDS[0][1]), False)
    first_person = cfg.model_copy(update={"prompt_style": "first_person"})
    stage = Abstract(first_person, DOMAIN, new_key())
    stage.generator = _Counting(stage.generator)
    out = stage(batch([("long", long_seed, None), SEEDS[0]]))
    # the stage asks in the config's style, and the selection's retry asks alike
    assert stage.generator.chats[0][1] == abstraction_chat(DOMAIN, SEEDS[0][1], "first_person")
    retry = Select._retry_chat(SimpleNamespace(domain=DOMAIN, abstract=first_person), SEEDS[0][1])
    assert retry == stage.generator.chats[0][1]
    assert "in the first person" in retry[-1]["content"]
    assert "in the first person" not in chat[-1]["content"]
    assert out.column("flag_seed_truncated").to_pylist() == [True, False]


def test_quality_stage_fixes_or_drops_with_the_detector_reason() -> None:
    good = "A warm, funny film with two terrific leads and a script that never talks down to anyone."
    texts = [
        good,
        f"Rewritten movie review: {good}",
        "Rewrite this movie review in 29 to 39 words: a warm film with terrific leads and a good script.",
        f"{good} The ending comes far too",
        "Your review is warm and genuine, and I can only imagine how much you loved this film and its cast.",
    ]
    rows = batch([(f"q{i}", "seed", None) for i in range(5)], synthetic_text=texts, target_words=[16] * 5)
    out = Quality(QualityConfig(), DOMAIN, 0.15)(rows)
    assert out.column("status").to_pylist() == ["ok", "ok", "dropped", "ok", "dropped"]
    # the first reason in the detector's order ("Your review is ..." is meta-talk and chatter)
    assert out.column("reason").to_pylist() == [None, None, "instruction_echo", None, "meta_talk"]
    assert out.column("synthetic_text").to_pylist()[:2] == [good, good]
    assert out.column("synthetic_text").to_pylist()[3] == good  # cut back to its last full sentence
    untrimmed = Quality(QualityConfig(trim_truncated=False), DOMAIN, 0.15)(rows)
    assert untrimmed.column("reason").to_pylist()[3] == "truncated"


def test_redact_catches_planted_pii() -> None:
    fake = Faker()
    Faker.seed(11)
    name, email, phone = fake.name(), fake.email(), "(555) 123-4567"
    text = (
        f"My friend {name} emailed {email} and called {phone} about account AB123456 from Chicago; see https://x.io/a"
    )
    stage = Redact(RedactConfig(), DOMAIN, "rewrite_2")
    out = stage(batch([("p1", "seed", None)], rewrite_1=["x"], rewrite_2=[text]))
    cleaned = out.column("synthetic_text").to_pylist()[0]
    for secret in (name, email, phone, "AB123456", "https://x.io/a", "Chicago"):
        assert secret not in cleaned, secret
    for placeholder in ("[PERSON]", "[EMAIL]", "[PHONE]", "[ID]", "[URL]", "[GPE]"):
        assert placeholder in cleaned
    assert out.column("pii_email").to_pylist() == [1] and out.column("pii_person").to_pylist()[0] >= 1


@pytest.mark.parametrize(
    ("kind", "secret"),
    [
        ("PHONE", "+44 20 7946 0958"),
        ("PHONE", "+49 30 12345678"),
        ("PHONE", "+33 1 23 45 67 89"),
        ("PHONE", "+61 2 9876 5432"),
        ("PHONE", "0044 20 7946 0958"),
        ("PHONE", "+91 98765 43210"),
        ("PHONE", "+81-3-1234-5678"),
        ("PHONE", "+1-555-123-4567"),
        ("PHONE", "555.123.4567"),
        ("PHONE", "07700 900123"),
        ("URL", "www.example.com"),
        ("URL", "www.example.co.uk/path?a=1"),
        ("URL", "example.com/login"),
        ("ID", "AB-1234-5678"),
        ("ID", "X12-345-678"),
        ("ID", "123-45-6789"),
        ("ID", "1234-5678-9012-3456"),
        ("ID", "ACC-00123456"),
        ("ID", "GB29 NWBK 6016 1331 9268 19"),
        ("ID", "DE89370400440532013000"),
    ],
)
def test_redact_patterns_cover_international_formats(kind: str, secret: str) -> None:
    cleaned, counts = redact_patterns(f"Reach me on {secret} today.")
    assert cleaned == f"Reach me on [{kind}] today."
    assert counts[kind] == 1 and sum(counts.values()) == 1


@pytest.mark.parametrize(
    "text",
    [
        "A moving film about two sisters, shot in 1999 with a cast of 12.",
        "Rated PG-13, it runs 125 minutes and cost $40 million in 2002.",
        "Better than its 2016-2017 run; I give it 3.5 out of 5, a 9/10 for the score.",
        "COVID-19 delayed it, but the MP3 soundtrack is great.",
    ],
)
def test_redact_leaves_plain_text_alone(text: str) -> None:
    assert redact_patterns(text) == (text, {"EMAIL": 0, "URL": 0, "ID": 0, "PHONE": 0})


def test_redact_covers_organisations_where_they_identify_the_writer() -> None:
    text = "I moved my savings from Barclays to HSBC after the branch in Leeds closed."
    personal = Redact(RedactConfig(), Domain(name="posts", item="post", organisations_identify=True), "rewrite_1")
    out = personal(batch([("p1", "seed", None)], rewrite_1=[text]))
    cleaned = out.column("synthetic_text").to_pylist()[0]
    assert "Barclays" not in cleaned and "HSBC" not in cleaned and "[ORG]" in cleaned
    assert out.column("pii_org").to_pylist()[0] >= 1
    critics = Redact(RedactConfig(), DOMAIN, "rewrite_1")
    assert "pii_org" not in critics(batch([("p1", "seed", None)], rewrite_1=[text])).column_names
    assert RedactConfig(entity_types=["PERSON"]).labels(Domain(organisations_identify=True)) == ["PERSON"]


def test_nll_filter_drops_outside_bounds() -> None:
    texts = ["The film is a tedious, overlong mess with no heart.", "zxq vbn lkj qwe poi mnb asd fgh"]
    rows = batch([("a", "s", None), ("b", "s", None)], synthetic_text=texts)
    stage = NllFilter(NllFilterConfig(engine=HF), bounds=None)
    nll = stage(rows).column("nll").to_pylist()
    assert nll[1] > nll[0] + 1.0  # gibberish is much less likely than prose
    stage.lo, stage.hi = 0.5, (nll[0] + nll[1]) / 2
    out = stage(rows)
    assert out.column("status").to_pylist() == ["ok", "dropped"]
    assert out.column("stage").to_pylist()[1] == "nll_filter" and "above hi" in out.column("reason").to_pylist()[1]


def test_similarity_filter_drops_copies_of_private_records() -> None:
    cfg = SimilarityFilterConfig(threshold=0.9)
    index = load_embedder(cfg.embedder).embed([t for _, t, _ in SEEDS])
    outputs = [SEEDS[1][1], "A quiet documentary about bees and the people who keep them."]
    out = SimilarityFilter(cfg, lambda: IndexShard(index))(
        batch([("a", "s", None), ("b", "s", None)], synthetic_text=outputs)
    )
    sims = out.column("max_similarity").to_pylist()
    assert sims[0] == pytest.approx(1.0, abs=1e-3) and sims[1] < 0.9
    assert out.column("status").to_pylist() == ["dropped", "ok"]
