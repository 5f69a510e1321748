"""Writes docs/parameters.md and docs/config.schema.json from textrnn.params (run after changing a parameter).

    python docs/make_parameters.py
"""

import json
from pathlib import Path

from textrnn.cli.parser import markdown_table
from textrnn.params import PARAM_GROUPS, RunConfig

HERE = Path(__file__).resolve().parent

INTRO = """# Parameters

Every parameter has one name in three places: the Python API (`TextRNNClassifier(hidden_size=128)`), a YAML
config file (`hidden_size: 128`, for `textrnn train --config FILE`) and the command line (`--hidden-size 128`).
This page is generated from `textrnn/params.py` by `python docs/make_parameters.py`; so are the flags of every
command and [config.schema.json](config.schema.json), the JSON schema of a YAML config file.

Precedence on the command line, lowest first: the defaults below, the preset (`--preset`), the config file,
the flags. The command line prints progress (`--verbose` is on); in Python it is off unless asked for.

Groups: {groups}. Runtime parameters change how a process runs, never what is learned, and are not saved with
a model; data and run parameters exist only for command-line runs.

"""


def main() -> None:
    groups = ", ".join(f"**{name}** ({cls.__doc__.strip().rstrip('.').lower()})" for name, cls in PARAM_GROUPS.items())
    (HERE / "parameters.md").write_text(INTRO.format(groups=groups) + markdown_table(), encoding="utf-8")
    schema = RunConfig.model_json_schema()
    (HERE / "config.schema.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
