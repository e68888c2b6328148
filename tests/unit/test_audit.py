"""`rpsg audit` without models: metrics against known answers, the split, canary planting and leak counts,
published-field attacks, membership from lineage, and both controls on real text with the text-only attacks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rpsg_ray.audit import canaries
from rpsg_ray.audit.attacks import (
    Attack,
    TextSet,
    ngram_overlap,
    rare_word_overlap,
    replay_by_type,
    rerun_attacks,
    tfidf_similarity,
    verbatim_copies,
)
from rpsg_ray.audit.controls import perturb, unrelated_records, verdict
from rpsg_ray.audit.metrics import evaluate_scores
from rpsg_ray.audit.published import published_attacks
from rpsg_ray.audit.records import read_records, run_membership
from rpsg_ray.audit.split import split_file
from rpsg_ray.cli import main
from rpsg_ray.errors import ConfigError, InputError


def test_perfectly_separated_scores_give_auc_one_and_full_tpr() -> None:
    m = evaluate_scores(np.array([5.0, 6, 7, 8]), np.arange(200.0) / 100, bootstrap=200)
    assert (m.auc.value, m.auc.lo, m.auc.hi) == (1.0, 1.0, 1.0)
    assert m.tpr_at_fpr[0.01].value == 1.0 and m.tpr_at_fpr[0.001].value == 1.0


def test_identical_distributions_give_auc_near_half_with_an_interval_covering_it() -> None:
    rng = np.random.default_rng(1)
    m = evaluate_scores(rng.normal(size=2000), rng.normal(size=2000), bootstrap=300)
    assert abs(m.auc.value - 0.5) < 0.03 and m.auc.covers(0.5)
    assert m.tpr_at_fpr[0.01].value < 0.03


def test_auc_and_tpr_at_fpr_on_a_hand_made_case() -> None:
    non_members = np.arange(100.0)  # 0..99
    members = np.array([98.5, 99.5, 50.0, 10.0])
    m = evaluate_scores(members, non_members, bootstrap=50)
    # per member: share of non-members below it, ties counted half: .99, 1.0, .505, .105
    assert m.auc.value == pytest.approx((0.99 + 1.0 + 0.505 + 0.105) / 4)
    # 1% FPR: one false positive allowed, threshold at 98 -> 98.5 and 99.5 are caught
    assert m.tpr_at_fpr[0.01].value == pytest.approx(0.5)
    # 0.1% FPR with 100 non-members: no false positive allowed, threshold at 99
    assert m.tpr_at_fpr[0.001].value == pytest.approx(0.25)
    assert m.resolvable(0.01) and not m.resolvable(0.001)


def _write(path: Path, n: int, prefix: str = "r") -> Path:
    ids = [f"{prefix}{i:03d}" for i in range(n)]
    texts = [f"record number {i} says something particular about film {i % 7}" for i in range(n)]
    pq.write_table(pa.table({"id": ids, "text": texts, "label": ["positive", "negative"] * (n // 2)}), path)
    return path


def test_split_is_disjoint_complete_in_order_and_fresh_each_time(tmp_path: Path) -> None:
    source = _write(tmp_path / "private.parquet", 100)
    a = split_file(source, 0.3, tmp_path / "a")
    b = split_file(source, 0.3, tmp_path / "b")
    ma, na = read_records(a.members).ids, read_records(a.non_members).ids
    assert (len(ma), len(na)) == (70, 30)
    assert set(ma).isdisjoint(na) and set(ma) | set(na) == set(read_records(source).ids)
    assert ma == sorted(ma)
    assert ma != read_records(b.members).ids  # a fresh secret per split (equal with probability ~1e-25)
    with pytest.raises(ConfigError):
        split_file(source, 1.0, tmp_path / "c")
    assert a.control is None and not (tmp_path / "a" / "control.parquet").exists()


def test_split_holds_back_a_control_in_neither_set(tmp_path: Path) -> None:
    source = _write(tmp_path / "private.parquet", 100)
    s = split_file(source, 0.3, tmp_path / "s", control=0.2)
    assert s.control is not None
    sides = [set(read_records(p).ids) for p in (s.members, s.non_members, s.control)]
    assert [len(x) for x in sides] == [50, 30, 20] == list(s.counts)
    assert set().union(*sides) == set(read_records(source).ids) and sum(map(len, sides)) == 100
    with pytest.raises(ConfigError):
        split_file(source, 0.5, tmp_path / "t", control=0.5)  # nothing left for the members


def test_split_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _write(tmp_path / "private.parquet", 10)
    assert main(["audit", "split", str(source), "--holdout", "0.5", "--output", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "members.parquet (4 rows)" in out and "(5 rows)" in out and "control.parquet (1 rows" in out


SMALL = {1: 8, 2: 2, 4: 1, 8: 1}


def test_canaries_are_planted_the_requested_number_of_times_with_a_seeded_generator(tmp_path: Path) -> None:
    source = _write(tmp_path / "private.parquet", 100)
    planted, listing, placed = canaries.plant(source, tmp_path / "c1", seed=7, counts=SMALL)
    table = read_records(planted)
    assert table.ids[:100] == read_records(source).ids and table.texts[:100] == read_records(source).texts
    people = [c for c in placed if c.kind == "person"]
    assert sorted(c.repeats for c in people) == sorted(r for r, n in SMALL.items() for _ in range(n))
    assert sorted(c.repeats for c in placed if c.kind == "suffix") == sorted(SMALL)
    assert {c.setting for c in people} == set(canaries.SETTINGS)
    assert {f for c in people for f in c.fields} == {"name", *canaries.FIELDS}
    hosts = [h for c in placed for h in c.host_ids]
    assert len(hosts) == len(set(hosts))  # distinct host records: the pipeline would drop repeated texts
    for c in placed:
        for value in c.fields.values():
            carrying = [i for i, t in zip(table.ids, table.texts, strict=True) if value in t]
            assert sorted(carrying) == sorted(c.copy_ids) and len(carrying) == c.repeats
    again = canaries.plant(source, tmp_path / "c2", seed=7, counts=SMALL)[2]
    other = canaries.plant(source, tmp_path / "c3", seed=8, counts=SMALL)[2]
    assert [c.secret for c in again] == [c.secret for c in placed]
    assert [c.secret for c in other] != [c.secret for c in placed]
    assert canaries.load_canaries(listing) == placed


def _canary(fields: dict[str, str]) -> canaries.Canary:
    sentence = " ".join(fields.values())
    return canaries.Canary("canary-000", "person", "introduction", fields, sentence, 1, ["x"], ["h"], "a fine film")


def test_leak_counts_verbatim_full_name_and_partial() -> None:
    c = _canary({"name": "Zofia Nowak", "phone": "(555) 201-3344"})
    texts = [
        "Call (555) 201-3344 now",  # verbatim field
        "ring 555.201.3344 today",  # partial: the digits re-spaced
        "Zofia Nowak was there",  # verbatim, full name
        "Mrs Nowak said so",  # partial: the surname alone
        "a film about phones, Nowakowski",  # nothing: a longer word is not the surname
        "Zofia Nowakowska and a nowak in lower case",  # nothing: not the full name, not the surname as planted
    ]
    assert canaries.leak_counts(c, texts) == (2, 1, 2)


def test_partial_matches_of_never_planted_people_measure_chance() -> None:
    control = canaries.draw_identities(3 + canaries.CONTROL_OFFSET, 5)
    texts = ["nothing here", f"we met {control[2].family} once"]
    assert canaries.chance_partials(3, 5, texts) == 1
    assert canaries.chance_partials(3, 5, ["nothing here"]) == 0


def test_exposure_is_high_when_the_model_prefers_the_secret_and_low_when_it_cannot_tell() -> None:
    c = _canary({"name": "Zofia Nowak", "email": "someone@example.org"})
    best, rank = canaries.exposure(c, 1, 99, lambda texts: np.array([0.0] + [1.0] * (len(texts) - 1)))
    assert rank == 1 and best == pytest.approx(math.log2(100))
    flat, rank = canaries.exposure(c, 1, 99, lambda texts: np.zeros(len(texts)))
    assert flat == pytest.approx(math.log2(100) - math.log2(50.5))


def test_published_attacks_use_every_column_and_file_and_find_a_linking_field() -> None:
    ids = ["m1", "m2", "n1", "n2"]
    emb = np.eye(4, dtype=np.float32)
    candidates = TextSet(["a b c", "d e f", "g h i", "j k l"], ["positive"] * 4, emb)
    synthetic = TextSet(
        ["a b", "d e"],
        ["positive", "negative"],
        emb[:2],
        {"synthetic_id": ["x1", "x2"], "source_id": ["m1", "m2"], "max_sim": [0.9, 0.8]},
    )
    scores, fields = published_attacks(candidates, ids, synthetic, {"manifest.json": "note\nn2\nn1x"})
    assert {f.field for f in fields} >= {"text", "label", "synthetic_id", "source_id", "max_sim"}
    assert scores["column:source_id"].tolist() == [1, 1, 0, 0]
    assert scores["column:synthetic_id"].tolist() == [0, 0, 0, 0]
    assert scores["column:max_sim"].tolist() == pytest.approx([0.9, 0.8, 0.9, 0.9])
    assert scores["mentions:manifest.json"].tolist() == [0, 0, 0, 1]


def test_members_are_the_seeds_the_run_used(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "private").mkdir(parents=True)
    pq.write_table(pa.table({"synthetic_id": ["s"], "text": ["t"], "label": ["positive"]}), run / "synthetic.parquet")
    lineage = {"seed_id": ["a", "b", "c", "d"], "status": ["ok", "dropped", "not_sampled", "quarantined"]}
    pq.write_table(pa.table(lineage), run / "private" / "lineage.parquet")
    m = run_membership(run)
    assert m.used == {"a", "b"} and m.seen == {"a", "b", "c", "d"}
    (run / "private" / "lineage.parquet").unlink()
    with pytest.raises(InputError, match="lineage"):  # every method writes one: no guessing without it
        run_membership(run)
    with pytest.raises(InputError):
        run_membership(tmp_path)


@pytest.fixture(scope="module")
def real_split(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    from rpsg_ray.demo_data import write_demo_corpus

    texts = read_records(write_demo_corpus(tmp_path_factory.mktemp("rt") / "rt.parquet", 900)).texts
    order = np.random.default_rng(3).permutation(len(texts))
    return [texts[i] for i in order[:300]], [texts[i] for i in order[300:]]


@pytest.mark.parametrize("attack", [ngram_overlap, rare_word_overlap, tfidf_similarity])
def test_controls_on_real_text(attack: Attack, real_split: tuple[list[str], list[str]]) -> None:
    """Members lightly perturbed must be seen; unrelated tweets must not separate members from non-members."""
    members, non_members = real_split
    texts = members + non_members
    candidates = TextSet(texts, [""] * len(texts), np.zeros((len(texts), 1)))
    is_member = np.r_[np.ones(len(members), bool), np.zeros(len(non_members), bool)]
    positive = TextSet(perturb(members, 0), [""] * len(members), np.zeros((len(members), 1)))
    tweets = unrelated_records(300, 0)[0]
    negative = TextSet(tweets, [""] * len(tweets), np.zeros((len(tweets), 1)))
    pos, neg = (attack(candidates, s) for s in (positive, negative))
    pos_m = evaluate_scores(pos[is_member], pos[~is_member], bootstrap=500)
    neg_m = evaluate_scores(neg[is_member], neg[~is_member], bootstrap=500)
    assert pos_m.auc.value > 0.9 and pos_m.tpr_at_fpr[0.01].value > 0.3
    assert neg_m.auc.covers(0.5)
    assert verdict(pos_m, neg_m).usable


def test_a_blind_attack_fails_the_positive_control() -> None:
    rng = np.random.default_rng(0)
    blind = evaluate_scores(rng.normal(size=300), rng.normal(size=600), bootstrap=300)
    assert not verdict(blind, blind).positive_seen


def test_canary_listing_holds_no_unexpected_fields(tmp_path: Path) -> None:
    source = _write(tmp_path / "private.parquet", 100)
    listing = canaries.plant(source, tmp_path / "c", seed=1, counts={1: 1})[1]
    entry = json.loads(listing.read_text())["canaries"][0]
    expected = {"canary_id", "kind", "setting", "fields", "sentence", "repeats", "copy_ids", "host_ids", "context"}
    assert set(entry) == expected | {"included"}


def test_audit_command_line_plants_canaries_and_asks_for_missing_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "private.parquet", 100)
    command = ["audit", "canaries", str(source), "--output", str(tmp_path / "c"), "--seed", "3"]
    assert main([*command, "--counts", "1:8,2:2,4:1,8:1"]) == 0
    out, err = capsys.readouterr()
    assert "16 canaries in 39 record copies" in out
    assert "warning: 39 of 100 records host a canary" in err and "at most 61 members" in err  # hosts leave attacks
    assert main([*command, "--counts", "1:4", "--output", str(tmp_path / "few")]) == 0
    assert "warning" not in capsys.readouterr().err  # 5 hosts of 100: the attacks keep their power
    secrets = [c.secret for c in canaries.load_canaries(tmp_path / "c" / canaries.CANARIES)]
    assert not [s for s in secrets if s in out]
    with pytest.raises(SystemExit) as usage:  # argparse: usage and exit 2
        main(["audit", "run", str(tmp_path), "--members", str(source)])
    assert usage.value.code == 2 and "--non-members, --output" in capsys.readouterr().err


def test_canary_ranks_together_tell_a_leak_from_the_chance_maximum() -> None:
    from rpsg_ray.audit.canaries import CanaryResult, rank_uniformity

    def results(ranks: list[float]) -> list[CanaryResult]:
        return [CanaryResult(f"c{i}", "person", "x", 1, 1, 0, 0, 0, 1.0, r, 199) for i, r in enumerate(ranks)]

    rng = np.random.default_rng(0)
    null = [rank_uniformity(results(list(rng.integers(1, 201, 20).astype(float)))) for _ in range(200)]
    assert 0.02 <= np.mean(np.array(null) < 0.05) <= 0.09  # about 5% under no leak
    leaked = rank_uniformity(results([1.0] * 5 + list(rng.integers(1, 201, 15).astype(float))))
    assert leaked is not None and leaked < 0.01  # five secrets ranked first among 200


def test_identifier_replay_scores_a_member_whose_name_and_number_reappear() -> None:
    from rpsg_ray.audit.attacks import identifier_replay, identifier_spans

    member = "Loved it. Ask Marta Kowalczyk at 0171 555 0193 about the Riverside Cinema."
    other = "Loved it. Ask Jonas Berg at 0161 555 0111 about the Plaza Cinema."
    assert {"Marta Kowalczyk", "0171 555 0193", "Riverside Cinema"} <= identifier_spans(member)
    synthetic = ["A fine film; Marta Kowalczyk said so.", "Call 0171 555 0193 for tickets."]
    sets = [TextSet(t, [""] * len(t), np.zeros((len(t), 1))) for t in ([member, other], synthetic)]
    assert identifier_replay(*sets).tolist() == [2.0, 0.0]


PLACES = ["harbour", "orchard", "quarry", "lighthouse", "tannery", "monastery", "glacier", "vineyard", "foundry"]
THINGS = ["violin", "ledger", "compass", "lantern", "saddle", "telescope", "kettle", "anvil", "loom", "sextant"]


def test_rerun_attack_matches_each_candidates_own_output_not_its_text() -> None:
    """Candidates' own texts share nothing with the released rows; a member's shadow output resembles its
    released row (same particulars, other words), a non-member's resembles none. A candidate without a shadow
    scores -1."""
    rng = np.random.default_rng(0)
    n, m = 40, 20
    shadows = [f"the {THINGS[i % 10]} by the {PLACES[i // 10 % 9]} number {i} was lost" for i in range(n)]
    released = [f"someone lost the {THINGS[i % 10]} near the {PLACES[i // 10 % 9]} number {i}" for i in range(m)]
    vectors = rng.normal(size=(n, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    near = vectors[:m] + 0.2 * rng.normal(size=(m, 16))
    candidates = TextSet(["an unrelated candidate text"] * n, [""] * n, np.eye(n, 16))
    synthetic = TextSet(released, [""] * m, near / np.linalg.norm(near, axis=1, keepdims=True))
    made = np.ones(n, bool)
    made[[3, m + 3]] = False
    attacks = rerun_attacks(TextSet(shadows, [""] * n, vectors), made)
    for name, attack in attacks.items():
        scores = attack(candidates, synthetic)
        assert scores[3] == scores[m + 3] == -1.0, name
        kept = np.flatnonzero(made)
        auc = evaluate_scores(scores[kept[kept < m]], scores[kept[kept >= m]], 20, 0).auc.value
        assert auc > 0.95, name
    assert tfidf_similarity(candidates, synthetic).max() < 0.2  # the candidates' own texts see nothing


@pytest.mark.parametrize(("second_keeps", "control", "expected"), [(True, 12, 12), (False, 12, 12), (True, 99, 30)])
def test_the_rerun_attacks_positive_control_is_a_second_noiseless_rerun_of_members(
    second_keeps: bool, control: int, expected: int
) -> None:
    """A method whose outputs keep their record's particulars in new words: the second re-run (noise off) of a
    sample of members, padded with other members' first re-runs to the run's size, is what the
    re-run attacks must find, scored on the re-run members against every non-member. Where the second re-run
    keeps nothing of its records, the control sees nothing (so it is that re-run, not the first, being matched)."""
    from rpsg_ray.audit.results import RERUN_CONTROL, AuditSettings
    from rpsg_ray.audit.runner import _rerun_phase
    from rpsg_ray.engines.trivial import HashingEmbedder
    from rpsg_ray.io.tables import Records

    n, m = 60, 30
    texts = [f"record {i} the {THINGS[i // 9 % 10]} by the {PLACES[i % 9]}" for i in range(n)]
    records = Records([f"r{i}" for i in range(n)], texts, [""] * n)
    members, non_members = records.take(range(m)), records.take(range(m, n))
    asked: list[tuple[list[str], bool]] = []

    def shadow(_run_dir: Path, candidates: Records, *, full_strength: bool = False) -> list[str | None]:
        asked.append((candidates.ids, full_strength))
        if full_strength and not second_keeps:
            return [f"a film review number {k}" for k in range(len(candidates))]
        return [f"someone lost the {t.split()[3]} near the {t.split()[6]}" for t in candidates.texts]

    embed = HashingEmbedder().embed
    candidates = TextSet(texts, [""] * n, embed(texts))
    settings = AuditSettings(bootstrap=50, rerun_control=control)
    phase = _rerun_phase(shadow, Path("."), members, non_members, candidates, 40, settings, embed)
    _, attacks, made, covered, metrics = phase
    (first, noisy), (second, noiseless) = asked
    assert len(first) == n and not noisy and noiseless  # the control alone runs at full strength
    assert len(second) == expected and set(second) <= set(members.ids)
    assert made.all() and covered.sum() == expected and len(covered) == m
    assert set(metrics[RERUN_CONTROL]) == set(attacks) == {"rerun_similarity", "rerun_tfidf"}
    for name, found in metrics[RERUN_CONTROL].items():
        assert found.n_members == expected and (found.auc.value > 0.95) == second_keeps, name
        assert verdict(found, found).positive_seen == second_keeps, name


def test_each_attack_answers_to_its_own_positive_control() -> None:
    """The re-run attacks are judged by the second re-run, every other attack by the near-copies."""
    from rpsg_ray.audit.results import RERUN_CONTROL, Audit, control_verdicts

    rng = np.random.default_rng(1)
    seen = evaluate_scores(np.arange(40.0) + 300, np.arange(200.0), 50)
    blind = evaluate_scores(rng.normal(size=40), rng.normal(size=200), 50)
    audit = Audit(Path("."), "rpsg", "lineage", [], np.zeros(0, bool), {})
    attacks = ("rerun_tfidf", "nearest_similarity")
    audit.metrics = {
        "run": dict.fromkeys(attacks, blind),
        "positive_control": dict.fromkeys(attacks, blind),
        "negative_control": dict.fromkeys(attacks, blind),
        RERUN_CONTROL: {"rerun_tfidf": seen},
    }
    verdicts = control_verdicts(audit)
    assert verdicts["rerun_tfidf"].positive_seen and not verdicts["nearest_similarity"].positive_seen


def test_verbatim_copies_need_the_whole_record_and_a_telling_length() -> None:
    texts = ["A quiet film about a lighthouse keeper and his dog.", "Great film.", "Another record, never copied."]
    synthetic = TextSet(["intro " + texts[0] + " outro", "Great film. Great film."], ["", ""], np.zeros((2, 1)))
    candidates = TextSet(["  " + texts[0] + " ", *texts[1:]], [""] * 3, np.zeros((3, 1)))
    assert verbatim_copies(candidates, synthetic).tolist() == [True, False, False]


def test_identifier_replay_is_counted_per_type_against_non_members() -> None:
    texts = [
        "Write to oona.virtanen@example.org about the refund.",  # member: its e-mail is replayed
        "Ask Marta Kowalczyk at the desk, flat 12B44.",  # member: its name is replayed, its flat number is not
        "Nothing to identify anyone here.",  # member without identifiers
        "Call Tomasz Brzeski on Sunday.",  # non-member: its name is in the output (chance level)
        "Mail kofi.mensah@example.net today.",  # non-member: not replayed
    ]
    is_member = np.array([True, True, True, False, False])
    synthetic = TextSet(
        ["Reach oona.virtanen@example.org soon.", "Marta Kowalczyk said so.", "Tomasz Brzeski agreed."],
        ["", "", ""],
        np.zeros((3, 1)),
    )
    ids = ["m0", "m1", "m2", "n0", "n1"]
    out = replay_by_type(TextSet(texts, [""] * 5, np.zeros((5, 1))), ids, synthetic, is_member)
    assert (out["EMAIL"].members_replayed, out["EMAIL"].members_with) == (1, 1)
    assert (out["EMAIL"].non_members_replayed, out["EMAIL"].non_members_with) == (0, 1)
    assert out["EMAIL"].member_ids == ["m0"] and out["NAME_LIKE"].member_ids == ["m1"]
    assert (out["NAME_LIKE"].non_members_replayed, out["NAME_LIKE"].non_members_with) == (1, 1)
    assert (out["DIGITS"].members_replayed, out["DIGITS"].members_with) == (0, 1)


def test_full_strength_turns_only_the_methods_noise_off() -> None:
    """The re-run attacks' positive control runs the method with its ε unset; a method without one is unchanged."""
    from rpsg_ray.config import load_config
    from rpsg_ray.shadow import _without_noise

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml")
    noiseless = _without_noise(cfg)
    assert cfg.rpsg.epsilon == 4.0 and noiseless.rpsg.epsilon is None
    assert noiseless.model_copy(update={"rpsg": cfg.rpsg}) == cfg  # nothing else moved
    rupta = cfg.model_copy(update={"method": "rupta"})
    assert _without_noise(rupta) == rupta
