"""Settings shared by the benchmark runner: paths, tools, the full and quick sizes, the log."""

from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEERS = ("mlflow-file", "mlflow-sqlite", "sacred")
COLUMNS = ("machinable", "raw", "mlflow-file", "mlflow-sqlite", "sacred")
TITLES = {"machinable": "machinable", "raw": "raw Python", "mlflow-file": "MLflow (file store)",
          "mlflow-sqlite": "MLflow (SQLite)", "sacred": "Sacred (FileStorageObserver)",
          "hydra": "Hydra multirun (basic launcher)", "optuna": "Optuna (in memory)",
          "optuna-sqlite": "Optuna (SQLite storage)"}
SWEEP_PEERS = ("hydra", "optuna", "optuna-sqlite")  # the sweep table's peers (workload 6), from the peers' venv
SWEEP_COLUMNS = ("machinable", "raw", *SWEEP_PEERS)
PEER_ENV = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
            "GIT_PYTHON_REFRESH": "quiet", "PYTHONDONTWRITEBYTECODE": None}

FULL = {
    "import_rounds": 11,
    "run_n": 500,
    "run_rounds": 3,
    "rows": 100_000,
    "durability_kills": [20_000, 50_000, 80_000],
    "lookup_n": [1_000, 10_000, 100_000],
    "lookups": 200,
    "peer_lookups": 30,
    "peer_lookup_budget_s": 12.0,
    "peer_populate_budget_s": 180.0,
    "mlflow_file_max_n": 10_000,
    "peer_log_budget_s": 15.0,
    "cli_runs": 10,
    "peer_cli_runs": 5,
    "fsync_rows": 2_000,
    "cli_startup_n": 10_000,
    "cli_startup_rounds": 15,
    "sweep_points": 1_000,
    "sweep_small": 10,
    "sweep_plan_points": 10_000,
    "sweep_rounds": 3,
}
QUICK = {
    "import_rounds": 5,
    "run_n": 50,
    "run_rounds": 1,
    "rows": 10_000,
    "durability_kills": [2_000],
    "lookup_n": [200, 1_000],
    "lookups": 50,
    "peer_lookups": 10,
    "peer_lookup_budget_s": 5.0,
    "peer_populate_budget_s": 20.0,
    "mlflow_file_max_n": 1_000,
    "peer_log_budget_s": 3.0,
    "cli_runs": 3,
    "peer_cli_runs": 2,
    "fsync_rows": 200,
    "cli_startup_n": 200,
    "cli_startup_rounds": 3,
    "sweep_points": 50,
    "sweep_small": 5,
    "sweep_plan_points": 500,
    "sweep_rounds": 1,
}

T0 = time.time()


def log(*parts):
    m, s = divmod(int(time.time() - T0), 60)
    print(f"[{m:02d}:{s:02d}]", *parts, file=sys.stderr, flush=True)
