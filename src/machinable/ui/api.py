"""The dashboard's JSON API: one function per view, and `route()` from URL path to view.

    GET /api/experiments?where=&module=&status=&group=&since=&until=&q=&sort=&offset=&limit=
                                                  one page of the list, rows offset.., and the total
    GET /api/experiments/<id>                     config, timeline, relations, executions, files
    GET /api/experiments/<id>/output?offset=N     output.log from byte N, at most 1 MB (follow a running one)
    GET /api/experiments/<id>/records?scope=S&x=C&from=A&to=B&points=N
                                                  the last rows, columns, numeric columns downsampled (against
                                                  x, within A..B when given, to at most N points per column)
    GET /api/experiments/<id>/data/<name>         a data file as stored (never unpickled; a real .png/.svg as an image)
    GET /api/compare?ids=a,b,c                    config diff of several experiments, their common images
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

from machinable.config import flatten
from machinable.errors import ExperimentNotFound, MachinableError, UnsafePath
from machinable.storage.files import image_type
from machinable.query import STATUSES
from machinable.records import Records, attempt_of, segments
from machinable.ui import listing, rowmap, stored
from machinable.ui.filters import Filters, FilterError
from machinable.ui.output import read_output
from machinable.ui.series import MAX_POINTS, POINT_LIMITS

PAGE_SIZE = 100
MAX_PAGE_SIZE = 10_000
MAX_COMPARED = 500


class ApiError(Exception):
    """An answer other than 200: `status` and a message for the reader."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Response:
    """What the server sends: a JSON body, raw bytes, or a file streamed from `path`."""

    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""
    path: str | None = None
    headers: dict = field(default_factory=dict)


def json_response(data, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(plain(data), allow_nan=False).encode())


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message, "status": status}, status)


def plain(value):
    """JSON-safe: non-finite floats become "NaN"/"Infinity"/"-Infinity", unknown objects their str()."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


# --- routing ----------------------------------------------------------------------------


def route(storage, parts: list[str], query: dict) -> Response:
    """The response to GET /api/<parts...>?<query> (query as `parse_qs` gives it)."""
    try:
        return _dispatch(storage, parts, query)
    except ApiError as error:
        return error_response(error.status, error.message)
    except (FilterError, UnsafePath) as error:
        return error_response(400, str(error))
    except ExperimentNotFound as error:
        return error_response(404, str(error))
    except MachinableError as error:  # e.g. a corrupt metadata file: the message names it and the fix
        return error_response(500, f"{type(error).__name__}: {error}")


def _dispatch(storage, parts: list[str], query: dict) -> Response:
    if parts == ["experiments"]:
        return json_response(list_experiments(storage, query))
    if parts == ["compare"]:
        return json_response(compare(storage, query))
    if len(parts) == 2 and parts[0] == "sweeps":
        return json_response(sweep_page(storage, stored.find_experiment(storage, parts[1])))
    if len(parts) >= 2 and parts[0] == "experiments":
        experiment = stored.find_experiment(storage, parts[1])
        rest = parts[2:]
        if not rest:
            return json_response(experiment_detail(storage, experiment))
        if rest == ["output"]:
            return json_response(experiment_output(experiment, query))
        if rest == ["records"]:
            return json_response(experiment_records(experiment, query))
        if rest[0] == "data":
            return data_file(experiment, rest[1:])
    raise ApiError(404, f"No API endpoint /api/{'/'.join(parts)}; see machinable.ui.api for the endpoints.")


def _one(query: dict, name: str, default=None):
    values = query.get(name) or []
    return values[-1] if values else default


def _integer(query: dict, name: str, default, low: int, high: int | None = None):
    text = _one(query, name)
    if text is None or text == "":
        return default
    try:
        number = int(text)
    except ValueError:
        raise ApiError(400, f"{name}={text!r} is not a whole number.") from None
    if number < low or (high is not None and number > high):
        raise ApiError(400, f"{name}={number} is out of range ({low} to {high if high is not None else 'any'}).")
    return number


def _number(query: dict, name: str) -> float | None:
    text = _one(query, name)
    if text is None or text.strip() == "":
        return None
    try:
        number = float(text)
    except ValueError:
        raise ApiError(400, f"{name}={text!r} is not a number.") from None
    if not math.isfinite(number):
        raise ApiError(400, f"{name}={text!r} is not a finite number.")
    return number


# --- views ------------------------------------------------------------------------------


def moment(value) -> dict | None:
    """An arrow datetime as Unix seconds, ISO 8601 and humanized ("2 minutes ago")."""
    if value is None:
        return None
    return {"time": value.timestamp(), "iso": value.isoformat(), "human": value.humanize()}


def summary(experiment) -> dict:
    """One experiment as a row of the list."""
    metadata = experiment.metadata()
    return {
        "id": experiment.experiment_id,
        "module": experiment.module,
        "status": experiment.status,
        "group": metadata["group"],
        "created": moment(experiment.created_at()),
        "config": flatten(experiment.config.to_dict()),
        "ancestor": metadata.get("ancestor"),
    }


def _chosen_columns(query: dict) -> list[str] | None:
    """`columns=lr,summary.test_acc`: the list's columns as the user chose them (config keys, summary.<metric>)."""
    text = _one(query, "columns", "") or ""
    chosen = [column.strip() for column in text.split(",") if column.strip()]
    return chosen or None


