"""label_scorer: how well the public label scorers judge a text's class, on real labelled test splits, before
RPSG's agreement term and rewrite guard trust them. The zero-shot scorer (MiniLM, closest public class
description from the config) on TREC's six question types and on rotten_tomatoes' two sentiments, beside VADER
(the sentiment scorer of configs/demo.yaml) and the majority-class floor. Accuracy and macro-F1.

    python benchmarks/label_scorer.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def scores(truth: list[str], predicted: list[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": accuracy_score(truth, predicted), "macro_f1": f1_score(truth, predicted, average="macro")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000, help="test rows per corpus")
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-label-scorer"))
    args = parser.parse_args()
    from common import save

    from rpsg_ray.config import load_config
    from rpsg_ray.demo_data import write_real_splits
    from rpsg_ray.engines.registry import load_classifier, load_label_classifier
    from rpsg_ray.io.tables import read_table

    work = Path(args.work)
    sentiment = {"positive": "a positive review", "negative": "a negative review"}
    corpora = {
        "trec": load_config(ROOT / "configs" / "trec.yaml").domain.labels,
        "rotten_tomatoes": sentiment,
    }
    rows = []
    for corpus, classes in corpora.items():
        test, train = work / f"{corpus}_test.parquet", work / f"{corpus}_train.parquet"
        write_real_splits(test, train, 2000, args.rows, corpus)  # the public split `rpsg evaluate` uses
        table = read_table(test, ("text", "label"))
        texts, truth = table["text"].to_pylist(), table["label"].to_pylist()
        top = Counter(truth).most_common(1)[0][0]
        scorers = {
            "majority-class floor": [top] * len(truth),
            "zero-shot (MiniLM, public descriptions)": [
                p.label for p in load_label_classifier("vader", classes, "all-minilm-l6-v2").classify(texts)
            ],
        }
        if corpus == "rotten_tomatoes":
            scorers["VADER (sentiment)"] = [p.label for p in load_classifier("vader").classify(texts)]
        for name, predicted in scorers.items():
            rows.append({"corpus": corpus, "classes": len(classes), "scorer": name, **scores(truth, predicted)})
    zero = {r["corpus"]: r["accuracy"] for r in rows if r["scorer"].startswith("zero-shot")}
    floor = {r["corpus"]: r["accuracy"] for r in rows if r["scorer"].startswith("majority")}
    verdict = "; ".join(
        f"{c}: zero-shot {zero[c]:.3f} vs floor {floor[c]:.3f} ({'above' if zero[c] > floor[c] else 'NOT above'})"
        for c in zero
    )
    print(
        save(
            "label_scorer",
            {
                "setting": f"{args.rows} rows of each corpus's public test split (rpsg prepare's), "
                "descriptions from configs/trec.yaml and 'a positive/negative review'",
                "target": "zero-shot above the majority-class floor before RPSG relies on it",
                "verdict": verdict,
            },
            rows,
        )
    )


if __name__ == "__main__":
    main()
