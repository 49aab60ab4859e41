"""app.json's Heroku CI environment agrees with the suite it runs (the run itself: .ci/heroku-ci)."""

from __future__ import annotations

import ast
import configparser
import json
import re
import shlex

from tests.support.processes import ROOT

CHROME_FOR_TESTING = "heroku-community/chrome-for-testing"


def ci_environment() -> dict:
    return json.loads((ROOT / "app.json").read_text())["environments"]["test"]


def ci_command() -> list[str]:
    return shlex.split(ci_environment()["scripts"]["test"])


def deselected_markers() -> list[str]:
    """The markers scripts.test deselects; its -m expression may only be `not a and not b ...`."""
    words = ci_command()
    if "-m" not in words:
        return []
    expression = words[words.index("-m") + 1]
    assert re.fullmatch(r"not \w+( and not \w+)*", expression), f"-m {expression!r} must only deselect markers"
    return re.findall(r"not (\w+)", expression)


def registered_markers() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "pytest.ini")
    lines = config["pytest"].get("markers", "").strip().splitlines()
    return {line.split(":")[0].strip() for line in lines if line.strip()}


def marked_tests(marker: str) -> list[str]:
    """Names of the test functions under tests/ that carry `@pytest.mark.<marker>` (or a module pytestmark)."""

    def marks(node: ast.AST) -> bool:
        return any(
            isinstance(part, ast.Attribute)
            and part.attr == marker
            and isinstance(part.value, ast.Attribute)
            and part.value.attr == "mark"
            for part in ast.walk(node)
        )

    names = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        module = ast.parse(path.read_text())
        whole = any(
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", None) == "pytestmark" for t in node.targets)
            and marks(node.value)
            for node in module.body
        )
        names += [
            node.name
            for node in ast.walk(module)
            if isinstance(node, ast.FunctionDef)
            and node.name.startswith("test_")
            and (whole or any(marks(decorator) for decorator in node.decorator_list))
        ]
    return names


def test_the_test_dyno_gets_chrome_for_testing_then_python_and_in_dyno_services():
    environment = ci_environment()
    assert [buildpack["url"] for buildpack in environment["buildpacks"]] == [CHROME_FOR_TESTING, "heroku/python"]
    assert sorted(environment["addons"]) == ["heroku-postgresql:in-dyno", "heroku-redis:in-dyno"]
    assert environment["env"]["BLASTO_REQUIRE_SERVICES"] == "1", "a missing service fails the run instead of skipping"


def test_scripts_test_runs_pytest_on_the_add_ons_and_deselects_only_by_marker():
    words = ci_command()
    assert words[:3] == ["BLASTO_TEST_POSTGRES_URL=$DATABASE_URL", "BLASTO_TEST_REDIS_URL=$REDIS_URL", "pytest"], words
    options = words[3:]
    if options[:1] == ["-n"]:  # xdist workers: each takes its own Redis database below REDIS_URL's
        assert options[1].isdigit() and int(options[1]) <= 4, "a Performance-M test dyno has 2.5 GB for the stacks"
        options = options[2:]
    assert options == [] or (options[0] == "-m" and len(options) == 2), "nothing but a -m expression may narrow the run"


def test_every_marker_scripts_test_deselects_is_registered_and_used():
    markers = deselected_markers()
    assert set(markers) <= registered_markers(), "pytest.ini must register it (--strict-markers)"
    for marker in markers:
        assert marked_tests(marker), f"no test carries {marker}; drop it from scripts.test"


def test_the_readme_names_every_test_heroku_ci_deselects():
    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("**Heroku CI.**") :]
    paragraph = paragraph[: paragraph.index("\n\n")]
    for marker in deselected_markers():
        assert f"not {marker}" in paragraph
        for name in marked_tests(marker):
            assert f"`{name}`" in paragraph, f"README's Heroku CI paragraph must say why {name} is deselected"
