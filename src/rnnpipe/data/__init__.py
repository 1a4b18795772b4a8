"""Readers for each file format, tokenization, batching, one DataModule per dataset."""
