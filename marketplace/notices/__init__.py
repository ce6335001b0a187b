"""In-app notices: short messages to an organisation's people, listed on /notices with an unread count."""
