"""The parts of the LLM seam, one job per module, behind :mod:`llm_app.llm`.

``llm_app.llm`` is the public face (``stream_chat``, ``DEFAULT_PROVIDER``) and
keeps the call loop; these modules hold what the loop decides with:

- ``prompt_caching``: the system message, with Anthropic's cache marker
- ``request``: the keyword arguments for ``acompletion``
- ``failures``: a failure's error code
- ``retries``: whether to ask the same provider again, and after how long
- ``failure_log``: the one redacted log line per failed call
- ``pricing``: a reply's cost and its prompt-cache token counts
- ``stream``: what one call has received so far
- ``clock``: the time the loop reads and the pauses it takes, replaceable in tests
"""
