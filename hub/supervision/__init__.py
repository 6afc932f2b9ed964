"""Supervision: the archive, exports, item timelines, statistics, performance files,
duty points and tamper evidence. It reads the whole record and changes none of it: the
message log is append-only and nothing here updates or deletes a stored message. Its own
writes are supervision's records, each through ``Node.writing()`` like every workflow and
announced on the deputy's channel: registrations confirmed or rejected, points rules and
disputes, and who viewed a performance file.
"""
