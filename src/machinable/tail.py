"""Reading a file from its end in blocks: its last lines without reading the rest."""

from __future__ import annotations

BLOCK = 1 << 16


def lines_backwards(f, limit: int = 1 << 24):
    """The lines of the binary file `f` from the last to the first, without their newline.

    Memory stays about `limit` bytes: a longer line is given as its last `limit` bytes.
    """
    position = f.seek(0, 2)
    pending = None  # the start of a line whose beginning is in a block not read yet
    while position > 0:
        size = min(BLOCK, position)
        position -= size
        f.seek(position)
        block = f.read(size)
        if pending is None:  # the file's end: a final newline does not start another line
            pending = b""
            if block.endswith(b"\n"):
                block = block[:-1]
        first, *complete = (block + pending).split(b"\n")
        yield from reversed(complete)
        pending = first[-limit:]
    if pending is not None:
        yield pending



def count_lines(f) -> int:
    """How many lines the binary file `f` has from its current position.

    The last may lack its newline; NUL bytes after it (space reserved ahead of a writer) are no line.
    """
    count, partial = 0, False
    while block := f.read(1 << 20):
        newlines = block.count(b"\n")
        if newlines:
            count += newlines
            partial = bool(block[block.rfind(b"\n") + 1 :].strip(b"\0"))
        else:
            partial = partial or bool(block.strip(b"\0"))
    return count + partial
