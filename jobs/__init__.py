"""The job system: the SQLite job store, the queue and the worker processes."""
