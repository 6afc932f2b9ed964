"""Session workflows built on the transport: meetings, notices, attendance, speakers,
opinions, commit-to-do items and suggestions. They write through ``Node.writing()`` and
never reach around it."""
