"""The hand-written vanilla RNN core; imports torch only."""

from rnnpipe.rnn.vanilla import VanillaRNN

__all__ = ["VanillaRNN"]
