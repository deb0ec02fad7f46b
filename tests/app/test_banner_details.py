"""Details says what the sentence above it does not ([W] issue 23): a photo that cannot be read said its whole
sentence twice, once in the banner and again behind Details."""

from __future__ import annotations

from imgsearch_desktop.app.banner import Banner
from imgsearch_desktop.app.problems import Problem, explain
from imgsearch_desktop.core import images
from imgsearch_desktop.errors import UnreadablePart


def unreadable(data: bytes, name: str) -> UnreadablePart:
    """The error core.query raises for a part that cannot be decoded, with the decoder's own words."""
    try:
        images.decode(data, 224, name=name)
    except images.ImageSkipped as exc:
        return UnreadablePart(f"Cannot search with this image: {name}: {exc}", None)
    raise AssertionError("decoded")


def test_details_never_repeat_the_sentence(qtbot):
    banner = Banner()
    qtbot.addWidget(banner)
    problem = explain(unreadable(b"a text file, not a photo", "fake.jpg"))
    assert problem.sentence.startswith("Cannot search with this image: fake.jpg: ")
    # What the query panel shows when it takes the part out of the query.
    banner.show_problem(problem.with_sentence(f"{problem.sentence} It was taken out of the query."))
    assert banner.isVisible() and banner.text().endswith("It was taken out of the query.")
    assert not banner.details_button.isVisible() and banner.details.toPlainText() == ""

    # A message with a technical tail keeps the tail, and only it, behind Details.
    tail = explain(UnreadablePart("Cannot search with this image: a.jpg: broken data (caused by OSError(5))", None))
    banner.show_problem(tail)
    assert banner.text() == "Cannot search with this image: a.jpg: broken data"
    assert banner.details_button.isVisible() and banner.details.toPlainText() == "(caused by OSError(5))"

    # Details made elsewhere that only repeat the sentence are not offered either.
    banner.show_problem(Problem("The search engine is not running.", "The search engine is not running."))
    assert not banner.details_button.isVisible()
    banner.show_problem(Problem("Something went wrong.", "Traceback (most recent call last): …"))
    assert banner.details_button.isVisible()
