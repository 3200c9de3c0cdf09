"""A fork server for the crash tests: imports and warms up machinable once, then forks
one worker per kill point, so that a kill point costs a fork instead of an interpreter.

Run as `python crash_worker.py` with the project directory as working directory.
Protocol, one JSON object per line. In (stdin): a command
    {"storage": dir, "acks": file, "errors": file, "ops": [...], "kill_at": k, "delay": seconds}
`kill_at` > 0 makes the worker SIGKILL itself right before its k-th write operation
(os.open/write/replace/mkdir/rmdir/unlink/link/utime/rename, and each begin/commit of
an index write transaction and each row of an index rebuild); `delay` makes this server
SIGKILL the worker that many seconds after forking it. Out (stdout): "ready" once, then
per command {"pid": ..., "killed": bool, "code": exit code or None}.

Each worker acknowledges what machinable has *returned* from in the `acks` file, one line
per event, with the real os functions (not counted): the parent test checks that
everything acknowledged survived the kill.
"""

import json
import os
import signal
import sys
import time
import traceback

WRITES = ("open", "write", "replace", "mkdir", "rmdir", "unlink", "link", "utime", "rename")
_os = {name: getattr(os, name) for name in WRITES}


def ack(path, line):
    fd = _os["open"](path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _os["write"](fd, (line + "\n").encode())
    finally:
        os.close(fd)


class Counter:
    def __init__(self, kill_at):
        self.kill_at = kill_at
        self.count = 0

    def tick(self):
        self.count += 1
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def install(self):
        import contextlib

        from machinable.storage import index

        for name in WRITES:
            setattr(os, name, self._wrap(_os[name]))
        original_write, original_insert = index._write, index.insert

        @contextlib.contextmanager
        def counted_write(db):
            self.tick()
            with original_write(db) as handle:
                yield handle
                self.tick()  # before COMMIT: a kill here leaves an open transaction

        def counted_insert(*args):
            self.tick()
            return original_insert(*args)

        index._write, index.insert = counted_write, counted_insert

    def _wrap(self, function):
        def counted(*args, **kwargs):
            self.tick()
            return function(*args, **kwargs)

        return counted


def run(command):
    from machinable import Experiment, Storage, get

    acks = command["acks"]
    work = sys.modules["work"]
    work.ACKS = acks
    storage = get("machinable.storage.filesystem", {"directory": command["storage"]})
    counter = Counter(command.get("kill_at") or 0)
    counter.install()  # counts always (a dry run tells how many kill points there are)
    with storage:
        for op in command["ops"]:
            kind = op[0]
            ack(acks, f"op {'commit' if kind == 'launch' else kind}")  # the phase a kill lands in
            if kind in ("launch", "commit"):
                _, n, rows = op
                experiment = get("work", {"n": n, "rows": rows}).commit()
                ack(acks, f"commit {n} {experiment.experiment_id} {experiment.seed}")
                if kind == "launch":
                    ack(acks, "op execute")
                    experiment.launch()
                    assert experiment.is_finished(), experiment.status
                    ack(acks, f"done {n} {experiment.experiment_id} {experiment.seed}")
            elif kind == "direct":
                experiment = Experiment.make("work", {"n": op[1], "rows": 1, "tag": "direct"}).commit()
                ack(acks, f"direct {op[1]} {experiment.experiment_id}")
            elif kind == "data":
                experiment = get("work", {"n": op[1], "rows": op[2]})
                version = (experiment.load_data("blob.json") or {"v": 0})["v"] + 1
                experiment.save_data("blob.json", {"v": version, "pad": "x" * 3000})
                ack(acks, f"data {experiment.experiment_id} {version}")
            elif kind == "records":
                experiment = get("work", {"n": op[1], "rows": op[2]})
                record = experiment.record("extra")
                start = len(experiment.records("extra"))
                for i in range(start, start + 4):
                    record.save(i=i)
                    ack(acks, f"xrec {experiment.experiment_id} {i}")
            elif kind == "rebuild":
                Storage.current().rebuild_index()
            elif kind == "drop_index":  # the user deletes the index; the next lookup rebuilds it
                for suffix in ("", "-wal", "-shm"):
                    try:
                        _os["unlink"](os.path.join(command["storage"], "index.sqlite" + suffix))
                    except FileNotFoundError:
                        pass
                get("work", {"n": op[1], "rows": op[2]})
            elif kind == "read_all":  # every experiment readable through the API and the CLI
                from machinable import find
                from machinable.cli import cli

                for experiment in find():
                    experiment.records(), experiment.records("extra"), experiment.executions, experiment.output()
                    experiment.load_data("blob.json"), experiment.load_data("progress.json"), experiment.heartbeat_at()
                    ack(acks, f"read {experiment.experiment_id} {experiment.status}")
                cli.main(["--storage", command["storage"], "list"], prog_name="machinable", standalone_mode=False)
            else:
                raise ValueError(f"unknown op {op!r}")
    ack(acks, f"ios {counter.count}")


def worker(command):
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        run(command)
    except BaseException:
        with open(command["errors"], "a") as f:
            f.write(f"--- ops {command['ops']!r} kill_at {command.get('kill_at')}\n{traceback.format_exc()}\n")
        os._exit(3)
    os._exit(0)


def main():
    sys.path.insert(0, os.getcwd())
    import work  # noqa: F401  (imported once here, inherited by every worker)

    from machinable import Experiment, environment
    from machinable.execution.local import Local  # noqa: F401
    import machinable.output  # noqa: F401
    import machinable.storage.filesystem  # noqa: F401

    Experiment.make("work", {"n": 0}).config  # builds the pydantic model
    environment.encoded(os.getcwd())
    environment.host()
    print("ready", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            worker(command)
        if command.get("delay") is not None:
            time.sleep(command["delay"])
            os.kill(pid, signal.SIGKILL)  # no effect if it already exited (a zombie until reaped)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        print(json.dumps({"pid": pid, "killed": killed, "code": code}), flush=True)


if __name__ == "__main__":
    main()
