"""A gate shared by the rules that judge `eval()`/`train()` switches (TL205, TL206)."""

from __future__ import annotations


class AsksWhenModesSwitch:
    """Mixin for a rule whose facts are worth asking only when the module switches a mode.

    The engine walks every call anyway, so noting an `.eval(...)`/`.train(...)` attribute call
    costs nothing; `leave_Module` then asks the mode facts only when `switches` is true.
    """

    switches = False

    def visit_Call(self, node) -> None:
        func = node.func
        if type(func).__name__ == "Attribute" and func.attr.value in ("eval", "train"):
            self.switches = True
