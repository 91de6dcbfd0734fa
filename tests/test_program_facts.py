"""The program model: the same-module class hierarchy and `self.<attr>` bindings, resolved once."""

import libcst as cst

from torchlint.facts import ModuleFacts
from torchlint.facts.program import Program, StoreKind
from torchlint.facts.statements import body_of, is_true, parameters, walk_nodes
from conftest import nodes_in_order


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
    # assigned, then augmented: two stores, the second of a value not known whole
    assert [type(v).__name__ if v is not None else None for v in attributes["a"]] == ["Call", None]
    assert facts.method_names(classes["M"]) == {"__init__", "later"}


def test_self_attributes_are_a_view_of_the_stores():
    source = (
        "class M:\n"
        "    self.body_level = 1\n"
        "    def a(self):\n        self.x: int = 1\n        self.y: int\n        self.p, self.q = f()\n"
        "        self.register_buffer('buf', tensor=t(), persistent=False)\n        other.register_buffer('no', t())\n"
        "        class Nested:\n            def n(self):\n                self.inner = 1\n"
    )
    facts, classes = program(source)
    stores = facts.self_stores(classes["M"])
    attributes = facts.self_attributes(classes["M"])
    # nested classes and the class body bind no attribute of M's instances; annotations alone bind nothing
    assert sorted(attributes) == sorted(stores.by_name) == ["buf", "p", "q", "x"]
    assert len(attributes["x"]) == 1 and attributes["p"] == [None]
    assert [s.kind for s in stores.by_name["buf"]] == [StoreKind.REGISTER]
    assert type(attributes["buf"][0]).__name__ == "Call"
    [q] = stores.by_name["q"]
    assert q.kind is StoreKind.UNPACK and q.index == 1 and type(q.source).__name__ == "Call"


def test_shared_syntax_helpers():
    function = cst.parse_module("def f(a, /, b, *c, d, **e):\n    return True\n").body[0]
    assert [p.name.value for p in parameters(function.params)] == ["a", "b", "d", "c", "e"]
    [statement] = body_of(function.body)
    assert is_true(statement.body[0].value)
    assert any(isinstance(node, cst.Return) for node in walk_nodes(function))


# --- scopes: module, class and function flows ---------------------------------------------------


def _scoped(source: str):
    from torchlint.facts.dataflow import Dataflow

    module = cst.parse_module(source)
    return module, ModuleFacts(module).get(Dataflow)


def _loads_of(module, name: str) -> list:
    """Every Name node spelled `name`, in source order (load or store)."""
    found = [n for n in walk_nodes(module) if isinstance(n, cst.Name) and n.value == name]
    positions = {id(n): i for i, n in enumerate(_source_order(module))}
    return sorted(found, key=lambda n: positions[id(n)])


def _source_order(module) -> list:
    return nodes_in_order(module)


def _reaching_values(module, dataflow, name_node) -> list[str]:
    return sorted(module.code_for_node(b.value) if b.value is not None else b.kind for b in dataflow.flow_of(name_node).bindings_at(name_node))


def test_module_level_code_has_a_flow_with_reaching_definitions():
    from torchlint.facts.dataflow import Scope

    module, dataflow = _scoped(
        "import torch\n"
        "x = torch.zeros(3)\n"
        "if c:\n    x = torch.ones(3)\n"
        "y = x.view(3)\n"
        "x = 5\n"
        "print(x)\n"
    )
    loads = _loads_of(module, "x")
    flow = dataflow.flow_of(loads[2])
    assert flow.kind is Scope.MODULE and flow is dataflow.flow_of(module)
    assert _reaching_values(module, dataflow, loads[2]) == ["torch.ones(3)", "torch.zeros(3)"]
    assert _reaching_values(module, dataflow, loads[4]) == ["5"]
    [y] = flow.bindings_of("y")
    assert [module.code_for_node(dataflow.parent(dataflow.parent(u))) for u in flow.uses(flow.bindings_of("x")[0])] == ["x.view(3)"]
    assert y in flow.aliases(flow.bindings_of("x")[1])
    assert dataflow.function_of(loads[2]) is None  # function_of keeps answering for defs only


def test_defs_and_classes_bind_their_names_and_their_bodies_are_scopes_of_their_own():
    from torchlint.facts.dataflow import Scope

    module, dataflow = _scoped(
        "def helper(a):\n    return a\n"
        "class Model:\n    pass\n"
        "out = helper(Model())\n"
    )
    flow = dataflow.flow_of(module)
    assert {(b.name, b.kind) for b in flow.bindings} == {("helper", "def"), ("Model", "class"), ("out", "assign")}
    helper_load, model_load = _loads_of(module, "helper")[1], _loads_of(module, "Model")[1]
    assert [b.kind for b in flow.bindings_at(helper_load)] == ["def"]
    assert [b.kind for b in flow.bindings_at(model_load)] == ["class"]
    a_load = _loads_of(module, "a")[1]
    assert dataflow.flow_of(a_load).kind is Scope.FUNCTION
    assert [b.kind for b in dataflow.flow_of(a_load).bindings_at(a_load)] == ["param"]
    assert dataflow.flow_of(module.body[1].body).kind is Scope.CLASS


