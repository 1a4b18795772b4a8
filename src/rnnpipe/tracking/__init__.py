"""Everything rnnpipe knows of MLflow, split by job: the logger, provenance, artifacts and the
pyfunc model, loading models back."""
