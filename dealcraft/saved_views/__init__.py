"""Saved list views: a filter, a sort and columns, kept per user and shared per team."""
