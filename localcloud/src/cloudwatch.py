"""What CloudWatch does on its own and moto 5.2.5 does not: the local cloud's simulated CloudWatch.

1. AWS::CloudWatch::Alarm in CloudFormation (moto skips the resource silently).
2. Embedded metric format: CloudWatch Logs turns a log event that is a JSON object with an `_aws`
   member into metrics (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
3. Alarm evaluation: CloudWatch evaluates every metric alarm about once a minute; moto stores alarms
   and never changes their state. Here a thread evaluates them every SIGSHIP_ALARM_EVALUATION_SECONDS
   (60 unless set) over the same windows: the newest EvaluationPeriods periods ending now, each
   MetricStat's statistic over its period, metric math expressions (arithmetic, comparisons,
   AND/OR/NOT, IF) over those values, DatapointsToAlarm of them breaching for ALARM, and
   TreatMissingData for periods without data. Simplified: no percentiles, anomaly bands or
   composite alarms (sigship's template uses none), no extra look-back for sparse data, and alarm
   actions are not delivered.
"""
import ast
import datetime
import os
import threading

from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
from moto.core.utils import utcnow
from moto.logs.models import LogsBackend


class CloudWatchAlarm(_SkippedByMoto, CloudFormationModel):
    __module__ = "moto.cloudwatch.models"
    ATTRIBUTES = ("Arn",)

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        name = props.get("AlarmName") or _generated_name(resource_name)
        queries = [_query(q) for q in props.get("Metrics", [])]
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            metric_data_queries=queries or None,
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            datapoints_to_alarm=int(props["DatapointsToAlarm"]) if "DatapointsToAlarm" in props else None,
            period=int(props["Period"]) if "Period" in props else None,
            threshold=float(props["Threshold"]),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            treat_missing_data=props.get("TreatMissingData", "missing"),
        )
        # AWS: a new alarm starts in INSUFFICIENT_DATA (moto starts it OK).
        alarm.update_state("Unchecked: Initial alarm creation", None, "INSUFFICIENT_DATA")
        return cls(name, {"Arn": alarm.alarm_arn})

    def delete(self, account_id, region_name):
        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_id])


def _query(q):
    stat = None
    if "MetricStat" in q:
        m = q["MetricStat"]["Metric"]
        dimensions = [Dimension(d["Name"], d["Value"]) for d in m.get("Dimensions", [])]
        stat = MetricStat(
            Metric(m["MetricName"], m["Namespace"], dimensions),
            int(q["MetricStat"]["Period"]),
            q["MetricStat"]["Stat"],
            q["MetricStat"].get("Unit"),
        )
    return MetricDataQuery(q["Id"], q.get("Label"), q.get("Period"), q.get("ReturnData", True), q.get("Expression"), stat)


_put_log_events = LogsBackend.put_log_events


def _put_log_events_extracting_metrics(self, log_group_name, log_stream_name, log_events):
    result = _put_log_events(self, log_group_name, log_stream_name, log_events)
    for event in log_events:
        try:
            document = json.loads(event["message"])
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("_aws"), dict):
            _extract(cloudwatch_backends[self.account_id][self.region_name], document)
    return result


def _extract(backend, document):
    meta = document["_aws"]
    at = datetime.datetime.fromtimestamp(meta["Timestamp"] / 1000, datetime.timezone.utc).replace(tzinfo=None)
    for directive in meta.get("CloudWatchMetrics", []):
        for dimension_set in directive.get("Dimensions", [[]]):
            dimensions = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
            data = [
                {"MetricName": m["Name"], "Value": float(document[m["Name"]]), "Unit": m.get("Unit"), "Timestamp": at,
                 "Dimensions": dimensions}
                for m in directive["Metrics"]
                if isinstance(document.get(m["Name"]), (int, float))
            ]
            if data:
                backend.put_metric_data(directive["Namespace"], data)


LogsBackend.put_log_events = _put_log_events_extracting_metrics


def _statistic(backend, metric_stat, start, end):
    metric = metric_stat.metric
    wanted = {(d.name, d.value) for d in metric.dimensions}
    values = [
        datum.value
        for datum in backend.metric_data
        if datum.namespace == metric.namespace
        and datum.name == metric.metric_name
        and {(d.name, d.value) for d in datum.dimensions} == wanted
        and start <= datum.timestamp < end
        and hasattr(datum, "value")
    ]
    if not values:
        return None
    return {
        "Minimum": min(values),
        "Maximum": max(values),
        "Sum": sum(values),
        "Average": sum(values) / len(values),
        "SampleCount": float(len(values)),
    }[metric_stat.stat]


