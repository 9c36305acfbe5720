"""Summaries of py-spy's collapsed stacks."""

from __future__ import annotations

from benchmarks.profiling import summarise

COLLAPSED = """process 7:"python app.py";main (app.py:1);handle (app.py:5);query (db.py:9) 4
process 7:"python app.py";main (app.py:1);handle (app.py:5);query (db.py:12) 2
process 7:"python app.py";main (app.py:1);handle (app.py:5);render (json.py:3) 3
process 7:"python app.py";main (app.py:1);idle (loop.py:2) 1
"""


def test_summarise_counts_inclusive_and_self_shares() -> None:
    text = summarise(COLLAPSED)
    assert text.startswith("10 samples.")
    inclusive, own = text.split("### Self")
    assert "| 100.0% | `main (app.py)` |" in inclusive
    assert "| 90.0% | `handle (app.py)` |" in inclusive
    assert "| 60.0% | `query (db.py)` |" in own  # both lines of query in one row
    assert "handle" not in own
    assert "process" not in text


def test_summarise_without_samples_says_so() -> None:
    assert "No samples" in summarise("")
