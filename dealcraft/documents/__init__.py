"""Documents: generated proposal decks (PPTX)."""
