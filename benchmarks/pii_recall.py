"""pii_recall: how much of each kind of identifier the redactor removes, per detector, side by side.

A labelled set of fake people (audit/identities.py: names from 35 Latin-script locales, given and family
names from independent locales; phones, e-mails, IBANs, cards, SSNs) in the contexts the issue names
(self-introduction, third person, possessive, sentence start, beside a product name, sign-off; lower-case
names apart), run through the redactor with each detector: regexes only, regexes + spaCy, regexes +
Presidio and the introduced-names rule (the default). Then the share of real texts each detector changes,
on the demo corpus (critic snippets) and on tweets: an upper bound on the false-positive rate.
Targets: names in self-introductions >= 99%, capitalised names elsewhere >= 90%, e-mail / phone / card /
account / SSN >= 99%.

    python benchmarks/pii_recall.py --people 300 --real 1000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

DETECTORS = {"regex only": {"ner_model": None}, "spacy": {"detector": "spacy"}, "presidio": {}}
TARGETS = {"name/introduction": 0.99, "name/introduction_im": 0.99, "name/sign_off": 0.99, "name": 0.90}


def target(entity: str, context: str) -> float | None:
    if entity == "name_lower_case":
        return None
    return TARGETS.get(f"{entity}/{context}", TARGETS["name"] if entity == "name" else 0.99)


def main() -> None:
    import pyarrow.parquet as pq
    from common import save

    from rpsg_ray.audit.controls import tweet_records
    from rpsg_ray.audit.identities import draw_identities
    from rpsg_ray.audit.pii_recall import build_probes, recall, touched
    from rpsg_ray.config import Domain, RedactConfig
    from rpsg_ray.demo_data import write_demo_corpus
    from rpsg_ray.stages.redact import Redactor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--real", type=int, default=1000, help="real texts per corpus for the false-positive rate")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--work", default="runs/bench-pii-recall")
    args = parser.parse_args()

    probes = build_probes(draw_identities(args.seed, args.people))
    demo = write_demo_corpus(Path(args.work) / "corpus.parquet", args.real)
    real = {
        "demo (critic snippets)": pq.read_table(demo, columns=["text"]).column("text").to_pylist(),
        "tweets": tweet_records()[0][: args.real],
    }
    domain = Domain(name="posts", item="post", organisations_identify=True)  # ORG too: the first-person setting
    recalls, fp = {}, {}
    for label, settings in DETECTORS.items():
        redactor = Redactor(RedactConfig(**settings), domain)
        recalls[label] = recall(lambda batch, r=redactor: r(batch)[0], probes)
        fp[label] = {corpus: touched(redactor(texts)[1]) for corpus, texts in real.items()}

    rows = []
    for entity, context in recalls["presidio"]:
        row = {"entity": entity, "context": context}
        for label in DETECTORS:
            caught, total = recalls[label][(entity, context)]
            row[label] = caught / total
        row["n"] = recalls["presidio"][(entity, context)][1]
        goal = target(entity, context)
        row["target"] = "-" if goal is None else f">= {goal:.0%}"
        row["met"] = "-" if goal is None else ("yes" if row["presidio"] >= goal else "NO")
        rows.append(row)
    for corpus in real:
        kinds = sorted({k for label in DETECTORS for k in fp[label][corpus]})
        for kind in kinds:
            row = {"entity": f"real texts touched: {kind}", "context": corpus}
            row.update({label: fp[label][corpus].get(kind, 0.0) for label in DETECTORS})
            row.update({"n": len(real[corpus]), "target": "-", "met": "-"})
            rows.append(row)
    misses = [r for r in rows if r["met"] == "NO"]
    payload = {
        "people": args.people,
        "seed": args.seed,
        "target": "names in self-introduction >= 99%, capitalised names elsewhere >= 90%, fields >= 99%",
        "verdict": "all targets met"
        if not misses
        else "missed: " + ", ".join(f"{r['entity']}/{r['context']} {r['presidio']:.1%}" for r in misses),
        "note": "recall = share of probes with no piece left (given name, surname, 3+ digit group, e-mail local "
        "part); real-text rows: share of texts with a replacement of that kind (an upper bound on false positives)",
    }
    print(save("pii_recall", payload, rows))


if __name__ == "__main__":
    main()
