"""Supervision: the archive, exports, item timelines, statistics, performance files,
duty points and tamper evidence.

It reads the whole record and never changes a stored message (the log is append-only).
It also writes records of its own, each in a ``Node.writing()`` transaction like every
workflow (so the drain guard and the channel lock order apply):

* a deputy's duty registrations (``registrations.py``): submitted, an attachment added,
  confirmed or rejected, each announced on ``deputy:<id>`` (``registration.*``);
* points disputes (``points.py``): raised and resolved, announced on ``deputy:<id>``
  (``points.disputed``, ``points.dispute_resolved``);
* the points rule sets (``points.py``): an admin adds a version or withdraws one not yet
  in force, announced nowhere;
* who opened a performance file or a registration (``performance.py``,
  ``registrations.py``): a row of ``performance_views`` per view, announced nowhere.
"""