def list_experiments(storage, query: dict) -> dict:
    """One page (`offset`, `limit`) of the stored experiments that pass the filters, in the order of
    `sort` (newest first by default), with the total count, the config keys of the page's rows as
    columns (`keys`) and the choices for each filter; see `listing`."""
    filters = Filters.from_query(query)
    offset = _integer(query, "offset", 0, 0)
    limit = _integer(query, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    shown, total, unreadable, configs = listing.page(storage, filters, offset, limit, summary)
    return {
        "storage": getattr(storage, "root", repr(storage)),
        "statuses": list(STATUSES),
        "modules": storage.modules(),
        "groups": sorted(storage.groups(), reverse=True),
        "stored": storage.count(),
        "total": total,
        "offset": offset,
        "limit": limit,
        "sort": _one(query, "sort", "") or "",
        "keys": listing.columns(configs, [row["summary"] for row in shown], chosen=_chosen_columns(query)),
        "experiments": shown,
        "unreadable": unreadable,
    }


def relative(storage, experiment_id: str) -> dict:
    """A linked experiment (ancestor or derived): id, module, status; `missing` if it is gone."""
    try:
        experiment = stored.find_experiment(storage, experiment_id)
    except ExperimentNotFound:
        return {"id": experiment_id, "missing": True}
    return {"id": experiment_id, "module": experiment.module, "status": experiment.status}


def experiment_detail(storage, experiment) -> dict:
    """Everything the experiment page shows at once (output and records come separately)."""
    metadata = experiment.metadata()
    config = experiment.config.to_dict()
    timeline = [
        {"event": event, **moment(at)}
        for event, at in (
            ("created", experiment.created_at()),
            ("started", experiment.started_at()),
            ("heartbeat", experiment.heartbeat_at()),
            ("finished", experiment.finished_at()),
            ("failed", experiment.failed_at()),
        )
        if at is not None
    ]
    ancestor = metadata.get("ancestor")
    try:
        output_size = os.path.getsize(experiment.local_directory("output.log"))
    except OSError:
        output_size = 0
    return {
        **summary(experiment),
        "class": metadata.get("class"),
        "seed": experiment.seed,
        "timestamp": experiment.timestamp,
        "directory": experiment.local_directory(),
        "project": metadata.get("project"),
        "version": experiment.version(),
        "config_tree": config,
        "summary": experiment.summary(),
        "uses": metadata.get("uses") or [],
        "timeline": timeline,
        "error": experiment.error(),
        "ancestor": relative(storage, ancestor) if ancestor else None,
        "derived": [
            {"id": child.experiment_id, "module": getattr(child, "module", None), "status": child.status}
            for child in stored.derived(storage, experiment.experiment_id)
        ],
        "executions": stored.executions(experiment),
        "scopes": stored.scopes(experiment),
        "data": stored.data_files(experiment),
        "output_size": output_size,
    }


def experiment_output(experiment, query: dict) -> dict:
    """New output since byte `offset` (or the log's tail), with the status to know when to stop following."""
    offset = _integer(query, "offset", None, 0)
    return {**read_output(experiment, offset), "status": experiment.status}


def experiment_records(experiment, query: dict) -> dict:
    """One scope's records in one streaming pass: its columns, the last rows, and each numeric column
    downsampled against `x` (a column, "" for the row index, default step/iteration/epoch), only the
    points with x in `from`..`to` if given, at most `points` per column; see `series`."""
    scope = stored.check_scope(_one(query, "scope", "default"))
    low, high = _number(query, "from"), _number(query, "to")
    if low is not None and high is not None and low > high:
        raise ApiError(400, f"from={low} is above to={high}: give the lower end of the x range first.")
    limit = _integer(query, "points", MAX_POINTS, *POINT_LIMITS)
    paths = segments(experiment.local_directory("records"), scope)
    attempts = [attempt_of(path) for path in paths]
    wanted = _one(query, "attempt")
    if wanted:
        if wanted != "latest" and not wanted.isdigit():
            raise ApiError(400, f"attempt={wanted!r}: give an attempt number or 'latest'.")
        chosen = attempts[-1] if wanted == "latest" and attempts else int(wanted)
        paths = [path for path in paths if attempt_of(path) == chosen]
    answer = rowmap.records(paths, _one(query, "x"), low, high, limit)
    return {"scope": scope, **answer, "attempts": attempts, "resumes": resumes(paths, answer["x"])}


def resumes(paths: list[str], x: str) -> list[dict]:
    """Where each later attempt's rows begin: its number and the x of its first row (its row index if
    x is ""), so that a plot can mark the resume."""
    found, index = [], 0
    for number, path in enumerate(paths):
        first = None
        for row in Records.stream(path):
            first = row
            break
        if number and first is not None:
            value = first.get(x) if x else index
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found.append({"attempt": attempt_of(path), "x": value})
        index += Records.count(path)
    return found


def data_file(experiment, parts: list[str]) -> Response:
    """A file of `data/` as stored: .txt/.json as text, others as a download; nothing is decoded."""
    path = stored.data_path(experiment, parts)
    name = "/".join(parts)
    if not os.path.isfile(path):
        raise ApiError(404, f"Experiment {experiment.experiment_id} has no data file {name!r}.")
    from urllib.parse import quote

    filename = quote(os.path.basename(path))
    image = image_type(path)
    if image is not None:  # shown inline; an SVG as a document that may run nothing and load nothing
        headers = {"Content-Disposition": f"inline; filename*=UTF-8''{filename}"}
        if image == "image/svg+xml":
            headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        return Response(content_type=image, path=path, headers=headers)
    if os.path.splitext(path)[1].lower() in stored.TEXT_FORMATS:
        return Response(content_type="text/plain; charset=utf-8", path=path,
                        headers={"Content-Disposition": f"inline; filename*=UTF-8''{filename}"})
    return Response(content_type="application/octet-stream", path=path,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})


