"""``make bench``: every benchmark, each figure as a ratio against the raw limit of the same engine in the same run.

    .venv/bin/python -m bench.run_all            # full run, ~8 minutes; writes bench/results/latest.{json,md}
    .venv/bin/python -m bench.run_all --quick    # smoke run, ~1-2 minutes; writes bench/results/quick.{json,md}
    .venv/bin/python -m bench.run_all --only throughput --engines sqlite
    .venv/bin/python -m bench.run_all --only w2  # W2 comparison: 10 million movements on DuckDB, 1 million on Spark

PostgreSQL comes from ``BONDEDZONE_TEST_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/test);
each benchmark works in a fresh schema that it drops afterwards. When PostgreSQL is unreachable,
its figures are skipped and the results say so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import common, contention, gate_decisions, http_latency, throughput, w2_compare, w3_delay
from bondedzone.domain.rules import w2_comparison as w2

SIZES = {
    # (1,000-line lists, 10-line lists, contention lists per layout and mode, HTTP approvals per client,
    #  gate decisions per client, W2 movements on DuckDB, W2 movements on Spark)
    "full": {
        "big": 60,
        "small": 600,
        "contention": 300,
        "http": 100,
        "gate": 100,
        "w2": 10_000_000,
        "w2_spark": 1_000_000,
        "w3": 40,
        "w3_history": 400,
    },
    "quick": {
        "big": 6,
        "small": 60,
        "contention": 40,
        "http": 12,
        "gate": 12,
        "w2": 200_000,
        "w2_spark": 50_000,
        "w3": 8,
        "w3_history": 40,
    },
}
SECTIONS = ["throughput", "contention", "http", "gate", "w2"]
GOAL_THROUGHPUT = 0.25
GOAL_CONTENTION = 0.7
GOAL_GATE_P99 = 3.0  # ours p99 ≤ 3 × the bare endpoint's p99
GOAL_GATE_RATE = 500  # decisions/s
GOAL_W2_RATIO = w2_compare.GOAL_RATIO  # ours ≤ 2 × the bare join + aggregate
GOAL_W2_PEAK_MIB = w2_compare.GOAL_PEAK_MIB  # ours' peak RSS < 4 GiB


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _verdict(value: float, goal: float) -> str:
    return f"≥ {goal} ✔" if value >= goal else f"≥ {goal} ✘ MISSED"


def _sections(res: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if res.get("throughput"):
        rows = [
            [
                r["engine"],
                r["lines_per_list"],
                r["lists"],
                f"{r['ours_postings_per_s']:,.0f}",
                f"{r['ours_ms_per_list_median']:.2f}",
                f"{r['bare_postings_per_s']:,.0f}",
                f"{r['bare_ms_per_list_median']:.2f}",
                f"{r['ratio']:.3f}",
                f"{r['ratio_totals']:.3f}",
                _verdict(r["ratio"], GOAL_THROUGHPUT) if r["lines_per_list"] >= 1000 else "—",
                "ok" if r["audit_ok"] else "FAILED",
            ]
            for r in res["throughput"]
        ]
        out.append(
            (
                "Approval throughput (approve_invt, one transaction per list) vs bare batched insert",
                _table(
                    [
                        "engine",
                        "lines/list",
                        "lists",
                        "ours postings/s",
                        "ours ms/list (median)",
                        "bare rows/s",
                        "bare ms/list (median)",
                        "ratio (medians)",
                        "ratio (totals)",
                        "goal",
                        "audit",
                    ],
                    rows,
                ),
            )
        )
    if res.get("contention"):
        rows = [
            [
                r["engine"],
                r["layout"],
                r["writers"],
                r["lists_per_mode"],
                f"{r['hot_postings_per_s']:,.0f}",
                f"{r['spread_postings_per_s']:,.0f}",
                f"{r['ratio']:.3f}",
                _verdict(r["ratio"], GOAL_CONTENTION),
                r["failed"],
                "ok" if r["audit_ok"] else "FAILED",
            ]
            for r in res["contention"]
        ]
        out.append(
            (
                "Contention: 10-line lists all on 10 hot items vs spread over 10,000 items",
                _table(
                    [
                        "engine",
                        "layout",
                        "writers",
                        "lists/mode",
                        "hot postings/s",
                        "spread postings/s",
                        "ratio hot/spread",
                        "goal",
                        "failed",
                        "audit",
                    ],
                    rows,
                ),
            )
        )
    h = res.get("http")
    if h:
        a, b = h["approve"], h["whoami"]
        rows = [
            ["POST …/approve (10 lines)", a["requests"], a["p50_ms"], a["p99_ms"], a["mean_ms"], a["req_per_s"]],
            ["GET /api/v1/whoami (bare)", b["requests"], b["p50_ms"], b["p99_ms"], b["mean_ms"], b["req_per_s"]],
            ["ratio bare/ours", "", h["ratio_p50"], h["ratio_p99"], "", h["ratio_throughput"]],
        ]
        ok = h["failed"] == 0 and h["all_approved"] and h["audit_ok"]
        out.append(
            (
                f"HTTP, PostgreSQL, {h['clients']} concurrent clients, real uvicorn server "
                f"({'all approvals 200, audit ok' if ok else 'FAILURES: see json'})",
                _table(["endpoint", "requests", "p50 ms", "p99 ms", "mean ms", "req/s"], rows),
            )
        )
    gd = res.get("gate")
    if gd:
        a, b = gd["decide"], gd["whoami"]
        rows = [
            ["POST /api/v1/gate/cross (decision)", a["requests"], a["p50_ms"], a["p99_ms"], a["mean_ms"], a["req_per_s"]],
            ["GET /api/v1/whoami (bare)", b["requests"], b["p50_ms"], b["p99_ms"], b["mean_ms"], b["req_per_s"]],
            [
                "goals",
                "",
                "",
                f"p99 {gd['p99_over_bare_p99']:.2f} × bare (≤ {GOAL_GATE_P99}) {'✔' if gd['goal_p99_ok'] else '✘ MISSED'}",
                "",
                f"≥ {GOAL_GATE_RATE}/s {'✔' if gd['goal_rate_ok'] else '✘ MISSED'}",
            ],
        ]
        ok = gd["failed"] == 0 and gd["decisions_as_expected"] and gd["over_delivered_lines"] == 0
        out.append(
            (
                f"Gate decisions, PostgreSQL, {gd['clients']} concurrent clients, real uvicorn server "
                f"({'all 200, every decision as expected, nothing over-delivered' if ok else 'FAILURES: see json'}; "
                f"{gd['holds']} holds)",
                _table(["endpoint", "requests", "p50 ms", "p99 ms", "mean ms", "req/s"], rows),
            )
        )
    w = res.get("w2")
    if w:
        out.append(_w2_section(w))
    return out


def _w2_section(w: dict[str, Any]) -> tuple[str, str]:
    o, b = w["ours"], w["bare"]
    ratio_goal = f"≤ {GOAL_W2_RATIO} {'✔' if w['goal_ratio_ok'] else '✘ MISSED'}"
    peak_goal = f"peak < {GOAL_W2_PEAK_MIB:,} MiB {'✔' if w['goal_memory_ok'] else '✘ MISSED'}"
    rows: list[list[Any]] = [
        [
            f"ours: `duckdb_engine.run`, {len(w2.STEPS)} steps, memory_limit {w['memory_limit']}",
            f"{w['movements']:,}",
            f"{o['seconds']:.2f}",
            f"{o['cpu_s']:.1f}",
            f"{o['movements_per_s']:,}",
            f"{o['peak_rss_mib']:,.0f}",
            f"{w['ratio']:.2f}",
            f"{ratio_goal}; {peak_goal}",
        ],
        [
            "bare: movements ⟗ declaration lines, aggregated per line and per (book, item, status)",
            f"{w['movements']:,}",
            f"{b['seconds']:.2f}",
            f"{b['cpu_s']:.1f}",
            f"{b['movements_per_s']:,}",
            f"{b['peak_rss_mib']:,.0f}",
            "1",
            "",
        ],
    ]
    sp = w.get("spark")
    if sp:
        rows += [
            [
                f"Spark `spark_engine.run`, {sp['master']} (start-up {sp['startup_s']:.1f} s not included; "
                f"first run {sp['first_run_s']:.1f} s)",
                f"{sp['movements']:,}",
                f"{sp['seconds']:.2f}",
                "",
                f"{sp['movements_per_s']:,}",
                "",
                f"{sp['spark_over_duckdb']:.1f} × DuckDB",
                "—",
            ],
            [
                "DuckDB `duckdb_engine.run`, the same files",
                f"{sp['movements']:,}",
                f"{sp['duckdb_seconds']:.2f}",
                "",
                f"{sp['duckdb_movements_per_s']:,}",
                "",
                "",
                "—",
            ],
        ]
    c = w.get("continuous")
    rows.append(
        ["W3 continuous mode: delay from a movement to its finding", "", "", "", "", "", "", "not measured (no PostgreSQL)"]
        if c is None
        else [
            f"W3 continuous mode (PostgreSQL, real server, loop every {c['interval_s']} s; one comparison of the book "
            f"{c['comparison_ms']} ms): delay from POST /wms/movements to GET /discrepancies showing it, "
            f"{c['samples']} movements: p50 {c['p50_ms']:,.0f} ms, p99 {c['p99_ms']:,.0f} ms, max {c['max_ms']:,.0f} ms",
            "",
            "",
            "",
            "",
            "",
            f"p50 {c['p50_ratio']:.2f}, p99 {c['p99_ratio']:.2f} × (interval + one comparison)",
            "—",
        ]
    )
    title = (
        f"W2 comparison (自动比对印证), DuckDB {w['duckdb']}, vs a bare join + aggregate; fresh process per run, best of "
        f"{len(o['runs_s'])}; findings exactly the {w['findings']:,} injected, in {len(w['expected'])} class/scope groups"
    )
    return (
        title,
        _table(["run", "movements", "seconds", "CPU s", "movements/s", "peak RSS MiB", "ratio ours/bare", "goal"], rows),
    )


def _markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    parts = [
        f"# Benchmark results ({res['mode']} run)",
        "",
        f"- date: {m['date']}, git {m['git_commit'] or '?'}, total {res['duration_s']} s",
        f"- machine: {m['cpu']}, {m['nproc']} CPUs, {m['memory_gib']} GiB, {m['os']}; load average "
        f"{m['load_average_at_start'][0]} at start, {m.get('load_average_at_end', ['?'])[0]} at end (other work shares the CPUs)",
        f"- Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgresql'] or 'not available'}",
        "- every ratio is ours ÷ the raw limit measured on the same engine in the same run (1.0 = as fast as the raw limit)",
    ]
    for note in res.get("skipped", []):
        parts.append(f"- skipped: {note}")
    if res.get("goals_missed"):
        parts.append("- goals missed: " + "; ".join(res["goals_missed"]))
    for title, table in _sections(res):
        parts += ["", f"## {title}", "", table]
    return "\n".join(parts) + "\n"


READMES = (Path(__file__).parent / "README.md", Path(__file__).parent.parent / "README.md")
START, END = "<!-- bench:latest:start -->", "<!-- bench:latest:end -->"


def _update_readme(summary: str) -> None:
    """Quote the latest full run in bench/README.md and the project README, between the markers."""
    body = summary.replace("# Benchmark results", "### Benchmark results", 1).replace("\n## ", "\n#### ")
    for readme in READMES:
        text = readme.read_text()
        if START not in text or END not in text:
            continue
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{START}\n{body}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small sizes (~1-2 minutes); results go to quick.{json,md}")
    ap.add_argument("--only", action="append", choices=SECTIONS, help="run only these")
    ap.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--out", type=Path, default=common.RESULTS, help="results directory (default bench/results)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = ap.parse_args(argv)

    mode = "quick" if args.quick else "full"
    size = SIZES[mode]
    only = set(args.only or SECTIONS)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    skipped: list[str] = []
    needs_pg = ("postgresql" in engines and {"throughput", "contention"} & only) or {"http", "gate"} & only
    problem = common.pg_problem() if needs_pg else None
    if problem:
        skipped.append(f"PostgreSQL unreachable at {common.PG_URL} ({problem})")
        engines = [e for e in engines if e != "postgresql"]
        print(f"!! {skipped[-1]}: PostgreSQL figures skipped")

    started = time.perf_counter()
    res: dict[str, Any] = {"mode": mode, "machine": common.machine_info(), "sizes": size, "skipped": skipped}
    if "throughput" in only:
        res["throughput"] = []
        for engine in engines:
            for lines, lists in ((1000, size["big"]), (10, size["small"])):
                print(f"… throughput: {engine}, {lists} lists of {lines} lines", flush=True)
                res["throughput"].append(throughput.run(engine, lines=lines, lists=lists + 1))
    if "contention" in only:
        res["contention"] = []
        for engine in engines:
            print(f"… contention: {engine}, {size['contention']} lists per layout and mode", flush=True)
            res["contention"] += contention.run(engine, lists=size["contention"])
    if "http" in only:
        if problem:
            skipped.append("HTTP benchmark (needs PostgreSQL)")
        else:
            print(f"… http: {http_latency.CLIENTS} clients × {size['http']} approvals", flush=True)
            res["http"] = http_latency.run(per_client=size["http"])
    if "gate" in only:
        if problem:
            skipped.append("gate benchmark (needs PostgreSQL)")
        else:
            print(f"… gate: {gate_decisions.CLIENTS} clients × {size['gate']} decisions", flush=True)
            res["gate"] = gate_decisions.run(per_client=size["gate"])
    if "w2" in only:
        print(f"… w2: {size['w2']:,} movements on DuckDB, {size['w2_spark']:,} on Spark", flush=True)
        res["w2"] = w2_compare.run(movements=size["w2"], spark_movements=size["w2_spark"])
        if common.pg_problem() is None:
            print(f"… w3: continuous mode, {size['w3']} movements one at a time")
            res["w2"]["continuous"] = w3_delay.run(samples=size["w3"], history=size["w3_history"])
    res["duration_s"] = round(time.perf_counter() - started, 1)
    res["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]

    missed = [
        f"throughput {r['engine']} {r['lines_per_list']}-line ratio {r['ratio']}"
        for r in res.get("throughput", [])
        if r["lines_per_list"] >= 1000 and r["ratio"] < GOAL_THROUGHPUT
    ] + [
        f"contention {r['engine']} {r['layout']} ratio {r['ratio']}"
        for r in res.get("contention", [])
        if r["ratio"] < GOAL_CONTENTION
    ]
    gd = res.get("gate")
    if gd and not gd["goal_p99_ok"]:
        missed.append(f"gate p99 {gd['p99_over_bare_p99']} × bare")
    if gd and not gd["goal_rate_ok"]:
        missed.append(f"gate {gd['decisions_per_s']} decisions/s")
    w = res.get("w2")
    if w and not w["goal_ratio_ok"]:
        missed.append(f"w2 {w['ratio']} × bare")
    if w and not w["goal_memory_ok"]:
        missed.append(f"w2 peak {w['ours']['peak_rss_mib']} MiB")
    res["goals_missed"] = missed

    print()
    print(f"bondedzone benchmarks ({mode}), {res['duration_s']} s on {res['machine']['nproc']} CPUs")
    for title, table in _sections(res):
        print(f"\n{title}\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "latest" if mode == "full" else "quick"
    (args.out / f"{stem}.json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")
    (args.out / f"{stem}.md").write_text(_markdown(res))
    print(f"\nwritten: {args.out / (stem + '.json')}, {args.out / (stem + '.md')}")
    if mode == "full" and args.out == common.RESULTS and not args.only:
        _update_readme(_markdown(res))
        print(f"updated: {', '.join(str(r) for r in READMES)}")
    if missed:
        print("goals missed: " + "; ".join(missed))
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
