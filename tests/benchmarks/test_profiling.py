"""Summaries of py-spy's collapsed stacks."""

from __future__ import annotations

from benchmarks.profiling import summarise

COLLAPSED = """main (app.py:1);handle (app.py:5);query (db.py:9) 6
main (app.py:1);handle (app.py:5);render (json.py:3) 3
main (app.py:1);idle (loop.py:2) 1
"""


def test_summarise_counts_inclusive_and_self_shares() -> None:
    text = summarise(COLLAPSED)
    assert text.startswith("10 samples.")
    inclusive, own = text.split("### Self")
    assert "| 100.0% | `main (app.py:1)` |" in inclusive
    assert "| 90.0% | `handle (app.py:5)` |" in inclusive
    assert "| 60.0% | `query (db.py:9)` |" in own
    assert "handle" not in own


def test_summarise_without_samples_says_so() -> None:
    assert "No samples" in summarise("")
