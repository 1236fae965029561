"""WebShop speed: search latency at 1k and 100k products, the env's step time, and the server's requests/s.

Rows, each with a baseline measured in the same run:

- ``search``: p50 / p99 latency of 200 instruction-derived queries (top 50) with the default backend (bm25s,
  Lucene BM25) against SQLite FTS5 (the baseline), at 1k and 100k products; plus the index build time.
- ``step``: mean in-process ``WebShopEnv.step`` time over expert-and-random episodes (page cache off: every page
  rendered and read), against the same episodes driven over HTTP (baseline); and with every page seen before
  (the caches on, a second replay: what group-based training, many envs on one goal, mostly gets).
- ``http``: requests/s of ``python -m webshop_server`` (waitress, a subprocess) under a bounded loopback load
  (a fixed number of GETs of episode pages from 8 client threads, best of three passes over pages not yet
  rendered), against Flask's development server; with the server's CPU time per request (capacity per core).

- ``decode``: microseconds to read a page URL with the bounded decoder (``state.parse_path``: size, depth and
  type checks) against the unchecked reading it replaced (split, unquote, ``json.loads``); and a page-cache hit
  with the byte-bounded :class:`~webshop_server.cache.BoundedCache` against ``functools.lru_cache``.

Targets (``docs/webshop.md``): search p50 <= 2 ms at 100k products; in-process step <= 1 ms; >= 1,000 req/s.
The last line is a JSON object with every figure. Usage::

    python benchmarks/bench_webshop.py                  # 1k and 100k products, 3 x 3,000 HTTP requests
    python benchmarks/bench_webshop.py --large 20000 --requests 1000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def bench_search(num_products: int, queries: int) -> dict[str, float]:
    """p50 / p99 search latency (ms) and build time (s) of both backends on one generated catalog."""
    from webshop_server.catalog import generate_catalog
    from webshop_server.search import make_index

    catalog = generate_catalog(num_products)
    products = list(catalog.products.values())
    goals = catalog.goals[:queries]
    texts = [g["instruction_text"].split(" with ")[0].split(", and price")[0] for g in goals]
    out: dict[str, float] = {}
    for backend in ("bm25s", "fts5"):
        start = time.perf_counter()
        index = make_index(products, backend)
        out[f"{backend}_build_s"] = time.perf_counter() - start
        index.search(texts[0])  # warm-up
        latencies, found = [], 0
        for text, goal in zip(texts, goals, strict=True):
            start = time.perf_counter()
            results = index.search(text)
            latencies.append(time.perf_counter() - start)
            found += goal["asin"] in results
        out[f"{backend}_p50_ms"], out[f"{backend}_p99_ms"] = _percentiles(latencies)
        out[f"{backend}_recall50"] = found / len(goals)
    return out


def _record(episodes: int, seed: int) -> list[list[str]]:
    """Action lists of episodes on test goals 0.. (the expert's action 70% of the time, a random admissible 30%)."""
    from hiper_envs.webshop import WebShopEnv

    env = WebShopEnv(expert=True)
    rng = random.Random(seed)
    out = []
    for i in range(episodes):
        obs, info = env.reset(options={"game_index": i % 500})
        actions = []
        while True:
            action = info["expert_action"] if rng.random() < 0.7 else rng.choice(info["admissible_commands"])
            actions.append(action)
            obs, reward, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        out.append(actions)
    return out


def _replay(env, episodes: list[list[str]]) -> tuple[float, float]:
    """Mean wall and CPU seconds per ``env.step`` (info keys included, no expert) replaying recorded episodes.

    CPU time (``time.thread_time``) is what a step costs; wall time also holds the waits for a core that a
    shared machine adds.
    """
    steps, spent, cpu = 0, 0.0, 0.0
    for i, actions in enumerate(episodes):
        env.reset(options={"game_index": i % 500})
        for action in actions:
            start, start_cpu = time.perf_counter(), time.thread_time()
            env.step(action)
            spent += time.perf_counter() - start
            cpu += time.thread_time() - start_cpu
            steps += 1
    return spent / steps, cpu / steps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(dev: bool) -> tuple[subprocess.Popen, str]:
    import requests

    port = _free_port()
    cmd = [sys.executable, "-m", "webshop_server", "--port", str(port)] + (["--dev"] if dev else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            requests.get(url + "/healthz", timeout=1)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def _page_paths(count: int) -> list[str]:
    """Paths of ``count`` real episode pages (search, results, item, sub-pages, done), of distinct goals' sessions.

    Goals from 500 on: the step replay (test goals) has already had the server render its pages.
    """
    from hiper_envs.webshop import WebShopEnv
    from webshop_server.state import parse_path

    env = WebShopEnv(expert=True)
    paths: list[str] = []
    goal = 500
    while len(paths) < count:
        if goal >= len(env.catalog.goals):
            raise ValueError(f"{count} pages need more goals than the catalog's {len(env.catalog.goals)}")
        obs, info = env.reset(options={"goal_index": goal})
        paths.append(info["url"])
        while True:
            obs, reward, terminated, truncated, info = env.step(info["expert_action"])
            paths.append(info["url"])
            session, state = parse_path(info["url"])
            if state.page == "item" and "click[description]" in info["admissible_commands"]:
                for sub in ("Description", "Features", "Reviews"):  # the item's sub-pages too
                    paths.append(replace(state, page="sub", sub_page=sub).path(session))
            if terminated or truncated:
                break
        goal += 1
    assert len(set(paths[:count])) == count, "every request must be a page not rendered yet"
    return paths[:count]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux ``/proc``; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def bench_http(url: str, pid: int, paths: list[str], clients: int) -> tuple[float, float]:
    """``(requests/s, server CPU ms per request)`` for GETs of ``paths`` from ``clients`` threads.

    Three passes over distinct thirds of ``paths`` (every request is a page the server has not rendered yet);
    the best pass counts: the machine's other load only ever slows one down. Every request must answer 200.

    The clients use ``http.client`` keep-alive connections: ``requests`` would cost the client more CPU than the
    server spends, on the same two cores.
    """
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(url)

    def run(chunk: list[str]) -> int:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        ok = 0
        for p in chunk:
            conn.request("GET", p)
            response = conn.getresponse()
            response.read()
            ok += response.status == 200
        conn.close()
        return ok

    best, cpu = 0.0, float("inf")
    third = len(paths) // 3
    with ThreadPoolExecutor(clients) as pool:
        for k in range(3):
            batch = paths[k * third : (k + 1) * third]
            chunks = [batch[i::clients] for i in range(clients)]
            cpu_start, start = _cpu_seconds(pid), time.perf_counter()
            ok = sum(pool.map(run, chunks))
            elapsed, cpu_used = time.perf_counter() - start, _cpu_seconds(pid) - cpu_start
            if ok != len(batch):
                raise RuntimeError(f"{len(batch) - ok} requests failed")
            best, cpu = max(best, len(batch) / elapsed), min(cpu, 1000 * cpu_used / len(batch))
    return best, cpu


def bench_decode(paths: list[str], repeats: int = 5) -> dict[str, float]:
    """Microseconds a URL: the bounded decoder vs the old unchecked reading; a cache hit, bounded vs lru_cache."""
    import functools
    from urllib.parse import unquote

    from webshop_server.cache import BoundedCache
    from webshop_server.state import parse_path

    def unchecked(path: str) -> tuple:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        return parts[0], (json.loads(parts[-1]) if parts[-1].startswith("{") else parts[-1])

    def per_call(fn, items) -> float:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for item in items:
                fn(item)
            best = min(best, (time.perf_counter() - start) / len(items))
        return 1e6 * best

    out = {"decode_bounded_us": per_call(parse_path, paths), "decode_unchecked_us": per_call(unchecked, paths)}
    bounded = BoundedCache(len, max_entries=len(paths), max_bytes=2**30, size=lambda n: n)
    lru = functools.lru_cache(maxsize=len(paths))(len)
    for path in paths:
        bounded(path), lru(path)
    out["cache_hit_bounded_us"] = per_call(bounded, paths)
    out["cache_hit_lru_us"] = per_call(lru, paths)
    return out


def main() -> None:
    """Run every row and print the figures, the ratios and a final JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=100_000, help="products of the large catalog")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=100, help="episodes for the step time")
    parser.add_argument("--requests", type=int, default=3000, help="HTTP requests per pass (3 passes a server)")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    figures: dict[str, float] = {}

    for label, n in (("1k", 1000), (f"{args.large // 1000}k", args.large)):
        s = bench_search(n, args.queries)
        figures.update({f"search_{label}_{k}": v for k, v in s.items()})
        print(
            f"search {label:>5}: bm25s p50 {s['bm25s_p50_ms']:.3f} ms p99 {s['bm25s_p99_ms']:.3f} ms "
            f"(build {s['bm25s_build_s']:.1f} s) | fts5 p50 {s['fts5_p50_ms']:.3f} ms p99 {s['fts5_p99_ms']:.3f} ms "
            f"(build {s['fts5_build_s']:.1f} s) | p50 ratio fts5/bm25s {s['fts5_p50_ms'] / s['bm25s_p50_ms']:.1f}x "
            f"| recall@50 {s['bm25s_recall50']:.2f} / {s['fts5_recall50']:.2f}"
        )

    from hiper_envs.webshop import WebShopEnv

    episodes = _record(args.episodes, seed=0)
    local = WebShopEnv(page_cache=0)
    _replay(local, episodes[:5])  # warm-up (imports, templates)
    wall, cpu = _replay(local, episodes[5:])
    figures["step_inprocess_ms"], figures["step_inprocess_cpu_ms"] = 1000 * wall, 1000 * cpu
    cached = WebShopEnv()
    _replay(cached, episodes)
    figures["step_inprocess_revisit_ms"] = 1000 * _replay(cached, episodes)[0]  # every page seen before
    proc, url = _start_server(dev=False)
    try:
        figures["step_http_ms"] = 1000 * _replay(WebShopEnv(server_url=url), episodes)[0]
        paths = _page_paths(3 * args.requests)
        figures["http_waitress_rps"], figures["http_waitress_cpu_ms"] = bench_http(url, proc.pid, paths, args.clients)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(
        f"step: in-process {figures['step_inprocess_ms']:.3f} ms ({figures['step_inprocess_cpu_ms']:.3f} ms CPU; "
        f"pages seen before: {figures['step_inprocess_revisit_ms']:.3f} ms) | over HTTP {figures['step_http_ms']:.3f} "
        f"ms | ratio http/in-process {figures['step_http_ms'] / figures['step_inprocess_ms']:.1f}x"
    )
    d = bench_decode(paths)
    figures.update(d)
    print(
        f"decode: bounded {d['decode_bounded_us']:.1f} us | unchecked {d['decode_unchecked_us']:.1f} us | ratio "
        f"{d['decode_bounded_us'] / d['decode_unchecked_us']:.1f}x; cache hit: bounded {d['cache_hit_bounded_us']:.2f}"
        f" us | lru_cache {d['cache_hit_lru_us']:.2f} us ({len(paths)} page URLs)"
    )
    proc, url = _start_server(dev=True)
    try:
        figures["http_flask_dev_rps"], figures["http_flask_dev_cpu_ms"] = bench_http(url, proc.pid, paths, args.clients)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ratio = figures["http_waitress_rps"] / figures["http_flask_dev_rps"]
    print(
        f"http: waitress {figures['http_waitress_rps']:.0f} req/s ({figures['http_waitress_cpu_ms']:.3f} ms server "
        f"CPU/request) | flask dev server {figures['http_flask_dev_rps']:.0f} req/s "
        f"({figures['http_flask_dev_cpu_ms']:.3f} ms) | ratio {ratio:.1f}x "
        f"({args.requests} requests a pass, {args.clients} clients)"
    )
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}, sort_keys=True))


if __name__ == "__main__":
    main()
