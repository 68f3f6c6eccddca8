"""Measure core4flask against bare Flask under the same gunicorn settings.

    python bench/run.py            # a few minutes; prints the tables
    python bench/run.py --quick    # about a minute
    python bench/run.py --write    # also writes docs/benchmarks.md

Both applications of ``bench/apps.py`` run at once, each in its own gunicorn
(``-c gunicorn.conf.py -k gevent -w N``) on 127.0.0.1, with their output sent
to ``/dev/null`` (core4flask's access log is on, but no terminal slows it
down). ``wrk -t1`` on the same host measures them in alternating rounds
(bare first in even rounds, core4flask first in odd ones) and the tables
report medians over the rounds and the ratio core4flask / bare.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "benchmarks.md"
BARE_APP = "bench.apps:create_bare_app()"
CORE4_APP = "bench.apps:create_core4_app()"
ADMIN_PASSWORD = "bench-admin-password"
TOKEN_SECRET = "bench-token-secret-" + "5f0c1e7a9b3d4c2e8f6a" * 4  # HS512 wants >= 64 bytes
#: The module whose presence means the protected scenario can run.
AUTH_SETUP = REPO / "core4flask" / "auth" / "setup.py"
LOGIN_PATH = "/core4/api/v1/login"
STARTUP_SECONDS = 45.0
STOP_SECONDS = 15.0


@dataclass(frozen=True)
class Scenario:
    """One comparison: the same request shape against both servers."""

    name: str
    title: str
    connections: int
    bare_path: str
    core4_path: str
    core4_headers: tuple[tuple[str, str], ...] = ()
    #: ``ratio``: core4flask/bare throughput must reach it; ``p99``: core4flask p99 must stay below it (ms)
    target_kind: str = "ratio"
    target: float = 1.0
    needs_auth: bool = False


_CSV = (("Accept", "text/csv"),)
#: The comparisons, in the order of the tables.
SCENARIOS = (
    Scenario("hello", "hello world", 16, "/bench/hello", "/bench/hello", target=0.95),
    Scenario("frame_json", "DataFrame 10,000 x 5 as JSON", 4, "/bench/frame", "/bench/frame", target=1.0),
    Scenario("frame_csv", "DataFrame 10,000 x 5 as CSV", 4, "/bench/frame.csv", "/bench/frame", _CSV, target=1.0),
    Scenario("latency", "hello world, 64 connections", 64, "/bench/hello", "/bench/hello", (), "p99", 100.0),
    Scenario("protected", "protected hello world", 16, "/bench/hello", "/bench/protected", (), "ratio", 0.85, True),
)


# -- wrk --------------------------------------------------------------------------------
@dataclass
class WrkResult:
    """What one wrk run reported."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad_responses: int = 0
    socket_errors: int = 0
    #: CPU time the server's workers spent per request (set by the runner)
    cpu_us: float = 0.0

    @property
    def clean(self) -> bool:
        """True when every response was 2xx/3xx and no socket failed."""
        return self.bad_responses == 0 and self.socket_errors == 0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_duration_ms(text: str) -> float:
    """``512.00us`` / ``1.20ms`` / ``2.00s`` in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: [{text}]")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, p50/p99 and failures from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise ValueError(f"unexpected wrk output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=parse_duration_ms(p50.group(1)),
        p99_ms=parse_duration_ms(p99.group(1)),
        requests=int(total.group(1)),
        bad_responses=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def wrk_command(url: str, connections: int, seconds: int, headers: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """The wrk command line of one measurement."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in headers:
        command += ["-H", f"{name}: {value}"]
    return [*command, url]


def run_wrk(command: list[str], seconds: int) -> WrkResult:
    """Run wrk (bounded in time) and parse what it printed."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


# -- servers ----------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(app: str, port: int, workers: int) -> list[str]:
    """gunicorn as configured by the repository's gunicorn.conf.py."""
    return [
        sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
        "-k", "gevent", "-w", str(workers), "-b", f"127.0.0.1:{port}", app,
    ]  # fmt: skip


