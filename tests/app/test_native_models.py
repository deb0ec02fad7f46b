"""dlib on Qt pool threads: the query photo's faces are found on a QThreadPool thread (workers.run_call), whose Python
thread state PySide makes anew for every job. dlib's binding re-entered the GIL through a state already freed
(SIGSEGV in take_gil, 3 drop loops of 6); every native model call now runs on one Python thread
(core/analyses/native)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FACES = Path(__file__).resolve().parents[1] / "faces"

JOBS = """
import json, sys
from PySide6.QtCore import QCoreApplication, QThreadPool
from imgsearch_desktop.core import images
from imgsearch_desktop.core.analyses.faces import FacesAnalysis

app = QCoreApplication([])
path = sys.argv[1]
analysis = FacesAnalysis()  # the default model, made by the first job that needs it: on a pool thread, as in the app
loaded = images.decode(images.read_file(path), analysis.decode_side, name=path)
found = []
def job():
    found.append(len(analysis.analyse(loaded.image, (loaded.width, loaded.height))["faces"]))
pool = QThreadPool()
pool.setMaxThreadCount(2)
pool.setExpiryTimeout(-1)  # threads kept between jobs, each job a new Python thread state
for _ in range(int(sys.argv[2])):
    pool.start(job)
pool.waitForDone()
print(json.dumps({"jobs": len(found), "faces": sorted(set(found))}))
"""


@pytest.mark.slow
def test_faces_found_on_qt_pool_threads_never_crash():
    jobs = 60
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", JOBS, str(FACES / "obama.jpg"), str(jobs)],
                          capture_output=True, text=True, timeout=300)  # before: a crash, or a deadlock
    assert proc.returncode == 0, proc.stderr.split("Extension modules:")[0][-6000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["jobs"] == jobs
    assert report["faces"] == [1], report  # one face each time: the photo really went through dlib
