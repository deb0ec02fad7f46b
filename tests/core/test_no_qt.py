"""The core must import without Qt (dupeGuru/Anki pattern): a test blocks PySide6 and imports every core module."""

import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6'):
            raise ImportError('Qt is blocked in this test: ' + name)
sys.meta_path.insert(0, Block())
import imgsearch_desktop.core as core
for mod in pkgutil.iter_modules(core.__path__):
    importlib.import_module('imgsearch_desktop.core.' + mod.name)
import imgsearch_desktop.cli, imgsearch_desktop.config
assert not any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules)
print('ok', len(list(pkgutil.iter_modules(core.__path__))))
"""


def test_core_imports_without_qt():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ") and int(out.stdout.split()[1]) >= 7