class _Expression(ast.NodeVisitor):
    """CloudWatch metric math over one period's values: numbers, query ids, + - * /, comparisons,
    AND/OR/NOT (1 or 0) and IF(condition, then, else). Missing data (None) makes the result missing."""

    def __init__(self, values):
        self.values = values

    def evaluate(self, text):
        text = text.replace(" AND ", " and ").replace(" OR ", " or ").replace("NOT ", "not ")
        return self.visit(ast.parse(text, mode="eval").body)

    def generic_visit(self, node):
        raise ValueError(f"metric math the local cloud does not evaluate: {ast.dump(node)}")

    def visit_Constant(self, node):
        return float(node.value)

    def visit_Name(self, node):
        return self.values[node.id]

    def visit_BinOp(self, node):
        left, right = self.visit(node.left), self.visit(node.right)
        if left is None or right is None:
            return None
        ops = {ast.Add: lambda: left + right, ast.Sub: lambda: left - right, ast.Mult: lambda: left * right,
               ast.Div: lambda: left / right if right else None}
        return ops[type(node.op)]()

    def visit_Compare(self, node):
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.visit(comparator)
            if left is None or right is None:
                return None
            ops = {ast.Eq: left == right, ast.NotEq: left != right, ast.Lt: left < right, ast.LtE: left <= right,
                   ast.Gt: left > right, ast.GtE: left >= right}
            if not ops[type(op)]:
                return 0.0
            left = right
        return 1.0

    def visit_BoolOp(self, node):
        operands = [self.visit(v) for v in node.values]
        if any(o is None for o in operands):
            return None
        truth = all(operands) if isinstance(node.op, ast.And) else any(operands)
        return 1.0 if truth else 0.0

    def visit_UnaryOp(self, node):
        operand = self.visit(node.operand)
        if operand is None:
            return None
        return {ast.Not: lambda: 0.0 if operand else 1.0, ast.USub: lambda: -operand}[type(node.op)]()

    def visit_Call(self, node):
        if getattr(node.func, "id", None) != "IF" or len(node.args) not in (2, 3):
            raise ValueError(f"metric math function the local cloud does not evaluate: {ast.dump(node)}")
        condition = self.visit(node.args[0])
        if condition is None:
            return None
        if condition:
            return self.visit(node.args[1])
        return self.visit(node.args[2]) if len(node.args) == 3 else None


def _period_value(backend, alarm, start, end):
    if not alarm.metric_data_queries:
        stat = MetricStat(Metric(alarm.metric_name, alarm.namespace, alarm.dimensions), alarm.period, alarm.statistic, None)
        return _statistic(backend, stat, start, end)
    values = {q.id: _statistic(backend, q.metric_stat, start, end) for q in alarm.metric_data_queries if q.metric_stat}
    for q in alarm.metric_data_queries:
        if q.expression:
            values[q.id] = _Expression(values).evaluate(q.expression)
    returned = [q for q in alarm.metric_data_queries if q.return_data not in (False, "false", "False")]
    return values[returned[-1].id]


def _breaching(alarm, value):
    t = alarm.threshold
    return {
        "GreaterThanOrEqualToThreshold": value >= t,
        "GreaterThanThreshold": value > t,
        "LessThanThreshold": value < t,
        "LessThanOrEqualToThreshold": value <= t,
    }[alarm.comparison_operator]


def evaluate_alarm(backend, alarm, now):
    """The state CloudWatch would give `alarm` at `now`, and why; None keeps the current state."""
    period = int(alarm.period or max(int(q.metric_stat.period) for q in alarm.metric_data_queries if q.metric_stat))
    periods = int(alarm.evaluation_periods)
    needed = int(alarm.datapoints_to_alarm or periods)
    step = datetime.timedelta(seconds=period)
    values = [_period_value(backend, alarm, now - (i + 1) * step, now - i * step) for i in range(periods)]
    present = [v for v in values if v is not None]
    treat = alarm.treat_missing_data or "missing"
    breaching = sum(1 for v in present if _breaching(alarm, v)) + (len(values) - len(present) if treat == "breaching" else 0)
    if breaching >= needed:
        return "ALARM", f"{breaching} of the last {periods} datapoints breached the threshold {alarm.threshold} ({values})"
    if present or treat in ("notBreaching", "breaching"):
        return "OK", f"{breaching} of the last {periods} datapoints breached the threshold {alarm.threshold} ({values})"
    if treat == "ignore":
        return None
    return "INSUFFICIENT_DATA", f"no datapoints in the last {periods} periods"


def _evaluate_every(seconds):
    while True:
        threading.Event().wait(seconds)
        for regions in list(cloudwatch_backends.values()):
            for backend in list(regions.values()):
                for alarm in list(backend.alarms.values()):
                    try:
                        verdict = evaluate_alarm(backend, alarm, utcnow())
                    except Exception as e:  # noqa: BLE001 - one bad alarm must not stop the others
                        print(f"local cloud: alarm {alarm.name} not evaluated: {e}", file=sys.stderr, flush=True)
                        continue
                    if verdict and verdict[0] != alarm.state_value:
                        alarm.update_state(verdict[1], None, verdict[0])
                        print(f"local cloud: alarm {alarm.name} -> {verdict[0]}: {verdict[1]}", file=sys.stderr, flush=True)


threading.Thread(
    target=_evaluate_every, args=(float(os.environ.get("SIGSHIP_ALARM_EVALUATION_SECONDS", "60")),), daemon=True
).start()
