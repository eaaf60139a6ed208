"""Synthetic data: the seeded generator of the trial's SDTM delivery (one function per clinical
event). Builds on :mod:`analysis_lib.trial` (parameters and the input contract)."""
