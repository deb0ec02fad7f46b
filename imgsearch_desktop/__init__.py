"""imgsearch-desktop: find photos by similarity with CLIP and a local Elasticsearch."""

import os

__version__ = "0.1.0"
APP_NAME = "imgsearch-desktop"

# torch's OpenMP threads otherwise spin after each op, taking the cores that decode photos in parallel with the
# model (benchmarks/ingest.py, torch pipeline: 16.1–16.3 img/s spinning, 17.4–18.2 passive). Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
