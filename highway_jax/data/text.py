"""Word tokenizer and vocabulary for the text datasets (``imdb_reviews``, ``glue/sst2``).

Tokenizer: lowercase the text, turn HTML line breaks (``<br />``, frequent in IMDB) into spaces, then take maximal
runs of word characters (keeping inner apostrophes: ``don't``) and single
punctuation characters as tokens::

    tokenize("It's GREAT!<br />Really.") == ["it's", 'great', '!', 'really', '.']

Vocabulary: id 0 is ``<pad>``, id 1 is ``<unk>``; ids 2… are the training split's most frequent tokens, ties broken
alphabetically (so the vocabulary is deterministic), at most ``vocab_size`` ids in all. Unknown tokens map to
``<unk>``.

Encoding: token ids truncated to the first ``max_length`` tokens and right-padded with 0::

    {'inputs': int32 (max_length,), 'length': int32 () = number of real tokens}

The vocabulary is cached as a text file, one token per line in id order, in the work directory (``vocabulary_path``)
and reused when present, so a resumed run sees the same ids.

Example::

    vocab = Vocabulary.build(['a good film', 'a bad film'], vocab_size=10)
    vocab.encode('a good day', max_length=5)   # ids [2, 5, 1, 0, 0], length 3
"""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Iterable, Sequence

import numpy as np

PAD = '<pad>'
UNK = '<unk>'
UNK_ID = 1

_LINE_BREAK = re.compile(r'<br\s*/?>', re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str | bytes) -> list[str]:
  """Lowercase word/punctuation tokens of ``text`` (bytes are decoded as UTF-8)."""
  if isinstance(text, bytes):
    text = text.decode('utf-8')
  return _TOKEN.findall(_LINE_BREAK.sub(' ', str(text)).lower())


class Vocabulary:
  """Token <-> id mapping with ``<pad>`` = 0 and ``<unk>`` = 1 (``tokens`` in id order)."""

  def __init__(self, tokens: Sequence[str]):
    self.tokens = tuple(tokens)
    self._ids = {token: i for i, token in enumerate(self.tokens)}

  def __len__(self) -> int:
    return len(self.tokens)

  def __eq__(self, other) -> bool:
    return isinstance(other, Vocabulary) and self.tokens == other.tokens

  @classmethod
  def build(cls, texts: Iterable[str | bytes], vocab_size: int) -> Vocabulary:
    """Keeps the ``vocab_size − 2`` most frequent tokens of ``texts``."""
    counts = collections.Counter()
    for text in texts:
      counts.update(tokenize(text))
    for special in (PAD, UNK):
      counts.pop(special, None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return cls([PAD, UNK] + [token for token, _ in ranked[:vocab_size - 2]])

  def encode(self, text: str | bytes, max_length: int) -> dict[str, np.ndarray]:
    """Token ids of ``text``, truncated and padded to ``max_length``, plus the true length."""
    ids = [self._ids.get(token, UNK_ID) for token in tokenize(text)][:max_length]
    inputs = np.zeros((max_length,), np.int32)
    inputs[:len(ids)] = ids
    return {'inputs': inputs, 'length': np.asarray(len(ids), np.int32)}


def vocabulary_path(workdir: str | os.PathLike, dataset_name: str, vocab_size: int) -> str:
  """Cache file of a dataset's vocabulary: ``workdir/vocab_<name>_<vocab_size>.txt``."""
  safe_name = re.sub(r'[^A-Za-z0-9_.-]', '_', dataset_name)
  return os.path.join(os.fspath(workdir), f'vocab_{safe_name}_{vocab_size}.txt')


def load_or_build_vocabulary(texts: Iterable[str | bytes] | None, *, vocab_size: int,
                             path: str | None) -> Vocabulary:
  """Loads the vocabulary cached at ``path`` or builds it from ``texts`` (and caches it).

  ``texts`` (e.g. a generator over the training split) is consumed only when the cache is
  missing. ``path=None`` disables caching. The file is written atomically (temporary file, rename).
  """
  if path is not None and os.path.exists(path):
    with open(path, encoding='utf-8') as f:
      tokens = f.read().splitlines()
    if tokens[:2] != [PAD, UNK] or len(set(tokens)) != len(tokens) or len(tokens) > vocab_size:
      raise ValueError(f'Vocabulary file {path} is corrupt or has more than config.data.vocab_size='
                       f'{vocab_size} tokens; delete it to rebuild it from the training split.')
    return Vocabulary(tokens)
  vocabulary = Vocabulary.build(texts, vocab_size)
  if path is not None:
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    temporary = f'{path}.tmp{os.getpid()}'
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write('\n'.join(vocabulary.tokens) + '\n')
    os.replace(temporary, path)
  return vocabulary
