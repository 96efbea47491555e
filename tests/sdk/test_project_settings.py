"""The official Langfuse Python SDK 5.x's generated API client (`Langfuse(...).api`) against
the sandbox's current (`v4`) profile: it creates and lists LLM connections, annotation queues
with items, evaluators (LLM-as-a-judge and code) and an evaluation rule. Every answer is parsed
into the SDK's own types, so a shape the SDK does not accept fails here; the expectations are the
values this test sent."""

from langfuse import Langfuse
from langfuse.api import (
    CreateEvaluatorRequest_Code,
    CreateEvaluatorRequest_LlmAsJudge,
    EvaluationRuleEvaluatorAssignmentInput,
    EvaluationRuleFilter_StringObject,
    EvaluationRuleFilter_StringOptions,
    EvaluatorChatMessage,
    EvaluatorModelConfig,
    EvaluatorOutputDefinition_Categorical,
    PromptVariableMappingInput,
)


def api(sb):
    return Langfuse(public_key=sb.public_key, secret_key=sb.secret_key, base_url=sb.url).api


def test_sdk_client_creates_and_lists_llm_connections_and_annotation_queues(start_sandbox):
    sb = start_sandbox("--profile", "v4", "--traces", "0", "--visibility-delay-ms", "0")
    a = api(sb)
    conn = a.llm_connections.upsert(
        provider="my-gateway",
        adapter="openai",
        secret_key="sk-test-9876",
        base_url="https://gw.example/v1",
        custom_models=["house-model"],
        extra_headers={"X-Team": "research"},
    )
    assert conn.display_secret_key == "...9876"
    assert conn.extra_header_keys == ["X-Team"]
    listed = a.llm_connections.list()
    assert [c.provider for c in listed.data] == ["my-gateway"]
    assert listed.data[0].custom_models == ["house-model"]

    config = a.score_configs.create(name="quality", data_type="NUMERIC", min_value=0, max_value=1)
    queue = a.annotation_queues.create_queue(
        name="review", score_config_ids=[config.id], description="look at these"
    )
    assert queue.score_config_ids == [config.id]
    item = a.annotation_queues.create_queue_item(
        queue.id, object_id="trace-1", object_type="TRACE", status="COMPLETED"
    )
    assert item.status == "COMPLETED" and item.completed_at is not None
    queues = a.annotation_queues.list_queues()
    assert [q.name for q in queues.data] == ["review"]
    items = a.annotation_queues.list_queue_items(queue.id)
    assert [(i.object_id, i.object_type) for i in items.data] == [("trace-1", "TRACE")]


def test_sdk_client_creates_and_lists_evaluators_and_evaluation_rules(start_sandbox):
    sb = start_sandbox("--profile", "v4", "--traces", "0", "--visibility-delay-ms", "0")
    a = api(sb)
    a.llm_connections.upsert(provider="openai", adapter="openai", secret_key="sk-test-0001")

    judge = a.evaluators.create(
        request=CreateEvaluatorRequest_LlmAsJudge(
            name="tone",
            description="which tone the reply has",
            prompt=[
                EvaluatorChatMessage(role="system", content="You judge replies."),
                EvaluatorChatMessage(role="user", content="Reply: {{reply}}"),
            ],
            model_config_=EvaluatorModelConfig(provider="openai", model="gpt-4o-mini"),
            variable_mapping=[PromptVariableMappingInput(variable="reply", source="output", json_path="$.text")],
            output_definition=EvaluatorOutputDefinition_Categorical(
                categories=["friendly", "rude"], should_allow_multiple_matches=False
            ),
        )
    )
    assert judge.type == "llm_as_judge" and judge.version == 1
    assert judge.variables == ["reply"]
    assert judge.model_config_.provider == "openai"
    assert judge.output_definition.categories == ["friendly", "rude"]
    code = a.evaluators.create(
        request=CreateEvaluatorRequest_Code(
            name="non-empty",
            source_code="def evaluate(observation):\n    return bool(observation.output)\n",
            source_code_language="PYTHON",
        )
    )
    assert code.type == "code"

    rule = a.evaluation_rules.create(
        name="production",
        enabled=True,
        sampling=0.5,
        filter=[
            EvaluationRuleFilter_StringOptions(column="environment", operator="any of", value=["production"]),
            EvaluationRuleFilter_StringObject(column="metadata", key="tier", operator="=", value="gold"),
        ],
        evaluator_assignments=[
            EvaluationRuleEvaluatorAssignmentInput(evaluator_id=judge.id),
            EvaluationRuleEvaluatorAssignmentInput(evaluator_id=code.id),
        ],
    )
    assert rule.enabled and rule.sampling == 0.5
    assert [f.column for f in rule.filter] == ["environment", "metadata"]
    assert [x.evaluator_id for x in rule.evaluator_assignments] == [judge.id, code.id]

    evaluators = a.evaluators.list(limit=1)
    assert len(evaluators.data) == 1 and evaluators.meta.cursor
    rest = a.evaluators.list(limit=1, cursor=evaluators.meta.cursor)
    assert {evaluators.data[0].name, rest.data[0].name} == {"tone", "non-empty"}
    got = a.evaluators.get(judge.id)
    assert [x.evaluation_rule_id for x in got.evaluation_rule_assignments] == [rule.id]
    assert [r.name for r in a.evaluation_rules.list().data] == ["production"]

    assert a.evaluation_rules.delete(rule.id).id == rule.id
    assert a.evaluators.delete(code.id).id == code.id
    assert [e.name for e in a.evaluators.list().data] == ["tone"]


def test_sdk_client_creates_and_lists_dashboards_with_widgets(start_sandbox):
    from langfuse.api.unstable import (
        CreateDashboardPlacementRequest_Preset,
        DashboardDefinition,
        DashboardPlacement_Widget,
        DashboardWidgetChartConfigInput,
        DashboardWidgetDimension,
        DashboardWidgetFilter,
        DashboardWidgetMetric,
    )

    sb = start_sandbox("--profile", "v4", "--traces", "0", "--visibility-delay-ms", "0")
    u = api(sb).unstable
    widget = u.dashboard_widgets.create(
        name="Cost by model",
        view="observations",
        dimensions=[DashboardWidgetDimension(field="providedModelName")],
        metrics=[DashboardWidgetMetric(measure="totalCost", agg="sum")],
        filters=[DashboardWidgetFilter(column="type", operator="any of", type="stringOptions", value=["GENERATION"])],
        chart_type="LINE_TIME_SERIES",
        chart_config=DashboardWidgetChartConfigInput(row_limit=20),
    )
    assert widget.chart_config.type == "LINE_TIME_SERIES" and widget.chart_config.row_limit == 20
    dashboard = u.dashboards.create(
        name="Ops",
        definition=DashboardDefinition(widgets=[
            DashboardPlacement_Widget(id="cost", widget_id=widget.id, x=0, y=0, width=6, height=4),
        ]),
    )
    assert [(p.id, p.widget_id) for p in dashboard.definition.widgets] == [("cost", widget.id)]
    preset = u.dashboards.add_placement(
        dashboard.id,
        request=CreateDashboardPlacementRequest_Preset(preset_id="latency-percentiles", y=4),
    )
    assert preset.type == "preset" and preset.y == 4
    listed = u.dashboards.list()
    assert [d.name for d in listed.data] == ["Ops"]
    assert len(listed.data[0].definition.widgets) == 2
    assert [w.name for w in u.dashboard_widgets.list().data] == ["Cost by model"]
