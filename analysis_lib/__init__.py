"""Analysis library for the CD19 CAR-T -> allo-HSCT -> CD22 CAR-T phase I CSR.

Public API (stable, used by outside QC code): :mod:`analysis_lib.stats` and :mod:`analysis_lib.ard`.
"""
__version__ = "0.1.0"
