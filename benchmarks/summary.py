"""Summarising a run: the table rows from the measurements, their cells, and the targets."""

from __future__ import annotations

import statistics

from benchmarks.settings import COLUMNS, PEERS, SWEEP_COLUMNS, TITLES


def _find(results, tool, workload, pred=lambda out: True, tag=None):
    for e in results:
        if (e["tool"] == tool and e["workload"] == workload and e["status"] == "ok" and e.get("tag") == tag
                and pred(e["out"])):
            return e["out"]["results"]
    return None


def _round_median(results, tool, workload, pred=lambda out: True, tag=None):
    """Median over rounds of the per-round median ms/run, and the round medians."""
    meds = [e["out"]["results"]["ms_per_run"]["median"] for e in results
            if e["tool"] == tool and e["workload"] == workload and e["status"] == "ok" and e.get("tag") == tag
            and pred(e["out"])]
    return (statistics.median(meds) if meds else None), meds


def _per_round(results, tool, workload, key):
    """The figure `key` of every round of a workload (sweep_workloads.py: one invocation per round)."""
    return [e["out"]["results"][key] for e in results if e["tool"] == tool and e["workload"] == workload
            and e["status"] == "ok" and e["out"]["results"].get(key) is not None]


def _err(results, tool, workload):
    for e in results:
        if e["tool"] == tool and e["workload"] == workload and e["status"] == "error":
            return e["error"]
    return None