@dataclass
class Server:
    """A gunicorn master started by this script (stopped by its PID)."""

    label: str
    command: list[str]
    port: int
    process: subprocess.Popen[bytes]
    workers: int

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The PIDs of the master's worker processes."""
        pid = self.process.pid
        return [int(p) for p in _proc(pid, f"task/{pid}/children").split()]

    def worker_cpu_seconds(self) -> float:
        """User + system CPU time of all workers so far."""
        stats = [_proc(pid, "stat").rsplit(")", 1)[-1].split() for pid in self.worker_pids()]
        return sum(int(f[11]) + int(f[12]) for f in stats if len(f) > 12) / os.sysconf("SC_CLK_TCK")

    def worker_rss_mib(self) -> float:
        """The largest resident set size of the workers, MiB."""
        sizes = [re.search(r"VmRSS:\s+(\d+)", _proc(pid, "status")) for pid in self.worker_pids()]
        return max((int(size.group(1)) for size in sizes if size), default=0) / 1024.0

    def stop(self) -> None:
        """TERM the master, KILL its process group if it does not exit in time."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:  # the process is gone
        return ""


def server_env(instance: Path) -> dict[str, str]:
    """Environment of both servers: the package defaults, an instance folder, admin password, secret."""
    # defaults only: no developer's ~/.core4/local.yaml or CORE4_OPTION_ overrides
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE4_")}
    (instance / "empty.yaml").touch()
    env["CORE4_CONFIG"] = str(instance / "empty.yaml")
    env["CORE4_INSTANCE_PATH"] = str(instance)
    env["CORE4_OPTION_api__admin_password"] = ADMIN_PASSWORD
    env["CORE4_OPTION_api__token__secret"] = TOKEN_SECRET
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def start_server(label: str, app: str, workers: int, instance: Path, log_dir: Path | None) -> Server:
    """Start gunicorn and wait (bounded) until it answers HTTP."""
    log = log_dir / f"{label}-w{workers}.log" if log_dir else None
    port = free_port()
    command = gunicorn_command(app, port, workers)
    sink = open(log, "ab") if log is not None else open(os.devnull, "wb")  # noqa: SIM115 - closed below
    with sink:
        process = subprocess.Popen(
            command, cwd=REPO, env=server_env(instance), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(label, command, port, process, workers)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            hint = f"see {log}" if log else "rerun with --server-log DIR to see why"
            raise RuntimeError(f"{label} server exited with {process.returncode}; {hint}")
        if len(server.worker_pids()) == workers and _answers(server.base + "/bench/hello"):
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{label} server did not answer within {STARTUP_SECONDS:g}s")


def _answers(url: str, token: str | None = None) -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status == 200
    except OSError:  # URLError and HTTPError included
        return False


def login(server: Server) -> str | None:
    """The admin's token, or None when login does not work (yet)."""
    query = urllib.parse.urlencode({"username": "admin", "password": ADMIN_PASSWORD})
    try:
        with urllib.request.urlopen(f"{server.base}{LOGIN_PATH}?{query}", timeout=10) as response:
            token = json.loads(response.read())["data"]["token"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"note: login at {LOGIN_PATH} failed ({exc}); the protected scenario is skipped")
        return None
    if not _answers(f"{server.base}/bench/protected", token):
        print("note: /bench/protected does not answer 200 with the token; the protected scenario is skipped")
        return None
    return token


