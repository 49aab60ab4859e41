"""The README's deploy commands start every process the Procfile declares, and exactly one clock.

`git push heroku` starts only `web` (to 1); every other process type stays at 0
dynos until `heroku ps:scale` names it, so a type the README forgets never runs.
"""

from __future__ import annotations

import re
import shlex

from tests.support.processes import ROOT, procfile


def deploy_commands() -> list[str]:
    """The command lines of the first sh block under "## Deploying to Heroku", comments stripped."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Deploying to Heroku\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [" ".join(shlex.split(line, comments=True)) for line in block.splitlines() if line.strip()]


def scaled(commands: list[str]) -> dict[str, int]:
    """process type -> quantity, from every `heroku ps:scale type=N[:size]`."""
    quantities = {}
    for command in commands:
        words = command.split()
        if words[:2] == ["heroku", "ps:scale"]:
            for word in words[2:]:
                name, _, quantity = word.partition("=")
                quantities[name] = int(quantity.split(":")[0])
    return quantities


def test_the_deploy_scales_every_process_but_web_and_release_after_the_push():
    commands = deploy_commands()
    pushes = [n for n, command in enumerate(commands) if command.startswith("git push heroku")]
    scales = [n for n, command in enumerate(commands) if command.startswith("heroku ps:scale")]
    assert pushes and scales and pushes[0] < scales[0], "scaled after the first push (before it no process type exists)"
    quantities = scaled(commands)
    needed = set(procfile()) - {"web", "release"}  # the push starts web; release runs once per deploy
    assert needed == {"worker", "clock"}
    assert {name: quantities.get(name, 0) >= 1 for name in needed} == dict.fromkeys(needed, True), quantities


def test_the_deploy_scales_the_clock_to_exactly_one():
    assert scaled(deploy_commands())["clock"] == 1, "one scheduler: a second clock only waits on RedBeat's lock"
