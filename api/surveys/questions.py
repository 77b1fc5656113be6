"""The satisfaction survey's questions in the customer's language (pure content, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("zh", "en")


@dataclass(frozen=True, slots=True)
class Question:
    id: str  # the field of the answer body that answers it
    kind: str  # "scale" (min..max) or "text"
    text: str
    min: int | None = None
    max: int | None = None


_QUESTIONS: dict[str, tuple[Question, ...]] = {
    "zh": (
        Question("score", "scale", "您有多大可能向亲友推荐本店的售后服务？（1 = 完全不可能，10 = 非常可能）", 1, 10),
        Question("comment", "text", "请告诉我们您的意见或建议（选填）。"),
    ),
    "en": (
        Question(
            "score", "scale", "How likely are you to recommend our service to a friend? (1 = not at all, 10 = very)",
            1, 10,
        ),
        Question("comment", "text", "Anything you would like to tell us? (optional)"),
    ),
}  # fmt: skip
_THANKS = {"zh": "感谢您的评价！", "en": "Thank you for your feedback!"}


def questions(language: str) -> tuple[Question, ...]:
    """Return the survey's questions in `language` (Chinese for a language we do not have)."""
    return _QUESTIONS.get(language, _QUESTIONS["zh"])


def thanks(language: str) -> str:
    """Return the thank-you line shown after an answer."""
    return _THANKS.get(language, _THANKS["zh"])
