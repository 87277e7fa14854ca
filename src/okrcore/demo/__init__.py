"""Bundled demo data: the example plan and its check-in history."""