# -- measuring ----------------------------------------------------------------------------
@dataclass
class Measurement:
    """Every round of one scenario at one worker count."""

    scenario: Scenario
    workers: int
    bare: list[WrkResult] = field(default_factory=list)
    core4: list[WrkResult] = field(default_factory=list)
    commands: dict[str, list[str]] = field(default_factory=dict)

    def median(self, side: str, attribute: str) -> float:
        """Median of ``rps``/``p50_ms``/``p99_ms`` over the rounds."""
        return statistics.median(getattr(r, attribute) for r in getattr(self, side))

    @property
    def ratio(self) -> float:
        """core4flask / bare, medians of requests per second."""
        return self.median("core4", "rps") / self.median("bare", "rps")

    @property
    def cpu_ratio(self) -> float:
        """bare / core4flask, medians of worker CPU per request (1.0: as cheap as bare)."""
        return self.median("bare", "cpu_us") / self.median("core4", "cpu_us")

    @property
    def round_ratios(self) -> list[float]:
        """core4flask / bare requests per second, round by round (paired)."""
        return [c.rps / b.rps for b, c in zip(self.bare, self.core4, strict=True)]

    @property
    def clean(self) -> bool:
        """No failed request in any round."""
        return all(r.clean for r in (*self.bare, *self.core4))

    @property
    def met(self) -> bool:
        """Whether the scenario reached its target."""
        if self.scenario.target_kind == "p99":
            return self.median("core4", "p99_ms") < self.scenario.target
        return self.ratio >= self.scenario.target


#: Worker RSS in MiB, bare and core4flask: ``(workers, moment, bare, core4)``.
Memory = tuple[int, str, float, float]


@dataclass
class Settings:
    """How long and how often to measure."""

    seconds: int
    rounds: int
    warmup: int
    workers: tuple[int, ...]
    #: names of the scenarios to run (all when empty)
    only: tuple[str, ...] = ()


def measure(settings: Settings, log_dir: Path | None) -> tuple[list[Measurement], list[Memory], list[str]]:
    """Run every scenario at every worker count; servers are always stopped."""
    measurements: list[Measurement] = []
    memories: list[Memory] = []
    notes: list[str] = []
    auth_present = AUTH_SETUP.exists()
    if not auth_present:
        notes.append(f"protected scenario skipped: {AUTH_SETUP.relative_to(REPO)} does not exist yet")
        print(f"note: {notes[-1]}")
    for workers in settings.workers:
        with tempfile.TemporaryDirectory(prefix="core4flask-bench-") as tmp:
            servers: list[Server] = []
            try:
                servers.append(start_server("bare", BARE_APP, workers, Path(tmp), log_dir))
                servers.append(start_server("core4flask", CORE4_APP, workers, Path(tmp), log_dir))
                bare, core4 = servers
                memories.append((workers, "after start (one hello)", bare.worker_rss_mib(), core4.worker_rss_mib()))
                token = login(core4) if auth_present else None
                if auth_present and token is None and workers == settings.workers[0]:
                    notes.append("protected scenario skipped: login or the protected handler did not answer 200")
                wanted = [s for s in SCENARIOS if not settings.only or s.name in settings.only]
                scenarios = [s for s in wanted if not s.needs_auth or token]
                run = [Measurement(s, workers) for s in scenarios]
                _rounds(run, bare, core4, token, settings, memories)
                measurements.extend(run)
            finally:
                for server in reversed(servers):
                    server.stop()
    return measurements, memories, notes


