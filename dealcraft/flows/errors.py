"""Errors of the flow engine: definition problems found on save, and step failures."""

from __future__ import annotations

from typing import Any

from dealcraft.errors import DealcraftError, FieldError, ValidationFailed


class FlowDefinitionInvalid(ValidationFailed):
    """A definition was refused on save; each error names the step and the field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors)
        first = errors[0]
        self.message = (
            f"{first.field}: {first.message}"
            if len(errors) == 1
            else f"{len(errors)} problems in the flow definition; first: {first.field}: "
            f"{first.message}"
        )


class StepFailed(DealcraftError):
    """A step could not do its work. ``transient`` failures are retried with backoff."""

    status = 500
    code = "step_failed"
    transient = False

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message, code=code, details=details)


class TransientStepError(StepFailed):
    """Worth retrying: a network error, a 5xx or 429 answer, an SMTP 4xx, a version conflict."""

    code = "step_transient"
    transient = True


class PermanentStepError(StepFailed):
    """Retrying cannot help: a 4xx answer, a refused write, a bad address. Parks the run."""

    code = "step_permanent"
