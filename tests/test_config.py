"""SPEC §2: Config classes validated by pydantic, versions, read-only access."""

import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Optional

import pytest
from hypothesis import given, settings, strategies as st

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


def testdataclass_defaults_and_access(models):
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


def test_plain_annotated_class_with_requiredfield(models):
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


# --- validation without pydantic where it would change nothing ---------------------------

@dataclass
class _Inner:
    depth: int = 3
    rate: float = 0.5


@dataclass
class _Plain:
    lr: float = 0.001
    steps: int = 10
    name: str = "run"
    verbose: bool = False
    limit: Optional[int] = None
    note: "str | None" = None
    inner: _Inner = field(default_factory=_Inner)


@dataclass
class _Rich:  # fields pydantic must see: a list, Any-like values
    layers: list = field(default_factory=lambda: [1])
    lr: float = 0.1


_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["depth", "rate", "other"]), st.integers() | st.floats(allow_nan=False),
                     max_size=2),
)
_KEYS = st.sampled_from(["lr", "steps", "name", "verbose", "limit", "note", "inner", "unknown"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_validation_without_pydantic_gives_what_pydantic_gives(data):
    from machinable.config import ConfigSchema

    schema = ConfigSchema.of(_Plain)
    plain = schema.as_given(data)
    try:
        validated = schema.model().model_validate(dict(data)).model_dump(mode="json")
    except Exception:
        assert plain is None, (data, plain)  # pydantic refuses: left to pydantic, for its error message
        return
    if plain is not None:
        def same(a, b):
            if isinstance(a, dict):
                return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
            return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))

        assert same(plain, validated), (data, plain, validated)
    assert ConfigSchema.of(_Rich).as_given({}) is None  # a list field: always pydantic


def test_simple_configs_and_the_storage_do_not_import_pydantic(tmp_path):
    (tmp_path / "plain.py").write_text(
        "from dataclasses import dataclass\nfrom machinable import Experiment\n\n\n"
        "class Plain(Experiment):\n    @dataclass\n    class Config:\n        lr: float = 0.1\n        name: str = 'a'\n\n"
        "    def on_execute(self):\n        pass\n"
    )
    code = ("import sys\nfrom machinable import get\n"
            "with get('machinable.storage.filesystem', {'directory': 'storage'}):\n"
            "    get('plain', {'lr': 0.5}).launch()\n"
            "print('pydantic' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr
