import importlib
import pkgutil
from importlib.metadata import EntryPoint

import pytest
from pydantic import BaseModel, ConfigDict, Field

from mmagent.errors import ConfigError, UnknownToolError
from mmagent.toolkit import Tool, ToolRegistry
from mmagent.toolkit import _registry as registry_mod
from mmagent.toolkit._registry import BUILTIN_PACKAGE, builtin_tools


def test_builtin_tools_are_the_modules_of_mmagent_tools():
    reg = ToolRegistry.discover()
    assert {"image_caption", "text_to_speech", "audio_mix"} <= set(reg.names())
    assert reg.tool_class("image_caption").__module__ == "mmagent.tools.image_caption"


def test_every_tool_module_defines_the_one_tool_it_is_named_after():
    package = importlib.import_module(BUILTIN_PACKAGE)
    modules = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name[0] != "_"]
    assert sorted(modules) == [cls.name for cls in builtin_tools()]
    for cls in builtin_tools():
        assert cls.__module__ == f"{BUILTIN_PACKAGE}.{cls.name}"


def test_third_party_tool_is_discovered_and_a_broken_one_skipped(monkeypatch):
    eps = [EntryPoint("fake_caption", "tests.fakes:FakeCaption", "mmagent.tools"),
           EntryPoint("broken", "tests.no_such_module:Nope", "mmagent.tools"),
           EntryPoint("not_a_tool", "tests.fakes:fake_registry", "mmagent.tools")]
    monkeypatch.setattr(registry_mod, "entry_points", lambda group: eps)
    reg = ToolRegistry.discover({"fake_caption": {"device": "cpu"}})
    assert set(reg.names()) == {"fake_caption", *(cls.name for cls in builtin_tools())}
    assert reg.get("fake_caption").device_pref == "cpu"
    assert reg.get("fake_caption") is reg.get("fake_caption")  # one instance per name


def test_settings_for_unknown_tool_is_a_config_error():
    with pytest.raises(ConfigError, match="tools.paint"):
        ToolRegistry.discover({"paint": {}})


def test_unknown_tool_lookup():
    with pytest.raises(UnknownToolError, match="got tool 'paint'"):
        ToolRegistry().get("paint")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: str = Field(description="x")


def test_tool_declarations_are_checked_when_the_class_is_defined():
    with pytest.raises(TypeError, match="snake_case"):
        type("T", (Tool,), {"name": "Bad Name", "description": "d", "Input": _M, "Output": _M})
    with pytest.raises(TypeError, match="description"):
        type("T", (Tool,), {"name": "t", "description": " ", "Input": _M, "Output": _M})

    class Loose(BaseModel):
        x: str = Field(description="x")

    with pytest.raises(TypeError, match="extra='forbid'"):
        type("T", (Tool,), {"name": "t", "description": "d", "Input": Loose, "Output": _M})

    class Undocumented(BaseModel):
        model_config = ConfigDict(extra="forbid")
        x: str

    with pytest.raises(TypeError, match="Input.x has no description"):
        type("T", (Tool,), {"name": "t", "description": "d", "Input": Undocumented,
                            "Output": _M})


def test_the_offline_profile_gives_every_tool_with_a_tiny_builder_its_tiny_model():
    from mmagent.config import Config

    cfg = Config.from_dict({}, profile="offline")
    for cls in builtin_tools():
        if cls.name == "text_to_speech":  # speaks with espeak-ng offline, as it declares
            assert cfg.tools[cls.name].options == {"backend": "espeak"}
        elif cls.has_tiny():
            assert cfg.tools[cls.name].checkpoint == "tiny", cls.name
        else:
            assert cls.name not in cfg.tools, cls.name
