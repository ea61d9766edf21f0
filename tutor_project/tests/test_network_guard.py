import socket

import litellm
import pytest

# A host that can never resolve (RFC 2606), so this file names no real provider; the guard
# must refuse it before any lookup is attempted.
OUTSIDE_API_BASE = "https://llm-provider.invalid/v1"


def test_outside_hosts_are_unreachable_from_tests():
    with pytest.raises(OSError, match=r"may only reach 127\.0\.0\.1"):
        socket.getaddrinfo("example.com", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)


async def test_a_provider_call_to_an_outside_host_is_refused_by_the_guard():
    # LiteLLM reports the refused lookup as a connection or server error.
    with pytest.raises((litellm.APIConnectionError, litellm.InternalServerError)) as refused:
        await litellm.acompletion(
            model="openai/gpt-4o-mini",
            api_base=OUTSIDE_API_BASE,
            messages=[{"role": "user", "content": "hi"}],
            api_key="sk-not-real",
            max_retries=0,
        )
    assert any("may only reach 127.0.0.1" in str(cause) for cause in chain(refused.value))


def chain(exc: BaseException | None):
    """The exception and everything it was raised from or during, original cause last."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
