"""Private prediction: the accountant's figures (and an independent library's), and the real decoding step on
SmolLM2's logits: its token distribution is the exact mechanism, one record moves it by at most the accounted η,
and a clip of 0 leaves no trace of the records."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pytest
from scipy.stats import chi2

from rpsg_ray.privacy.private_prediction import PredictionBudget, calibrate_clip, rdp_epsilon, zcdp_epsilon

if TYPE_CHECKING:
    from rpsg_ray.engines.lockstep import LockstepDecoder

DELTA = 1e-5


@pytest.mark.parametrize(
    ("group_size", "outputs", "clip", "epsilon"),
    [(16, 4, 1.0, 4.0), (32, 8, 1.0, 2.7), (32, 32, 0.5, 2.7)],  # the budget sketch (N = 2,000, 48 tokens)
)
def test_budget_matches_the_worked_figures(group_size: int, outputs: int, clip: float, epsilon: float) -> None:
    budget = PredictionBudget(clip, group_size, 1.0, 48, outputs)
    assert budget.mechanisms == 48 * outputs
    assert budget.rho == pytest.approx(48 * outputs * (2 * clip / group_size) ** 2 / 8)
    assert budget.epsilon(DELTA) == pytest.approx(epsilon, abs=0.05)


@pytest.mark.parametrize("rho", [1e-4, 0.01, 0.2, 1.0, 5.0])
def test_zcdp_conversion_agrees_with_dp_accounting(rho: float) -> None:
    """Our closed-form conversion against dp-accounting's RDP accountant, and never above the textbook bound."""
    ours = zcdp_epsilon(rho, DELTA)
    assert ours == pytest.approx(rdp_epsilon(rho, DELTA), rel=0.01)
    assert ours <= rho + 2 * math.sqrt(rho * math.log(1 / DELTA)) + 1e-9


def test_epsilon_composes_over_tokens_and_outputs() -> None:
    """Twice the tokens (or twice the outputs per group) is twice ρ; a record's group alone counts (parallel)."""
    one = PredictionBudget(1.0, 16, 1.0, 48, 4)
    assert PredictionBudget(1.0, 16, 1.0, 96, 4).rho == pytest.approx(2 * one.rho)
    assert PredictionBudget(1.0, 16, 1.0, 48, 8).rho == pytest.approx(2 * one.rho)
    assert PredictionBudget(1.0, 16, 2.0, 48, 4).rho == pytest.approx(one.rho / 4)


def test_calibrated_clip_spends_exactly_the_budget() -> None:
    clip = calibrate_clip(2.0, DELTA, 16, 1.0, 48, 4)
    assert PredictionBudget(clip, 16, 1.0, 48, 4).epsilon(DELTA) == pytest.approx(2.0, abs=1e-6)
    assert clip < calibrate_clip(4.0, DELTA, 16, 1.0, 48, 4)


# The decoding step on real logits ---------------------------------------------------------------------------------

RECORDS = [
    "A stunning, heartfelt film about a jazz pianist in Harlem and the daughter he never met.",
    "The sharks in this ocean thriller are terrifying, and the cast of unknowns is superb.",
    "A quiet drama about grief on a Scottish island, shot in long, grey, beautiful takes.",
]


def _chat(user: str) -> list[dict[str, str]]:
    system = "You write short, realistic movie reviews."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


PUBLIC = _chat("Write a positive movie review of 20 to 40 words. Output only the text.")
PRIVATE = [_chat(f"Here is a positive movie review:\n\n{r}\n\nWrite a new one on a similar subject.") for r in RECORDS]


@pytest.fixture(scope="module")
def decoder() -> LockstepDecoder:
    from rpsg_ray.engines.base import EngineSpec
    from rpsg_ray.engines.lockstep import LockstepDecoder
    from rpsg_ray.engines.registry import SMOLLM2, resolve_model_path

    spec = EngineSpec(kind="transformers", model=SMOLLM2, dtype="float32", threads=2)
    return LockstepDecoder(resolve_model_path(SMOLLM2), spec)


@pytest.fixture(scope="module")
def logits(decoder: LockstepDecoder) -> np.ndarray:
    """Next-token logits of the public prompt (row 0) and the three private ones, first step."""
    import torch

    from rpsg_ray.engines.chat import prompt_ids

    rows = [prompt_ids(decoder.tokenizer, c, 400) for c in [PUBLIC, *PRIVATE]]
    ids, mask = decoder._left_padded(rows)
    with torch.no_grad():
        out = decoder.model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(1) - 1).clamp(min=0))
    return out.logits[:, -1].float().numpy()


