import socket

import litellm
import pytest


def test_outside_hosts_are_unreachable_from_tests():
    with pytest.raises(OSError, match=r"may only reach 127\.0\.0\.1"):
        socket.getaddrinfo("example.com", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)


async def test_a_real_provider_call_fails_fast_instead_of_leaving_the_machine():
    # LiteLLM reports the refused lookup as a connection or server error.
    with pytest.raises((litellm.APIConnectionError, litellm.InternalServerError)):
        await litellm.acompletion(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            api_key="sk-not-real",
            max_retries=0,
        )
