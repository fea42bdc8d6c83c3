"""Apps shipped with Dealcraft."""
