"""Text frames of a reply: at once when quiet, joined when chunks come faster than the interval,
which widens with the loop's lag under load."""

import asyncio

import pytest

from lessons_app.tests.manual_clock import ManualClock
from lessons_app.tutor.loop_share import SMOOTHING, LoopShare
from lessons_app.tutor.text_frames import LAG_MULTIPLE, SLOWEST_SECONDS, TextFrames

INTERVAL = 0.04


async def settle() -> None:
    """Let the timer task, woken by the clock, run to its end."""
    for _ in range(5):
        await asyncio.sleep(0)


def frames_on(clock: ManualClock, interval: float = INTERVAL) -> tuple[TextFrames, list[str]]:
    sent: list[str] = []
    return TextFrames(interval, clock, sent.append, LoopShare(clock)), sent


async def test_the_first_text_goes_at_once():
    frames, sent = frames_on(ManualClock())
    frames.add("Hel")
    assert sent == ["Hel"]


async def test_chunks_within_the_interval_wait_and_go_as_one_frame():
    clock = ManualClock()
    frames, sent = frames_on(clock)
    frames.add("Hel")
    await clock.advance(0.01)
    frames.add("lo, ")
    await clock.advance(0.01)
    frames.add("there")
    assert sent == ["Hel"]
    await clock.advance(0.019)
    await settle()
    assert sent == ["Hel"]  # the interval since "Hel" has not passed yet
    await clock.advance(0.002)
    await settle()
    assert sent == ["Hel", "lo, there"]


async def test_a_chunk_after_a_quiet_spell_goes_at_once():
    clock = ManualClock()
    frames, sent = frames_on(clock)
    frames.add("One.")
    await clock.advance(0.5)
    frames.add(" Two.")
    assert sent == ["One.", " Two."]


async def test_flush_sends_what_waits_before_another_frame_and_cancels_the_timer():
    clock = ManualClock()
    frames, sent = frames_on(clock)
    frames.add("a")
    frames.add("b")
    frames.flush()
    assert sent == ["a", "b"]
    await clock.advance(1)
    await settle()
    assert sent == ["a", "b"]  # the timer did not send again
    frames.flush()
    assert sent == ["a", "b"]  # nothing waits: nothing is sent


async def test_close_drops_the_timer_and_what_waits():
    clock = ManualClock()
    frames, sent = frames_on(clock)
    frames.add("a")
    frames.add("b")
    frames.close()
    await clock.advance(1)
    await settle()
    assert sent == ["a"]


async def test_an_interval_of_zero_sends_every_chunk():
    frames, sent = frames_on(ManualClock(), interval=0)
    for chunk in ("a", "b", "c"):
        frames.add(chunk)
    assert sent == ["a", "b", "c"]


def frames_under(clock: ManualClock, lag: float, interval: float = INTERVAL):
    """Frames of a process whose loop has been coming back ``lag`` seconds late."""
    share = LoopShare(clock)
    share.lag = lag
    sent: list[str] = []
    return TextFrames(interval, clock, sent.append, share), sent


async def test_a_busy_loop_spaces_frames_by_its_lag():
    clock = ManualClock()
    frames, sent = frames_under(clock, lag=0.05)
    assert frames.interval == LAG_MULTIPLE * 0.05
    frames.add("a")
    await clock.advance(0.05)
    frames.add("b")  # past the setting's 0.04 s, within four lags
    await clock.advance(0.05)
    frames.add("c")
    assert sent == ["a"]
    await clock.advance(0.1)
    await settle()
    assert sent == ["a", "bc"]


async def test_an_idle_loop_keeps_the_setting_and_the_busiest_one_is_capped():
    assert frames_under(ManualClock(), lag=0.001)[0].interval == INTERVAL
    assert frames_under(ManualClock(), lag=5.0)[0].interval == SLOWEST_SECONDS


async def test_an_interval_of_zero_sends_every_chunk_however_busy_the_loop():
    frames, sent = frames_under(ManualClock(), lag=0.5, interval=0)
    for chunk in ("a", "b", "c"):
        frames.add(chunk)
    assert sent == ["a", "b", "c"]


async def test_giving_way_lets_the_other_ready_tasks_run_and_measures_how_long_they_took():
    clock = ManualClock()
    share = LoopShare(clock)
    ran = []

    async def another_task():
        ran.append("other")
        await clock.advance(0.2)  # the loop was busy for 200 ms

    asyncio.get_running_loop().create_task(another_task())
    await share.give_way()
    assert ran == ["other"]
    assert share.lag == pytest.approx(SMOOTHING * 0.2)
    await share.give_way()  # nothing else was ready: no time passed
    assert share.lag == pytest.approx((1 - SMOOTHING) * SMOOTHING * 0.2)
