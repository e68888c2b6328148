"""One audit end to end: the run's published files against members and non-members, beside both controls."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rpsg_ray.audit import canaries as canary_mod
from rpsg_ray.audit import lm_attacks
from rpsg_ray.audit.attacks import SYNTHETIC_ONLY, Attack, TextSet, replay_by_type, rerun_attacks, verbatim_copies
from rpsg_ray.audit.controls import perturb, unrelated_records
from rpsg_ray.audit.dcr import distance_to_closest_record
from rpsg_ray.audit.family import family_p_values
from rpsg_ray.audit.metrics import AttackMetrics, evaluate_scores
from rpsg_ray.audit.one_run import audit_one_run
from rpsg_ray.audit.published import published_attacks, read_published
from rpsg_ray.audit.records import RunMembership, read_records, run_membership
from rpsg_ray.audit.report import write_report
from rpsg_ray.audit.results import RERUN_CONTROL, Audit, AuditSettings, RerunNote, ShadowFn
from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.errors import InputError
from rpsg_ray.io.run_reader import RunFiles
from rpsg_ray.io.tables import Records


def progress(message: str) -> None:
    """Counts and phases only: never a record's text."""
    print(f"[audit] {message}", file=sys.stderr, flush=True)


def _candidates(
    run_dir: Path, members_path: Path, non_members_path: Path, canaries: Path | None
) -> tuple[Records, Records, RunMembership]:
    """Members the run used, never a canary's host (its copy makes it a member twice over), and non-members."""
    membership = run_membership(run_dir)
    members, non_members = read_records(members_path), read_records(non_members_path)
    if canaries is not None:
        hosts = {h for c in canary_mod.load_canaries(canaries) for h in c.host_ids}
        members = members.subset([i not in hosts for i in members.ids])
    both = set(members.ids) & set(non_members.ids)
    if both:
        raise InputError(f"{len(both)} ids are in both the members and the non-members file")
    members = members.subset([i in membership.used for i in members.ids])
    seen = [i in membership.seen for i in non_members.ids]
    if any(seen):
        raise InputError(f"{sum(seen)} non-members appear in the run's lineage: they entered the run")
    if len(members) == 0 or len(non_members) == 0:
        raise InputError("no members used by this run, or no non-members: nothing to audit")
    return members, non_members, membership


def _rerun_sets(
    shadow: ShadowFn, run_dir: Path, members: Records, non_members: Records, embed: Callable[[list[str]], np.ndarray]
) -> tuple[TextSet, np.ndarray]:
    """Every candidate's shadow output as a TextSet aligned with the candidates, and which of them exist."""
    candidates = Records(
        members.ids + non_members.ids, members.texts + non_members.texts, members.labels + non_members.labels
    )
    progress(f"re-running the method on {len(candidates)} candidates (the re-run attack)")
    made = shadow(run_dir, candidates)
    texts = [t or "" for t in made]
    return TextSet(texts, candidates.labels, embed(texts)), np.array([t is not None for t in made])


def _rerun_control(
    shadow: ShadowFn,
    run_dir: Path,
    members: Records,
    shadows: TextSet,
    size: int,
    settings: AuditSettings,
    embed: Callable[[list[str]], np.ndarray],
) -> tuple[TextSet, np.ndarray]:
    """The re-run attacks' positive control (`RERUN_CONTROL`): a random `settings.rerun_control` of the members
    re-run once more, with another fresh key and the method's noise off, padded to `size` rows (the run's) with
    the first re-run's outputs of other members, which are not scored. Returns it and which members it re-ran."""
    k = min(settings.rerun_control, len(members))
    pick = np.sort(np.random.default_rng(settings.seed + 1).choice(len(members), k, replace=False))
    progress(f"re-running the method on {k} members once more, noise off (the re-run attacks' positive control)")
    made = shadow(run_dir, members.take(pick.tolist()), full_strength=True)
    covered = np.zeros(len(members), bool)
    covered[pick] = True
    again = [(t, members.labels[i]) for t, i in zip(made, pick, strict=True) if t is not None]
    pad = [i for i in range(len(members)) if shadows.texts[i] and not covered[i]][: max(size - len(again), 0)]
    texts = [t for t, _ in again] + [shadows.texts[i] for i in pad]
    labels = [lab for _, lab in again] + [shadows.labels[i] for i in pad]
    fresh = embed([t for t, _ in again]) if again else shadows.embeddings[:0]
    return TextSet(texts, labels, np.vstack([fresh, shadows.embeddings[pad]])), covered  # the padding's are known


