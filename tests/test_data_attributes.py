"""Attribute bindings in the data domain: `self.<attr>` stored in one method, read in another.

A read that its own method has not stored before sees the stores of every method of the class
and of its same-module relatives, when they agree on one role and one fitted object.
"""

import libcst as cst

from torchlint.facts import ModuleFacts
from torchlint.facts.data import TEST, TRAIN, Because, DataRoles, Value, agreed
from torchlint.facts.program import Program
from conftest import nodes_in_order


def build(source: str) -> tuple[DataRoles, cst.Module]:
    module = cst.parse_module(source)
    return DataRoles.build(ModuleFacts(module)), module


def attribute_reads(module, attr: str) -> list:
    """Every `self.<attr>` load, in source order."""
    return nodes_in_order(module, cst.Attribute, lambda node: isinstance(node.value, cst.Name)
                          and node.value.value == "self" and node.attr.value == attr)


def last_read(source: str, attr: str):
    """The value of the last `self.<attr>` read in the source (stores are not evaluated)."""
    facts, module = build(source)
    return [facts.value_of(node) for node in attribute_reads(module, attr) if facts.value_of(node) is not None][-1]


SCALER = "from sklearn.preprocessing import StandardScaler\nimport pandas as pd\n"


# --- objects and data stored in one method, read in another -------------------------------------


def test_an_object_stored_in_init_is_the_one_every_method_fits():
    source = SCALER + (
        "class Model:\n"
        "    def __init__(self):\n        self.prep = StandardScaler()\n"
        "    def fit(self, X_train):\n        self.prep.fit(X_train)\n"
        "    def evaluate(self, X_test):\n        return self.prep.fit_transform(X_test)\n"
    )
    facts, _ = build(source)
    train_fit, test_fit = facts.fits
    assert train_fit.obj is test_fit.obj and train_fit.obj.class_name == "StandardScaler"
    assert facts.earlier_fits(test_fit, frozenset({TRAIN})) == [train_fit]
    assert test_fit.data.roles == {TEST}


def test_a_frame_loaded_in_one_method_is_a_frame_in_another():
    source = SCALER + (
        "class Job:\n"
        "    def load(self):\n        self.df = pd.read_csv('houses.csv')\n"
        "    def prep(self):\n        return StandardScaler().fit_transform(self.df['price'])\n"
    )
    facts, module = build(source)
    frame = facts.value_of(attribute_reads(module, "df")[-1])
    assert frame.frame and frame.data
    (given,) = facts.one_d_inputs
    assert given.evidence.reason is Because.SINGLE_COLUMN


def test_split_parts_stored_on_self_keep_their_roles():
    source = SCALER + (
        "from sklearn.model_selection import train_test_split\n"
        "class Job:\n"
        "    def split(self, X, y):\n"
        "        self.a, self.b, self.c, self.d = train_test_split(X, y)\n"
        "    def scale(self):\n        StandardScaler().fit(self.b)\n"
    )
    value = last_read(source, "b")
    assert value.roles == {TEST} and value.role_evidence.reason is Because.SPLIT_PART


# --- when the stores disagree, or are not all known, the attribute is unknown ----------------------


def test_an_attribute_given_different_roles_in_two_methods_has_no_role():
    source = SCALER + (
        "class Job:\n"
        "    def __init__(self, X_train):\n        self.data = X_train\n"
        "    def use_test(self, X_test):\n        self.data = X_test\n"
        "    def fit(self):\n        StandardScaler().fit(self.data)\n"
    )
    assert last_read(source, "data").roles == frozenset()
    agreeing = source.replace("X_train):\n        self.data = X_train", "X_test):\n        self.data = X_test")
    assert last_read(agreeing, "data").roles == {TEST}


def test_two_different_objects_stored_leave_the_object_unknown():
    source = SCALER + (
        "from sklearn.preprocessing import MinMaxScaler\n"
        "class Job:\n"
        "    def __init__(self):\n        self.prep = StandardScaler()\n"
        "    def reset(self):\n        self.prep = MinMaxScaler()\n"
        "    def fit(self, X):\n        self.prep.fit(X)\n"
    )
    facts, _ = build(source)
    assert facts.fits == []  # `prep` is not a transformer's name: with the object unknown, no fit


