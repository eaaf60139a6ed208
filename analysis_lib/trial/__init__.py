"""Trial: this protocol — parameters, the SDTM input contract, validation, the data cut, ADaM
derivations and the analyses per endpoint. Builds on :mod:`analysis_lib.toolkit`."""
