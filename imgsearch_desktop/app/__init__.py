"""The Qt desktop app: presents and delegates. Threading rules (written once, kept everywhere):

- The main thread only paints: no model call and no Elasticsearch request ever runs on it.
- One long-lived IndexWorker on its own QThread runs the pipeline (the only writer to the index).
- Short jobs (a query, a thumbnail) run as QRunnables on a QThreadPool and report through a small signals QObject.
- Background threads make QImages; QPixmaps are made on the main thread only.
- Pause/cancel are threading.Event flags read inside progress(); a queued signal would wait for the running slot.
"""