def test_a_none_placeholder_does_not_count():
    source = SCALER + (
        "class Job:\n"
        "    def __init__(self):\n        self.prep = None\n"
        "    def setup(self):\n        self.prep = StandardScaler()\n"
        "    def fit(self, X):\n        self.prep.fit(X)\n"
    )
    facts, _ = build(source)
    (fit,) = facts.fits
    assert fit.obj.class_name == "StandardScaler"


def test_a_store_not_evaluated_yet_leaves_the_attribute_unknown():
    # `evaluate` is read before `setup` is: what `setup` stores is not known there yet
    source = SCALER + (
        "class Job:\n"
        "    def evaluate(self, X):\n        self.prep.fit(X)\n"
        "    def setup(self):\n        self.prep = StandardScaler()\n"
    )
    facts, _ = build(source)
    assert facts.fits == []


def test_setting_attributes_by_name_leaves_every_attribute_unknown():
    source = SCALER + (
        "class Job:\n"
        "    def __init__(self, **kw):\n        self.prep = StandardScaler()\n"
        "        for k, v in kw.items():\n            setattr(self, k, v)\n"
        "    def fit(self, X):\n        self.prep.fit(X)\n"
    )
    facts, _ = build(source)
    assert facts.fits == []


# --- the method's own stores come first ----------------------------------------------------------


def test_the_methods_own_earlier_store_takes_precedence():
    source = SCALER + (
        "class Job:\n"
        "    def __init__(self, X_test):\n        self.data = X_test\n"
        "    def fit(self, X_train):\n        self.data = X_train\n        StandardScaler().fit(self.data)\n"
    )
    assert last_read(source, "data").roles == {TRAIN}


def test_the_methods_own_later_store_does_not_hide_the_others():
    # `self.df = f(self.df)`: the read runs before the store of its own line
    source = SCALER + (
        "from sklearn.model_selection import train_test_split\n"
        "class Job:\n"
        "    def load(self):\n        self.df = pd.read_csv('data.csv')\n"
        "    def prep(self):\n        self.df = StandardScaler().fit_transform(self.df)\n"
        "    def split(self):\n        return train_test_split(self.df)\n"
    )
    facts, module = build(source)
    read_in_prep = attribute_reads(module, "df")[2]
    assert facts.value_of(read_in_prep).frame
    (fit,) = facts.fits
    assert fit.tainted_splits  # the split in `split` is of the scaled data


def test_a_static_method_has_no_self():
    source = SCALER + (
        "class Job:\n"
        "    def __init__(self):\n        self.prep = StandardScaler()\n"
        "    @staticmethod\n    def fit(self, X):\n        self.prep.fit(X)\n"
    )
    facts, _ = build(source)
    assert facts.fits == []


# --- relatives: same-module bases and subclasses ----------------------------------------------------


def test_a_subclass_reads_what_its_base_stores():
    source = SCALER + (
        "class Base:\n    def __init__(self):\n        self.prep = StandardScaler()\n"
        "class Child(Base):\n    def fit(self, X_train):\n        self.prep.fit(X_train)\n"
    )
    facts, _ = build(source)
    (fit,) = facts.fits
    assert fit.obj.class_name == "StandardScaler"


def test_a_base_method_does_not_trust_its_own_store_when_a_subclass_stores_later():
    source = SCALER + (
        "class Base:\n"
        "    def __init__(self, X_test):\n        self.data = X_test\n"
        "    def fit(self):\n        StandardScaler().fit(self.data)\n"
        "class Child(Base):\n    def __init__(self, X_train):\n        self.data = X_train\n"
    )
    assert last_read(source, "data").roles == frozenset()


def test_an_instance_of_another_class_is_not_self():
    source = SCALER + (
        "class Job:\n    def __init__(self):\n        self.prep = StandardScaler()\n"
        "def run(job, X):\n    job.prep.fit(X)\n"
    )
    facts, _ = build(source)
    assert facts.fits == []


# --- the program model's stores and relatives, and the join --------------------------------------------


