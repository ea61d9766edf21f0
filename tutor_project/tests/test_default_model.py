"""The environment's default model is one LiteLLM's bundled price map prices."""

import litellm
from django.conf import settings


def test_the_default_model_has_a_price_in_litellms_bundled_map() -> None:
    # LITELLM_LOCAL_MODEL_COST_MAP=True (pytest.ini): the map shipped with the pinned LiteLLM.
    prompt, completion = litellm.cost_per_token(
        model=settings.DEFAULT_LLM_PROVIDER, prompt_tokens=1000, completion_tokens=1000
    )
    assert prompt > 0 and completion > 0
    assert litellm.get_model_info(settings.DEFAULT_LLM_PROVIDER)["max_input_tokens"]


def test_the_old_default_had_none() -> None:
    # Why the default moved: this one is priced at zero by provider metadata only.
    assert "claude-sonnet-4-20250514" not in litellm.model_cost
