"""The KV cache: a frame-granular sink + sliding window in fixed memory (``kv``) and its config (``config``).

See ``longroll.cache.kv`` for the slot layout, the verbs and the extenders' policies.
"""

from longroll.cache.config import CacheConfig
from longroll.cache.kv import KeyRotation, KVCache

__all__ = ["CacheConfig", "KVCache", "KeyRotation"]
