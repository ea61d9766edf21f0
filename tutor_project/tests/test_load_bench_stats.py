"""The load benchmark's arithmetic (bench/load/stats.py): what its table is computed from.

The benchmark itself runs outside the suite (`make bench-load`); these check only the pure
functions, so a figure in the table means what its heading says.
"""

from bench.load.idle_phase import seconds_back
from bench.load.stats import Turn, percentile, summarize
from bench.load.table import BARE, DIRECT, floor


def test_percentile_is_nearest_rank_and_none_for_nothing():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.95) == 5.0
    assert percentile(values, 0.0) == 1.0
    assert percentile([], 0.5) is None


def test_a_coalesced_frame_counts_each_word_it_carries_once():
    turn = Turn(sent_at=10.0)
    turn.add_text("w0 ", 10.3)
    turn.add_text("w1 w2 w3 ", 10.5)  # three provider chunks in one text frame
    turn.add_text("w3 ", 10.6)  # a repeat is not a new chunk
    assert abs(turn.ttft - 0.3) < 1e-9
    assert sorted(turn.words) == [0, 1, 2, 3]
    assert [round(gap, 6) for gap in turn.gaps()] == [0.2, 0.0, 0.0]


def test_summary_counts_chunks_in_the_window_and_lost_chunks_of_finished_turns():
    finished = Turn(sent_at=0.0)
    for n in range(4):
        finished.add_text(f"w{n} ", 1.0 + n)  # words at 1, 2, 3, 4
    failed = Turn(sent_at=0.5, error="timeout")
    failed.add_text("w0 ", 2.5)

    summary = summarize([finished, failed], window=(2.0, 4.0), cpu_seconds=0.3, expected_words=5)

    assert summary["turns"] == 2
    assert summary["chunks_per_second"] == 3 / 2.0  # words at 2, 2.5 and 3
    assert summary["cpu_per_chunk"] == 0.3 / 3
    assert summary["errors"] == 1
    assert summary["error_kinds"] == {"timeout": 1}
    assert summary["lost_chunks"] == 1  # the finished turn had 4 of 5 words
    assert summary["ttft_p50"] == 1.0  # 1.0 and 2.0: the nearest-rank median is the lower
    assert summary["gap_mean"] == 1.0
    assert summary["frames_per_turn"] == (4 + 1) / 2  # the failed turn's one frame counts


def test_frames_per_turn_counts_the_frames_that_brought_text_not_the_words():
    coalesced = Turn(sent_at=0.0)
    coalesced.add_text("w0 ", 0.3)
    coalesced.add_text("w1 w2 w3 ", 0.5)
    silent = Turn(sent_at=0.0, error="connect")  # no text: not counted

    summary = summarize([coalesced, silent], window=(0.0, 1.0), cpu_seconds=0.1, expected_words=4)

    assert summary["frames_per_turn"] == 2


def test_cpu_over_every_turn_is_divided_by_every_word_the_phase_delivered():
    early = Turn(sent_at=0.0)
    for n in range(4):
        early.add_text(f"w{n} ", 0.5 + n)  # words at 0.5, 1.5, 2.5, 3.5
    late = Turn(sent_at=3.0)
    late.add_text("w0 w1 ", 5.0)  # after the window

    window_only = summarize([early, late], window=(1.0, 3.0), cpu_seconds=0.6, expected_words=4)
    every_turn = summarize(
        [early, late],
        window=(1.0, 3.0),
        cpu_seconds=0.6,
        expected_words=4,
        cpu_over_every_turn=True,
    )

    assert window_only["cpu_per_chunk"] == 0.6 / 2  # words at 1.5 and 2.5
    assert every_turn["cpu_per_chunk"] == 0.6 / 6  # all six words
    assert every_turn["chunks_per_second"] == window_only["chunks_per_second"] == 2 / 2.0


def test_the_floor_line_reads_the_bare_consumers_phases_against_direct_litellms():
    def phase(ttft_p50, ttft_p95, cpu_per_chunk):
        return {"ttft_p50": ttft_p50, "ttft_p95": ttft_p95, "cpu_per_chunk": cpu_per_chunk}

    results = {
        "levels": {
            1: {DIRECT: phase(0.300, 0.310, 0.001)},  # not run at c = 1
            10: {DIRECT: phase(0.300, 0.320, 0.002), BARE: {"failed": "the bare consumer died"}},
            50: {DIRECT: phase(0.400, 0.900, 0.001), BARE: phase(0.473, 1.200, 0.0012)},
        },
        "idle": {
            BARE: {
                "sockets": 2000,
                "kib_per_socket": 6.25,
                "reconnected": 1999,
                "start_seconds": 4.2,
                "last_back_seconds": 9.5,
                "median_back_seconds": 7.25,
            }
        },
    }

    line = floor(results)

    assert "c=1, 10, 50: -, -, x1.20;" in line
    assert "added TTFT c=50, p50 ms: +73;" in line
    assert "2000 idle sockets: KiB per socket 6.2;" in line
    assert "back 1999 / 2000, s to start (listening) 4.2" in line
    assert "restart to last / median back 9.5 / 7.2 s" in line


def test_seconds_back_count_from_the_moment_given_and_none_for_no_socket_back():
    back = {"last_history_at": 15.0, "median_history_at": None}

    assert seconds_back(back, 10.0) == {"last_back_seconds": 5.0, "median_back_seconds": None}
    assert seconds_back(back, 12.0, "_after_listening") == {
        "last_back_after_listening_seconds": 3.0,
        "median_back_after_listening_seconds": None,
    }
