"""The report of a run: the markdown file beside the results and the console summary."""

from __future__ import annotations

from benchmarks.settings import PEERS, TITLES
from benchmarks.summary import _find, markdown_table


def render_markdown(run, rows, targets) -> str:
    info = run["info"]
    m = info["machine"]
    lines = [f"# machinable benchmark — {run['started']}", "",
             f"Command: `{run['command']}` (cwd: repository root; {run['duration_s']:.0f} s"
             f"{', QUICK smoke sizes: not representative' if run['quick'] else ''})", "",
             f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, {m['os']}, "
             f"kernel {m['kernel']}, Python {m['python']}, SQLite {m['sqlite']}; stores under "
             f"`{m['base_dir']}` ({m['base_filesystem']['fstype']} on {m['base_filesystem']['device']}); "
             f"load average {m['loadavg_start'][0]} at start, {m['loadavg_end'][0]} at end; "
             f"git {m['git'].get('commit', '?')}{' + uncommitted changes in src/' if m['git'].get('dirty') else ''} "
             f"(src/machinable snapshot sha256 {info.get('source', {}).get('sha256', '?')}, taken at the start "
             f"and used by every machinable process).",
             "", "Versions: " + ", ".join(f"{k} {v}" for group in info["versions"].values()
                                          for k, v in group.items() if v and "source" not in k), "",
             "Figures are medians (per-operation timings within one fresh process per tool and workload; "
             "import: interleaved fresh interpreters). `(×r)` = that tool's time ÷ machinable's time, "
             "so ×10 means machinable is 10 times faster; for raw Python, ×0.2 means the no-framework "
             "floor takes 0.2 of our time.", "",
             markdown_table(rows, run["tools"]), ""]
    if any(row.get("table") == "sweep" and row["values"].get("machinable") is not None for row in rows):
        lines += ["## Sweeps and searches", "",
                  "Per point: (spawn → exit of a driver doing all the points − the same for "
                  f"{run['sizes']['sweep_small']} points) ÷ the difference, so start-up cancels out; see "
                  "benchmarks/sweep_workloads.py.", "", markdown_table(rows, run["tools"], "sweep"), ""]
    lines += ["## Targets", "",
             "| target | status | measured |", "|---|---|---|"]
    for t in targets:
        lines.append(f"| {t['target']} | **{t['status']}** | {t['detail']} |")
    lines += ["", "## Notes", ""]
    for n in run_notes(run):
        lines.append(f"- {n}")
    return "\n".join(lines) + "\n"


def run_notes(run) -> list[str]:
    res = run["results"]
    notes = list(run["notes"])
    notes.append("Interpreters: " + ", ".join(f"{k}: `{v}`" for k, v in run["info"]["interpreters"].items()))
    for e in res:
        if e["status"] == "error":
            notes.append(f"ERROR {e['tool']} {e['workload']} {' '.join(e['argv'])}: {e['error'][-400:]}")
        if e["workload"] == "import" and e.get("errors"):
            notes.append(f"import errors: {e['errors']}")
    ml = _find(res, "machinable", "lookup")
    if ml:
        pops = [f"{k}: {v['populate']['create_s']} s ({v['populate']['create_ms_per_experiment']:.2f} ms each"
                + (f", {v['populate']['id_collisions']} experiment-id collision(s) retried"
                   if v['populate'].get('id_collisions') else "") + ")"
                for k, v in ml["sizes"].items()]
        notes.append("machinable lookup stores populated through the public API "
                     "(`Experiment.make(m, cfg).commit()`, untimed for the lookup figure): " + "; ".join(pops)
                     + ". First lookup of each fresh process (opens the index, builds the config model): "
                     + ", ".join(f"{k}: {v['first_lookup_ms']:.1f} ms" for k, v in ml["sizes"].items()))
    for t in PEERS:
        pl = _find(res, t, "lookup")
        if pl:
            notes.append(f"{TITLES[t]} lookup stores: {pl['populate']}. "
                         + "; ".join(f"N={k}: {v['lookups']} lookups, first {v['first_lookup_ms']} ms"
                                     for k, v in pl["sizes"].items())
                         + ("; " + "; ".join(f"N={k}: {why}" for k, why in pl["skipped"].items())
                            if pl["skipped"] else ""))
        pr = [x for x in res if x["tool"] == t and x["workload"] == "logging" and x["status"] == "ok"]
        for x in pr:
            o = x["out"]["results"]
            if o["stopped_by_budget"]:
                notes.append(f"{TITLES[t]} logging {o['method']}: stopped by the {o['budget_s']:.0f} s budget at "
                             f"{o['rows']:,} of {o['rows_requested']:,} rows (figure from those rows).")
    mc = _find(res, "machinable", "cli")
    if mc:
        if mc.get("status") == "ok":
            notes.append(f"machinable CLI: {mc['command']}; first process (creates the storage) "
                         f"{mc['warmup_first_process_ms']:.0f} ms; rerunning a finished config "
                         f"{mc['rerun_same_config_ms']:.0f} ms and executed again: {mc['rerun_executed_again']}.")
        else:
            notes.append(f"machinable CLI {mc['status']}: {mc.get('reason')}")
    dur = _find(res, "machinable", "durability")
    if dur:
        notes.append("SIGKILL check: " + "; ".join(
            f"killed after {t['reported_saves_at_kill']:,} reported saves → {t['rows_in_file']:,} rows in file, "
            f"{t['missing_reported_rows']} missing, partial last line: {t['partial_last_line']}"
            for t in dur["trials"]))
    imp = next((e for e in res if e["workload"] == "import"), None)
    if imp:
        prof = imp["out"]["importtime_machinable"]
        notes.append(f"`-X importtime` of `import machinable`: {prof['modules']} modules; largest cumulative: "
                     + ", ".join(f"{n} {ms} ms" for n, ms in prof["top_cumulative_ms"][:6]))
    fs = []
    for e in res:
        if e["status"] == "ok" and e["workload"] == "run_overhead" and not e.get("tag"):
            p = e["out"]["results"].get("fs_create_us_start_end")
            if p:
                fs.append(f"{e['tool']}{' ' + e['out']['results'].get('api') if e['out']['results'].get('api') else ''} "
                          f"{p[0]:.0f}/{p[1]:.0f}")
    if fs:
        notes.append("Disk probe (µs per 1-byte file create, start/end of each per-run workload on disk, in "
                     "run order; this VM's disk swings 50–850 µs; tmpfs ~17 µs): " + ", ".join(fs))
    return notes


def print_console(rows, targets, tools, md_path):
    print()
    print(markdown_table(rows, tools))
    print()
    print(markdown_table(rows, tools, "sweep"))
    print()
    for t in targets:
        print(f"  {t['status']:4s}  {t['target']}: {t['detail']}")
    print(f"\nwritten: {md_path} (+ .json)")
