"""One package per task; each declares itself with a :class:`~rnnpipe.tasks.spec.TaskSpec`."""
