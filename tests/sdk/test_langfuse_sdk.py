"""The official Langfuse Python SDK 5.x against the sandbox: what it writes (nested spans, a
generation with model and usage, trace attributes, scores) comes back through the SDK's own API
client, field for field. The expectations are the values this test wrote, nothing derived from
the sandbox."""

import json
from datetime import datetime, timezone

from langfuse import Langfuse, propagate_attributes

OBSERVATION_FIELDS = "core,basic,time,io,metadata,model,usage,prompt,metrics,trace_context"


def client(sb):
    return Langfuse(
        public_key=sb.public_key,
        secret_key=sb.secret_key,
        base_url=sb.url,
        environment="sdk-test",
        release="r-42",
        flush_at=1000,
        flush_interval=60,
    )


def write_trace(lf):
    """One trace: root span > child span > generation, plus three scores. Returns the ids."""
    with propagate_attributes(
        trace_name="support-chat",
        user_id="user-7",
        session_id="session-3",
        tags=["beta", "sdk"],
        version="v1.2",
        metadata={"tenant": "acme"},
    ):
        with lf.start_as_current_observation(
            as_type="span",
            name="handle-request",
            input={"question": "What is 2+2?"},
            metadata={"route": "/chat"},
        ) as root:
            with lf.start_as_current_observation(
                as_type="span", name="retrieve", input="query text", level="WARNING",
                status_message="slow index",
            ) as child:
                child.update(output=["doc-1", "doc-2"])
                with lf.start_as_current_observation(
                    as_type="generation",
                    name="answer",
                    model="gpt-4o-mini",
                    model_parameters={"temperature": 0.2, "max_tokens": 256},
                    input=[{"role": "user", "content": "What is 2+2?"}],
                    completion_start_time=datetime(2026, 11, 1, 10, 0, 0, 500000, tzinfo=timezone.utc),
                ) as gen:
                    gen.update(
                        output={"role": "assistant", "content": "4"},
                        usage_details={"input": 12, "output": 3, "total": 15},
                        cost_details={"input": 0.0012, "output": 0.0006, "total": 0.0018},
                    )
            root.update(output={"answer": "4"})
            ids = {"trace": root.trace_id, "root": root.id, "child": child.id, "gen": gen.id}
    lf.create_score(score_id="sc-num", name="accuracy", value=0.92, trace_id=ids["trace"],
                    data_type="NUMERIC", comment="close enough", metadata={"grader": "human"})
    lf.create_score(score_id="sc-cat", name="tone", value="friendly", trace_id=ids["trace"],
                    observation_id=ids["gen"], data_type="CATEGORICAL")
    lf.create_score(score_id="sc-bool", name="resolved", value=1, trace_id=ids["trace"],
                    data_type="BOOLEAN")
    lf.flush()
    return ids


def read_back(lf, ids):
    obs = lf.api.observations.get_many(trace_id=ids["trace"], fields=OBSERVATION_FIELDS, limit=100)
    scores = lf.api.scores.get_many(trace_id=ids["trace"], fields="details,subject", limit=100)
    return {o.id: o for o in obs.data}, {s.id: s for s in scores.data}


def check_sdk_round_trip(profile, start_sandbox):
    sb = start_sandbox("--profile", profile, "--visibility-delay-ms", "0")
    lf = client(sb)
    try:
        ids = write_trace(lf)
        obs, scores = read_back(lf, ids)
    finally:
        lf.shutdown()

    assert set(obs) == {ids["root"], ids["child"], ids["gen"]}
    root, child, gen = obs[ids["root"]], obs[ids["child"]], obs[ids["gen"]]

    # Nesting, names, types.
    assert (root.parent_observation_id, child.parent_observation_id, gen.parent_observation_id) == (
        None, ids["root"], ids["child"])
    assert all(o.trace_id == ids["trace"] for o in obs.values())
    assert (root.name, child.name, gen.name) == ("handle-request", "retrieve", "answer")
    assert (root.type, child.type, gen.type) == ("SPAN", "SPAN", "GENERATION")
    assert root.is_root_observation and not child.is_root_observation

    # Input/output come back as the JSON text the SDK wrote.
    assert json.loads(root.input) == {"question": "What is 2+2?"}
    assert json.loads(root.output) == {"answer": "4"}
    assert child.input == "query text"
    assert json.loads(child.output) == ["doc-1", "doc-2"]
    assert json.loads(gen.input) == [{"role": "user", "content": "What is 2+2?"}]
    assert json.loads(gen.output) == {"role": "assistant", "content": "4"}

    # Level and status, version, environment, release.
    assert (child.level, child.status_message) == ("WARNING", "slow index")
    assert root.level == "DEFAULT"
    assert all(o.version == "v1.2" for o in obs.values())
    assert all(o.environment == "sdk-test" for o in obs.values())
    assert all(o.release == "r-42" for o in obs.values())

    # Trace attributes propagated to every observation.
    for o in obs.values():
        assert (o.trace_name, o.user_id, o.session_id) == ("support-chat", "user-7", "session-3")
        assert sorted(o.tags) == ["beta", "sdk"]
    assert root.metadata["route"] == "/chat"

    # The generation: model, parameters, usage, cost, completion start.
    assert gen.model == "gpt-4o-mini"
    params = gen.model_parameters if isinstance(gen.model_parameters, dict) else json.loads(gen.model_parameters)
    assert {k: float(v) for k, v in params.items()} == {"temperature": 0.2, "max_tokens": 256.0}
    assert gen.usage_details == {"input": 12, "output": 3, "total": 15}
    assert gen.cost_details == {"input": 0.0012, "output": 0.0006, "total": 0.0018}
    assert abs(gen.total_cost - 0.0018) < 1e-12
    assert gen.completion_start_time == datetime(2026, 11, 1, 10, 0, 0, 500000, tzinfo=timezone.utc)
    assert all(o.start_time <= o.end_time for o in obs.values())
    assert gen.start_time >= child.start_time >= root.start_time
    assert gen.end_time <= child.end_time <= root.end_time

    # Scores: each one written, with its subject, value, type and details.
    assert set(scores) == {"sc-num", "sc-cat", "sc-bool"}
    num, cat, boolean = scores["sc-num"], scores["sc-cat"], scores["sc-bool"]
    assert (num.name, num.value, num.data_type, num.comment) == ("accuracy", 0.92, "NUMERIC", "close enough")
    assert num.metadata == {"grader": "human"}
    assert (num.subject.kind, num.subject.id) == ("trace", ids["trace"])
    assert (cat.name, cat.value, cat.data_type) == ("tone", "friendly", "CATEGORICAL")
    assert (cat.subject.kind, cat.subject.id, cat.subject.trace_id) == ("observation", ids["gen"], ids["trace"])
    assert (boolean.name, boolean.value, boolean.data_type) == ("resolved", True, "BOOLEAN")
    assert all(s.environment == "sdk-test" and s.source == "API" for s in scores.values())


def test_sdk_writes_and_reads_back_against_the_current_api(start_sandbox):
    check_sdk_round_trip("v4", start_sandbox)
