"""Baselines measured on the same engines, data plane and accountant as RPSG."""
