"""The teaching evaluation harness behind ``manage.py tutor_eval`` (docs/evaluation.md).

Learner personas play a lesson's chat stages against the tutor, through the same
prompt building (:mod:`lessons_app.prompts`) and the same seam
(:func:`llm_app.llm.stream_chat`) as the chat; a judge model and deterministic
checks then score each conversation. Nothing here writes learners' data.
"""
