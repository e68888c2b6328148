"""One module per pipeline stage; each is a callable class run by Ray Data's map_batches."""
