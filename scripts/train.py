r"""Trains a config: ``python scripts/train.py --config=configs/digits_highway.py [--workdir=DIR]``.

``--config=FILE[:key=value,...]`` loads ``get_config(arg)`` from FILE; ``--config.<key>=<value>``
overrides any field; ``--workdir`` defaults to ``runs/<config file name>``. The same main as
``python -m highway_jax.train`` (``highway_jax/train.py``, where the flags are documented).
"""

from highway_jax import train

if __name__ == '__main__':
  train.run()
