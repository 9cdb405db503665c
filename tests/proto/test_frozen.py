"""fast_init / slot_init: the faster __init__ of frozen slotted dataclasses (events, store
attributes, XDR structs) behaves like a dataclass's own."""

import dataclasses
import inspect

import pytest

from fakegluster.proto import Call, ConnectionClosed, Denied, Reply, programs, xdr
from fakegluster.proto.frozen import fast_init
from fakegluster.store.base import Attr, StatVfs


def _all_classes():
    programs.all_programs()  # importing the program modules declares their XDR structs
    structs = xdr.struct_classes()
    for cls in structs:
        cls()  # an XDR struct's __init__ is generated on its first instantiation
    return [Call, Reply, Denied, ConnectionClosed, Attr, StatVfs, *structs]


def _reference(cls):
    """The same fields as a plain frozen slotted dataclass (its generated __init__)."""
    specs = [(f.name, f.type, dataclasses.field(default=f.default)) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass("Ref", specs, frozen=True, slots=True)


@pytest.mark.parametrize("cls", _all_classes(), ids=lambda c: c.__name__)
def test_same_parameters_values_and_frozenness(cls):
    assert cls.__init__.__code__.co_filename.startswith("<fast_init")
    ref = _reference(cls)

    def shape(c):
        return [(p.name, p.kind, p.default) for p in inspect.signature(c).parameters.values()]

    assert shape(cls) == shape(ref)
    fields = dataclasses.fields(cls)
    values = [object() for _ in fields]
    a, b = cls(*values), cls(**{f.name: v for f, v in zip(fields, values)})
    assert a == b and [getattr(a, f.name) for f in fields] == values
    required = [f.name for f in fields if f.default is dataclasses.MISSING]
    defaulted = cls(*values[: len(required)])
    for f in fields[len(required) :]:
        assert getattr(defaulted, f.name) == f.default
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(a, fields[0].name, 1)
    assert dataclasses.replace(a, **{fields[0].name: 7}) == cls(7, *values[1:])
    with pytest.raises(TypeError):
        cls(*values, 1)


def test_classes_it_cannot_handle_are_left_alone():
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        x: list = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int = 0

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        x: int = 0

        def __post_init__(self):
            pass

    for cls in (WithFactory, NoSlots, PostInit):
        init = cls.__init__
        assert fast_init(cls) is cls and cls.__init__ is init
