"""The hand-written recurrent layers; imports torch only.

``VanillaRNN`` (with its hand-written BPTT) is the project's subject; ``GRU`` and ``LSTM`` are the
gated baselines to compare it with. All three keep the contract of PyTorch's built-ins.
"""

from rnnpipe.rnn.gated import GRU, LSTM
from rnnpipe.rnn.layer import RecurrentLayer
from rnnpipe.rnn.vanilla import VanillaRNN

__all__ = ["GRU", "LSTM", "RecurrentLayer", "VanillaRNN"]
