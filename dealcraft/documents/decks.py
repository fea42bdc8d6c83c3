"""Proposal decks: a PPTX built from a template (or a blank deck) and a record's data."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.util import Pt


def build_deck(
    title: str,
    subtitle: str,
    slides: Sequence[Mapping[str, Any]],
    template: Path | None = None,
) -> bytes:
    """A deck: a title slide, then one slide per ``{"title", "bullets"}`` item."""
    deck = Presentation(str(template)) if template else Presentation()
    cover = deck.slides.add_slide(deck.slide_layouts[0])
    cover.shapes.title.text = title
    if len(cover.placeholders) > 1:
        cover.placeholders[1].text = subtitle
    for item in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = str(item.get("title", ""))
        body = slide.placeholders[1].text_frame
        bullets = [str(b) for b in item.get("bullets") or []]
        body.text = bullets[0] if bullets else ""
        for bullet in bullets[1:]:
            paragraph = body.add_paragraph()
            paragraph.text = bullet
            paragraph.font.size = Pt(20)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def deck_text(data: bytes) -> list[str]:
    """Every text run of a deck, in order (for tests and previews)."""
    deck = Presentation(io.BytesIO(data))
    return [
        shape.text_frame.text
        for slide in deck.slides
        for shape in slide.shapes
        if shape.has_text_frame
    ]
