"""Storage: engines, the platform's own tables, migrations and runtime DDL."""
