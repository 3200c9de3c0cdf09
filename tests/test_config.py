"""SPEC §2: Config classes validated by pydantic, versions, read-only access."""

import os

import pytest

from machinable import Experiment, get
from machinable.errors import StateError, ValidationError

MODEL = '''
from dataclasses import dataclass, field
from typing import Annotated, Optional

from machinable import Experiment, NotIdentifying


@dataclass
class Optimizer:
    lr: float = 0.1
    momentum: float = 0.9


class Train(Experiment):
    @dataclass
    class Config:
        epochs: int = 10
        optimizer: Optimizer = field(default_factory=Optimizer)
        layers: list = field(default_factory=lambda: [16, 16])
        options: dict = field(default_factory=dict)
        name: Optional[str] = None
        verbose: Annotated[bool, NotIdentifying] = True

    def version_fast(self):
        return {"epochs": 1, "optimizer.lr": 0.5}

    def version_broken(self):
        return 3
'''

PLAIN = '''
from machinable import Experiment


class Plain(Experiment):
    class Config:
        alpha: float = 0.5
        beta: int
'''


@pytest.fixture
def models(project):
    project.write("train.py", MODEL)
    project.write("plain.py", PLAIN)
    return project


def test_dataclass_defaults_and_access(models):
    train = get("train")
    assert train.config.epochs == 10
    assert train.config["epochs"] == 10
    assert train.config.optimizer.lr == 0.1
    assert train.config["optimizer"]["momentum"] == 0.9
    assert train.config.layers == [16, 16]
    assert train.config.to_dict() == {
        "epochs": 10, "optimizer": {"lr": 0.1, "momentum": 0.9}, "layers": [16, 16],
        "options": {}, "name": None, "verbose": True,
    }


def test_plain_annotated_class_with_required_field(models):
    assert get("plain", {"beta": 3}).config.to_dict() == {"alpha": 0.5, "beta": 3}
    with pytest.raises(ValidationError, match="'beta' is required"):
        get("plain")


def test_coercion_int_to_float(models):
    experiment = get("estimate_gravity", {"time_dilation": 2})
    assert experiment.config.time_dilation == 2.0
    assert isinstance(experiment.config.time_dilation, float)


def test_typo_names_key_suggestion_and_valid_keys(models):
    with pytest.raises(ValidationError) as info:
        get("estimate_gravity", {"time_dilaton": 2})
    message = str(info.value)
    assert "'time_dilaton' is not a config key" in message
    assert "did you mean 'time_dilation'?" in message
    assert "time_dilation, verbose" in message


def test_nested_typo_suggests_nested_key(models):
    with pytest.raises(ValidationError, match=r"did you mean 'optimizer.lr'\?"):
        get("train", {"optimizer.lrr": 0.2})


def test_wrong_type_names_key_type_and_value(models):
    with pytest.raises(ValidationError) as info:
        get("estimate_gravity", {"time_dilation": "fast"})
    message = str(info.value)
    assert "'time_dilation' expects float" in message and "'fast'" in message and "(str)" in message


def test_nested_wrong_type(models):
    with pytest.raises(ValidationError, match=r"'optimizer.lr' expects float, got 'x'"):
        get("train", {"optimizer": {"lr": "x"}})


def test_versions_merge_left_to_right_with_dotted_keys_and_methods(models):
    train = get("train", [{"epochs": 3, "optimizer": {"lr": 0.2}}, {"optimizer.momentum": 0.5}, "~fast"])
    assert train.config.epochs == 1
    assert train.config.optimizer.to_dict() == {"lr": 0.5, "momentum": 0.5}
    assert train.version() == [{"epochs": 3, "optimizer": {"lr": 0.2}}, {"optimizer.momentum": 0.5}, "~fast"]


def test_bad_versions(models):
    with pytest.raises(ValidationError, match="version_missing"):
        get("train", "~missing")
    with pytest.raises(ValidationError, match="must return a dict"):
        get("train", "~broken")
    with pytest.raises(ValidationError, match="Invalid version 42"):
        get("train", 42)


def test_config_is_read_only(models):
    train = get("train")
    with pytest.raises(StateError, match="read-only"):
        train.config.epochs = 3
    with pytest.raises(StateError, match="read-only"):
        train.config["epochs"] = 3
    with pytest.raises(AttributeError, match="no key 'missing'"):
        train.config.missing


def test_validation_is_lazy_for_direct_instantiation_and_early_before_side_effects(models):
    EstimateGravity = type(get("estimate_gravity"))

    experiment = EstimateGravity({"nope": 1})  # no error yet: nothing validated, nothing written
    with pytest.raises(ValidationError):
        experiment.config
    with pytest.raises(ValidationError):
        experiment.launch()
    assert not os.path.exists(models.storage) or models.experiment_dirs() == []


def test_element_without_config_rejects_values(models):
    models.write("bare.py", "from machinable import Experiment\n\nclass Bare(Experiment):\n    pass\n")
    assert get("bare").config.to_dict() == {}
    with pytest.raises(ValidationError, match="has no Config class"):
        get("bare", {"a": 1})


def test_seed_argument_validated(models):
    with pytest.raises(ValidationError, match="seed must be an integer"):
        get("estimate_gravity", seed=-1)
    assert get("estimate_gravity", seed=7).seed == 7


def test_experiment_base_class_is_usable_directly():
    assert Experiment().config.to_dict() == {}
