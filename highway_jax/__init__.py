"""highway_jax: gated deep networks (Highway, LSTM, GRU, RHN, Grid LSTM) in JAX/Flax."""

__version__ = "0.1.0"

__all__ = ["__version__"]
