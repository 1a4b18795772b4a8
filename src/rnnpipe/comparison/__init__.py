"""Comparing two models on the same test items, with the uncertainty of the difference."""
