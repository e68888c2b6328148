"""The private similarity index: build (FAISS, exact or approximate), search with an exact re-check of
every near-threshold candidate, and the recall measurement that keeps an approximate index honest."""
