"""The causal Wan2.1 transformer (Self Forcing, LongLive, CausVid): model, names, checkpoints, rollout."""

from longroll.models.causal_wan.config import CausalWanConfig
from longroll.models.causal_wan.model import CausalWan, WanContext

__all__ = ["CausalWan", "CausalWanConfig", "WanContext"]
