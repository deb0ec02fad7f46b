"""One message strip above the results: a plain sentence, its button, "Details" — never a stack of dialogs.

A newer message replaces the one shown. Each message has a key (who raised it), so the health watch can clear its
own "restarting…" without wiping an unrelated error the user has not read yet.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout

from imgsearch_desktop.app.problems import Problem

COLOURS = {"info": ("#e3f2fd", "#90caf9", "#0d47a1"), "warning": ("#fff8e1", "#ffe082", "#5d4037"),
           "error": ("#ffebee", "#ef9a9a", "#b71c1c")}
ACTIONS = {"settings": "Settings…", "retry": "Try again"}


class Banner(QFrame):
    action_requested = Signal(str)  # the shown problem's action: "settings" | "retry"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.problem: Problem | None = None
        self.key = ""
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 6, 6, 6)
        row = QHBoxLayout()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QToolButton()
        self.action.clicked.connect(lambda: self.problem and self.action_requested.emit(self.problem.action))
        self.details_button = QToolButton()
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.close_button = close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(lambda: self.clear())
        row.addWidget(self.message, 1)
        row.addWidget(self.action)
        row.addWidget(self.details_button)
        row.addWidget(close)
        outer.addLayout(row)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(140)
        self.details.hide()
        self.details_button.toggled.connect(self.details.setVisible)
        outer.addWidget(self.details)
        self.hide()

    def show_problem(self, problem: Problem, key: str = "") -> None:
        self.problem, self.key = problem, key
        background, border, text = COLOURS.get(problem.severity, COLOURS["error"])
        self.setStyleSheet(f"QFrame#banner {{ background: {background}; border: 1px solid {border}; "
                           f"border-radius: 6px; }} QFrame#banner QLabel {{ color: {text}; }}")
        self.message.setText(problem.sentence)
        self.action.setText(ACTIONS.get(problem.action, ""))
        self.action.setVisible(problem.action in ACTIONS)
        details = problem.details.strip()
        details = "" if details and details in problem.sentence else details  # Details never repeats the sentence
        self.details.setPlainText(details)
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)
        self.show()

    def clear(self, key: str | None = None) -> None:
        """Hide the message; with ``key``, only if that is who raised it."""
        if key is not None and key != self.key:
            return
        self.problem, self.key = None, ""
        self.hide()

    def tab_chain(self) -> list[QToolButton]:
        return [self.action, self.details_button, self.close_button]

    def text(self) -> str:
        return self.problem.sentence if self.problem else ""
