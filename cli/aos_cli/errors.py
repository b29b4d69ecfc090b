"""The one error type the `aos` command shows: a single sentence, no traceback."""

from __future__ import annotations


class AosError(Exception):
    """A problem the user can fix; `str(error)` is one sentence naming it."""

    def __init__(self, sentence: str, exit_code: int = 1) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.exit_code = exit_code
