"""The Qt desktop app: presents and delegates. Threading rules (written once, kept everywhere):

- The main thread only paints: no model call and no Elasticsearch request ever runs on it.
- One long-lived IndexWorker on its own QThread runs the pipeline. Every write to the index's documents holds the
  per-index lock (core.locks.index_lock), whatever its thread: the IndexWorker's jobs, and the Duplicates window's
  trash on the pool (app/dupes_view.py) — so writers take turns, never interleave.
- Short jobs (a query, a thumbnail, a health probe, restarting the managed node, a connection test) run on a
  QThreadPool (workers.run_task / run_call); their outcome comes back to the main thread through one relay QObject.
  A pool of its own is made by app/pools.new_pool, so that shutdown waits for every one of them in one place.
- Every native model call of the analyses (dlib, RapidOCR) runs on one Python thread, core/analyses/native.py,
  whoever asks: never on a pool thread (dlib's binding crashed there), never two at once.
- Background threads make QImages; QPixmaps are made on the main thread only.
- Pause/cancel are threading.Event flags read inside progress(); a queued signal would wait for the running slot.
"""
