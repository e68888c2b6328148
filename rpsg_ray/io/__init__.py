"""Reading, validating and writing records; the run manifest."""
