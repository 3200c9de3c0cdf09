"""What makes two experiments "the same": module, identifying config and relations.

The identity is a hash of their canonical JSON, so key order, `2` vs `2.0` for a
float field and dotted vs nested keys never change it. To keep past results
reachable when a Config gains a field with a default, each stored experiment also
records the set of config keys it had (its keyset); a request matches a stored
experiment of an older keyset when every key the request has beyond that keyset
holds its default value.
"""

from __future__ import annotations

import functools

from machinable.config import digest, flatten, same_value, unflatten


def identity(module: str, identifying_config: dict, relations: dict) -> str:
    return digest({"module": module, "config": identifying_config, "relations": relations})


def keys_of(identifying_config: dict) -> list[str]:
    return sorted(flatten(identifying_config))


def keys_hash(keys: list[str]) -> str:
    return digest(keys)


class Request:
    """What `get()` asks the storage for: a module, its identifying config and relations."""

    def __init__(self, module: str, config: dict, defaults: dict, relations: dict):
        self.module = module
        self.config = config
        self.defaults = defaults
        self.relations = relations

    @functools.cached_property
    def identity(self) -> str:
        return identity(self.module, self.config, self.relations)

    def candidates(self, keysets) -> list[str]:
        """Identities a stored match may have: the exact one, then those of older keysets.

        `keysets` are the keysets stored for this module; a stored experiment of an
        older keyset matches when every key the request has beyond it holds its
        default value.
        """
        flat_request = flatten(self.config)
        flat_defaults = flatten(self.defaults)
        request_keys = set(flat_request)
        found = []
        for keys in keysets:
            keys = set(keys)
            if keys == request_keys or not keys <= request_keys:
                continue
            extra = request_keys - keys
            if all(p in flat_defaults and same_value(flat_request[p], flat_defaults[p]) for p in extra):
                found.append(identity(self.module, unflatten({p: flat_request[p] for p in keys}), self.relations))
        return found
