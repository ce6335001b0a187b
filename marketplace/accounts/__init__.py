"""Organisations, people, sessions, roles and API tokens."""