def _rounds(
    run: list[Measurement], bare: Server, core4: Server, token: str | None, settings: Settings, memories: list[Memory]
) -> None:
    for m in run:  # warm-up: every path once under load, results dropped
        for server, path, headers in _targets(m.scenario, bare, core4, token):
            run_wrk(wrk_command(server.base + path, m.scenario.connections, settings.warmup, headers), settings.warmup)
    memories.append((bare.workers, "after warm-up", bare.worker_rss_mib(), core4.worker_rss_mib()))
    for index in range(settings.rounds):
        for m in run:
            targets = _targets(m.scenario, bare, core4, token)
            if index % 2:
                targets.reverse()
            for server, path, headers in targets:
                command = wrk_command(server.base + path, m.scenario.connections, settings.seconds, headers)
                cpu = server.worker_cpu_seconds()
                result = run_wrk(command, settings.seconds)
                result.cpu_us = (server.worker_cpu_seconds() - cpu) * 1e6 / max(result.requests, 1)
                side = "bare" if server is bare else "core4"
                getattr(m, side).append(result)
                m.commands.setdefault(side, command)
                print(
                    f"  w{bare.workers} round {index + 1}/{settings.rounds} {m.scenario.name:<10} {side:<5} "
                    f"{result.rps:9.1f} req/s  p99 {result.p99_ms:7.2f} ms  CPU {result.cpu_us:8.1f} us/req"
                    + ("" if result.clean else "  FAILURES"),
                    flush=True,
                )
    memories.append((bare.workers, "after the run", bare.worker_rss_mib(), core4.worker_rss_mib()))


def _targets(
    scenario: Scenario, bare: Server, core4: Server, token: str | None
) -> list[tuple[Server, str, tuple[tuple[str, str], ...]]]:
    # the credentials go to both servers: the same request bytes reach both
    # gunicorns (which parse every header), and bare Flask ignores them
    credentials: tuple[tuple[str, str], ...] = ()
    if scenario.needs_auth and token:
        credentials = (("Authorization", f"Bearer {token}"),)
    core4_headers = (*scenario.core4_headers, *credentials)
    return [(bare, scenario.bare_path, credentials), (core4, scenario.core4_path, core4_headers)]


