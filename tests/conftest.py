"""Test-wide JAX settings: small compiles, deterministic float32 on CPU."""

import jax

# Tests compile many tiny programs; XLA's optimisation passes cost more than they save here.
jax.config.update("jax_disable_most_optimizations", True)
jax.config.update("jax_default_matmul_precision", "highest")
