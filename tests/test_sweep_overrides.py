"""Hydra's multirun override syntax read into a sweep's space and fixed values."""

import pytest

from machinable.errors import ValidationError
from machinable.sweep import Space, loguniform, randint, uniform
from machinable.sweep.overrides import parse


def test_overrides_become_the_space_and_the_fixed_values():
    space, fixed = parse(["lr=0.1,0.01", "epochs=range(1,4)", "opt=choice(sgd,adam)", "model.depth=3",
                          "x=interval(0,1)", "n=int(interval(1,9))", "l=tag(log,interval(1e-4,1e-1))",
                          "name='a,b'", "v=[1,2]", "flag=true", "none=null", "r=range(0,1,0.25)"])
    assert space == {"lr": [0.1, 0.01], "epochs": [1, 2, 3], "opt": ["sgd", "adam"], "x": uniform(0.0, 1.0),
                     "n": randint(1, 9), "l": loguniform(1e-4, 1e-1), "r": [0, 0.25, 0.5, 0.75]}
    assert fixed == {"model.depth": 3, "name": "a,b", "v": [1, 2], "flag": True, "none": None}
    points = Space({k: v for k, v in space.items() if k in ("lr", "epochs", "opt")}).points()
    assert len(points) == 12 and points[0] == {"lr": 0.1, "epochs": 1, "opt": "sgd"}


@pytest.mark.parametrize("override, words", [
    ("lr", "is not key=value"),
    ("lr=", "no value after '='"),
    ("lr=foo(1)", "unknown function foo()"),
    ("lr=range(1", "unbalanced"),
    ("lr=range(3,1)", "is empty"),
    ("lr=range(1,5,0)", "step not 0"),
    ("+lr=1", "'+' prefix"),
    ("2lr=1", "not a config key"),
    ("x=int(3)", "int(interval(1,9))"),
    ("x=1,,2", "an empty value"),
    ("x=tag(lin,interval(0,1))", "the only tag is log"),
    ("x=interval(a,1)", "'a' is not a number"),
    ("x=1,interval(0,1)", "cannot contain a sweep function"),
    ("x=choice()", "at least one value"),
])
def test_a_malformed_override_is_named(override, words):
    with pytest.raises(ValidationError) as error:
        parse([override])
    assert repr(override) in str(error.value) and words in str(error.value)


def test_a_key_given_twice_is_an_error():
    with pytest.raises(ValidationError, match="'lr' is given twice"):
        parse(["lr=0.1", "lr=0.2,0.3"])