def build_rows(run) -> list[dict]:
    """Table rows: {key, label, unit, lower_better, values: {tool: number|None}, notes: {tool: str}}."""
    res = run["results"]
    rows = []

    def row(key, label, unit, values, notes=None, lower_better=True, compare=True, table="main"):
        rows.append({"key": key, "label": label, "unit": unit, "values": values, "notes": notes or {},
                     "lower_better": lower_better, "compare": compare, "table": table})

    imp = next((e["out"]["results"] for e in res if e["workload"] == "import"), None)
    if imp:
        g = lambda k: imp.get(k, {}).get("median_ms")  # noqa: E731
        row("import", "1 import time (fresh `python -c`)", "ms",
            {"machinable": g("machinable"), "raw": g("stdlib"), "mlflow-file": g("mlflow"),
             "mlflow-sqlite": g("mlflow"), "sacred": g("sacred")},
            {"raw": "json+sqlite3+hashlib+pathlib"})
        row("import_bare", "1 bare interpreter (`pass`)", "ms",
            {"machinable": g("bare"), "raw": g("bare"), "mlflow-file": g("bare (peers venv)"),
             "mlflow-sqlite": g("bare (peers venv)"), "sacred": g("bare (peers venv)")}, compare=False)

    def med(x, *path):
        for p in path:
            if x is None:
                return None
            x = x.get(p)
        return x

    is_get = lambda o: o["results"].get("api") == "get"  # noqa: E731
    is_make = lambda o: o["results"].get("api") == "make"  # noqa: E731
    for tag, key, where in ((None, "run", "disk"), ("tmpfs", "run_tmpfs", "tmpfs (CPU cost)")):
        g, gr = _round_median(res, "machinable", "run_overhead", is_get, tag)
        m, mr = _round_median(res, "machinable", "run_overhead", is_make, tag)
        w, wr = _round_median(res, "raw", "run_overhead", tag=tag)
        pvals = {t: _round_median(res, t, "run_overhead", tag=tag)[0] for t in PEERS}
        rounds = {"machinable": f"rounds {', '.join(fmt(x) for x in gr)}", "raw": f"rounds {', '.join(fmt(x) for x in wr)}"}
        if tag is None:
            rounds["raw"] = "mkdir + 3 JSON files; " + rounds["raw"]
            rounds["sacred"] = "capture=sys"
        row(key.replace("run", "run_get"), f"2 per-run overhead, {where}, page cache: `get(m, cfg).launch()` + 1 JSON file",
            "ms/run", {"machinable": g, "raw": w, **pvals}, rounds if len(gr) > 1 else {})
        row(key.replace("run", "run_make"), f"2 per-run overhead, {where}: `Experiment.make(m, cfg).launch()`",
            "ms/run", {"machinable": m, "raw": w, **pvals},
            {"machinable": f"rounds {', '.join(fmt(x) for x in mr)}"} if len(mr) > 1 else {})

    f, fr = _round_median(res, "machinable", "run_overhead", is_get, "fsync")
    raw_fsync = [e["out"]["results"]["fsync"]["ms_per_run"]["median"] for e in res
                 if e["tool"] == "raw" and e["workload"] == "run_overhead" and e["status"] == "ok" and e.get("tag") is None]
    row("run_fsync", "2 per-run overhead, disk, fsync (survives power loss): `get(m, cfg).launch()` + 1 JSON file",
        "ms/run", {"machinable": f, "raw": statistics.median(raw_fsync) if raw_fsync else None,
                   "mlflow-sqlite": _round_median(res, "mlflow-sqlite", "run_overhead")[0]},
        {"machinable": "MACHINABLE_DURABILITY=fsync", "raw": "fsync per file + directories",
         "mlflow-sqlite": "SQLite commits with fsync"})

    kw = _find(res, "machinable", "logging", lambda o: o["results"].get("style") == "kwargs")
    si = _find(res, "machinable", "logging", lambda o: o["results"].get("style") == "setitem")
    rawl = _find(res, "raw", "logging")
    per = {t: _find(res, t, "logging", lambda o: o["results"].get("method") == "per-row") for t in PEERS}
    bat = {t: _find(res, t, "logging", lambda o: o["results"].get("method") == "batch") for t in PEERS}
    notes = {t: f"{per[t]['rows']:,} rows (budget)" for t in PEERS if per[t] and per[t]["stopped_by_budget"]}
    notes["raw"] = "os.write per row"
    notes["sacred"] = "2× log_scalar per row, buffered"
    row("log_row", "3 logging, per-row calls, page cache (survives SIGKILL): `record.save(...)`", "µs/row",
        {"machinable": med(kw, "us_per_row"), "raw": med(rawl, "os-write", "us_per_row"),
         **{t: med(per[t], "us_per_row") for t in PEERS}}, notes)
    row("log_row_setitem", "3 logging, per-row: `r[k] = v; r.save()`", "µs/row",
        {"machinable": med(si, "us_per_row"), "raw": med(rawl, "os-write", "us_per_row")}, compare=False)
    bnotes = {t: f"{bat[t]['rows']:,} rows (budget)" for t in PEERS if bat[t] and bat[t]["stopped_by_budget"]}
    bnotes.update({"machinable": "no batch API: per-row figure", "raw": "buffered file, 1 flush (not kill-safe)",
                   "sacred": "no batch API"})
    row("log_batch", "3 logging, batch API (500 rows per call)", "µs/row",
        {"machinable": med(kw, "us_per_row"), "raw": med(rawl, "buffered", "us_per_row"),
         **{t: med(bat[t], "us_per_row") for t in ("mlflow-file", "mlflow-sqlite")}}, bnotes)
    kf = _find(res, "machinable", "logging", tag="fsync")
    row("log_fsync", f"3 logging per-row, fsync (survives power loss; {run['sizes'].get('fsync_rows', 0):,} rows)",
        "µs/row", {"machinable": med(kf, "us_per_row"), "raw": med(rawl, "fdatasync", "us_per_row"),
                   "mlflow-sqlite": med(per["mlflow-sqlite"], "us_per_row")},
        {"machinable": "MACHINABLE_DURABILITY=fsync", "raw": "os.write + fdatasync per row",
         "mlflow-sqlite": "SQLite commit per call"})
    nrows = run["sizes"]["rows"]
    # peak RSS is VmHWM of the process image (ru_maxrss in results before 2026-12-04 02:35 UTC included the
    # runner's own peak, which it inherits across exec: those figures are floors, not the process's own)
    row("log_rss", f"3 peak RSS, {nrows:,}-row logging process", "MB",
        {"machinable": med(kw, "peak_rss_mb"), "raw": med(rawl, "peak_rss_mb"),
         **{t: med(per[t], "peak_rss_mb") for t in PEERS}}, compare=False)

    ml = _find(res, "machinable", "lookup")
    rl = _find(res, "raw", "lookup")
    pl = {t: _find(res, t, "lookup") for t in PEERS}
    for n in run["sizes"]["lookup_n"]:
        k = str(n)
        vals = {"machinable": med(ml, "sizes", k, "get_ms", "median"),
                "raw": med(rl, "sizes", k, "sqlite_ms", "median")}
        lnotes = {"raw": "SQLite index + read config.json"}
        for t in PEERS:
            vals[t] = med(pl[t], "sizes", k, "ms_per_lookup", "median")
            if pl[t] and k in pl[t].get("skipped", {}):
                lnotes[t] = "not reached (see notes)"
            elif pl[t] and k in pl[t]["sizes"] and pl[t]["sizes"][k]["lookups"] < 10:
                lnotes[t] = f"{pl[t]['sizes'][k]['lookups']} lookups (budget)"
        row(f"lookup_{n}", f"4 lookup by config among N = {n:,}: `get(m, cfg)`", "ms", vals, lnotes)
    big = str(run["sizes"]["lookup_n"][-1])
    # every tool populates in one process and looks up in a fresh lookup-only one, whose peak is read as
    # VmHWM (ru_maxrss carries the spawning process's peak over exec); older results lack it: not shown
    rss, rss_notes = {"machinable": med(ml, "sizes", big, "exec_peak_rss_mb") or med(ml, "sizes", big, "peak_rss_mb")}, {}
    for t, x in (("raw", rl), *pl.items()):
        only = (x or {}).get("lookup_only")
        if only and only.get("rss_source") == "VmHWM":
            rss[t] = only["peak_rss_mb"]
            if str(only["n"]) != big:
                rss_notes[t] = f"at N = {only['n']:,}"
    row("lookup_rss", f"4 peak RSS, a fresh lookup-only process at N = {int(big):,}", "MB", rss, rss_notes,
        compare=False)
    row("find_where", f"4 `find(m, where=cfg)` query at N = {int(big):,}", "ms",
        {"machinable": med(ml, "sizes", big, "find_where_ms", "median"),
         "raw": med(rl, "sizes", big, "scan_ms", "median")}, {"raw": "scan of all config.json"}, compare=False)

    for n in run["sizes"]["lookup_n"]:
        k = str(n)
        q = med(ml, "sizes", k, "query")
        raw_scan = med(rl, "sizes", k, "scan_ms", "median")
        mlflow = {t: med(pl[t], "sizes", k, "ms_per_lookup", "median") for t in ("mlflow-file", "mlflow-sqlite")}
        qnotes = {"machinable": f"index {fmt(med(q, 'eq_index_ms', 'median'))} ms (find opens the match)",
                  "raw": "scan of every config.json", "mlflow-file": "search_runs, 5 params", "mlflow-sqlite": "search_runs, 5 params"}
        row(f"query_eq_{n}", f"4 query, equality on one key among N = {n:,}: `find(m, where=\"seed=k\")`", "ms",
            {"machinable": med(q, "eq_find_ms", "median"), "raw": raw_scan, **mlflow}, qnotes)
        rnotes = {"machinable": f"index {fmt(med(q, 'range_index_ms', 'median'))} ms; find opens the "
                                f"{med(q, 'range_rows') or 0:,} matches", "raw": "scan of every config.json",
                  "mlflow-file": "no range on params (strings)", "mlflow-sqlite": "no range on params (strings)"}
        row(f"query_range_{n}", f"4 query, 1 % range on one key among N = {n:,}: `find(m, where=\"lr>=a lr<b\")`", "ms",
            {"machinable": med(q, "range_find_ms", "median"), "raw": raw_scan}, rnotes)

    cs = _find(res, "machinable", "cli_startup")
    if cs:
        base = cs["results"]["import"]["median_ms"]
        for name in ("list", "show", "get --launch"):
            got = cs["results"].get(name)
            if got:
                row(f"cli_{name.split()[0]}", f"5 `machinable {name}` at {cs['experiments']:,} experiments, spawn → "
                    f"{'executing' if 'launch' in name else 'exit'} (× `import machinable` = {fmt(base)} ms)", "ms",
                    {"machinable": got["median_ms"]}, {"machinable": f"×{got['ratio']} (target ≤ {got['target']})"},
                    compare=False)

    mc = _find(res, "machinable", "cli")
    rc = _find(res, "raw", "cli")
    pc = {t: _find(res, t, "cli") for t in PEERS}
    cnotes = {"mlflow-file": "script (no CLI)", "mlflow-sqlite": "script (no CLI)", "sacred": "`script.py with ...`"}
    m_exec = med(mc, "to_first_execute_ms", "median") if mc and mc.get("status") == "ok" else None
    m_total = med(mc, "process_total_ms", "median") if mc and mc.get("status") == "ok" else None
    if mc and mc.get("status") != "ok":
        cnotes["machinable"] = f"CLI {mc.get('status')}: {mc.get('reason', '')[:80]}"
    row("cli_exec", "5 `machinable get m k=v --launch`: spawn → experiment executing", "ms",
        {"machinable": m_exec, "raw": med(rc, "to_first_execute_ms", "median"),
         **{t: med(pc[t], "to_first_execute_ms", "median") for t in PEERS}}, cnotes)
    row("cli_total", "5 same, spawn → process exit", "ms",
        {"machinable": m_total, "raw": med(rc, "process_total_ms", "median"),
         **{t: med(pc[t], "process_total_ms", "median") for t in PEERS}})
    row("cli_api", "5 `python -c \"get(m, cfg).launch()\"`: spawn → executing", "ms",
        {"machinable": med(mc, "python_c_api", "to_first_execute_ms", "median")}, compare=False)
    sweep_rows(res, run["sizes"], row)
    return rows


