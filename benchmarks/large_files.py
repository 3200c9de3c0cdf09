"""Large-file readers: peak RSS and time at 100k / 1M record rows and a 300 MB output.log (issue 8).

    python benchmarks/large_files.py                       # 100k and 1M rows, 300 MB log
    python benchmarks/large_files.py --rows 100000 --log-mb 50
    python benchmarks/large_files.py --src /elsewhere/src  # another checkout, e.g. before a change

Run from the repository root (it reads `src/`). Each measurement runs in a fresh
interpreter and reports its wall time and its peak RSS (ru_maxrss, which includes the
interpreter and imports: the "baseline" row is that floor). The dashboard endpoints are
measured through a real server on 127.0.0.1 in the measuring process. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
ENV = {**os.environ, "PYTHONPATH": SRC}

SETUP = """
import json, resource, sys, time
from machinable import Experiment
experiment = Experiment.find_by_id(sys.argv[1])
"""

WORKLOADS = {
    "baseline (interpreter + imports)": "",
    "records() -> DataFrame": "experiment.records().as_dataframe()",
    "Records.dataframe()": """
        from machinable.records import Records, segments
        Records.dataframe(*segments(experiment.local_directory("records"), "default"))
    """,
    "machinable show": """
        import contextlib, io
        from machinable.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["show", sys.argv[1]])
            except SystemExit:
                pass
    """,
    "dashboard /records": "get(f'/api/experiments/{sys.argv[1]}/records')",
    "dashboard /output (tail)": "get(f'/api/experiments/{sys.argv[1]}/output')",
    "dashboard /output?offset=0": "get(f'/api/experiments/{sys.argv[1]}/output?offset=0')",
}

SERVER = """
import http.client
from machinable import ui
server = ui.create_server(port=0).start()
def get(path):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=600)
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200, response.read()[:300]
    return len(response.read())
"""


def measure(project: str, experiment_id: str, work: str) -> dict:
    code = SETUP + (SERVER if "get(" in work else "") + textwrap.dedent(f"""
        start = time.perf_counter()
        {textwrap.indent(textwrap.dedent(work), "        ").strip()}
        seconds = time.perf_counter() - start
        print(json.dumps({{"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
    """)
    result = subprocess.run([sys.executable, "-c", code, experiment_id], cwd=project, env=ENV,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"failed: {work}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def prepare(project: str, rows: int, log_mb: int) -> str:
    """A committed experiment with `rows` record rows (~100 B each) and a `log_mb` MB output.log."""
    code = textwrap.dedent(f"""
        import os
        from machinable import Experiment
        experiment = Experiment().commit()
        path = experiment.local_directory("records", "default.jsonl")
        os.makedirs(os.path.dirname(path))
        line = '{{{{"step":{{i}},"loss":{{loss}},"accuracy":0.5,"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","_timestamp":1700000000.{{i}}}}}}\\n'
        with open(path, "w") as f:
            for start in range(0, {rows}, 10000):
                f.write("".join(line.format(i=i, loss=1 / (i + 1)) for i in range(start, min({rows}, start + 10000))))
        with open(experiment.local_directory("output.log"), "w") as f:
            block = ("y" * 99 + "\\n") * 10000
            for _ in range({log_mb}):
                f.write(block)
        print(experiment.experiment_id)
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=project, env=ENV,
                            capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--log-mb", type=int, default=300)
    parser.add_argument("--src", default=SRC, help="the machinable source directory to measure")
    arguments = parser.parse_args()
    ENV["PYTHONPATH"] = os.path.abspath(arguments.src)
    print("| rows | records file | output.log | workload | time | peak RSS |")
    print("|---:|---:|---:|---|---:|---:|")
    for rows in arguments.rows:
        with tempfile.TemporaryDirectory(prefix="machinable-large-") as project:
            experiment_id = prepare(project, rows, arguments.log_mb)
            directory = next(os.path.join(root) for root, _, files in os.walk(os.path.join(project, "storage"))
                             if "output.log" in files)
            records_mb = os.path.getsize(os.path.join(directory, "records", "default.jsonl")) / 2**20
            log_mb = os.path.getsize(os.path.join(directory, "output.log")) / 2**20
            for name, work in WORKLOADS.items():
                figures = measure(project, experiment_id, work)
                print(f"| {rows:,} | {records_mb:.0f} MB | {log_mb:.0f} MB | {name} | "
                      f"{figures['seconds']:.2f} s | {figures['peak_mb']:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
