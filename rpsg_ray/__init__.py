"""rpsg_ray: RPSG private-seed synthetic data generation as a streaming Ray Data job."""

__version__ = "0.1.0"
