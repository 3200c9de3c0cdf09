"""Stacks of the active Project, Storage and Execution, one per kind.

`with x:` pushes, leaving the block pops, so nested contexts restore the previous one.
"""

_stacks: dict = {}


def push(kind: type, obj) -> None:
    _stacks.setdefault(kind, []).append(obj)


def pop(kind: type, obj) -> None:
    stack = _stacks.get(kind, [])
    if stack and stack[-1] is obj:
        stack.pop()
    elif obj in stack:
        stack.remove(obj)


def current(kind: type):
    stack = _stacks.get(kind)
    return stack[-1] if stack else None
