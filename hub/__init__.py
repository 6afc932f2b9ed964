"""Session Hub: a durable real-time hub for a People's Congress session."""

__version__ = "0.1.0"
