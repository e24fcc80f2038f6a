"""Mattermost Takeout: keep your own Mattermost chats, completely and for good."""

__version__ = "0.1.0"
