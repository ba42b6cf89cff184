"""The single-machine runtime: resources as database rows, runs and workers as local processes."""
