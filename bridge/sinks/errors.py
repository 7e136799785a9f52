"""The sinks' errors, apart from the sinks themselves: the command line reports them without importing
rerun-sdk, which `convert`'s dispatching process never needs."""


class OutputError(RuntimeError):
    """The output file cannot be written; the text names it and why."""


class SinkError(RuntimeError):
    """No sink could be set up: nowhere to send the recording."""
