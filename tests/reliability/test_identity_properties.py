"""SPEC §3, property-based: equal configs hash equally whatever the key order, int/float
coercion, dotted or nested form, or split into versions; different configs never collide.

"Equal" means equal after validation (pydantic coercion and defaults) in canonical JSON;
-0.0 is left out of the int/float property (it is its own JSON value, distinct from 0).
"""

import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from machinable import Experiment, get
from machinable.config import flatten

TRAIN = '''
from dataclasses import dataclass, field
from typing import Annotated

from machinable import Experiment, NotIdentifying


@dataclass
class Optimizer:
    lr: float = 0.1
    momentum: float = 0.9
    name: str = "sgd"


@dataclass
class Model:
    width: int = 16
    dropout: float = 0.0
    optimizer: Optimizer = field(default_factory=Optimizer)


class Train(Experiment):
    @dataclass
    class Config:
        epochs: int = 10
        scale: float = 1.0
        label: str = "run"
        flag: bool = False
        tags: list = field(default_factory=list)
        model: Model = field(default_factory=Model)
        verbose: Annotated[bool, NotIdentifying] = True
'''

FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-1000, 1000).map(float)
LEAVES = {
    "epochs": st.integers(-10**9, 10**9),
    "scale": FLOATS,
    "label": st.text(max_size=6),
    "flag": st.booleans(),
    "tags": st.lists(st.integers(-5, 5) | st.text(max_size=3) | FLOATS, max_size=3),
    "model.width": st.integers(0, 4096),
    "model.dropout": FLOATS,
    "model.optimizer.lr": FLOATS,
    "model.optimizer.momentum": FLOATS,
    "model.optimizer.name": st.sampled_from(["sgd", "adam", "Adam", "", "sgd "]),
}
FLOAT_PATHS = {"scale", "model.dropout", "model.optimizer.lr", "model.optimizer.momentum"}
CONFIGS = st.fixed_dictionaries({}, optional=LEAVES)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def train(project):
    project.write("train.py", TRAIN)
    return project


def identity(version) -> str:
    return Experiment.make("train", version)._request().identity


def resolved(version) -> str:
    config = Experiment.make("train", version).config.to_dict()
    config.pop("verbose")
    return json.dumps(config, sort_keys=True)


def nest(flat: dict, data, shuffle=True) -> dict:
    """`flat` (dotted keys) in a random mixture of dotted and nested form, keys in random order."""
    out: dict = {}
    for path, value in flat.items():
        parts = path.split(".")
        cut = data.draw(st.integers(1, len(parts)))  # "a.b.c" -> {"a": {"b.c": v}} etc.
        head, tail = parts[:cut - 1], ".".join(parts[cut - 1:])
        target = out
        for part in head:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                return nest(flat, data, shuffle)
        target[tail] = value
    return _shuffled(out, data) if shuffle else out


def _shuffled(tree: dict, data) -> dict:
    keys = data.draw(st.permutations(list(tree)))
    return {k: _shuffled(tree[k], data) if isinstance(tree[k], dict) else tree[k] for k in keys}


def as_ints(flat: dict) -> dict:
    """Integral float values of float fields given as ints (2.0 -> 2)."""
    return {
        k: int(v) if k in FLOAT_PATHS and float(v).is_integer() and abs(v) < 2**53 and math.copysign(1, v) > 0 else v
        for k, v in flat.items()
    }


@SETTINGS
@given(config=CONFIGS, data=st.data())
def test_equal_configs_have_one_identity_whatever_their_form(train, config, data):
    expected = identity(config)
    variants = [
        nest(config, data),  # nested/dotted mixture, any key order
        dict(reversed(list(config.items()))),
        as_ints(config),  # 2 for a float field
        nest(as_ints(config), data),
    ]
    if len(config) > 1:  # split into versions merged left to right
        keys = list(config)
        cut = data.draw(st.integers(1, len(keys) - 1))
        variants.append([{k: config[k] for k in keys[:cut]}, nest({k: config[k] for k in keys[cut:]}, data)])
    overridden = {k: "overridden" for k in config if k != "tags"}  # an earlier version, overridden later
    variants.append([overridden, config])
    defaults = Experiment.make("train").config.to_dict()
    variants.append({**{k: v for k, v in flatten(defaults).items() if k != "verbose"}, **config})  # defaults spelled out
    variants.append({**config, "verbose": data.draw(st.booleans())})  # non-identifying
    for variant in variants:
        assert identity(variant) == expected, variant
        assert resolved(variant) == resolved(config), variant


@SETTINGS
@given(a=CONFIGS, b=CONFIGS)
def test_different_configs_never_collide(train, a, b):
    same = resolved(a) == resolved(b)
    assert (identity(a) == identity(b)) == same, (a, b)


@SETTINGS
@given(config=CONFIGS, change=st.sampled_from(sorted(LEAVES)), data=st.data())
def test_changing_one_value_changes_the_identity(train, config, change, data):
    other = dict(config)
    other[change] = data.draw(LEAVES[change])
    assume(resolved(other) != resolved(config))
    assert identity(other) != identity(config)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=CONFIGS, data=st.data())
def test_a_stored_experiment_is_found_by_every_equal_form(train, config, data):
    stored = get("train", config).commit()
    for variant in (nest(config, data), as_ints(config), nest(as_ints(config), data)):
        found = get("train", variant)
        assert found.experiment_id == stored.experiment_id and found.seed == stored.seed, variant
