"""Privacy: calibration, composition, the selection mechanism and the ledger. Imports no Ray and no model library."""
