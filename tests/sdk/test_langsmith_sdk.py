"""Fidelity of langsmith-sandbox to the official LangSmith SDK (PyPI `langsmith`).

The SDK writes through its own transports (traced runs via its background multipart queue,
feedback, a dataset with examples, a pushed prompt with commit tags), then reads everything back
with its own readers. A sandbox that answered in shapes the SDK cannot parse, or stored what it
sends wrongly, fails here.
"""

import asyncio
import datetime
import os
import subprocess
import uuid

import pytest
from langchain_core.prompts import ChatPromptTemplate
from langsmith import Client, traceable, tracing_context

KEY = "lsv2_sk_sdk_fidelity"


@pytest.fixture()
def sandbox():
    bin_dir = os.environ.get("SANDBOX_BIN_DIR", "target/debug")
    proc = subprocess.Popen(
        [os.path.join(bin_dir, "langsmith-sandbox"), "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("listening on http://127.0.0.1:"), line
    yield line.removeprefix("listening on ")
    proc.terminate()
    proc.wait(timeout=10)


def client_for(url):
    return Client(api_url=url, api_key=KEY, auto_batch_tracing=True)


def test_traced_runs_come_back_as_a_tree(sandbox):
    client = client_for(sandbox)
    project = "sdk-fidelity-" + uuid.uuid4().hex[:8]

    @traceable(run_type="retriever", name="retrieve")
    def retrieve(q):
        return [{"page_content": "Refunds take 14 days", "type": "Document"}]

    @traceable(run_type="llm", name="model", metadata={"ls_model_name": "gpt-4o-mini"})
    def model(q, docs):
        return {
            "choices": [{"message": {"role": "assistant", "content": "14 days"}}],
            "usage_metadata": {"input_tokens": 30, "output_tokens": 4, "total_tokens": 34},
        }

    @traceable(run_type="tool", name="broken-tool")
    def broken():
        raise ValueError("tool exploded")

    @traceable(run_type="chain", name="pipeline", tags=["sdk"], metadata={"thread_id": "t-1", "user_id": "u-1"})
    def pipeline(q):
        docs = retrieve(q)
        try:
            broken()
        except ValueError:
            pass
        return model(q, docs)["choices"][0]["message"]["content"]

    with tracing_context(enabled=True, client=client, project_name=project):
        assert pipeline("How long do refunds take?") == "14 days"
    client.flush()

    runs = list(client.list_runs(project_name=project))
    by_name = {r.name: r for r in runs}
    assert set(by_name) == {"pipeline", "retrieve", "broken-tool", "model"}
    root = by_name["pipeline"]
    assert root.parent_run_id is None
    assert root.outputs == {"output": "14 days"}
    assert root.tags == ["sdk"]
    assert root.extra["metadata"]["thread_id"] == "t-1"
    for child in ("retrieve", "broken-tool", "model"):
        assert by_name[child].parent_run_id == root.id
        assert by_name[child].trace_id == root.id
        assert by_name[child].dotted_order.startswith(root.dotted_order + ".")
    assert by_name["broken-tool"].status == "error"
    assert "tool exploded" in by_name["broken-tool"].error
    assert by_name["model"].total_tokens == 34
    assert root.total_tokens == 34, "LangSmith rolls model tokens into the chain"
    assert root.end_time is not None and root.status == "success"

    roots = list(client.list_runs(project_name=project, is_root=True))
    assert [r.id for r in roots] == [root.id]

    # The v2 reader pages by cursor (page_size 2 makes it page) and, without `selects`, gets ids only.
    project_id = str(client.read_project(project_name=project).id)

    async def v2(**kw):
        return [r async for r in client.runs.query(project_ids=[project_id], page_size=2, **kw)]

    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).isoformat()
    items = asyncio.run(v2(min_start_time=since, selects=["ID", "NAME", "PARENT_RUN_IDS", "TRACE_ID"]))
    assert {i.name for i in items} == set(by_name)
    for i in items:
        parents = i.parent_run_ids or []
        assert (parents[-1] if parents else None) == (str(by_name[i.name].parent_run_id) if by_name[i.name].parent_run_id else None)
    ids_only = asyncio.run(v2())
    assert sorted(str(i.id) for i in ids_only) == sorted(str(r.id) for r in runs)
    assert all(i.name is None for i in ids_only)

    client.create_feedback(run_id=root.id, trace_id=root.id, session_id=project_id, key="helpful", score=True, comment="nice")
    client.create_feedback(run_id=by_name["model"].id, session_id=project_id, key="tone", value="friendly")
    client.create_feedback(run_id=root.id, session_id=project_id, key="correctness", score=0.25, correction={"answer": "30 days"})
    client.flush()
    feedback = list(client.list_feedback(run_ids=[root.id, by_name["model"].id]))
    by_key = {f.key: f for f in feedback}
    assert set(by_key) == {"helpful", "tone", "correctness"}
    assert by_key["helpful"].score is True and by_key["helpful"].comment == "nice"
    assert by_key["tone"].value == "friendly" and by_key["tone"].run_id == by_name["model"].id
    assert by_key["correctness"].correction == {"answer": "30 days"}


def test_datasets_and_examples_round_trip(sandbox):
    client = client_for(sandbox)
    ds = client.create_dataset("refunds", description="refund questions")
    client.create_examples(
        dataset_id=ds.id,
        examples=[
            {"inputs": {"q": "How long?"}, "outputs": {"a": "14 days"}, "split": "train"},
            {"inputs": {"q": "Who pays shipping?"}, "outputs": {"a": "We do"}, "split": "test"},
        ],
    )
    examples = list(client.list_examples(dataset_id=ds.id))
    assert sorted(e.inputs["q"] for e in examples) == ["How long?", "Who pays shipping?"]
    test = list(client.list_examples(dataset_id=ds.id, splits=["test"]))
    assert [e.outputs["a"] for e in test] == ["We do"]
    assert client.read_dataset(dataset_name="refunds").id == ds.id


def test_pushed_prompts_pull_back_by_commit_and_tag(sandbox):
    client = client_for(sandbox)
    v1 = ChatPromptTemplate.from_messages([("system", "You answer about {topic}."), ("human", "{question}")])
    client.push_prompt("support-prompt", object=v1, commit_tags=["production"])
    v2 = ChatPromptTemplate.from_messages([("system", "You answer briefly about {topic}."), ("human", "{question}")])
    client.push_prompt("support-prompt", object=v2)

    latest = client.pull_prompt("support-prompt")
    assert latest.messages[0].prompt.template == "You answer briefly about {topic}."
    production = client.pull_prompt("support-prompt:production")
    assert production.messages[0].prompt.template == "You answer about {topic}."
    assert sorted(production.input_variables) == ["question", "topic"]
    commits = list(client.list_prompt_commits("support-prompt"))
    assert len(commits) == 2


def test_the_migrator_reads_what_the_sdk_wrote(sandbox, tmp_path):
    """The Rust source connector (through the CLI) reads the SDK's runs, feedback, examples and
    prompt commits, with the ids the engine README documents."""
    import gzip
    import hashlib
    import json

    client = client_for(sandbox)
    project = "sdk-to-migrator"

    @traceable(run_type="llm", name="model")
    def model(q):
        return {"output": "ok", "usage_metadata": {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}}

    @traceable(run_type="chain", name="root")
    def root(q):
        return model(q)

    with tracing_context(enabled=True, client=client, project_name=project):
        root("hi")
    client.flush()
    runs = list(client.list_runs(project_name=project))
    root_run = next(r for r in runs if r.parent_run_id is None)
    fb = client.create_feedback(run_id=root_run.id, trace_id=root_run.id, key="ok", score=1)
    ds = client.create_dataset("sdk-ds")
    client.create_examples(dataset_id=ds.id, examples=[{"inputs": {"q": 1}, "outputs": {"a": 1}}])
    examples = list(client.list_examples(dataset_id=ds.id))
    client.push_prompt("sdk-prompt", object=ChatPromptTemplate.from_messages([("human", "{q}")]))
    client.flush()

    archive = tmp_path / "archive"
    plan = tmp_path / "plan.toml"
    # No `projects`: a plan that names projects copies only the datasets their experiments
    # reference, and this dataset has no experiment.
    plan.write_text(
        f'[source]\nkind = "langsmith"\nurl = "{sandbox}"\napi_key_env = "LS_KEY"\n'
        f'[target]\nkind = "archive"\npath = "{archive}"\n'
        '[scope]\nfrom = "2020-01-01T00:00:00Z"\nto = "2100-01-01T00:00:00Z"\n'
    )
    bin_dir = os.environ.get("SANDBOX_BIN_DIR", "target/debug")
    env = {**os.environ, "LS_KEY": KEY, "LANGFUSE_MIGRATOR_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [os.path.join(bin_dir, "langfuse-migrator-cli"), "run", "--plan", str(plan), "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout

    def rows(entity):
        with gzip.open(archive / f"{entity}.jsonl.gz", "rt") as f:
            return [json.loads(line) for line in f if line.strip()]

    def obs_id(run_id):
        return hashlib.sha256(f"langsmith-run:{run_id.hex}".encode()).hexdigest()[:16]

    observations = {o["id"]: o for o in rows("observations")}
    for r in runs:
        o = observations[obs_id(r.id)]
        assert o["traceId"] == root_run.id.hex
        assert o["metadata"]["langsmith_run_id"] == str(r.id)
    model_obs = observations[obs_id(next(r for r in runs if r.name == "model").id)]
    assert model_obs["type"] == "GENERATION" and model_obs["usageDetails"]["input"] == 7
    assert model_obs["parentObservationId"] == obs_id(root_run.id)
    assert [t["id"] for t in rows("traces")] == [root_run.id.hex]
    assert [s["id"] for s in rows("scores")] == [str(fb.id)]
    assert {i["id"] for i in rows("dataset_items")} == {str(e.id) for e in examples}
    prompts = [p for p in rows("prompts") if p["name"] == "sdk-prompt"]
    assert [(p["version"], p["type"], p["prompt"]) for p in prompts] == [(1, "chat", [{"role": "user", "content": "{{q}}"}])]
