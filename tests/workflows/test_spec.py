"""Workflow files: strict parsing, and bad input refused before anything runs, with the file,
the node and the line in the message."""

import json
import textwrap

import jsonschema
import pytest
import yaml
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from mmagent import Agent, Config
from mmagent.artifacts import ImageRef
from mmagent.errors import (
    InputError,
    MissingInputError,
    PlanValidationError,
    UnknownInputError,
    WorkflowNotFoundError,
    WrongKindError,
)
from mmagent.toolkit import Tool
from mmagent.workflows import (
    GRAPHS_DIR,
    SCHEMA_PATH,
    evaluate,
    json_schema,
    load_workflow,
    parse_condition,
    parse_workflow,
)
from tests.fakes import fake_registry

RAN: list[str] = []


class Recorder(Tool):
    """Notes that it ran: bad workflows must be refused before any tool runs."""

    name = "recorder"
    description = "Records that it ran and describes its image."

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")
        image: ImageRef = Field(description="an image")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str = Field(description="a description")

    def run(self, inputs, ctx):
        RAN.append("recorder")
        return [self.Output(text="seen") for _ in inputs]


GOOD = """\
version: 1
inputs:
  image: {type: image}
nodes:
  look:
    tool: recorder
    args:
      image: $input.image
  speak:
    tool: fake_speak
    args:
      text: $look.text
outputs:
  speech: $speak.audio
"""

# (name, workflow text, error code, node named, line named)
BAD = [
    ("cycle", GOOD.replace("$input.image", "$speak.audio"), "plan.cycle", "look", 5),
    ("unknown_tool", GOOD.replace("tool: fake_speak", "tool: fake_speek"), "plan.unknown_tool",
     "speak", 10),
    ("missing_node", GOOD.replace("$look.text", "$lok.text"), "plan.unresolved_reference",
     "speak", 12),
    ("missing_field", GOOD.replace("$look.text", "$look.txt"), "plan.unresolved_reference",
     "speak", 12),
    ("type_mismatch", GOOD.replace("$look.text", "$input.image"), "plan.type_mismatch",
     "speak", 12),
    ("unknown_key", GOOD.replace("    args:\n      text", "    arg:\n      text"),
     "workflow.invalid", "speak", 11),
    ("unknown_arg", GOOD.replace("text: $look.text", "txt: $look.text"), "plan.argument_schema",
     "speak", 12),
    ("malformed_yaml", GOOD.replace("text: $look.text", "text: [$look.text"),
     "workflow.invalid", "speak", 13),
    ("duplicate_key", GOOD.replace("      text: $look.text", "      text: $look.text\n"
                                   "      text: hi"), "workflow.invalid", "speak", 13),
    ("self_reference", GOOD.replace("$look.text", "$speak.audio"), "plan.cycle", "speak", 9),
    ("missing_input", GOOD.replace("$input.image", "$input.photo"),
     "plan.unresolved_reference", "look", 8),
]


@pytest.fixture
def agent(tmp_path):
    reg = fake_registry()
    reg.register(Recorder)
    return Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache")}), registry=reg)


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.png"
    Image.new("RGB", (16, 12), (0, 128, 255)).save(p)
    return p


