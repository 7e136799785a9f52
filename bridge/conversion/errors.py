"""Errors raised by the pure conversion functions."""


class ConversionError(ValueError):
    """A message that cannot be turned into a Rerun archetype.

    The text names the problem only; the caller adds the topic, so that one
    warning per topic and problem can be emitted and counted.
    """