def _rerun_phase(
    shadow: ShadowFn,
    run_dir: Path,
    members: Records,
    non_members: Records,
    candidates: TextSet,
    size: int,
    settings: AuditSettings,
    embed: Callable[[list[str]], np.ndarray],
) -> tuple[TextSet, dict[str, Attack], np.ndarray, np.ndarray, dict[str, dict[str, AttackMetrics]]]:
    """The re-run attacks and their two sets: the members' shadows (the paraphrase control of the other attacks)
    and the second re-run of `size` rows (the re-run attacks' own positive control, scored on the members it
    re-ran only). Returns the paraphrase set, the attacks, which candidates got a shadow, which members the
    control re-ran, and the control's metrics."""
    shadows, made = _rerun_sets(shadow, run_dir, members, non_members, embed)
    m = len(members)
    own = made[:m]
    paraphrase = TextSet(
        [t for t, k in zip(shadows.texts[:m], own, strict=True) if k],
        [lab for lab, k in zip(members.labels, own, strict=True) if k],
        shadows.embeddings[:m][own],
    )
    attacks = rerun_attacks(shadows, made)
    control, covered = _rerun_control(shadow, run_dir, members, shadows, size, settings, embed)
    metrics = {}
    for attack, fn in attacks.items():  # no row at all: every member unmatched, an attack that saw nothing
        scores = fn(candidates, control) if control.texts else np.full(len(candidates), -1.0)
        metrics[attack] = evaluate_scores(scores[:m][covered], scores[m:], settings.bootstrap, settings.seed)
    return paraphrase, attacks, made, covered, {RERUN_CONTROL: metrics}


def _lm_phase(
    audit: Audit, sets: dict[str, TextSet], candidates: TextSet, settings: AuditSettings
) -> lm_attacks.SmallCausalLm:
    """Train one LM per set (and the reference), score the candidates; returns the run set's LM for canaries."""
    budget, reference, described = settings.lm_budget, None, "none given: ratio attack skipped"
    if settings.reference is not None:
        pool = read_records(settings.reference).texts
        pick = np.random.default_rng(settings.seed).permutation(len(pool))[: audit.set_sizes["run"]]
        progress(f"training the reference LM on {len(pick)} public records")
        reference = lm_attacks.token_losses(
            lm_attacks.train([pool[i] for i in pick], settings.threads, budget), candidates.texts
        )
        described = f"same recipe on {len(pick)} records of {settings.reference.name}"
    models = {}
    for name, synthetic in sets.items():
        t0 = time.time()
        progress(f"training the LM on the {name} set ({len(synthetic)} texts)")
        models[name] = lm_attacks.train(synthetic.texts, settings.threads, budget)
        losses = lm_attacks.token_losses(models[name], candidates.texts)
        audit.scores[name].update(lm_attacks.lm_scores(losses, reference, candidates.texts))
        audit.seconds[f"lm_{name}"] = time.time() - t0
    audit.lm = {**budget.describe(), "reference": described}
    return models["run"]


def _canary_phase(
    audit: Audit, run_lm: lm_attacks.SmallCausalLm, published_texts: list[str], settings: AuditSettings
) -> None:
    listing = canary_mod.load_canaries(settings.canaries)
    membership = run_membership(audit.run_dir)
    seed = json.loads(settings.canaries.read_text())["seed"]

    def sum_nll(texts: list[str]) -> np.ndarray:
        return lm_attacks.token_losses(run_lm, texts).total

    progress(
        f"measuring {len(listing)} canaries ({settings.canary_alternatives} alternatives each, "
        f"{settings.audit_canary_alternatives} for audit canaries)"
    )
    for c in listing:
        verbatim, full_name, partial = canary_mod.leak_counts(c, published_texts)
        used = sum(i in membership.used for i in c.copy_ids)
        alternatives = settings.audit_canary_alternatives if c.kind == "audit" else settings.canary_alternatives
        value, rank = canary_mod.exposure(c, seed, alternatives, sum_nll)
        audit.canaries.append(
            canary_mod.CanaryResult(
                c.canary_id,
                c.kind,
                c.setting,
                c.repeats,
                used,
                verbatim,
                full_name,
                partial,
                value,
                rank,
                alternatives,
                c.included,
            )
        )
    drawn = [r for r in audit.canaries if r.kind == "audit"]
    if drawn:
        scores = np.array([canary_mod.one_run_score(r) for r in drawn])
        included = np.array([r.included for r in drawn])
        audit.one_run = audit_one_run(scores, included, float(audit.claim.get("delta") or 0.0))
    people = sum(c.kind == "person" for c in listing)
    audit.canary_chance = (canary_mod.chance_partials(seed, people, published_texts), people)


