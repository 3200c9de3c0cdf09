"""An experiment's `output.log` as the dashboard serves it: in pages of bounded size, from the end."""

from __future__ import annotations

import os

TAIL = 256 * 1024  # bytes of output.log sent when a page first opens
PAGE = 1 << 20  # at most this many bytes per answer; a reader further behind skips to the last PAGE


def read_output(experiment, offset: int | None = None) -> dict:
    """`output.log` from byte `offset` (default: its last TAIL bytes) to the end, at most PAGE bytes.

    Returns the text, where it starts, the offset to ask for next and the bytes skipped
    (the log's start when it opens, or what a follower fell behind by): a log growing
    faster than it is read is shown from its end, never in full. A multi-byte character
    cut by the writer is left for the next call instead of being garbled.
    """
    path = experiment.local_directory("output.log")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = offset if offset is not None and 0 <= offset <= size else 0  # shorter: the log was replaced
            first = max(start, size - (TAIL if offset is None else PAGE))
            f.seek(first)
            raw = f.read(size - first)
    except FileNotFoundError:
        return {"text": "", "start": 0, "offset": 0, "size": 0, "skipped": 0}
    if first > start:  # show whole lines only
        newline = raw.find(b"\n")
        if newline >= 0:
            raw, first = raw[newline + 1 :], first + newline + 1
    text, used = _decode_complete(raw)
    return {"text": text, "start": start, "offset": first + used, "size": size, "skipped": first - start}


def _decode_complete(raw: bytes) -> tuple[str, int]:
    """Decode UTF-8, holding back an incomplete character at the end; returns (text, bytes used)."""
    for cut in range(0, min(4, len(raw) + 1)):
        try:
            return raw[: len(raw) - cut].decode("utf-8"), len(raw) - cut
        except UnicodeDecodeError as error:
            if error.start < len(raw) - 4:  # invalid bytes in the middle, not a cut character
                break
    return raw.decode("utf-8", errors="replace"), len(raw)
