"""The IMGSEARCH_* variables no test may inherit from the developer's shell, and the one isolation both conftests
apply."""

from __future__ import annotations

from pathlib import Path

ENV_VARS = ("IMGSEARCH_ES_URL", "IMGSEARCH_INDEX", "IMGSEARCH_IMAGE_MODEL", "IMGSEARCH_TEXT_MODEL",
            "IMGSEARCH_HOME", "IMGSEARCH_ES_PASSWORD", "IMGSEARCH_ES_API_KEY", "IMGSEARCH_DEVICE",
            "IMGSEARCH_MODEL_DIR", "IMGSEARCH_LIBRARY_ID", "IMGSEARCH_BATCH_SIZE", "IMGSEARCH_DOWNLOAD_LIMITS",
            "IMGSEARCH_BACKEND")


def isolate(tmp_path: Path, monkeypatch) -> Path:
    """Every IMGSEARCH_* variable cleared and IMGSEARCH_HOME a fresh folder of this test: no test reads the
    developer's settings or touches the real config, data or cache dirs. Returns that home."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "app-home"
    monkeypatch.setenv("IMGSEARCH_HOME", str(home))
    return home
