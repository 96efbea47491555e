"""What the official SDK records about itself survives a Langfuse v4 → v4 copy.

Langfuse v4 keeps each span's OpenTelemetry resource (service name, SDK name and version, …)
and instrumentation scope in the observation's metadata, under `resourceAttributes` and `scope`.
They tell a user which service and SDK wrote a trace. A copy must carry them: the target's
metadata must equal the source's, and the migrator's own validation must find the copy clean.
The expected values are read from the source, which the SDK wrote."""

import json
import os
import tempfile

from langfuse import Langfuse

from conftest import migrator_cli, migrator_env, migrator_plan


def client(sb):
    return Langfuse(
        public_key=sb.public_key,
        secret_key=sb.secret_key,
        base_url=sb.url,
        flush_at=1000,
        flush_interval=60,
        environment="production",
        release="svc-1.4.2",
    )


def write_trace(lf):
    with lf.start_as_current_observation(
        as_type="span", name="handle-request", input={"q": "hi"}, metadata={"customer": "acme"}
    ) as root:
        with lf.start_as_current_observation(
            as_type="generation", name="answer", model="gpt-4o", input=[{"role": "user", "content": "hi"}]
        ) as gen:
            gen.update(output="hello", usage_details={"input": 3, "output": 1})
        root.update(output={"a": "hello"})
        trace_id = root.trace_id
    lf.flush()
    return trace_id


def metadata_by_id(lf, trace_id):
    """v4 returns metadata as a string map; nested objects come as their JSON text, cut at 200
    characters unless expanded."""
    obs = lf.api.observations.get_many(
        trace_id=trace_id, fields="core,basic,metadata", limit=50,
        expand_metadata="resourceAttributes,scope",
    )
    decoded = {}
    for o in obs.data:
        meta = dict(o.metadata)
        for k in ("resourceAttributes", "scope"):
            meta[k] = json.loads(meta[k])
        decoded[o.id] = meta
    return decoded


def test_resource_and_scope_the_sdk_recorded_survive_a_v4_copy(start_sandbox):
    source = start_sandbox("--profile", "v4", "--visibility-delay-ms", "0")
    target = start_sandbox("--profile", "v4", "--visibility-delay-ms", "0")
    src = client(source)
    trace_id = write_trace(src)
    before = metadata_by_id(src, trace_id)
    assert len(before) == 2, before
    for meta in before.values():
        # The oracle: what the SDK itself reported, as the source server stored it.
        assert meta["resourceAttributes"].get("telemetry.sdk.language") == "python", meta
        assert meta["scope"]["name"] == "langfuse-sdk", meta

    with tempfile.TemporaryDirectory() as d:
        plan = os.path.join(d, "plan.toml")
        with open(plan, "w") as f:
            f.write(migrator_plan(source, target, entities='["traces", "observations"]'))
        env = migrator_env(source, target)
        data = os.path.join(d, "data")
        out = migrator_cli("run", "--plan", plan, "--json", "--data-dir", data, env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        run_id = json.loads(out.stdout)["run_id"]
        checked = migrator_cli("validate", run_id, "--json", "--data-dir", data, env=env)
        report = json.loads(checked.stdout)
        unequal = [e for e in report["entities"] if e["differing_count"] or e["missing_count"] or e["extra_count"]]
        assert checked.returncode == 0, json.dumps(unequal, indent=1)[:4000]

    after = metadata_by_id(client(target), trace_id)
    assert after.keys() == before.keys()
    for oid, meta in before.items():
        got = after[oid]
        assert got["resourceAttributes"] == meta["resourceAttributes"], (oid, got)
        assert got["scope"] == meta["scope"], (oid, got)
        assert got.get("customer") == meta.get("customer"), (oid, got)
    src.shutdown()
