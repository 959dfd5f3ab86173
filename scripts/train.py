r"""Trains a config: ``python scripts/train.py --config=configs/digits_highway.py [--workdir=DIR]``.

``--config=FILE[:key=value,...]`` loads ``get_config(arg)`` from FILE; ``--config.<key>=<value>``
overrides any field; ``--workdir`` defaults to ``runs/<config file name>``. The same main as
``python -m highway_jax.train`` (``highway_jax/train.py``, where the flags are documented).
"""

import os
import signal

# Ctrl-C while the libraries load: one line and no traceback (highway_jax.cli takes over after).
signal.signal(signal.SIGINT, lambda *_: (os.write(2, b'Interrupted while starting, exiting.\n'), os._exit(130)))

from highway_jax import train  # noqa: E402

if __name__ == '__main__':
  train.run()
