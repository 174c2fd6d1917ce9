"""Model tools at the size of their default checkpoints, with random weights.

Weights cannot be downloaded everywhere, but compute and memory do not depend on weight values:
a model built from its published configuration with random weights costs what the real one
costs. :data:`ARCHITECTURES` writes down, per tool, the architecture of its default checkpoint
(the size-bearing keys of each config file). :func:`build` takes the tool's tiny checkpoint
(tokenizers, processors, special-token ids), overwrites those keys, builds every model in it
again with random weights and saves it, so the tool loads it through its normal
``from_pretrained`` path: ``Tool(checkpoint=published_checkpoint("image_caption"))``.

``size="reduced"`` keeps the architecture (widths, heads, vocabularies, resolutions) with one
layer per stack, so the same code runs on a CPU in CI.

>>> sorted(ARCHITECTURES)[:3]
['image_caption', 'image_classify', 'image_edit']
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

__all__ = ["ARCHITECTURES", "PLANNER_ARCHITECTURE", "build", "published_checkpoint",
           "published_planner", "Size"]

Size = Literal["real", "reduced"]

# -- the architectures ---------------------------------------------------------------------------

# CLIP ViT-L/14's text tower (Stable Diffusion 1.x) and OpenCLIP ViT-H/14's (SD 2.x, sd-turbo)
_CLIP_L_TEXT = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                "num_attention_heads": 12, "max_position_embeddings": 77, "vocab_size": 49408,
                "projection_dim": 768, "hidden_act": "quick_gelu"}
_OPENCLIP_H_TEXT = {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 23,
                    "num_attention_heads": 16, "max_position_embeddings": 77,
                    "vocab_size": 49408, "projection_dim": 1024, "hidden_act": "gelu"}
_SD_VAE = {"block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
           "down_block_types": ["DownEncoderBlock2D"] * 4,
           "up_block_types": ["UpDecoderBlock2D"] * 4, "latent_channels": 4,
           "norm_num_groups": 32, "sample_size": 512}
_SD15_UNET = {"sample_size": 64, "block_out_channels": [320, 640, 1280, 1280],
              "layers_per_block": 2, "cross_attention_dim": 768, "attention_head_dim": 8,
              "norm_num_groups": 32,
              "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
              "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3}
_BLIP_BASE_VISION = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                     "num_attention_heads": 12, "image_size": 384, "patch_size": 16}
_BLIP_BASE_TEXT = {"vocab_size": 30524, "hidden_size": 768, "encoder_hidden_size": 768,
                   "intermediate_size": 3072, "num_hidden_layers": 12,
                   "num_attention_heads": 12}
_PIXELS_384 = {"processor_config.json": {"image_processor": {
    "size": {"height": 384, "width": 384}}}}

ARCHITECTURES: dict[str, dict[str, dict[str, Any]]] = {
    # openai/clip-vit-base-patch32: 151M
    "image_classify": {
        "config.json": {"projection_dim": 512,
                        "text_config": {"hidden_size": 512, "intermediate_size": 2048,
                                        "num_hidden_layers": 12, "num_attention_heads": 8,
                                        "max_position_embeddings": 77, "vocab_size": 49408},
                        "vision_config": {"hidden_size": 768, "intermediate_size": 3072,
                                          "num_hidden_layers": 12, "num_attention_heads": 12,
                                          "image_size": 224, "patch_size": 32}},
        "processor_config.json": {"image_processor": {
            "size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}}}},
    # Salesforce/blip-image-captioning-base: 224M
    "image_caption": {"config.json": {"vision_config": _BLIP_BASE_VISION,
                                      "text_config": _BLIP_BASE_TEXT}, **_PIXELS_384},
    # Salesforce/blip-vqa-base: 361M (a text encoder and a text decoder)
    "visual_qa": {"config.json": {"vision_config": _BLIP_BASE_VISION,
                                  "text_config": _BLIP_BASE_TEXT}, **_PIXELS_384},
    # openai-whisper large-v3-turbo: 809M
    "speech_recognize": {"model.pt": {"dims": {
        "n_mels": 128, "n_audio_ctx": 1500, "n_audio_state": 1280, "n_audio_head": 20,
        "n_audio_layer": 32, "n_vocab": 51866, "n_text_ctx": 448, "n_text_state": 1280,
        "n_text_head": 20, "n_text_layer": 4}}},
    # facebook/musicgen-small: 587M (T5-base encoder, 24-layer decoder, EnCodec 32 kHz)
    "music_generate": {
        "config.json": {
            "text_encoder": {"vocab_size": 32128, "d_model": 768, "d_kv": 64, "d_ff": 3072,
                             "num_layers": 12, "num_heads": 12},
            "audio_encoder": {"sampling_rate": 32000, "hidden_size": 128, "num_filters": 64,
                              "num_residual_layers": 1, "upsampling_ratios": [8, 5, 4, 4],
                              "codebook_size": 2048, "codebook_dim": 128,
                              "target_bandwidths": [2.2], "num_lstm_layers": 2},
            "decoder": {"vocab_size": 2048, "hidden_size": 1024, "num_hidden_layers": 24,
                        "num_attention_heads": 16, "ffn_dim": 4096, "num_codebooks": 4,
                        "max_position_embeddings": 2048, "pad_token_id": 2048,
                        "bos_token_id": 2048}},
        "generation_config.json": {"decoder_start_token_id": 2048, "pad_token_id": 2048,
                                   "top_k": 250}},
    # stabilityai/sd-turbo (the SD 2.1 layout): UNet 866M, OpenCLIP-H text 340M, VAE 84M
    "image_generate": {
        "unet/config.json": {**_SD15_UNET, "cross_attention_dim": 1024,
                             "attention_head_dim": [5, 10, 20, 20],
                             "use_linear_projection": True},
        "text_encoder/config.json": _OPENCLIP_H_TEXT, "vae/config.json": _SD_VAE},
    # timbrooks/instruct-pix2pix (SD 1.5 with 8 input channels: the image's latents)
    "image_edit": {"unet/config.json": {**_SD15_UNET, "in_channels": 8},
                   "text_encoder/config.json": _CLIP_L_TEXT, "vae/config.json": _SD_VAE},
    # emilianJR/epiCRealism (SD 1.5) + guoyww/animatediff-motion-adapter-v1-5-2
    "video_generate": {
        "unet/config.json": _SD15_UNET, "text_encoder/config.json": _CLIP_L_TEXT,
        "vae/config.json": _SD_VAE,
        "motion_adapter/config.json": {"block_out_channels": [320, 640, 1280, 1280],
                                       "motion_layers_per_block": 2,
                                       "motion_num_attention_heads": 8,
                                       "motion_norm_num_groups": 32,
                                       "motion_max_seq_length": 32,
                                       "use_motion_mid_block": True}},
    # facebook/mms-tts-eng: VitsConfig's defaults are that checkpoint's architecture (36M)
    "text_to_speech": {"config.json": {"__defaults__": "VitsConfig"}},
}

# HuggingFaceTB/SmolLM2-135M-Instruct, the offline profile's planner (135M)
PLANNER_ARCHITECTURE: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576,
    "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
    "num_key_value_heads": 3, "vocab_size": 49152, "max_position_embeddings": 8192,
    "rope_theta": 100000.0, "tie_word_embeddings": True, "rms_norm_eps": 1e-5}

_LAYER_KEYS = {"num_hidden_layers", "num_layers", "n_audio_layer", "n_text_layer",
               "layers_per_block", "motion_layers_per_block", "num_lstm_layers"}
_PRESERVED = {"vocab_size", "pad_token_id", "bos_token_id", "eos_token_id",
              "decoder_start_token_id", "sep_token_id"}  # tokenizer-bound: kept from tiny

# -- building ------------------------------------------------------------------------------------


def published_checkpoint(tool: str, size: Size = "real", cache_dir: str | os.PathLike | None
                         = None) -> str:
    """A directory holding ``tool``'s default architecture with random weights (built once)."""
    from mmagent.toolkit import default_cache_dir

    root = Path(cache_dir) if cache_dir else default_cache_dir()
    target = root / "published" / f"{tool}-{size}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{tool}-"))
        try:
            build(tool, tmp, size, cache_dir=root)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def build(tool: str, path: Path, size: Size = "real", cache_dir: Path | None = None) -> None:
    """Write ``tool``'s published architecture, random weights, to ``path``."""
    from mmagent.toolkit import ToolRegistry

    if tool not in ARCHITECTURES:
        raise KeyError(f"got tool {tool!r}; expected one of {sorted(ARCHITECTURES)}")
    cls = ToolRegistry.discover().tool_class(tool)
    cls.build_tiny(path)  # tokenizers, processors, special tokens; models rebuilt below
    for rel, spec in ARCHITECTURES[tool].items():
        spec = _expand(spec)
        spec = _reduced(spec) if size == "reduced" else spec
        file = path / rel
        if rel.endswith(".pt"):
            _build_whisper(file, spec)
        elif rel.endswith("config.json") and rel != "processor_config.json" and \
                not rel.startswith("generation"):
            _build_model(file, spec)
        else:
            data = json.loads(file.read_text())
            file.write_text(json.dumps(_merge(data, spec), indent=2))


