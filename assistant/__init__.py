"""Source-grounded assistant on male-fertility pharmacology."""

from assistant.offline import go_offline

go_offline()

__version__ = "0.1.0"
