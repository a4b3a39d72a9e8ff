#!/usr/bin/env python3
"""``make demo``: migrate, then run the Postmark sandbox, the task worker and the example site
together until Ctrl-C (or SIGTERM), which stops all three. Run it again right away if you like.
The sandbox delivers inbound mail (its form, its Reply links) to the site's /postmark/inbound/,
and the worker processes it as it sends the queued mail.

    python example_project/demo.py [--port 8000] [--sandbox-port 8025] [--index-delay 3] [--reset]
    EXAMPLE_PORT=8000 EXAMPLE_SANDBOX_PORT=8025 make demo      # the same, through make

Each child runs in its own session so that Ctrl-C reaches only this script, which then stops
them in order; on Linux a child also dies with this script if it is killed outright.

Secrets (the server token, the webhook password) reach the children through their environment,
never their command line, which every local user can read (``ps``). The webhook password is
random per run unless POSTMARK_API_PASSWORD is exported.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO

HERE = Path(__file__).resolve().parent
MANAGE = [sys.executable, str(HERE / "manage.py")]
QUEUED_BACKEND = "postmark.backends.QueuedPostmarkBackend"


class Stop(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("EXAMPLE_PORT", 8000)))
    parser.add_argument(
        "--sandbox-port", type=int, default=int(os.environ.get("EXAMPLE_SANDBOX_PORT", 8025))
    )
    parser.add_argument(
        "--index-delay",
        type=float,
        default=float(os.environ.get("EXAMPLE_SANDBOX_INDEX_DELAY", 3)),
        help="seconds before the sandbox's search finds a message sent (default 3)",
    )
    parser.add_argument("--log-dir", type=Path, default=HERE / "logs")
    parser.add_argument(
        "--reset", action="store_true", help="start afresh: delete the database and the logs"
    )
    args = parser.parse_args(argv)
    print(
        f"Site on port {args.port} (EXAMPLE_PORT or --port), sandbox on port "
        f"{args.sandbox_port} (EXAMPLE_SANDBOX_PORT or --sandbox-port).",
        flush=True,
    )

    user = os.environ.get("POSTMARK_API_USER") or "postmark"
    password = os.environ.get("POSTMARK_API_PASSWORD") or secrets.token_urlsafe(24)
    token = os.environ.get("POSTMARK_API_KEY") or "sandbox-server-token"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="example.settings",
        POSTMARK_API_URL=f"http://{args.host}:{args.sandbox_port}",
        POSTMARK_API_KEY=token,
        POSTMARK_API_USER=user,
        POSTMARK_API_PASSWORD=password,
        PYTHONUNBUFFERED="1",
    )
    site = f"http://{args.host}:{args.port}"
    webhook_url = f"http://{user}:{password}@{args.host}:{args.port}/postmark/bounce/"
    for port in (args.port, args.sandbox_port):
        if _listening(args.host, port):
            print(
                f"Port {port} is taken: is a demo still running? Pick others, e.g. "
                "EXAMPLE_PORT=8001 EXAMPLE_SANDBOX_PORT=8026 make demo.",
                file=sys.stderr,
            )
            return 2
    if args.reset:
        _reset(env, args.log_dir)
    args.log_dir.mkdir(parents=True, exist_ok=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Stop

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        print("Migrating the example database...", flush=True)
        subprocess.run([*MANAGE, "migrate", "--verbosity", "0"], env=env, check=True)
        login = subprocess.run(
            [*MANAGE, "demo_admin"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        # The search lags, as Postmark's does (by how much it does not say): a message whose
        # answer was lost is not found at once. 3 s is under the example's
        # POSTMARK_SETTLE_AFTER (10 s), so that its first search finds it, and far under its
        # POSTMARK_SETTLE_NOT_FOUND_AFTER (30 s), past which "not found" is believed.
        sandbox = ["--port", str(args.sandbox_port), "--index-delay", f"{args.index_delay:g}"]
        commands = {
            "sandbox": [*MANAGE, "postmark_sandbox", *sandbox],
            # --insecure: the admin's CSS is served with DEBUG off (the site is on loopback).
            "site": [*MANAGE, "runserver", f"{args.host}:{args.port}", "--noreload", "--insecure"],
        }
        sandbox_env = dict(
            env, POSTMARK_SANDBOX_TOKEN=token, POSTMARK_SANDBOX_WEBHOOK_URL=webhook_url
        )
        if _backend(env) == QUEUED_BACKEND:
            # No worker of this demo runs yet: a batch a stopped run left "sending" (its worker
            # killed mid-send) or "pending" without a task (taken by a worker that then stopped)
            # would otherwise wait for ever. Settle them before the new worker starts.
            # Inbound mail likewise: a reply the stopped worker was processing ("routed") or
            # whose task it took is handed to the new one.
            for settle in ("postmark_recover", "postmark_inbound"):
                subprocess.run(
                    [*MANAGE, settle, "--stale-after", "0"],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            commands["worker"] = [
                *MANAGE,
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.5",
            ]
        for name, command in commands.items():
            log = open(args.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (lives with the child)
            if name == "sandbox":
                # What it says on stderr (a webhook that failed) shows here too, not only in
                # its log: a site refusing every webhook must not go unnoticed.
                child = _spawn(command, sandbox_env, log, stderr=subprocess.PIPE)
                _tee(child, log, "sandbox: ")
            else:
                child = _spawn(command, env, log)
            children.append((name, child))
        _wait_until_up(children, [(args.host, args.sandbox_port), (args.host, args.port)])
        print(
            f"\n  The example site:     {site}/  (staff only: sign in with the admin's login)\n"
            f"  Comments by email:    {site}/posts/  (reply from the sandbox's page)\n"
            f"  The admin:            {site}/admin/  ({login.removeprefix('Admin login: ')})\n"
            f"  The Postmark sandbox: http://{args.host}:{args.sandbox_port}/\n"
            f"  Logs:                 {args.log_dir}/\n\n"
            "Send to hardbounce@bounce-testing.postmarkapp.com and watch the bounce arrive; "
            "lose Postmark's answer to a send on purpose and watch the worker settle it; "
            "publish a post and reply to its notification to comment by email. "
            "Ctrl-C stops everything.",
            flush=True,
        )
        while True:
            for name, child in children:
                if child.poll() is not None:
                    print(
                        f"The {name} stopped (exit {child.returncode}); see "
                        f"{args.log_dir / (name + '.log')}. Stopping.",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
    except Stop:
        print("\nStopping...", flush=True)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"{' '.join(exc.cmd[1:3])} failed (exit {exc.returncode}).", file=sys.stderr)
        if exc.stderr:
            print(exc.stderr, file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
        _stop_all(children)


def _tee(child: subprocess.Popen[bytes], log: IO[bytes], prefix: str) -> None:
    """Copy each line of the child's stderr to its log and to this script's stderr."""
    assert child.stderr is not None
    stream = child.stderr

    def copy() -> None:
        for line in stream:
            log.write(line)
            log.flush()
            text = line.decode("utf-8", "replace").rstrip("\n")
            print(prefix + text, file=sys.stderr, flush=True)

    threading.Thread(target=copy, name=f"tee {prefix}", daemon=True).start()


def _reset(env: dict[str, str], log_dir: Path) -> None:
    """Forget every message, bounce and suppression: the sandbox keeps nothing between runs,
    so the database (its WAL files, its secret key and demo login beside it) and the logs are
    all there is."""
    database = Path(env.get("EXAMPLE_DATABASE") or HERE / "db.sqlite3")
    for path in (database, *database.parent.glob(database.name + "-*")):
        path.unlink(missing_ok=True)
    for log in log_dir.glob("*.log"):
        log.unlink()
    print(f"Reset: removed {database} and the logs.", flush=True)


def _backend(env: dict[str, str]) -> str:
    return env.get("EXAMPLE_EMAIL_BACKEND") or QUEUED_BACKEND


def _spawn(
    command: list[str], env: dict[str, str], log: IO[bytes], stderr: int = subprocess.STDOUT
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _die_with_parent() -> None:
    """Linux only: the child gets SIGTERM if this script dies without cleaning up (SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def _wait_until_up(
    children: list[tuple[str, subprocess.Popen[bytes]]], addresses: list[tuple[str, int]]
) -> None:
    deadline = time.monotonic() + 60
    while not all(_listening(host, port) for host, port in addresses):
        for name, child in children:
            if child.poll() is not None:
                raise SystemExit(f"The {name} failed to start (exit {child.returncode}).")
        if time.monotonic() > deadline:
            raise SystemExit("The demo did not come up within 60 seconds; see the logs.")
        time.sleep(0.1)


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    # The other way round from starting: the worker first, so that a batch it is sending
    # finishes while the sandbox still answers (stopped first, the sandbox would leave that
    # batch "unknown"); db_worker ends its current task on SIGTERM, then exits.
    deadline = time.monotonic() + 10
    for name, child in reversed(children):
        if child.poll() is None:
            _signal_group(child, signal.SIGTERM)
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"The {name} did not stop in time; killing it.", file=sys.stderr)
            _signal_group(child, signal.SIGKILL)
            child.wait()
    if children:
        print("Stopped: " + ", ".join(name for name, _ in children) + ".", flush=True)


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited on its own meanwhile
        os.killpg(child.pid, signum)  # the child's own session: it and anything it started


if __name__ == "__main__":
    sys.exit(main())
