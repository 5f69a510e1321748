"""The YAML parameter file (``--config``): read safely, refused when its aliases would expand it past reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError

MAX_CONFIG_NODES = 100_000  # a parameter file is a few dozen values; aliases may not expand it past this


def read_yaml_config(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        if _expanded_nodes(yaml.compose(text, Loader=yaml.SafeLoader)) > MAX_CONFIG_NODES:
            raise ConfigError(f"{path}: its aliases (*name) expand to more than {MAX_CONFIG_NODES:,} values; a "
                              "parameter file needs a few dozen")
        values = yaml.safe_load(text)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({str(error)[:300]})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of parameter names to values")
    if isinstance(values.get("text_column"), str):
        values["text_column"] = [values["text_column"]]
    return values


def _expanded_nodes(root) -> int:
    """How many values a composed YAML document holds once its aliases are expanded, counted without expanding
    them (each node's count is computed once; an alias reuses its anchor's node)."""
    counts: dict[int, int] = {}
    stack = [(root, False)] if root is not None else []
    while stack:  # iterative: a deeply nested document must not exhaust the call stack
        node, children_done = stack.pop()
        if id(node) in counts:
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node.value, list) and node.value and \
            isinstance(node.value[0], tuple) else (node.value if isinstance(node.value, list) else [])
        if children_done:
            counts[id(node)] = 1 + sum(counts.get(id(child), 0) for child in children)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in counts)
    return counts.get(id(root), 0)