def _build_model(config_file: Path, spec: dict[str, Any]) -> None:
    import torch

    data = _merge(json.loads(config_file.read_text()), spec)
    folder = config_file.parent
    for f in folder.iterdir():  # old weights (their shard names may differ from the new ones)
        if f.suffix in (".safetensors", ".bin") or f.name.endswith(".index.json"):
            f.unlink()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if "_class_name" in data:  # a diffusers component
            import diffusers

            cls = getattr(diffusers, data["_class_name"])
            model = cls.from_config({k: v for k, v in data.items() if not k.startswith("_")})
        else:
            import transformers

            config = transformers.AutoConfig.for_model(**data)
            model = getattr(transformers, data["architectures"][0])(config)
        model.save_pretrained(folder)


def published_planner(size: Size = "real", cache_dir: str | os.PathLike | None = None) -> str:
    """A directory holding SmolLM2-135M's architecture with random weights (no tokenizer: the
    planner's cost is the decoder's), for ``AutoModelForCausalLM.from_pretrained``."""
    import torch
    import transformers

    from mmagent.toolkit import default_cache_dir

    root = Path(cache_dir) if cache_dir else default_cache_dir()
    target = root / "published" / f"planner-{size}"
    if not target.exists():
        spec = _reduced(PLANNER_ARCHITECTURE) if size == "reduced" else PLANNER_ARCHITECTURE
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**spec))
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".planner-"))
        try:
            model.save_pretrained(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def _build_whisper(file: Path, spec: dict[str, Any]) -> None:
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(**spec["dims"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Whisper(dims)
    torch.save({"dims": spec["dims"], "model_state_dict": model.state_dict()}, file)


def _expand(spec: dict[str, Any]) -> dict[str, Any]:
    """``{"__defaults__": "VitsConfig"}``: that config class's defaults are the published
    architecture (tokenizer-bound keys stay as the tiny checkpoint has them)."""
    if "__defaults__" not in spec:
        return spec
    import transformers

    defaults = getattr(transformers, spec["__defaults__"])().to_dict()
    return {k: v for k, v in defaults.items() if k not in _PRESERVED and not k.startswith("_")
            and k not in ("architectures", "transformers_version", "model_type", "dtype")}


def _reduced(spec: Any) -> Any:
    if isinstance(spec, dict):
        return {k: (1 if k in _LAYER_KEYS and isinstance(v, int) else _reduced(v))
                for k, v in spec.items()}
    return spec


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
