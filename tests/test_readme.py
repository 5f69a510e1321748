"""The README can be followed as written: its first lines are the two set-up commands CI runs, it installs
from a clone (textrnn is on no package index), and it stays short (measured tables live in docs/)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_first_lines_are_the_two_set_up_commands_and_ci_runs_the_second():
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert len(block) == 2 and "textrnn train" in block[0] and "pytest" in block[1]
    assert README.index("```bash") < README.index("##")  # before any section
    assert block[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_every_install_command_works_without_a_package_index():
    installs = re.findall(r"pip install [^`\n]*textrnn\[[^`\n]*", README)
    assert all("dist/" in line or ".whl" in line for line in installs), installs  # a built wheel, not an index
    assert 'pip install -c constraints.txt -e ".[serve]"' in README


def test_the_readme_is_at_most_2000_words_and_says_nothing_of_these_machines():
    assert len(README.split()) <= 2000
    assert "these machines" not in README