def _exact(
    z: np.ndarray, clip: float, group_size: int, temperature: float, top_k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The mechanism written out independently in numpy: the top-k tokens of the public row and their probabilities."""
    public, private = z[0], z[1:]
    mixed = public + np.clip(private - public, -clip, clip).sum(axis=0) / group_size
    top = np.argsort(-public)[:top_k]
    scaled = mixed[top] / temperature
    p = np.exp(scaled - scaled.max())
    return top, p / p.sum()


def _draws(logits: np.ndarray, clip: float, temperature: float, n: int) -> np.ndarray:
    import torch

    from rpsg_ray.engines.lockstep import TokenRule, private_logprobs, sample

    z = torch.from_numpy(logits)
    rule = TokenRule(clip, 2, temperature, 20)
    logp = private_logprobs(z[:1], z[1:], torch.zeros(3, dtype=torch.long), rule)
    generators = [torch.Generator().manual_seed(1000 + i) for i in range(n)]
    return sample(logp.expand(n, -1), generators, rule.top_k).numpy()


def _g_test(draws: np.ndarray, top: np.ndarray, p: np.ndarray) -> float:
    """p-value of the draws under the distribution p over `top` (cells with expected count < 5 pooled)."""
    observed = np.array([(draws == t).sum() for t in top], float)
    expected = p * len(draws)
    assert observed.sum() == len(draws)  # no draw outside the public top-k
    small = expected < 5
    observed = np.append(observed[~small], observed[small].sum())
    expected = np.append(expected[~small], expected[small].sum())
    keep = expected > 0
    stat = 2 * np.sum(np.where(observed[keep] > 0, observed[keep] * np.log(observed[keep] / expected[keep]), 0.0))
    return float(chi2.sf(stat, keep.sum() - 1))


def test_decoding_step_draws_from_the_exact_mechanism(logits: np.ndarray) -> None:
    """20,000 draws of the real step match the mechanism at its (C, τ), and reject it at C or τ off by 20%."""
    clip, temperature = 1.5, 0.7
    draws = _draws(logits, clip, temperature, 20_000)
    assert _g_test(draws, *_exact(logits, clip, 2, temperature, 20)) > 1e-3
    assert _g_test(draws, *_exact(logits, 1.2 * clip, 2, temperature, 20)) < 1e-6
    assert _g_test(draws, *_exact(logits, clip, 2, 1.2 * temperature, 20)) < 1e-6


def test_one_record_moves_each_token_by_at_most_eta(decoder: LockstepDecoder, logits: np.ndarray) -> None:
    """Removing any one record changes no token's log-probability by more than η = 2C/(sτ), on real logits;
    without the clip the same removal moves it far more (so the bound is the clip's doing)."""
    import torch

    from rpsg_ray.engines.lockstep import TokenRule, private_logprobs
    from rpsg_ray.privacy.private_prediction import token_eta

    z = torch.from_numpy(logits)
    for clip in (0.5, 2.0):
        rule = TokenRule(clip, 3, 0.8, 50)
        full = private_logprobs(z[:1], z[1:], torch.zeros(3, dtype=torch.long), rule)
        for gone in range(3):
            kept = [i + 1 for i in range(3) if i != gone]
            less = private_logprobs(z[:1], z[kept], torch.zeros(2, dtype=torch.long), rule)
            finite = torch.isfinite(full)
            moved = float((full[finite] - less[finite]).abs().max())
            assert moved <= token_eta(clip, 3, 0.8) + 1e-5
    unclipped = TokenRule(math.inf, 3, 0.8, 50)
    full = private_logprobs(z[:1], z[1:], torch.zeros(3, dtype=torch.long), unclipped)
    less = private_logprobs(z[:1], z[2:], torch.zeros(2, dtype=torch.long), unclipped)
    assert float((full - less)[torch.isfinite(full)].abs().max()) > token_eta(2.0, 3, 0.8)


def test_clip_zero_leaves_no_trace_of_the_records(decoder: LockstepDecoder) -> None:
    """At C = 0 the records' rows cannot move a token: every draft is the public prompt's alone, token for token,
    with or without them; at C > 0 the same seeds decode something else."""
    from rpsg_ray.engines.lockstep import GroupPrompt, TokenRule

    blind = TokenRule(0.0, 3, 1.0, 50)
    with_records = decoder.decode([GroupPrompt(PUBLIC, PRIVATE, [7, 8])], blind, 12, ())
    without = decoder.decode([GroupPrompt(PUBLIC, [], [7, 8])], blind, 12, ())
    assert with_records == without and min(d.tokens for d in with_records[0]) > 3
    seen = decoder.decode([GroupPrompt(PUBLIC, PRIVATE, [7, 8])], TokenRule(8.0, 3, 1.0, 50), 12, ())
    assert seen[0][0] != with_records[0][0] and seen[0][1] != with_records[0][1]


def test_drafts_of_a_group_share_its_prefill_and_keep_their_own_seed(decoder: LockstepDecoder) -> None:
    """A group's m drafts decoded together (one prefill, copied caches) are each the draft its seed gives when
    decoded alone, beside another group in the same batch: no draft reads another's cache or draws."""
    from rpsg_ray.engines.lockstep import GroupPrompt, TokenRule

    rule = TokenRule(2.0, 3, 1.0, 50)
    other = GroupPrompt(PUBLIC, PRIVATE[:1], [5])
    together = decoder.decode([GroupPrompt(PUBLIC, PRIVATE, [11, 12]), other], rule, 10, ())
    alone = [decoder.decode([GroupPrompt(PUBLIC, PRIVATE, [seed])], rule, 10, ())[0][0] for seed in (11, 12)]
    assert together[0] == alone and together[0][0] != together[0][1]
    assert together[1] == decoder.decode([other], rule, 10, ())[0]


def test_shared_prefixes_stop_where_a_record_prompt_leaves_its_public_prompt() -> None:
    """A group's prefix is what its public prompt and every record prompt share (public tokens only, however alike
    the records are), and every row keeps at least its last token to read."""
    from rpsg_ray.engines.lockstep import shared_prefixes

    rows = [[1, 2, 3, 4, 6], [1, 2, 3, 5, 6], [7, 8, 9], [1, 2, 3, 4]]
    publics = [[1, 2, 9], [7, 8, 9, 10], [5], []]
    prefixes, prefix_of = shared_prefixes(rows, [[0, 1], [2], [3], []], publics)
    assert prefixes == [[1, 2], [7, 8], []] and prefix_of == [0, 0, 1, 2]  # rows 0, 1 share 3; the public 2


def test_a_shared_prefix_read_once_gives_the_logits_of_whole_prompts(decoder: LockstepDecoder) -> None:
    """Reading each group's prefix once and then only the rows' tails (padding between them, positions going on
    after the prefix) gives every row, at every step, the logits of reading its whole prompt."""
    import torch

    from rpsg_ray.engines.chat import prompt_ids
    from rpsg_ray.engines.lockstep import _Stream, shared_prefixes

    other = [{"role": "user", "content": "Tell me about a film you saw."}]
    ids = [prompt_ids(decoder.tokenizer, c, 400) for c in [*PRIVATE, PUBLIC, other]]
    rows, public = [*ids[:3], ids[1], ids[4], ids[2]], ids[3]
    shared = shared_prefixes(rows, [[0, 1, 2], [3, 4], [5]], [public, public, public])
    assert len(shared[0][0]) > 10 and public[: len(shared[0][0])] == shared[0][0]  # read once, then the tails
    copies = [0, 1, 2, 2, 3, 4, 5, 5]
    with torch.no_grad():
        whole = _Stream(decoder, rows, copies)
        parts = _Stream(decoder, rows, copies, shared)
        for _ in range(3):
            assert torch.allclose(whole.logits, parts.logits, atol=1e-3)
            token = whole.logits.argmax(dim=1)
            whole.advance(token)
            parts.advance(token)


def test_a_record_joins_one_group_that_no_other_record_moves() -> None:
    """Adding records leaves every other record's group as it was (the parallel composition's premise), a record
    of an unknown label still lands in exactly one group, and an empty group still yields its m drafts."""
    import pyarrow as pa

    from rpsg_ray.config import Domain
    from rpsg_ray.methods.rpsg_dp import assign_groups, group_row
    from rpsg_ray.privacy.keys import new_key

    key, domain = new_key(), Domain()
    classes = domain.classes

    def groups(n: int) -> dict[str, int]:
        ids = [f"r{i}" for i in range(n)]
        labels = [classes[i % 2] if i % 7 else None for i in range(n)]
        table = pa.table({"id": ids, "label": labels, "prompt_text": ["x"] * n})
        return dict(zip(ids, assign_groups(table, key, classes, 5).column("group").to_pylist(), strict=True))

    small, large = groups(40), groups(80)
    assert all(large[i] == g for i, g in small.items())
    assert all(0 <= g < 10 for g in large.values())
    assert all(large[f"r{i}"] // 5 == i % 2 for i in range(80) if i % 7)  # a known label keeps its own block
    empty = group_row(pa.table({"group": [7], "record": pa.nulls(1, pa.string())}), key, domain, 5, 3, False)
    assert empty.column("records").to_pylist() == [[]] and len(empty.column("seeds")[0]) == 3
    assert empty.column("label").to_pylist() == [classes[1]]  # group 7 of 5 per label: the second block


def test_a_group_shows_keyed_public_examples_that_its_public_and_record_prompts_share() -> None:
    """The examples cost no ε only if the public row shows exactly what each record's prompt shows (the record is
    the only difference); a group's draw is fixed by the key and its public index, and groups vary."""
    import pyarrow as pa

    from rpsg_ray.config import Domain
    from rpsg_ray.methods.rpsg_dp import example_chat, group_examples, group_row, public_chat
    from rpsg_ray.privacy.keys import new_key

    pool = [f"Public example number {i}." for i in range(8)]
    domain, key = Domain(examples=pool, examples_shown=2), new_key()
    draws = [group_examples(domain, key, g, "positive", show=True) for g in range(12)]
    assert draws[3] == group_examples(domain, key, 3, "positive", show=True)
    assert draws != [
        group_examples(domain, new_key(), g, "positive", show=True) for g in range(12)
    ]  # the key draws them
    assert all(len(d) == 2 and set(d) <= set(pool) for d in draws) and len({tuple(d) for d in draws}) > 3
    assert group_examples(domain, key, 3, "positive", show=False) == []
    placeholder = pa.table({"group": [3], "record": pa.nulls(1, pa.string())})
    assert group_row(placeholder, key, domain, 2, 1, True).column("examples").to_pylist() == [draws[3]]
    public = public_chat(domain, "positive", draws[3])
    private = example_chat(domain, "positive", "A private record.", draws[3])
    assert private[:-1] == public[:-1] and [t["content"] for t in public if t["content"] in draws[3]] == draws[3]
    assert "A private record." in private[-1]["content"] and public[-1]["content"] in private[-1]["content"]


def test_the_decode_stage_gives_each_record_the_group_prompt_and_fits_long_records_by_their_tail() -> None:
    """What the actor hands the decoder: per group, the public prompt with its examples and one prompt per record
    that differs from it only in the last turn; a record too long for the context loses its tail there, not
    the examples (the engine would cut the prompt's middle)."""
    import pyarrow as pa

    from rpsg_ray.config import Domain
    from rpsg_ray.engines.lockstep import Draft, GroupPrompt
    from rpsg_ray.methods.rpsg_dp import PrivateDecode
    from rpsg_ray.stages.prompts import estimate_tokens

    seen: list[GroupPrompt] = []

    class Decoder:  # the lock-step decoder's interface, recording what it is given
        max_model_len = 256

        def decode(self, groups: list[GroupPrompt], *_: object) -> list[list[Draft]]:
            seen.extend(groups)
            return [[Draft("A draft.", 3) for _ in g.seeds] for g in groups]

    stage = PrivateDecode.__new__(PrivateDecode)
    stage.decoder, stage.domain, stage.rule, stage.max_tokens, stage.stop = Decoder(), Domain(), None, 48, ()
    shown = ["Public example one.", "Public example two."]
    long_record = "start " + "word " * 400 + "END"
    batch = pa.table(
        {"group": [0], "label": ["positive"], "records": [["A short record.", long_record]], "seeds": [[1, 2]]}
    ).append_column("examples", pa.array([shown]))
    drafts = stage(batch)
    assert drafts.num_rows == 2 and drafts.column("id").to_pylist() == ["rpsg_dp-0-0", "rpsg_dp-0-1"]
    (group,) = seen
    assert [t["content"] for t in group.public if t["content"] in shown] == shown
    assert all(chat[:-1] == group.public[:-1] for chat in group.private)
    short, fitted = (chat[-1]["content"] for chat in group.private)
    assert "A short record." in short and "start word" in fitted and "END" not in fitted
    assert estimate_tokens(group.private[1]) <= Decoder.max_model_len - 48
