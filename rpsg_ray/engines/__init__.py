"""Model engines: the only package that imports model libraries (and never Ray)."""
