"""highway_jax: gated deep networks (Highway, LSTM, GRU, RHN, Grid LSTM) in JAX/Flax.

The gating that LSTM uses along time also works along depth. This package gives both as Flax linen
modules that compose with plain Flax code:

    import highway_jax as hj
    layer = hj.Highway(features=50)                  # y = H(x)·T(x) + x·(1 − T(x))
    stack = hj.HighwayStack(num_layers=100, features=50)   # scanned over depth
"""

__version__ = "0.1.0"

from highway_jax.cells import GRUCell, LSTMCell, RecurrentCell, RHNCell, SimpleRNNCell
from highway_jax.grid_lstm import GridLSTM1D, GridLSTM2D, GridLSTM3D, GridLSTMBlock
from highway_jax.highway import Highway, HighwayConv, Plain, PlainConv, Residual, ResidualConv
from highway_jax.recurrent import GRU, LSTM, RHN, Recurrent, SequenceLayer, SimpleRNN, scan_cell
from highway_jax.stack import HighwayStack, lesion_mask

__all__ = [
    "__version__",
    # Highway layers and baselines (highway.py)
    "Highway", "HighwayConv", "Plain", "PlainConv", "Residual", "ResidualConv",
    # Deep stacks (stack.py)
    "HighwayStack", "lesion_mask",
    # Recurrent cells (cells.py): flax.linen.RNNCellBase subclasses; RecurrentCell is the protocol
    "RecurrentCell", "LSTMCell", "GRUCell", "SimpleRNNCell", "RHNCell",
    # Sequence layers over time (recurrent.py)
    "LSTM", "GRU", "SimpleRNN", "RHN", "Recurrent", "SequenceLayer", "scan_cell",
    # Grid LSTM (grid_lstm.py)
    "GridLSTMBlock", "GridLSTM1D", "GridLSTM2D", "GridLSTM3D",
]
