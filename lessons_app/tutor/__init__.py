"""The tutor's turn machinery: durable turns that any socket of the learner can follow.

- ``protocol``: the WebSocket frames, their validation, the resume cursor.
- ``consumer``: the thin Channels consumer; ``session``: one socket's side of the chat.
- ``conversation`` and ``turns``: what the chat reads and writes in the database.
- ``runner``: this process's turns (``turn``: one of them), checkpoints and ``sweep``.
- ``writer``: turn frames to the engine, batched; ``snapshot``: the resume rules.
- ``engines``: where logs, feeds, stops and heartbeats live (memory or Redis Streams).
- ``database``: the pool of threads (and kept connections) the chat's queries run on.
- ``runtime``: the engine and runner of this process, started before the first request.

docs/protocol.md describes what a client sees; the README's architecture section,
why it is built this way.
"""
