"""SPEC §3: identity, retrieval by config, new instances, evolution of Config classes."""

import os
import sys

from machinable import Experiment, get

TRAIN = '''
from dataclasses import dataclass, field
from typing import Annotated

from machinable import Experiment, NotIdentifying


@dataclass
class Optimizer:
    lr: float = 0.1


class Train(Experiment):
    @dataclass
    class Config:
        epochs: int = 10
        optimizer: Optimizer = field(default_factory=Optimizer)
        verbose: Annotated[bool, NotIdentifying] = True
{extra}
'''


def write_train(project, extra="", source=TRAIN):
    """(Re)write train.py; the next get() imports the new code, as a new process would."""
    project.write("train.py", source.format(extra=extra))
    sys.modules.pop("train", None)


def test_get_returns_new_then_stored(project):
    first = get("estimate_gravity", {"time_dilation": 2})
    assert not first.is_committed() and first.status == "new"
    first.launch()
    again = get("estimate_gravity", {"time_dilation": 2})
    assert again.is_committed() and again.experiment_id == first.experiment_id
    assert again.seed == first.seed and again.timestamp == first.timestamp
    assert get("estimate_gravity", {"time_dilation": 3}).experiment_id != first.experiment_id


def test_retrieval_by_config_in_a_new_process(project):
    launched = project.run(
        "from machinable import get\n"
        "e = get('estimate_gravity', {'time_dilation': 2}).launch()\n"
        "print('ID', e.experiment_id, e.seed)"
    )
    experiment_id, seed = launched.stdout.split("ID ")[1].split()
    found = project.run(
        "from machinable import get\n"
        "e = get('estimate_gravity', {'verbose': True, 'time_dilation': 2.0})\n"
        "print('ID', e.experiment_id, e.seed, e.is_finished())"
    )
    assert found.stdout.split("ID ")[1].split() == [experiment_id, seed, "True"]
    assert "gravity" not in found.stdout.split("ID ")[0]  # nothing ran again


def test_canonical_forms_do_not_change_identity(project):
    write_train(project)
    stored = get("train", {"epochs": 3, "optimizer": {"lr": 1}}).commit()
    for version in (
        {"optimizer": {"lr": 1.0}, "epochs": 3},
        {"epochs": 3, "optimizer.lr": 1},
        [{"epochs": 3}, {"optimizer.lr": 1.0}],
        {"epochs": 3.0, "optimizer": {"lr": 1}},
    ):
        assert get("train", version).experiment_id == stored.experiment_id, version


def test_non_identifying_field_matches(project):
    write_train(project)
    stored = get("train", {"verbose": False}).commit()
    found = get("train", {"verbose": True})
    assert found.experiment_id == stored.experiment_id
    assert found.config.verbose is False  # the stored experiment's own value


def test_field_added_later_with_default_still_matches(project):
    write_train(project)
    stored = get("train", {"epochs": 3}).commit()
    write_train(project, "        dropout: float = 0.0\n")
    assert get("train", {"epochs": 3}).experiment_id == stored.experiment_id
    assert get("train", {"epochs": 3}).config.dropout == 0.0
    assert get("train", {"epochs": 3, "dropout": 0.0}).experiment_id == stored.experiment_id
    assert not get("train", {"epochs": 3, "dropout": 0.5}).is_committed()


def test_changed_default_or_value_does_not_match(project):
    write_train(project)
    stored = get("train").commit()
    write_train(project, source=TRAIN.replace("epochs: int = 10", "epochs: int = 20"))
    assert not get("train").is_committed()
    assert get("train", {"epochs": 10}).experiment_id == stored.experiment_id


def test_direct_instantiation_and_make_give_new_experiments(project):
    EstimateGravity = type(get("estimate_gravity"))

    stored = get("estimate_gravity", {"time_dilation": 2}).launch()
    replica = EstimateGravity({"time_dilation": 2})
    assert replica.experiment_id != stored.experiment_id and not replica.is_committed()
    replica.launch()
    made = Experiment.make("estimate_gravity", {"time_dilation": 2}).launch()
    ids = {stored.experiment_id, replica.experiment_id, made.experiment_id}
    assert len(ids) == 3
    assert len(project.experiment_dirs()) == 3
    assert get("estimate_gravity", {"time_dilation": 2}).experiment_id == stored.experiment_id  # the oldest


def test_fixed_seed_is_part_of_the_request(project):
    seeded = get("estimate_gravity", seed=42).commit()
    assert seeded.seed == 42
    assert get("estimate_gravity", seed=42).experiment_id == seeded.experiment_id
    assert not get("estimate_gravity", seed=43).is_committed()
    assert get("estimate_gravity").experiment_id == seeded.experiment_id


def test_ids_and_seed_shapes(project):
    experiment = get("estimate_gravity")
    assert len(experiment.experiment_id) == 6 and experiment.experiment_id.isalnum()
    assert isinstance(experiment.timestamp, int)
    assert 0 <= experiment.seed < 2**32


def test_relations_count_for_identity(project):
    write_train(project)
    parent = get("estimate_gravity").launch()
    child = get("train", derived_from=parent).commit()
    assert child.ancestor.experiment_id == parent.experiment_id
    assert [e.experiment_id for e in parent.derived] == [child.experiment_id]
    assert get("train").experiment_id != child.experiment_id
    assert get("train", derived_from=parent).experiment_id == child.experiment_id
    derived = parent.derive(version={"time_dilation": 5})
    assert derived.ancestor is parent and derived.config.time_dilation == 5.0


def test_used_elements_count_for_identity(project):
    project.write("dataset.py", '''
        from dataclasses import dataclass
        from machinable import Element

        class Dataset(Element):
            @dataclass
            class Config:
                name: str = "mnist"
    ''')
    with_mnist = get("estimate_gravity").use(get("dataset")).commit()
    assert get("estimate_gravity").experiment_id != with_mnist.experiment_id
    again = get("estimate_gravity", uses=[get("dataset")])
    assert again.experiment_id == with_mnist.experiment_id
    assert not get("estimate_gravity", uses=[get("dataset", {"name": "cifar"})]).is_committed()
    assert again.uses[0].config.name == "mnist"


def test_an_id_that_is_taken_is_replaced_at_commit(project, monkeypatch):
    from machinable import ids

    first = get("estimate_gravity", {"time_dilation": 1}).commit()
    clash = get("estimate_gravity", {"time_dilation": 2}).group_as("elsewhere")
    clash.experiment_id = first.experiment_id  # as if the random id had come up twice
    with monkeypatch.context() as patched:
        patched.setattr(ids, "experiment_id", lambda: "Fresh1")
        clash.commit()
    assert clash.experiment_id == "Fresh1"
    assert get("estimate_gravity", {"time_dilation": 1}).experiment_id == first.experiment_id
    assert get("estimate_gravity", {"time_dilation": 2}).local_directory().endswith("elsewhere/Fresh1")


def test_get_with_an_uncommitted_ancestor_writes_nothing(project):
    write_train(project)
    parent = get("estimate_gravity", {"time_dilation": 6})
    child = get("train", derived_from=parent)
    assert not parent.is_committed() and not child.is_committed()
    assert not os.path.exists(project.storage)
    child.commit()
    assert parent.is_committed() and child.ancestor.experiment_id == parent.experiment_id