def compare(storage, query: dict) -> dict:
    """Several experiments side by side: every config key, which differ, their record scopes, and each
    experiment's label (the config keys that differ, e.g. "alpha=0.01, penalty=l1"), summary metrics and
    replicate group (runs with the same `replicates` differ only in their seed)."""
    ids = []
    for text in query.get("ids", []):
        for experiment_id in text.split(","):
            if experiment_id.strip() and experiment_id.strip() not in ids:
                ids.append(experiment_id.strip())
    if not ids:
        raise ApiError(400, "Name the experiments to compare: /api/compare?ids=ID1,ID2.")
    if len(ids) > MAX_COMPARED:
        raise ApiError(400, f"Compare at most {MAX_COMPARED} experiments at once (got {len(ids)}).")
    experiments = [stored.find_experiment(storage, experiment_id) for experiment_id in ids]
    configs = [flatten(experiment.config.to_dict()) for experiment in experiments]
    keys: dict = {}
    for config in configs:
        for key in config:
            keys.setdefault(key, None)
    rows = []
    for key in keys:
        present = [key in config for config in configs]
        values = [config.get(key) for config in configs]
        encoded = {json.dumps(plain(v), sort_keys=True) if p else "\0missing" for v, p in zip(values, present)}
        rows.append({"key": key, "values": values, "present": present, "differs": len(encoded) > 1})
    scopes: dict = {}
    for experiment in experiments:
        for scope in stored.scopes(experiment):
            scopes.setdefault(scope, None)
    differing = [row["key"] for row in rows if row["differs"]]
    shown = []
    for experiment, config in zip(experiments, configs):
        label = ", ".join(f"{key}={json.dumps(plain(config[key]), ensure_ascii=False).strip(chr(34))}"
                          for key in differing if key in config)
        shown.append({**summary(experiment), "label": label or experiment.experiment_id, "seed": experiment.seed,
                      "summary": experiment.summary(), "replicates": experiment.metadata()["identity"]})
    return {
        "experiments": shown,
        "config": rows,
        "differing": differing,
        "scopes": sorted(scopes, key=lambda scope: scope != "default"),
        "images": stored.common_images([stored.data_files(experiment) for experiment in experiments]),
    }


def sweep_page(storage, sweep) -> dict:
    """A stored sweep or search (`machinable.sweep`) as one thing: its definition, its parameters (the
    space's keys), the objective (a search's, else None), and every point: id, status, config values,
    summary metrics, label (the parameters' values)."""
    from machinable.storage.files import read_json
    from machinable.sweep.stored import MEMBERS, MODULE

    if sweep.module != MODULE:
        raise ApiError(404, f"Experiment {sweep.experiment_id} is an experiment of '{sweep.module}', not a sweep.")
    definition = sweep.config.to_dict()
    parameters = _parameters(definition.get("space") or {})
    ids = read_json(sweep.local_directory("data", MEMBERS), []) or []
    points = []
    for experiment_id in ids:
        try:
            point = stored.find_experiment(storage, experiment_id)
        except MachinableError:
            points.append({"id": experiment_id, "missing": True})
            continue
        config = flatten(point.config.to_dict())
        label = ", ".join(f"{key}={plain(config[key])}" for key in parameters if key in config)
        points.append({**summary(point), "summary": point.summary(), "label": label or point.experiment_id,
                       "seed": point.seed, "replicates": point.metadata()["identity"]})
    options = definition.get("options") or {}
    return {"id": sweep.experiment_id, "kind": definition.get("kind"), "module": definition.get("module"),
            "space": definition.get("space"), "parameters": parameters, "objective": options.get("objective"),
            "direction": options.get("direction", "minimize"), "points": points}


def _parameters(space: dict) -> list[str]:
    """The config keys a stored sweep's or search's space varies (zipped keys are stored as "a,b")."""
    values = space.get("space", space) if isinstance(space, dict) else {}
    return [key for joined in values for key in str(joined).split(",")]