def test_self_stores_cover_unpacking_loops_with_and_nested_defs_not_nested_classes():
    source = (
        "class M:\n"
        "    def a(self):\n        self.x, (self.y, *self.z) = f()\n        self.w: int = 1\n        self.x += 1\n"
        "    def b(self):\n        for self.i in r:\n            pass\n        with g() as self.h:\n            pass\n"
        "        def inner():\n            self.n = 2\n"
        "        class Other:\n            def c(self):\n                self.o = 3\n"
    )
    module = cst.parse_module(source)
    facts = ModuleFacts(module)
    cls = facts.names.classes["M"][0]
    stores = facts.get(Program).self_stores(cls)
    assert sorted(stores.by_name) == ["h", "i", "n", "w", "x", "y", "z"]
    assert len(stores.by_name["x"]) == 2 and not stores.dynamic
    assert [s.method.name.value for s in stores.by_name["n"]] == ["b"]
    assert stores.by_name["w"][0].value is not None and stores.by_name["y"][0].value is None


def test_self_stores_see_attributes_set_by_name():
    for line in ("setattr(self, k, v)", "self.__dict__.update(d)", "vars(self).update(d)", "self.__dict__[k] = v"):
        module = cst.parse_module(f"class M:\n    def a(self):\n        {line}\n")
        facts = ModuleFacts(module)
        assert facts.get(Program).self_stores(facts.names.classes["M"][0]).dynamic, line


def test_relatives_are_the_lineage_then_subclasses_with_their_bases():
    source = (
        "class Base:\n    pass\nclass Mixin:\n    pass\n"
        "class Child(Base):\n    pass\nclass Leaf(Child, Mixin):\n    pass\nclass Other:\n    pass\n"
    )
    module = cst.parse_module(source)
    facts = ModuleFacts(module)
    classes = {name: nodes[0] for name, nodes in facts.names.classes.items()}
    program = facts.get(Program)
    assert [c.name.value for c in program.relatives(classes["Child"])] == ["Child", "Base", "Leaf", "Mixin"]
    assert [c.name.value for c in program.relatives(classes["Other"])] == ["Other"]


def test_agreed_values_keep_one_role_and_one_object_and_only_shared_shapes():
    train = Value(frozenset({TRAIN}), data=True, frame=True)
    test = Value(frozenset({TEST}), data=True, frame=True)
    flat = Value(frozenset({TRAIN}), data=True)
    assert agreed([]) is None
    assert agreed([train, test]) is None
    joined = agreed([train, flat])
    assert joined.roles == {TRAIN} and not joined.frame
    assert agreed([train, train]).frame
    assert agreed([Value(obj=object()), Value(obj=object())]) is None


# --- annotations are evidence: wrapped, quoted, and on annotated assignments ------------------------


def test_optional_quoted_and_assignment_annotations_are_evidence():
    source = (
        "from typing import Optional\nimport pandas as pd\n"
        "def f(a: Optional[pd.DataFrame], b: 'pd.Series', c: pd.Series | None, d: int | str, e: 'not a type('):\n"
        "    n: pd.DataFrame = load()\n"
        "    use(a, b, c, d, e, n)\n"
    )
    facts, module = build(source)
    call = module.body[2].body.body[1].body[0].value
    a, b, c, d, e, n = (facts.value_of(arg.value) for arg in call.args)
    assert a.frame and n.frame
    assert b.one_d.reason is Because.ANNOTATED and c.one_d.reason is Because.ANNOTATED
    assert not (d.frame or d.one_d or e.frame or e.one_d)


def test_a_class_attribute_is_what_self_reads_until_a_method_stores_one():
    source = SCALER + (
        "class Job:\n    prep = StandardScaler()\n"
        "    def fit(self, X_train):\n        self.prep.fit(X_train)\n"
    )
    facts, _ = build(source)
    (fit,) = facts.fits
    assert fit.obj.class_name == "StandardScaler"
    stored_too = source.replace("    def fit", "    def reset(self):\n        self.prep = StandardScaler()\n    def fit")
    facts, _ = build(stored_too)
    assert facts.fits == []  # two objects: the class's and the one `reset` stores