def test_the_class_defining_a_def_is_the_scope_its_name_binds_in():
    from torchlint.facts.summaries import Summaries

    module, dataflow = _scoped(
        "import sys\n"
        "class Model:\n"
        "    def forward(self, x):\n        return x\n"
        "    if sys.version_info >= (3, 8):\n"
        "        def step(self, x):\n            return x\n"
        "    @staticmethod\n    def make(x):\n        return x\n"
        "    def outer(self):\n        def inner(y):\n            return y\n        return inner\n"
        "def free(x):\n    return x\n"
        "m = Model()\n"
        "a = m.step(1)\n"
        "b = m.make(2)\n"
    )
    defs = {d.name.value: d for d in nodes_in_order(module, cst.FunctionDef)}
    model = module.body[1]
    assert dataflow.defining_class(defs["forward"]) is model
    assert dataflow.defining_class(defs["step"]) is model  # under an `if` of the class body
    assert dataflow.defining_class(defs["make"]) is model
    assert dataflow.defining_class(defs["inner"]) is None  # bound in the method, not the class
    assert dataflow.defining_class(defs["free"]) is None
    summaries = ModuleFacts(module).get(Summaries)
    calls = {module.code_for_node(c): c for c in nodes_in_order(module, cst.Call)}
    # a method under an `if` gets its receiver as `self`; a staticmethod does not
    assert sorted(summaries.arguments(calls["m.step(1)"], defs["step"])) == ["self", "x"]
    assert sorted(summaries.arguments(calls["m.make(2)"], defs["make"])) == ["x"]


def test_a_class_body_is_a_flow_whose_names_its_methods_lambdas_and_comprehensions_do_not_see():
    from torchlint.facts.dataflow import Scope

    module, dataflow = _scoped(
        "class C:\n"
        "    z = make()\n"
        "    first = z.view(3)\n"
        "    each = [z for _ in range(3)]\n"
        "    over = [q for q in z]\n"
        "    later = lambda: z\n"
        "    def method(self):\n        return z\n"
    )
    z_loads = _loads_of(module, "z")[1:]
    assert dataflow.flow_of(z_loads[0]).kind is Scope.CLASS
    seen = [bool(dataflow.flow_of(n).bindings_at(n)) for n in z_loads]
    # read in the body; the comprehension element, the first iterable, the lambda, the method
    assert seen == [True, False, True, False, False]
    assert dataflow.flow_of(z_loads[-1]).kind is Scope.FUNCTION


def test_comprehension_and_lambda_names_are_hidden_but_the_first_iterable_is_read_outside():
    module, dataflow = _scoped(
        "def f(x, k):\n"
        "    ys = [x for x in x]\n"
        "    g = lambda k=k: k + x\n"
        "    return x\n"
    )
    xs = _loads_of(module, "x")
    # the param; the element and target (hidden); the iterable (the param); the lambda body;
    # the return
    kinds = [[b.kind for b in dataflow.flow_of(n).bindings_at(n)] for n in xs[1:]]
    assert kinds == [[], [], ["param"], ["param"], ["param"]]
    ks = _loads_of(module, "k")
    assert [[b.kind for b in dataflow.flow_of(n).bindings_at(n)] for n in ks[1:]] == [[], ["param"], []]


def test_a_defs_defaults_and_decorators_are_read_in_the_enclosing_scope():
    from torchlint.facts.dataflow import Scope

    module, dataflow = _scoped(
        "scale = 2.0\n"
        "deco = make()\n"
        "@deco\n"
        "def f(a=scale, *, b: int = 1):\n    return a\n"
    )
    default = _loads_of(module, "scale")[1]
    assert dataflow.flow_of(default).kind is Scope.MODULE
    assert [b.kind for b in dataflow.flow_of(default).bindings_at(default)] == ["assign"]
    decorator = _loads_of(module, "deco")[1]
    assert [b.kind for b in dataflow.flow_of(decorator).bindings_at(decorator)] == ["assign"]
    param = module.body[2].params.params[0]
    assert dataflow.flow_of(param.name).kind is Scope.FUNCTION
    # a module-level value read by a function may be changed by a call to it: captured
    assert "scale" in dataflow.flow_of(module).captured


def test_object_stores_are_a_scopes_own_stores_to_other_objects():
    source = (
        "state.opt = make()\nstate.a, cfg.b.c = pair()\nself.x = 1\n"
        "def f():\n    state.inner = 2\n"
    )
    module = cst.parse_module(source)
    facts = ModuleFacts(module).get(Program)
    stores = facts.object_stores(module)
    assert sorted(stores.by_name) == ["cfg.b.c", "state.a", "state.opt"]
    [c] = stores.by_name["cfg.b.c"]
    assert c.kind is StoreKind.UNPACK and c.index == 1 and c.method is module
    assert sorted(facts.object_stores(module.body[-1]).by_name) == ["state.inner"]