def sweep_rows(res, sizes, row) -> None:
    """Workload 6: per point of a grid and per trial of a search, a second driver and the dry run."""

    def rounds(tool, workload, key):
        got = _per_round(res, tool, workload, key)
        return (statistics.median(got) if got else None), got

    def noted(values_and_rounds, **notes):
        """The notes given, and each tool's round figures when there was more than one round."""
        for tool, (_, got) in values_and_rounds.items():
            if len(got) > 1:
                notes[tool] = "; ".join(filter(None, [notes.get(tool), f"rounds {', '.join(fmt(x) for x in got)}"]))
        return notes

    points = sizes.get("sweep_points", 0)
    grid = {tool: rounds(tool, "grid", "ms_per_point") for tool in ("machinable", "raw", "hydra")}
    row("sweep_grid", f"6 sweep, per point of a {points:,}-point grid of a trivial objective, every point stored",
        "ms/point", {tool: value for tool, (value, _) in grid.items()},
        noted(grid, raw="mkdir + 2 JSON files per point"), table="sweep")
    search = {tool: rounds(tool, "search", "ms_per_point") for tool in ("machinable", "optuna", "optuna-sqlite")}
    row("sweep_search", f"6 search, per trial of {points:,} TPE trials (`Search(...).run()` / `study.optimize`)",
        "ms/trial", {tool: value for tool, (value, _) in search.items()},
        noted(search, machinable="every trial an experiment", optuna="nothing stored"), table="sweep")
    relaunch, _ = rounds("machinable", "grid", "relaunch_finished_s")
    row("sweep_relaunch", f"6 the same {points:,}-point sweep driven again after it finished, spawn → exit", "s",
        {"machinable": relaunch}, {"machinable": "finds every point finished: runs nothing (a second Hydra "
                                                 "multirun runs every point again)"}, compare=False, table="sweep")
    dry_run = {"machinable": rounds("machinable", "grid", "dry_run_s")}
    row("sweep_dry_run", f"6 `machinable sweep m 'x=range(0,{sizes.get('sweep_plan_points', 0)})' --dry-run` "
        f"({points:,} finished), spawn → exit", "s", {"machinable": dry_run["machinable"][0]}, noted(dry_run),
        compare=False, table="sweep")


