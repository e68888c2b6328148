"""`rpsg evaluate`: is the synthetic data any good? The same measurements for every method's run directory.

One module per job: `datasets` (reading run directories and real splits), `stats` (mean and 95%
interval over repeats), `downstream` (classifier and next-token LM utility), `fidelity` (FID, MAUVE,
k-NN precision/recall), `diversity` (Self-BLEU, distinct-n, lengths), `quality` (defect rate,
sentiment consistency, PII counts), `plots` and `report` (metrics.json, report.html, report.md), and
`runner`, which draws the matched samples and calls them. Models come only from `rpsg_ray.engines`.
"""
