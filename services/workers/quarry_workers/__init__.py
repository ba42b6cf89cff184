"""Quarry transform and load workers: raw pages -> normalised records -> final tables + vectors."""