def write(tmp_path, text, name="wf.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_workflow_runs(agent, photo, tmp_path):
    RAN.clear()
    result = agent.run_workflow(write(tmp_path, GOOD), {"image": photo})
    assert RAN == ["recorder"] and result.named_outputs["speech"]["kind"] == "audio"


@pytest.mark.parametrize("name,text,code,node,line", BAD, ids=[b[0] for b in BAD])
def test_bad_workflow_is_refused_before_anything_runs(agent, photo, tmp_path, name, text, code,
                                                      node, line):
    path = write(tmp_path, text, f"{name}.yaml")
    RAN.clear()
    with pytest.raises(PlanValidationError) as e:
        agent.run_workflow(path, {"image": photo})
    assert RAN == []
    assert e.value.code == code
    msg = str(e.value)
    assert msg.startswith(f"{path}:{line}: "), msg
    assert f"node {node!r}" in msg, msg
    assert e.value.details["file"] == str(path) and e.value.details["line"] == line


def test_validate_reports_every_problem_in_file_order(agent, tmp_path):
    text = GOOD.replace("tool: recorder", "tool: recordr").replace("$look.text", "$look.txt")
    text = text.replace("$speak.audio", "$speak.noise")
    problems = load_workflow(write(tmp_path, text)).problems(agent.registry)
    assert [(e.code, e.details["line"]) for e in problems] == [
        ("plan.unknown_tool", 6), ("plan.unresolved_reference", 14)]
    assert "did you mean 'recorder'" in problems[0].message
    assert "output 'speech'" in problems[1].message and "'noise'" in problems[1].message


@pytest.mark.parametrize("text,expected", [
    ("version: 2\n" + GOOD.split("\n", 1)[1], ":1: version: got 2"),
    ("- just\n- a list\n", "expected a mapping with version"),
    ("", "got an empty document"),
    (GOOD.replace("  look:\n", "  look-at:\n").replace("$look.", "$look-at."),
     "got the name 'look-at'"),
    (GOOD.replace("image: {type: image}", "image: {type: picture}"), "inputs.image.type"),
    (GOOD.replace("image: {type: image}", "image: {type: image, default: x.png}"),
     "media inputs take no default"),
    (GOOD.replace("$look.text", "$look"), "not a reference"),
    (GOOD.replace("$look.text", "$item"), "$item is used outside"),
    (GOOD.replace("    tool: fake_speak\n", "    tool: fake_speak\n    when: {maybe: 1}\n"),
     "expected a condition"),
    (GOOD.replace("  look:", "  input:").replace("$look.", "$input."), "reserved node name"),
])
def test_structural_errors_name_the_problem(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(PlanValidationError) as e:
        load_workflow(path)
    assert str(e.value).startswith(f"{path}:") and expected in str(e.value)


def test_foreach_typing_is_checked(agent, tmp_path):
    text = GOOD.replace("    args:\n      text: $look.text",
                        "    foreach: $look.text\n    args:\n      text: $item")
    (err,) = load_workflow(write(tmp_path, text)).problems(agent.registry)
    assert err.code == "plan.type_mismatch" and "foreach got $look.text of type text" in str(err)
    # a foreach node's outputs are lists: they cannot feed a single-text argument
    text = GOOD.replace("    tool: recorder\n", "    tool: recorder\n    foreach: [$input.image]\n"
                        ).replace("image: $input.image", "image: $item")
    (err,) = load_workflow(write(tmp_path, text)).problems(agent.registry)
    assert err.code == "plan.type_mismatch" and "list[text]" in str(err) and ":13:" in str(err)


def test_bad_inputs_at_run_time(agent, photo, tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(MissingInputError, match="^got no input 'image' for workflow 'wf'; "
                       "expected an image$"):
        agent.run_workflow(path, {})
    with pytest.raises(UnknownInputError, match="^got input 'photo' for workflow 'wf', which it "
                       r"does not declare; expected inputs among 'image' \(an image\)$"):
        agent.run_workflow(path, {"image": photo, "photo": photo})
    with pytest.raises(WorkflowNotFoundError, match="expected one of"):
        agent.run_workflow("no_such_workflow", {})
    with pytest.raises(InputError, match="nope.png"):
        agent.run_workflow(path, {"image": tmp_path / "nope.png"})


def test_input_values_are_checked_against_types_and_tool_schemas(agent, photo, tmp_path):
    text = GOOD.replace("image: {type: image}", "image: {type: image}\n  words: {type: text}"
                        ).replace("$look.text", "$input.words")
    path = write(tmp_path, text)
    with pytest.raises(WrongKindError, match="^input 'words' of workflow 'wf': got 3; expected "
                       "a text$"):
        agent.run_workflow(path, {"image": photo, "words": 3})
    RAN.clear()
    with pytest.raises(PlanValidationError) as e:  # fake_speak takes at most 200 characters
        agent.run_workflow(path, {"image": photo, "words": "x" * 300})
    assert RAN == [] and e.value.code == "plan.argument_schema" and ":13: node 'speak'" in str(
        e.value)


def test_schema_file_is_up_to_date():
    assert json.loads(SCHEMA_PATH.read_text()) == json_schema(), (
        "graphs/workflow.schema.json is stale: run `mmagent workflow schema > "
        "graphs/workflow.schema.json`")


@pytest.mark.parametrize("path", sorted(GRAPHS_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_workflows_validate_against_the_schema(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), json_schema())
    assert path.read_text().startswith("# yaml-language-server: $schema=./workflow.schema.json")


def test_schema_rejects_unknown_keys():
    doc = yaml.safe_load(GOOD)
    doc["nodes"]["look"]["retries"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json_schema())


def test_conditions():
    values = {"$input.n": 3, "$input.mode": "fast", "$t.text": "a dog", "$input.none": None}
    holds = lambda c: evaluate(parse_condition(c), values.__getitem__)  # noqa: E731
    assert holds({"$input.n": {"gt": 2, "le": 3}}) and not holds({"$input.n": {"lt": 3}})
    assert holds({"all": ["$input.mode", {"$input.mode": {"in": ["fast", "slow"]}}]})
    assert holds({"any": [{"$input.none": {"empty": False}}, {"$t.text": {"contains": "dog"}}]})
    assert holds({"not": "$input.none"}) and holds({"$input.mode": {"not_equals": "slow"}})
    with pytest.raises(ValueError):
        parse_condition({"$input.n": {}})


def test_parse_workflow_from_text_names_the_given_file():
    text = textwrap.dedent("""\
        version: 1
        nodes:
          a: {tool: x, args: {v: $b.out}}
          b: {tool: y, args: {v: $a.out}}
        outputs: {o: $a.out}
        """)
    with pytest.raises(PlanValidationError, match=r"^my\.yaml:3: node 'a': nodes a -> b -> a"):
        parse_workflow(text, file="my.yaml")
