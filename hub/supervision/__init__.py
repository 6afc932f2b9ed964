"""Supervision: the archive, exports, item timelines, statistics, performance files,
duty points and tamper evidence. Reads everything, changes nothing of the record."""
