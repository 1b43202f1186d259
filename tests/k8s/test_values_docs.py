"""Every value of the chart is documented with `## @param` and every `@param` names a value;
values.schema.json describes exactly the values there are."""

from __future__ import annotations

import json
import re
from typing import Any

from k8s_chart import CHART

FREE_FORM = {
    "resources",
    "nodeSelector",
    "affinity",
    "annotations",
    "podAnnotations",
    "commonLabels",
    "podSecurityContext",
    "containerSecurityContext",
    "oidcExtraAuthorizeParams",
}


def leaves(values: Any, path: str = "") -> set[str]:
    if isinstance(values, dict) and values and path.rsplit(".", 1)[-1] not in FREE_FORM:
        found: set[str] = set()
        for key, value in values.items():
            found |= leaves(value, f"{path}.{key}" if path else key)
        return found
    return {path}


def test_every_value_is_documented() -> None:
    import yaml

    text = (CHART / "values.yaml").read_text()
    documented = set(re.findall(r"^## @param (\S+) \S", text, re.M))
    values = leaves(yaml.safe_load(text))
    assert values - documented == set(), "values without ## @param"
    assert documented - values == set(), "## @param for values that do not exist"


def test_schema_covers_every_value() -> None:
    import yaml

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        if isinstance(value, dict) and "properties" in node:
            assert node.get("additionalProperties") is False, path
            assert set(node["properties"]) == set(value), path
            for key, child in value.items():
                walk(child, node["properties"][key], f"{path}.{key}")

    walk(values, schema, "")
