"""The program model: the same-module class hierarchy and `self.<attr>` bindings, resolved once."""

import libcst as cst

from torchlint.facts import ModuleFacts
from torchlint.facts.program import Program
from torchlint.facts.statements import body_of, is_true, parameters, walk_nodes


def program(source: str) -> tuple[Program, dict]:
    module = cst.parse_module(source)
    facts = ModuleFacts(module)
    classes = {name: nodes[0] for name, nodes in facts.names.classes.items()}
    return facts.get(Program), classes


HIERARCHY = (
    "import torch.nn as nn\n"
    "class Base:\n    def step(self):\n        pass\n    def reset(self):\n        pass\n"
    "class Mixin:\n    def reset(self):\n        self.mixed = 1\n"
    "class Child(Base, Mixin):\n    def step(self):\n        pass\n"
    "class Net(nn.Module):\n    pass\n"
    "class Leaf(Child):\n    pass\n"
)


def test_same_module_bases_in_order_and_imported_ones_left_out():
    facts, classes = program(HIERARCHY)
    assert facts.bases(classes["Child"]) == [classes["Base"], classes["Mixin"]]
    assert facts.bases(classes["Net"]) == []
    assert [c.name.value for c in facts.lineage(classes["Leaf"])] == ["Leaf", "Child", "Base", "Mixin"]


def test_a_method_is_found_in_the_class_first_then_its_bases_in_order():
    facts, classes = program(HIERARCHY)
    assert facts.method(classes["Leaf"], "step") in body_of(classes["Child"].body)
    assert facts.method(classes["Child"], "reset") in body_of(classes["Base"].body)
    assert facts.method(classes["Leaf"], "missing") is None


def test_unseen_bases_are_those_defined_elsewhere():
    facts, classes = program(HIERARCHY)
    assert facts.has_unseen_base(classes["Net"])
    assert not facts.has_unseen_base(classes["Leaf"])


def test_a_class_defined_twice_is_not_guessed_and_cycles_end():
    source = "class A(B):\n    pass\nclass B(A):\n    pass\nclass C:\n    pass\nclass C:\n    pass\nclass D(C):\n    pass\n"
    facts, classes = program(source)
    assert [c.name.value for c in facts.lineage(classes["A"])] == ["A", "B"]
    assert facts.bases(classes["D"]) == []


def test_self_attributes_are_collected_from_every_method():
    source = (
        "class M:\n"
        "    def __init__(self):\n        self.a = f(1)\n        self.register_buffer('buf', g())\n"
        "    def later(self):\n        self.b = 2\n        self.a += 1\n        other.c = 3\n"
    )
    facts, classes = program(source)
    attributes = facts.self_attributes(classes["M"])
    assert sorted(attributes) == ["a", "b", "buf"]
    assert len(attributes["a"]) == 3  # assigned, then augmented (counted twice: not set once)
    assert facts.method_names(classes["M"]) == {"__init__", "later"}


def test_shared_syntax_helpers():
    function = cst.parse_module("def f(a, /, b, *c, d, **e):\n    return True\n").body[0]
    assert [p.name.value for p in parameters(function.params)] == ["a", "b", "d", "c", "e"]
    [statement] = body_of(function.body)
    assert is_true(statement.body[0].value)
    assert any(isinstance(node, cst.Return) for node in walk_nodes(function))
