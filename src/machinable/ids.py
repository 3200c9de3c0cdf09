"""Random identifiers: experiment ids, seeds and execution nicknames."""

import os

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

ADJECTIVES = (
    "amber agile bold brave bright calm chocolate clever cosmic crisp curious dapper eager "
    "fancy fearless gentle golden happy humble icy jolly keen lively lucky mellow merry misty "
    "nimble noble olive patient polished proud quick quiet rapid rosy rustic shiny silent "
    "silver sleepy smooth snowy solar sparkling spicy steady stormy sunny swift tidy vivid "
    "wandering witty zesty"
).split()

ANIMALS = (
    "albatross alpaca badger beaver bison buffalo camel cheetah cobra condor coyote crane "
    "dolphin eagle falcon ferret flamingo gazelle gecko gibbon heron hedgehog ibis jackal "
    "jaguar kangaroo koala lemur leopard lynx macaw marmot meerkat mongoose moose mosquito "
    "narwhal newt ocelot octopus otter owl panda pelican penguin puffin quail raccoon raven "
    "salamander seal sparrow squid tapir tiger toucan turtle walrus weasel wombat yak zebra"
).split()


def _choices(options, k: int) -> list:
    """`k` uniformly random elements, from the OS's random source (like `secrets.choice`)."""
    limit = 256 - 256 % len(options)  # bytes at or above this would favour some options
    chosen: list = []
    while len(chosen) < k:
        chosen.extend(options[b % len(options)] for b in os.urandom(2 * k) if b < limit)
    return chosen[:k]


def experiment_id() -> str:
    """Six characters from [0-9A-Za-z], e.g. 'GDCN4d'."""
    return "".join(_choices(ALPHABET, 6))


def seed() -> int:
    """A random non-negative 32-bit integer."""
    return int.from_bytes(os.urandom(4), "little")


def nickname() -> str:
    """A readable random name such as 'chocolate_mosquito'."""
    return f"{_choices(ADJECTIVES, 1)[0]}_{_choices(ANIMALS, 1)[0]}"
