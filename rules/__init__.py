"""The rule catalogue: one module per rule. Installed as `torchlint.rules`."""
