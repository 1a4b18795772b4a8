"""Decoding over a ``step(tokens, state)`` function: greedy and beam search, sampling."""
