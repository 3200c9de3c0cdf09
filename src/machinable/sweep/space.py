"""The points of a sweep: grids (product), zipped lists and random draws from distributions.

    {"lr": [0.1, 0.01], "epochs": range(1, 4)}            # grid: 6 points
    {("depth", "width"): [(2, 64), (4, 128)], "lr": [...]}  # depth and width zipped, crossed with lr
    {"opt": ["sgd", "adam"], "lr": loguniform(1e-4, 1e-1)}  # with samples=5: 2 x 5 points

Every value is either a list of values (an axis of the grid) or a `Distribution`, of which
`samples` values are drawn with `random.Random(sampler_seed)`: the same points every time, in
every process. A space is stored as JSON (`Space.to_json()`/`Space.from_json()`), so a sweep's
identity is its definition.
"""

from __future__ import annotations

import itertools
import math
import random

from machinable.errors import ValidationError


class Distribution:
    """A distribution to draw a value from: `uniform(0, 1)`, `loguniform(1e-4, 1e-1)`, `randint(1, 10)`
    (both ends included), `choice([...])`."""

    KINDS = ("uniform", "loguniform", "randint", "choice")

    def __init__(self, kind: str, *args):
        if kind not in self.KINDS:
            raise ValidationError(f"Unknown distribution {kind!r}; known: {', '.join(self.KINDS)}.")
        self.kind = kind
        self.args = list(args)
        if kind == "choice":
            if len(args) != 1 or not isinstance(args[0], (list, tuple)) or not args[0]:
                raise ValidationError(f"choice() takes one non-empty list of values, got {args!r}.")
            self.args = [list(args[0])]
            return
        if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            raise ValidationError(f"{kind}() takes two numbers, low and high, got {args!r}.")
        low, high = args
        if not low <= high or (kind == "loguniform" and low <= 0) or (kind == "randint" and
                                                                       not all(isinstance(a, int) for a in args)):
            raise ValidationError(
                f"{kind}({low}, {high}) is empty or out of range: low <= high"
                + (", both above 0" if kind == "loguniform" else ", both integers" if kind == "randint" else "") + "."
            )

    def draw(self, rng: random.Random):
        if self.kind == "choice":
            return rng.choice(self.args[0])
        low, high = self.args
        if self.kind == "uniform":
            return rng.uniform(low, high)
        if self.kind == "loguniform":
            return math.exp(rng.uniform(math.log(low), math.log(high)))
        return rng.randint(low, high)

    def to_json(self) -> dict:
        return {"distribution": self.kind, "args": self.args}

    def __eq__(self, other):
        return isinstance(other, Distribution) and other.to_json() == self.to_json()

    def __repr__(self):
        return f"{self.kind}({', '.join(repr(a) for a in self.args)})"


def uniform(low, high) -> Distribution:
    return Distribution("uniform", low, high)


def loguniform(low, high) -> Distribution:
    return Distribution("loguniform", low, high)


def randint(low, high) -> Distribution:
    return Distribution("randint", low, high)


def choice(values) -> Distribution:
    return Distribution("choice", values)


class Space:
    """The axes of a sweep: grid axes (one key, or several zipped), and distributions to sample."""

    def __init__(self, space: dict, samples: int | None = None, sampler_seed: int = 0):
        if not isinstance(space, dict) or not space:
            raise ValidationError(f"A sweep needs a non-empty dict of keys and values to sweep, got {space!r}.")
        if samples is not None and (not isinstance(samples, int) or isinstance(samples, bool) or samples < 0):
            raise ValidationError(f"samples must be a whole number 0 or more, got {samples!r}.")
        if not isinstance(sampler_seed, int) or isinstance(sampler_seed, bool):
            raise ValidationError(f"sampler_seed must be an integer, got {sampler_seed!r}.")
        self.axes: list[tuple[tuple, list]] = []  # (keys, values: one value per key, as tuples)
        self.distributions: dict[str, Distribution] = {}
        for key, values in space.items():
            keys = tuple(key.split(",")) if isinstance(key, str) else key
            if not isinstance(keys, tuple) or not keys or not all(isinstance(k, str) and k for k in keys):
                raise ValidationError(f"A sweep key is a config key such as 'lr' or 'model.depth' "
                                      f"(or a tuple of keys to zip), not {key!r}.")
            if isinstance(values, Distribution):
                if len(keys) != 1:
                    raise ValidationError(f"{key!r}: a distribution gives one value, to one key, not to {len(keys)}.")
                self.distributions[keys[0]] = values
                continue
            self.axes.append((keys, _axis(key, keys, values)))
        if self.distributions and samples is None:
            raise ValidationError(
                f"The space samples {', '.join(repr(k) for k in self.distributions)} from distributions: "
                "say how many points to draw with samples=N."
            )
        if samples is not None and not self.distributions:
            raise ValidationError("samples= is given but no key of the space is a distribution to draw from.")
        self.samples = samples
        self.sampler_seed = sampler_seed

    def keys(self) -> list[str]:
        return [k for keys, _ in self.axes for k in keys] + list(self.distributions)

    def points(self) -> list[dict]:
        """Every point (a dict of dotted keys to values), in order, each once."""
        grid = [{k: v for (keys, _), value in zip(self.axes, combination) for k, v in zip(keys, value)}
                for combination in itertools.product(*(values for _, values in self.axes))]
        if self.distributions:
            rng = random.Random(self.sampler_seed)
            draws = [{key: dist.draw(rng) for key, dist in sorted(self.distributions.items())}
                     for _ in range(self.samples)]
            grid = [{**point, **draw} for point in grid for draw in draws]
        unique, seen = [], set()
        for point in grid:
            mark = repr(sorted(point.items()))
            if mark not in seen:
                seen.add(mark)
                unique.append(point)
        return unique

    def to_json(self) -> dict:
        space = {",".join(keys): [list(v) if len(keys) > 1 else v[0] for v in values] for keys, values in self.axes}
        space.update({key: dist.to_json() for key, dist in self.distributions.items()})
        return {"space": space, "samples": self.samples, "sampler_seed": self.sampler_seed}

    @classmethod
    def from_json(cls, data: dict) -> "Space":
        space = {}
        for key, values in data["space"].items():
            if isinstance(values, dict):
                values = Distribution(values["distribution"], *values["args"])
            space[tuple(key.split(",")) if "," in key else key] = values
        return cls(space, data.get("samples"), data.get("sampler_seed", 0))


def _axis(key, keys: tuple, values) -> list[tuple]:
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise ValidationError(
            f"{key!r}: the values to sweep are a list (or range) of values or a distribution such as "
            f"uniform(0, 1), not {values!r}; a fixed value belongs in version=."
        )
    values = list(values)
    if not values:
        raise ValidationError(f"{key!r} has no values to sweep: an empty axis gives no points.")
    if len(keys) == 1:
        return [(value,) for value in values]
    for value in values:
        if not isinstance(value, (list, tuple)) or len(value) != len(keys):
            raise ValidationError(f"{key!r} zips {len(keys)} keys: each value is a tuple of {len(keys)}, not {value!r}.")
    return [tuple(value) for value in values]
