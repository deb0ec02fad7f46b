"""Core logic: embedding, images, Elasticsearch store, scanning, indexing. Never imports Qt."""
