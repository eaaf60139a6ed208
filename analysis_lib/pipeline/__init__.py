"""Pipeline: the ``csr`` command line, the cached and atomic runner, book rendering and provenance.
Builds on :mod:`analysis_lib.trial` and :mod:`analysis_lib.toolkit`."""