def run_audit(
    run_dir: Path,
    members_path: Path,
    non_members_path: Path,
    out_dir: Path,
    settings: AuditSettings,
    shadow: ShadowFn | None = None,
) -> str:
    """The audit of one run; `shadow` re-runs the run's method on records (the re-run attack and the paraphrase
    control; only for a method whose outputs are linked to seeds)."""
    started = time.time()
    members, non_members, membership = _candidates(run_dir, members_path, non_members_path, settings.canaries)
    rerun = shadow if membership.linked else None
    available = len(non_members)
    if rerun is not None and settings.rerun_non_members is not None and settings.rerun_non_members < available:
        pick = np.random.default_rng(settings.seed).choice(available, settings.rerun_non_members, replace=False)
        non_members = non_members.take(sorted(pick))
    files = RunFiles.open(run_dir)
    published = read_published(files)
    progress(f"{len(members)} members, {len(non_members)} non-members, {len(published.texts)} synthetic rows")
    embedder = load_embedder(settings.embedder, threads=settings.threads)
    texts = members.texts + non_members.texts
    candidates = TextSet(texts, members.labels + non_members.labels, embedder.embed(texts))
    negative_texts, negative_labels = unrelated_records(len(published.texts), settings.seed, settings.negative_control)
    positive_texts = perturb(members.texts, settings.seed)
    sets = {
        "run": TextSet(published.texts, published.labels, embedder.embed(published.texts), published.columns),
        "positive_control": TextSet(positive_texts, members.labels, embedder.embed(positive_texts)),
        "negative_control": TextSet(negative_texts, negative_labels, embedder.embed(negative_texts)),
    }
    shadow_attacks: dict[str, Attack] = {}
    seconds = {"load_and_embed": time.time() - started}
    made, covered = np.zeros(0, bool), np.zeros(0, bool)
    control_metrics: dict[str, dict[str, AttackMetrics]] = {}
    if rerun is not None:
        sets["paraphrase_control"], shadow_attacks, made, covered, control_metrics = _rerun_phase(
            rerun, run_dir, members, non_members, candidates, len(published.texts), settings, embedder.embed
        )
        seconds["rerun"] = time.time() - started - seconds["load_and_embed"]
    audit = Audit(
        run_dir,
        str(files.public_manifest().get("method", "unknown")),
        membership.source,
        members.ids + non_members.ids,
        np.r_[np.ones(len(members), bool), np.zeros(len(non_members), bool)],
        {k: len(v) for k, v in sets.items()},
        settings=settings,
        seconds=seconds,
        rerun=None
        if shadow is None
        else RerunNote(rerun is not None, len(non_members), available, int(made.sum()), int(covered.sum())),
    )
    ledger = files.ledger()
    audit.claim = {k: ledger.get(k) for k in ("epsilon", "delta", "scope_summary", "dataset_level")}
    ids = audit.candidate_ids
    for name, synthetic in sets.items():
        # the paraphrase control is made of the shadows themselves (the re-run attack would find itself there), and
        # near-copies are not what a shadow matches: the re-run attacks have their own positive control
        own_control = name in ("paraphrase_control", "positive_control")
        attacks = SYNTHETIC_ONLY if own_control else {**SYNTHETIC_ONLY, **shadow_attacks}
        audit.scores[name] = {attack: fn(candidates, synthetic) for attack, fn in attacks.items()}
        files = published.files if name == "run" else {}
        extra, fields = published_attacks(candidates, ids, synthetic, files)
        audit.scores[name].update(extra)
        audit.fields = fields if name == "run" else audit.fields
    copied = verbatim_copies(candidates, sets["run"])
    audit.verbatim = {
        "members_copied": int(copied[audit.is_member].sum()),
        "members": int(audit.is_member.sum()),
        "non_members_copied": int(copied[~audit.is_member].sum()),
        "non_members": int((~audit.is_member).sum()),
    }
    audit.replay = replay_by_type(candidates, ids, sets["run"], audit.is_member)
    run_lm = _lm_phase(audit, sets, candidates, settings)
    for name in audit.scores:
        audit.metrics[name] = {
            attack: evaluate_scores(s[audit.is_member], s[~audit.is_member], settings.bootstrap, settings.seed)
            for attack, s in audit.scores[name].items()
        }
    audit.metrics.update(control_metrics)
    audit.family_p = family_p_values(audit.scores["run"], audit.is_member, 0.01, seed=settings.seed)
    m = len(members)
    audit.dcr = distance_to_closest_record(sets["run"].embeddings, candidates.embeddings[:m], candidates.embeddings[m:])
    if settings.canaries is not None:
        _canary_phase(audit, run_lm, published.texts, settings)
    audit.seconds["total"] = time.time() - started
    return write_report(audit, out_dir)
