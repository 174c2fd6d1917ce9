import base64
import io

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mmagent import Agent, Config
from mmagent.serving.server import ServerThread, build_app
from tests.serving.helpers import PlanByInputs, serving_registry

KEY_A, KEY_B = "sk-test-a", "sk-test-b"
WORKFLOW = """\
version: 1
description: Describe an image by its size and beep the description.
inputs:
  image: {type: image, description: the photo}
  note: {type: text, default: null, description: an option the prompt must not fill}
nodes:
  caption: {tool: fake_caption, args: {image: $input.image}}
  say: {tool: fake_speak, args: {text: $caption.text}}
outputs:
  description: $caption.text
  speech: $say.audio
"""


def fake_server(root, extra_tools=(), backend=None, **settings) -> ServerThread:
    """The embedded server on 127.0.0.1 with fake tools (and ``extra_tools``), the
    ``describe_fake`` workflow and a planner that needs no model (``backend``, else
    :class:`PlanByInputs`); ``settings`` are more config sections (not started yet)."""
    (root / "describe_fake.yaml").write_text(WORKFLOW)
    cfg = Config.from_dict({"cache_dir": str(root / "cache"),
                            "workflows": {"paths": [str(root / "describe_fake.yaml")]},
                            **settings})
    registry = serving_registry()
    for tool in extra_tools:
        registry.register(tool)
    agent = Agent(cfg, registry=registry, planner_backend=backend or PlanByInputs())
    return ServerThread(build_app(agent=agent))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with fake_server(tmp_path_factory.mktemp("serve"), limits={"max_image_pixels": 100_000},
                     serving={"api_keys": [KEY_A, KEY_B], "max_body_bytes": 300_000,
                              "fetch_allow_hosts": ["127.0.0.1", "localhost"]}) as srv:
        yield srv


def png_data_url(w=32, h=24) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (0, 128, 255)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def wav_bytes(seconds=0.5, sr=16000) -> bytes:
    buf = io.BytesIO()
    t = np.arange(int(seconds * sr)) / sr
    sf.write(buf, 0.2 * np.sin(2 * np.pi * 220 * t), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()
