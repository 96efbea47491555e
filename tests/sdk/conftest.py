"""Shared by the SDK fidelity tests: a sandbox server of its own for each test.

The sandbox binary comes from `$SANDBOX_BIN_DIR` (scripts/test.sh passes
`$CARGO_TARGET_DIR/debug`); it binds a free port (`--port 0`) and names it on its first
stdout line: `listening on http://127.0.0.1:PORT`.
"""

import itertools
import os
import re
import subprocess

import pytest


# The Langfuse SDK keeps one client (and its exporter) per public key for the life of the
# process, so two sandboxes sharing a key would share a client: a later test would then flush to
# a server an earlier test stopped, and hang. Each sandbox gets keys of its own.
_numbers = itertools.count(1)


class RunningSandbox:
    def __init__(self, args):
        n = next(_numbers)
        self.public_key = f"pk-lf-sandbox-{n}"
        self.secret_key = f"sk-lf-sandbox-{n}"
        bin_dir = os.environ.get("SANDBOX_BIN_DIR")
        if not bin_dir:
            raise RuntimeError("SANDBOX_BIN_DIR is not set (scripts/test.sh sets it)")
        self.proc = subprocess.Popen(
            [
                os.path.join(bin_dir, "langfuse-sandbox"),
                "--port",
                "0",
                "--public-key",
                self.public_key,
                "--secret-key",
                self.secret_key,
                *args,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self.proc.stdout.readline().strip()
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)", first)
        if not m:
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {first!r}")
        self.url = m.group(1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start_sandbox():
    """Starts sandboxes with the given command-line arguments; stops them after the test."""
    started = []

    def start(*args):
        sb = RunningSandbox(list(args))
        started.append(sb)
        return sb

    yield start
    for sb in started:
        sb.stop()


def migrator_plan(source, target, entities='"all"'):
    """A Langfuse → Langfuse plan between two sandboxes over all time; the secret keys come
    from SOURCE_SECRET_KEY and TARGET_SECRET_KEY (see `migrator_env`)."""
    return f"""[source]
kind = "langfuse"
url = "{source.url}"
public_key = "{source.public_key}"
secret_key_env = "SOURCE_SECRET_KEY"

[target]
kind = "langfuse"
url = "{target.url}"
public_key = "{target.public_key}"
secret_key_env = "TARGET_SECRET_KEY"

[scope]
entities = {entities}
from = "2020-01-01T00:00:00Z"
to = "2100-01-01T00:00:00Z"
"""


def migrator_env(source, target):
    return dict(os.environ, SOURCE_SECRET_KEY=source.secret_key, TARGET_SECRET_KEY=target.secret_key)


def migrator_cli(*args, env):
    """Runs the migrator's CLI that scripts/test.sh built next to the sandbox."""
    return subprocess.run(
        [os.path.join(os.environ["SANDBOX_BIN_DIR"], "langfuse-migrator-cli"), *args],
        env=env, capture_output=True, text=True, timeout=300,
    )
