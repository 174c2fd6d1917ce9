"""Malformed provenance is a typed error (input.invalid_provenance, exit 2), never internal."""

import io
import json
import struct
import zlib

import pytest
from PIL import Image

from mmagent.artifacts._provenance import FORMAT, ProvenanceError, embed, read
from tests.cli.test_cli import cli


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, format="PNG")
    return buf.getvalue()


def _with_chunk(body: bytes, declared: int | None = None) -> bytes:
    data = _png()
    n = len(body) if declared is None else declared
    chunk = struct.pack(">I", n) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    end = data.rindex(b"IEND") - 4
    return data[:end] + chunk + data[end:]


MALFORMED = {
    "short": b"mmagent\0",
    "short_one_byte": b"mmagent\0\x01",
    "no_nul": b"mmagent\0\x01\x00no-language-tag-terminator",
    "bad_zlib": b"mmagent\0\x01\x00\0\0this is not zlib",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_itxt_chunk_is_a_typed_error(name):
    with pytest.raises(ProvenanceError) as e:
        read(_with_chunk(MALFORMED[name]))
    assert e.value.code == "input.invalid_provenance"


def test_a_length_lying_chunk_is_a_typed_error_or_none():
    data = _with_chunk(b"mmagent\0\x01", declared=10_000)  # says more than the file holds
    try:
        assert read(data) is None
    except ProvenanceError:
        pass


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_the_cli_says_invalid_provenance_exit_2(monkeypatch, capsys, tmp_path, name):
    f = tmp_path / "bad.png"
    f.write_bytes(_with_chunk(MALFORMED[name]))
    code, _, err = cli(monkeypatch, capsys, "workflow", "run", str(f), "--yes")
    assert code == 2 and err.startswith("error[input.invalid_provenance]: "), err
    assert "internal" not in err and err.count("\n") == 1


def test_inputs_as_a_list_is_a_typed_error(monkeypatch, capsys, tmp_path):
    doc = {"workflow": "version: 1\ninputs:\n  p: {type: image}\nnodes:\n  r:\n"
                       "    tool: image_resize\n    args: {image: $input.p, width: 8}\n"
                       "outputs: {o: $r.image}\n",
           "inputs": ["a", "b"]}
    f = tmp_path / "list.png"
    f.write_bytes(embed(_png(), "image/png", doc))
    assert json.loads(json.dumps(read(f.read_bytes())))["format"] == FORMAT
    code, _, err = cli(monkeypatch, capsys, "workflow", "run", str(f), "--yes")
    assert code == 2 and err.startswith("error[input.invalid_provenance]: "), err
    assert "expected a mapping" in err
