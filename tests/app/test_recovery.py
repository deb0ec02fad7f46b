"""The window heals itself: the managed node stopped under it, a dead Elasticsearch address saved in Settings."""

from __future__ import annotations

import pytest

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.node import LocalNode
from tests.app.gui import SCREENSHOTS, drop_file, wait_indexed

TECHNICAL = ("Errno", "HTTPConnection", "NewConnectionError", "ConnectionError(", "Traceback")


@pytest.fixture
def own_node(isolated_home, es_archive):
    """The node the window manages (no es_url): under the test's home, so stopping it disturbs no other test."""
    node = LocalNode(AppDirs.resolve(isolated_home))
    node.install(str(es_archive))
    yield node
    node.uninstall()


def plain(text: str) -> bool:
    return not any(t in text for t in TECHNICAL)


def test_managed_node_stopped_is_restarted_and_the_query_answered(qtbot, own_node, make_app, library):
    # own_node before make_app: the window is closed before its node is removed.
    app = make_app([library], managed=True)
    window = app.window
    wait_indexed(qtbot, app, 300_000)  # the window started the node itself
    assert own_node.running_port() is not None

    own_node.stop()  # what `imgsearch-desktop es stop` does while the window is open
    target = library / "2023" / "IMG_0003.jpg"
    drop_file(window, target)
    qtbot.waitUntil(lambda: "restarting" in window.banner.text(), timeout=60_000)
    assert window.banner.text().startswith("The search engine stopped — restarting…")
    assert plain(window.status_label.text()) and plain(window.banner.text())
    SCREENSHOTS.mkdir(exist_ok=True)
    assert window.grab().save(str(SCREENSHOTS / "main-restarting.png"))

    with qtbot.waitSignal(window.results_shown, timeout=300_000):  # the pending query, once the node is back
        pass
    assert window.model.hits[0].path == str(target)
    assert own_node.running_port() is not None
    qtbot.waitUntil(lambda: window.banner.problem is None, timeout=30_000)
    with qtbot.waitSignal(window.results_shown, timeout=60_000):  # and searching simply works again
        drop_file(window, library / "scan.png")
    assert window.model.hits[0].path == str(library / "scan.png")


def test_settings_address_applies_without_a_restart(qtbot, make_app, library, es_url):
    app = make_app([library])
    window = app.window
    wait_indexed(qtbot, app)

    dialog = window.open_settings()
    dialog.es_url.setText("http://127.0.0.1:9")
    dialog.save_button.click()  # the address is tested before it is saved…
    qtbot.waitUntil(lambda: dialog.save_button.text() == "Save anyway", timeout=60_000)
    assert dialog.isVisible() and dialog.test_result.text() == "Cannot reach Elasticsearch at http://127.0.0.1:9."
    SCREENSHOTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(SCREENSHOTS / "settings-connection-test.png"))
    dialog.save_button.click()  # …and the user may keep it anyway (a cluster that is down right now)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    assert app.ctx.settings.es_url == "http://127.0.0.1:9"

    qtbot.waitUntil(lambda: "Cannot reach Elasticsearch at http://127.0.0.1:9." in window.banner.text(),
                    timeout=60_000)
    assert window.banner.action.text() == "Settings…" and window.banner.problem.action == "settings"
    assert plain(window.banner.text()) and "Connection refused" in window.banner.problem.details
    target = library / "2024" / "IMG_0000.jpg"
    drop_file(window, target)  # waits instead of failing
    assert window.status_label.text().startswith("Will search as soon as")

    dialog = window.open_settings()
    dialog.es_url.setText(es_url)  # as `es start` prints it: the password moves to the secret store
    with qtbot.waitSignal(window.results_shown, timeout=120_000):
        dialog.save_button.click()
    assert window.model.hits[0].path == str(target)
    assert app.ctx.settings.es_url.startswith("http://127.0.0.1:") and "@" not in app.ctx.settings.es_url
    qtbot.waitUntil(lambda: window.banner.problem is None, timeout=10_000)
