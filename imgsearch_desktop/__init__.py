"""imgsearch-desktop: find photos by similarity with CLIP and a local Elasticsearch."""

__version__ = "0.1.0"
APP_NAME = "imgsearch-desktop"
