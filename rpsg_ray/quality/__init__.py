"""Output quality: a documented rule-based detector of unusable generated rows."""
