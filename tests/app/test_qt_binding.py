"""Guards against a Qt-binding bug that crashes the app: PySide6 6.12.0 drops a reference to None each time a
Python override (our model's data()) returns None, until Python aborts with "deallocating None"."""

import sys

from PySide6.QtCore import QAbstractListModel, QIdentityProxyModel, QModelIndex, Qt


class _NoneModel(QAbstractListModel):
    def rowCount(self, parent=QModelIndex()):  # noqa: B008 (Qt's signature)
        return 1

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return None


def test_returning_none_from_a_model_keeps_none_alive(qapp):
    model = _NoneModel()
    proxy = QIdentityProxyModel()  # calls go C++ → our Python override, as when a view paints
    proxy.setSourceModel(model)
    index = proxy.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(1000):
        proxy.data(index, Qt.ItemDataRole.ToolTipRole)
    assert abs(sys.getrefcount(None) - before) < 50
