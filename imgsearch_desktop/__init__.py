"""imgsearch-desktop: find photos by similarity with CLIP and a local Elasticsearch."""

import os

__version__ = "0.1.0"
APP_NAME = "imgsearch-desktop"

# torch's OpenMP threads otherwise spin after each op, taking the cores that decode photos in parallel with the
# model (measured by benchmarks/ingest.py: README, Ingest). Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
