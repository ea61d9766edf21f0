"""The LLM layer: provider configuration and the one seam to LiteLLM."""

import os

# LiteLLM downloads its price list at import unless told to use the bundled one;
# this app is the only place that imports LiteLLM, so set it before anything can.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