# -- reporting ----------------------------------------------------------------------------
def tables(measurements: list[Measurement], memories: list[Memory]) -> str:
    """The result tables in Markdown."""
    lines = [
        "| scenario | workers | bare req/s | core4flask req/s | ratio | rounds' ratios | target | met | "
        "bare p50 / p99 ms | core4flask p50 / p99 ms | CPU µs/req bare / core4flask | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for m in measurements:
        s = m.scenario
        target = f"p99 < {s.target:g} ms" if s.target_kind == "p99" else f">= {s.target:g}"
        met = ("yes" if m.met else "**no**") + ("" if m.clean else " (failed requests!)")
        spread = f"{min(m.round_ratios):.2f}-{max(m.round_ratios):.2f}"
        latency = [f"{m.median(side, 'p50_ms'):.2f} / {m.median(side, 'p99_ms'):.2f}" for side in ("bare", "core4")]
        lines.append(
            f"| {s.title} | {m.workers} | {m.median('bare', 'rps'):,.0f} | {m.median('core4', 'rps'):,.0f} | "
            f"{m.ratio:.2f} | {spread} | {target} | {met} | {latency[0]} | {latency[1]} | "
            f"{m.median('bare', 'cpu_us'):,.0f} / {m.median('core4', 'cpu_us'):,.0f} | {m.cpu_ratio:.2f} |"
        )
    lines += [
        "",
        "| memory (RSS of one worker, MiB) | workers | bare | core4flask | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for workers, moment, bare, core4 in memories:
        ratio = f"{core4 / bare:.2f}" if bare else "-"
        lines.append(f"| {moment} | {workers} | {bare:.1f} | {core4:.1f} | {ratio} |")
    return "\n".join(lines)


def environment() -> dict[str, str]:
    """Machine, versions, git state and date of this run."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    packages = ("flask", "werkzeug", "gunicorn", "gevent", "pandas", "numpy", "orjson")
    versions = [f"{package} {importlib.metadata.version(package)}" for package in packages]
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "load": "load average before the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "python": f"Python {platform.python_version()}",
        "versions": ", ".join(versions),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "wrk",
        "commit": f"{commit}{' (with uncommitted changes)' if dirty else ''}",
    }


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False)
    return done.stdout.strip()


LOGIN_NOTE = (
    "Memory: `after start` is one worker after its first request. Between it and",
    "`after warm-up` core4flask's worker also served the protected scenario's login,",
    "whose argon2 hash needs 19 MiB for a moment (serving processes give it back;",
    "see `bench/README.md`).",
    "",
)


def _shown(command: list[str]) -> str:
    command = ["python" if part == sys.executable else part for part in command]
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", shlex.join(command))
    return "    " + re.sub(r"Bearer [^']+'", "Bearer <token>'", text)


def document(result: str, env: dict[str, str], measurements: list[Measurement], notes: list[str]) -> str:
    """The whole of docs/benchmarks.md."""
    worker_counts = sorted({m.workers for m in measurements})
    servers = [_shown(gunicorn_command(app, 0, w)) for w in worker_counts for app in (BARE_APP, CORE4_APP)]
    first = [m for m in measurements if m.workers == worker_counts[0]]
    loads = [_shown(m.commands[side]) for m in first for side in ("bare", "core4")]
    return "\n".join(
        [
            "# Benchmarks: core4flask against bare Flask",
            "",
            "Written by `bench/run.py --write`; `bench/README.md` says what each scenario does",
            "and how to read the numbers. Rerun the script rather than editing the tables.",
            "",
            f"- date: {env['date']}",
            f"- machine: {env['machine']}",
            f"- {env['load']}; after: {'{:.2f} {:.2f} {:.2f}'.format(*os.getloadavg())}",
            f"- software: {env['python']}, {env['versions']}, {env['wrk'].split(' Copyright')[0]}",
            f"- code: commit {env['commit']}",
            f"- invocation: `{env['invocation']}`",
            *[f"- {note}" for note in notes],
            "",
            "## Results",
            "",
            "Medians over the rounds. `ratio` is core4flask / bare in requests per second (the",
            "ratio of the medians); `rounds' ratios` the lowest and highest ratio of one round's",
            "back-to-back pair, i.e. how much the machine moved. `CPU ratio` is bare / core4flask",
            "in worker CPU time per request, which moves less when the machine is shared. The",
            "64-connection row's target is core4flask's p99 latency.",
            "",
            result,
            "",
            *(LOGIN_NOTE if any(m.scenario.needs_auth for m in measurements) else ()),
            "## Commands",
            "",
            "Servers, both running during the whole measurement (their output goes to /dev/null,",
            "so core4flask's access log costs its formatting and a write, but no terminal):",
            "",
            *servers,
            "",
            "Load: one wrk per application, scenario and round, in alternating order:",
            "",
            *loads,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about one minute: fewer, shorter rounds")
    parser.add_argument("--write", action="store_true", help=f"write the tables to {DOCS.relative_to(REPO)}")
    parser.add_argument("--rounds", type=int, help="rounds per scenario (default 4, quick 2)")
    parser.add_argument("--seconds", type=int, help="whole seconds per wrk run (default 3, quick 1)")
    parser.add_argument("--workers", default="1,2", help="comma-separated gunicorn worker counts (default 1,2)")
    names = ",".join(s.name for s in SCENARIOS)
    parser.add_argument("--scenarios", default="", help=f"comma-separated subset of {names} (default all)")
    parser.add_argument("--server-log", type=Path, help="keep the servers' output in this folder")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    settings = Settings(
        seconds=args.seconds or (1 if args.quick else 3),
        rounds=args.rounds or (2 if args.quick else 4),
        warmup=1,
        workers=tuple(int(w) for w in args.workers.split(",")),
        only=tuple(name for name in args.scenarios.split(",") if name),
    )
    unknown = set(settings.only) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))} (known: {names})")
    if args.server_log:
        args.server_log.mkdir(parents=True, exist_ok=True)
    env = environment()
    env["invocation"] = shlex.join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    measurements, memories, notes = measure(settings, args.server_log)
    result = tables(measurements, memories)
    print()
    print(result)
    for note in notes:
        print(f"note: {note}")
    if args.write:
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        DOCS.write_text(document(result, env, measurements, notes))
        print(f"written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
