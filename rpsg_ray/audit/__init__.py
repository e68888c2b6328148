"""`rpsg audit`: membership inference against a released synthetic set, with controls that prove it can see.

Modules: records (read candidate files and a run's members), split (members / non-members), attacks
(synthetic-only scores), published (attacks on every shareable field), lm_attacks (a small LM trained on the
synthetic set), canaries (plant and measure secrets), dcr (distance to closest record), metrics (ROC-AUC,
TPR at low FPR, bootstrap intervals), controls, runner (one audit end to end), report (metrics.json, HTML,
Markdown).
"""