def fmt(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def cell(row, tool):
    v = row["values"].get(tool)
    note = row["notes"].get(tool)
    m = row["values"].get("machinable")
    s = fmt(v)
    if v is not None and m and tool != "machinable" and row["compare"]:
        ratio = v / m if row["lower_better"] else m / v
        s += f" (×{ratio:.2g})" if ratio < 10 else f" (×{ratio:,.0f})"
    if note:
        s += f" [{note}]"
    return s


def markdown_table(rows, tools, table="main") -> str:
    """The rows of one table ("main": the runs, logging, lookups and CLI; "sweep": workload 6) in its columns."""
    cols = [t for t in (SWEEP_COLUMNS if table == "sweep" else COLUMNS) if t in tools]
    out = ["| workload | unit | " + " | ".join(TITLES[t] for t in cols) + " |",
           "|---|---|" + "---:|" * len(cols)]
    for row in rows:
        if row.get("table", "main") != table or all(row["values"].get(t) is None for t in cols):
            continue
        out.append(f"| {row['label']} | {row['unit']} | " + " | ".join(cell(row, t) for t in cols) + " |")
    return "\n".join(out)


def check_targets(run, rows) -> list[dict]:
    res = run["results"]
    by = {r["key"]: r["values"] for r in rows}
    out = []

    def target(name, value, limit, ok, detail):
        out.append({"target": name, "value": value, "limit": limit,
                    "status": "N/A" if ok is None else ("PASS" if ok else "MISS"), "detail": detail})

    imp_m, imp_s = by.get("import", {}).get("machinable"), by.get("import", {}).get("raw")
    if imp_m and imp_s:
        target("import <= 1.5x json+sqlite3+hashlib+pathlib", round(imp_m / imp_s, 2), 1.5, imp_m <= 1.5 * imp_s,
               f"{imp_m:.1f} ms vs {imp_s:.1f} ms = ×{imp_m / imp_s:.2f}")
    for key, what in (("run_get", "get().launch()"), ("run_make", "make().launch()"),
                      ("run_get_tmpfs", "get().launch(), tmpfs"), ("run_make_tmpfs", "make().launch(), tmpfs")):
        v, raw = by.get(key, {}).get("machinable"), by.get(key, {}).get("raw")
        if v is not None:
            target(f"per-run overhead <= 2 ms ({what})", v, 2.0, v <= 2.0, f"{v:.2f} ms/run")
            if raw:
                target(f"per-run overhead <= 3x raw ({what})", round(v / raw, 2), 3.0, v <= 3 * raw,
                       f"{v:.2f} ms vs raw {raw:.3f} ms = ×{v / raw:.1f}")
    v = by.get("log_row", {}).get("machinable")
    if v:
        target(">= 200,000 rows/s per-row logging", round(1e6 / v), 200_000, 1e6 / v >= 200_000,
               f"{1e6 / v:,.0f} rows/s ({v:.2f} µs/row)")
    dur = _find(res, "machinable", "durability")
    if dur:
        n = sum(t["reported_saves_at_kill"] for t in dur["trials"])
        miss = sum(t["missing_reported_rows"] for t in dur["trials"])
        target("every returned save() survives SIGKILL", miss, 0, dur["all_ok"],
               f"{len(dur['trials'])} kills, {n:,} reported saves, {miss} missing, "
               f"{sum(t['corrupt_complete_lines'] for t in dur['trials'])} corrupt lines")
    elif _err(res, "machinable", "durability"):
        target("every returned save() survives SIGKILL", None, 0, False, _err(res, "machinable", "durability")[-300:])
    for n, limit in ((10_000, 0.5), (100_000, 1.0)):
        v = by.get(f"lookup_{n}", {}).get("machinable")
        target(f"lookup <= {limit} ms at {n:,}", v, limit, None if v is None else v <= limit,
               "size not run" if v is None else f"{v:.3f} ms")
    big = run["sizes"]["lookup_n"][-1]
    query = (_find(res, "machinable", "lookup") or {}).get("sizes", {}).get(str(big), {}).get("query") or {}
    for name, limit in (("eq", 2.0), ("range", 10.0)):
        v = (query.get(f"{name}_index_ms") or {}).get("median")
        if big >= 100_000 and v is not None:
            target(f"{'equality' if name == 'eq' else '1 % range'} on one key in the index <= {limit:g} ms at {big:,}",
                   v, limit, v <= limit, f"{v:.3f} ms (find() with opening the matches: "
                   f"{(query.get(f'{name}_find_ms') or {}).get('median')} ms)")
    cs = _find(res, "machinable", "cli_startup")
    for name, got in ((cs or {}).get("results") or {}).items():
        if got.get("target"):
            target(f"`machinable {name}` <= {got['target']}x import machinable", got["ratio"], got["target"],
                   got["ratio"] <= got["target"], f"{got['median_ms']} ms = ×{got['ratio']}")
    v = by.get("sweep_dry_run", {}).get("machinable")
    if v is not None:
        plan = run["sizes"]["sweep_plan_points"]
        target(f"`machinable sweep --dry-run` of {plan:,} points < 2 s", v, 2.0, v < 2.0, f"{v:.2f} s")
    for key, what in (("log_rss", f"{run['sizes']['rows']:,}-row logging"),
                      ("lookup_rss", f"lookup process at N = {run['sizes']['lookup_n'][-1]:,}")):
        v = by.get(key, {}).get("machinable")
        if v is None:
            continue
        target(f"peak RSS < 150 MB: {what}", v, 150, None if v is None else v < 150,
               "not measured" if v is None else f"{v:.1f} MB")
    # faster than every peer on every compared workload
    peers_present = [t for t in PEERS if t in run["tools"]]
    if peers_present:
        losses, compared = [], 0
        for r_ in rows:
            m = r_["values"].get("machinable")
            if not r_["compare"] or m is None:
                continue
            for t in peers_present:
                v = r_["values"].get(t)
                if v is None:
                    continue
                compared += 1
                if (v <= m) if r_["lower_better"] else (v >= m):
                    losses.append(f"{r_['key']}: {TITLES[t]} {fmt(v)} vs ours {fmt(m)} {r_['unit']}")
        target("faster than MLflow and Sacred on every workload", len(losses), 0, not losses,
               f"{compared} comparisons, lost {len(losses)}" + (": " + "; ".join(losses) if losses else ""))
    return out
