"""Codes of the diagnostics the engine itself emits (their docs live in `torchlint.rules`)."""

SYNTAX_ERROR = "TL001"
UNREADABLE_FILE = "TL002"
UNUSED_SUPPRESSION = "TL003"
INTERNAL_ERROR = "TL004"
