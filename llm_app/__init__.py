"""The LLM layer: provider configuration and the one seam to LiteLLM."""
