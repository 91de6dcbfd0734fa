"""torchlint: a static linter for PyTorch and ML code, built on LibCST."""

__version__ = "0.1.0"
