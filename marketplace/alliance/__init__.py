"""The provincial cooperative alliance: verification, follow-up, reports."""
