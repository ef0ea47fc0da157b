"""FAR (showlab/FAR): frame-autoregressive video models on DC-AE latents."""

from longroll.models.far.config import ZOO, FarConfig
from longroll.models.far.model import Far

__all__ = ["ZOO", "Far", "FarConfig"]
