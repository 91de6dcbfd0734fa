"""Runtime census of the tensor rules: run real model code, record what torch did per source line, and
compare with the static findings of TL101-TL104 on the same lines.

    python bench/tensor_census.py --mirror-root ~/mirrors --out census/
    python bench/tensor_census.py --mirror-root ~/mirrors --target timm --models vit_tiny_patch16_224,resnet18
    python bench/tensor_census.py --list

Each target is a public repository at a pinned commit (exported from `--mirror-root DIR`, a folder of
bare git mirrors named `owner+name`, or fetched with plain `git` when absent) and a list of model
snippets. Every target runs in its own subprocess (this script with `--worker`), which puts the
exported tree on `sys.path`, builds each model on CPU and runs its forward on a tiny input (batch 2,
small resolution) under two tracers:

- a `TorchFunctionMode` sees every torch call whose immediate Python caller is a file of the exported
  tree (torch's own files are not the model's code). It records per call site (file, line of the
  method name, call kind): `repeat` (the input shape, the sizes, whether `expand` gives equal values,
  whether the result is later reshaped or made contiguous in a way that would copy the expanded
  tensor too), `reshape`/`flatten`/`reshape_as` (whether the output shares the input's storage; a
  view whose input has a size-1 dim is replayed on the same layout with that dim grown to 2, see
  `place_size_one_dims` and `replay_grown`), and
  `view`/`view_as` (whether it raised; the error is re-raised and the model stops there). Outputs of
  `expand`/`expand_as`/`broadcast_to`, and views of them, are followed to in-place writes.
- a `TorchDispatchMode` sees every aten op, including those inside torch's Python code: a write
  (an argument the op's schema marks as written) into the storage of a `repeat` result marks that
  result as written, and a write into a tensor with internal overlap (stride 0 on a dimension
  larger than 1) is a write to expanded memory, attributed to the innermost model line on the stack.

Runtime truth per site (file, line, column of the method name): TL101 every call's sizes grow only
size-1 or new leading dims, the result is never written and never reshaped later (a later reshape
that would copy the expanded tensor makes it negative; one that is a view of it at these sizes makes
the site undecided, counted neither way); TL102 some call copied, or copied in its grown replay (a
grown copy: the tiny configuration made a merged dim 1); TL103 some call raised; TL104 some
write touched expanded memory. The parent then lints the traced files with
`python -m torchlint check --output-format json` (torchlint is never imported by the traced process)
and joins the findings by (file, line, column, rule), then by line, then by the call's span: found,
missed (runtime positive, no finding) and false (a finding on a traced site where runtime saw no
positive). The table gives these figures with grown copies as positives (`grown+` counts the sites
positive by a grown copy only, `(unmeas.)` the false sites with a replay that decided nothing) and
from the real sizes alone (where `(size1)` counts the false sites whose every call was a view with a
size-1 dim in its input). Findings on lines no traced call reached are counted as not exercised.

With `--out DIR` it writes `summary.json` (the table), `sites.json` (every traced site with its
observations and findings), `missed.txt`, `false.txt`, `grown.txt` and `undecided.txt` (file, line, source text,
runtime observation, findings), `models.txt` (each model's status and time), and a `README.txt` on
how to read them.

Besides torch (CPU), the targets import: einops (vit-pytorch, denoising-diffusion), tqdm
(denoising-diffusion), and for diffusers huggingface_hub (1.x), safetensors, regex, requests, httpx,
importlib_metadata (< 9), pillow and their own dependencies (urllib3, idna, certifi, charset_normalizer,
httpcore, h11, anyio, sniffio, zipp, hf-xet); install them with `pip install --no-deps` next to the
CPU torch. Modules a model
only imports (torchvision, PIL, accelerate, ...) are stubbed in the traced process with placeholder
classes, so only models whose forward does not use them run; a model that fails is reported with
its error and the others go on. A full run takes about 5 minutes of CPU time (`--target` and
`--models` pick a subset; `--list` shows them). `--rescore DIR` reuses the runtime observations of an
earlier `--out DIR` and only lints and joins again (a minute), to measure a change to the linter.
"""

from __future__ import annotations

import argparse
import ast
import json
import linecache
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# flatten(start, end) has reshape's semantics (a view when it can, else a copy): TL102 covers it
RULES = {"repeat": "TL101", "reshape": "TL102", "flatten": "TL102", "view": "TL103", "expanded_write": "TL104"}
KIND_OF_CALL = {"repeat": "repeat", "reshape": "reshape", "flatten": "flatten", "reshape_as": "reshape",
                "view": "view", "view_as": "view"}


@dataclass
class Target:
    """One repository at a pinned commit, the folders to export and put on sys.path, and its models."""

    name: str  # census id
    repo: str
    commit: str
    paths: list[str]  # exported folders (relative to the repository root)
    sys_paths: list[str] = field(default_factory=lambda: [""])
    stubs: list[str] = field(default_factory=lambda: ["torchvision", "PIL"])
    models: dict[str, str] = field(default_factory=dict)  # id -> snippet defining run()
    extra: list[str] = field(default_factory=list)  # other targets whose trees go on sys.path too
    record: list[str] = field(default_factory=lambda: [""])  # only calls from files under these folders count


TIMM_COMMIT = "aa4b5850c1543fa488abf260f18390eda46cf85d"
TIMM_MODELS = [
    "vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224", "swin_tiny_patch4_window7_224",
    "swinv2_cr_tiny_ns_224", "convnext_atto", "resnet18", "efficientnet_b0", "beit_base_patch16_224",
    "maxvit_nano_rw_256", "coatnet_nano_rw_224", "coat_tiny", "cait_xxs24_224", "xcit_nano_12_p16_224",
    "pvt_v2_b0", "twins_svt_small", "levit_128s", "mobilevit_xxs", "crossvit_tiny_240", "tnt_s_patch16_224",
    "focalnet_tiny_srf", "nest_tiny", "poolformer_s12", "gcvit_xxtiny", "efficientformer_l1",
    "efficientvit_b0", "davit_tiny", "edgenext_xx_small", "hiera_tiny_224", "eva02_tiny_patch14_224",
    "volo_d1_224", "mvitv2_tiny", "fastvit_t8", "regnetx_002", "mixer_s16_224", "convmixer_768_32",
    "mobilenetv3_small_100", "ghostnet_100", "vit_small_patch16_rope_224", "vitamin_small_224",
    "tiny_vit_5m_224", "nextvit_small", "inception_next_tiny", "rdnet_tiny", "mambaout_femto",
    "caformer_s18", "efficientvit_m0", "mobilevitv2_050", "twins_pcpvt_small", "maxxvit_rmlp_nano_rw_256",
    "swinv2_tiny_window8_256", "efficientformerv2_s0", "vit_little_patch16_reg4_gap_256", "resnest14d",
    "levit_conv_128s", "crossvit_9_240", "starnet_s1", "mobilenetv4_conv_small", "hgnetv2_b0", "repvit_m1",
    "fastvit_mci0", "coatnet_0_rw_224", "beitv2_base_patch16_224", "test_vit", "test_convnext",
    "test_efficientnet", "test_byobnet", "vit_small_patch14_reg4_dinov2", "naflexvit_base_patch16_gap",
    "csatv2", "shvit_s1", "fasternet_t0", "ghostnetv3_050", "swiftformer_xs", "tresnet_m", "inception_v3",
    "vit_relpos_small_patch16_224", "flexivit_small", "sequencer2d_s", "res2net50_14w_8s", "skresnet18",
    "dla34", "densenet121", "hrnet_w18_small", "cspdarknet53", "botnet26t_256", "halonet26t",
    "lambda_resnet26t", "visformer_tiny", "pit_ti_224", "convit_tiny", "deit3_small_patch16_224",
]
TIMM_SNIPPET = """
import timm, torch
def run():
    model = timm.create_model({name!r}, pretrained=False, num_classes=10).eval()
    cfg = model.pretrained_cfg
    c, h, w = cfg.get("input_size", (3, 224, 224))
    if not cfg.get("fixed_input_size", False) and min(h, w) > 64:
        h = w = SMALLEST.get({name!r}, 64)
    with torch.no_grad():
        model(torch.randn(2, c, h, w))
SMALLEST = {{"hrnet_w18_small": 128, "cspdarknet53": 128, "inception_v3": 128, "halonet26t": 256}}
"""

DIFFUSERS_MODELS = {
    "unet2d_condition": """
from diffusers import UNet2DConditionModel
def run():
    model = UNet2DConditionModel(block_out_channels=(8, 16), norm_num_groups=4, layers_per_block=1,
                                 down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=8,
                                 attention_head_dim=2, in_channels=4, out_channels=4, sample_size=16).eval()
    with torch.no_grad():
        model(torch.randn(2, 4, 16, 16), torch.tensor([10]), encoder_hidden_states=torch.randn(2, 4, 8))
""",
    "unet2d": """
from diffusers import UNet2DModel
def run():
    model = UNet2DModel(block_out_channels=(8, 16), norm_num_groups=4, layers_per_block=1, sample_size=16,
                        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                        attention_head_dim=4).eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 16, 16), torch.tensor([10, 20]))
""",
    "autoencoder_kl": """
from diffusers import AutoencoderKL
def run():
    model = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                          norm_num_groups=4,
                          down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2).eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
""",
    "dit_transformer2d": """
from diffusers import DiTTransformer2DModel
def run():
    model = DiTTransformer2DModel(in_channels=4, out_channels=8, num_attention_heads=2, attention_head_dim=4,
                                  num_layers=1, patch_size=2, sample_size=8).eval()
    with torch.no_grad():
        model(torch.randn(2, 4, 8, 8), timestep=torch.tensor([3, 9]), class_labels=torch.tensor([1, 2]))
""",
    "pixart_transformer2d": """
from diffusers import PixArtTransformer2DModel
def run():
    model = PixArtTransformer2DModel(sample_size=8, num_layers=1, patch_size=2, attention_head_dim=4,
                                     num_attention_heads=2,
                                     in_channels=4, cross_attention_dim=8, out_channels=8, caption_channels=16).eval()
    with torch.no_grad():
        model(torch.randn(2, 4, 8, 8), encoder_hidden_states=torch.randn(2, 5, 16), timestep=torch.tensor([3, 9]),
              added_cond_kwargs={"resolution": None, "aspect_ratio": None})
""",
    "sd3_transformer": """
from diffusers import SD3Transformer2DModel
def run():
    model = SD3Transformer2DModel(sample_size=16, patch_size=2, in_channels=4, num_layers=2, attention_head_dim=8,
                                  num_attention_heads=4, caption_projection_dim=32, joint_attention_dim=32,
                                  pooled_projection_dim=64, out_channels=4, pos_embed_max_size=32).eval()
    with torch.no_grad():
        model(torch.randn(2, 4, 16, 16), encoder_hidden_states=torch.randn(2, 7, 32),
              pooled_projections=torch.randn(2, 64), timestep=torch.tensor([3, 9]))
""",
    "flux_transformer": """
from diffusers import FluxTransformer2DModel
def run():
    model = FluxTransformer2DModel(patch_size=1, in_channels=4, num_layers=1, num_single_layers=1,
                                   attention_head_dim=16,
                                   num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
                                   axes_dims_rope=[4, 4, 8]).eval()
    with torch.no_grad():
        model(torch.randn(2, 16, 4), encoder_hidden_states=torch.randn(2, 6, 32), pooled_projections=torch.randn(2, 32),
              img_ids=torch.randn(16, 3), txt_ids=torch.randn(6, 3), timestep=torch.tensor([1.0, 0.5]))
""",
    "vq_model": """
from diffusers import VQModel
def run():
    model = VQModel(block_out_channels=(8, 16), norm_num_groups=4, in_channels=3, out_channels=3, latent_channels=3,
                    down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2).eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
""",
}
DIFFUSERS_MODELS = {k: "import torch\n" + v for k, v in DIFFUSERS_MODELS.items()}
# Models whose own test configuration (tests/models/<folder>/test_models_<name>.py, a *TesterConfig with
# get_init_dict() and get_dummy_inputs()) builds and runs on CPU in a few seconds.
DIFFUSERS_TESTED = {
    "autoencoders": (
        "autoencoder_cosmos3_audio autoencoder_dc autoencoder_hunyuan_video autoencoder_kl "
        "autoencoder_kl_cogvideox autoencoder_kl_kvae autoencoder_kl_ltx2_audio autoencoder_kl_minimax_h3 "
        "autoencoder_kl_minimax_h3_audio autoencoder_kl_temporal_decoder autoencoder_ltx2_video "
        "autoencoder_ltx_video autoencoder_magvit autoencoder_mochi autoencoder_oobleck autoencoder_rae "
        "autoencoder_same autoencoder_tiny consistency_decoder_vae vq "
    ).split(),
    "transformers": (
        "dit_transformer2d pixart_transformer2d prior transformer_ace_step transformer_allegro "
        "transformer_anyflow transformer_aura_flow transformer_bria "
        "transformer_bria_fibo transformer_chroma transformer_chronoedit transformer_cogvideox "
        "transformer_cogview3plus transformer_cogview4 transformer_consisid transformer_cosmos3 "
        "transformer_easyanimate transformer_ernie_image transformer_flux transformer_flux2 "
        "transformer_glm_image transformer_helios transformer_hidream transformer_hunyuan_1_5 "
        "transformer_hunyuan_dit transformer_hunyuan_video transformer_hunyuan_video_framepack "
        "transformer_ideogram4 transformer_joyimage transformer_joyimage_edit_plus transformer_krea2 "
        "transformer_latte transformer_longcat_audio_dit transformer_longcat_image transformer_ltx "
        "transformer_ltx2 transformer_lumina transformer_lumina2 transformer_minimax_h3 "
        "transformer_minimax_music3 transformer_mochi transformer_motif_video "
        "transformer_nucleusmoe_image transformer_omnigen transformer_ovis_image transformer_qwenimage "
        "transformer_sana transformer_sana_video transformer_sd3 transformer_skyreels_v2 "
        "transformer_stable_audio3 transformer_temporal transformer_wan transformer_wan_animate_2 "
        "transformer_wan_vace transformer_z_image "
    ).split(),
    "unets": (
        "unet_1d unet_2d unet_3d_condition unet_controlnetxs unet_motion "
    ).split(),
}
DIFFUSERS_TESTED_SNIPPET = """
import importlib, torch
def run():
    module = importlib.import_module("tests.models.{folder}.test_models_{name}")
    config = next(v for k, v in vars(module).items() if k.endswith("TesterConfig") and isinstance(v, type)
                  and v.__module__ == module.__name__)()
    model = config.model_class(**config.get_init_dict()).eval()
    with torch.no_grad():
        model(**config.get_dummy_inputs())
"""
DIFFUSERS_MODELS.update({name: DIFFUSERS_TESTED_SNIPPET.format(folder=folder, name=name)
                         for folder, names in DIFFUSERS_TESTED.items() for name in names})

VIT_PYTORCH = [  # (id, module, class, constructor arguments, image size; None: a NaViT list of images)
    ("vit", "vit", "ViT", "image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, heads=4, mlp_dim=64", 32),
    ("simple_vit", "simple_vit", "SimpleViT",
     "image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, heads=4, mlp_dim=64", 32),
    ("cait", "cait", "CaiT",
     "image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, cls_depth=1, heads=4, mlp_dim=64", 32),
    ("cross_vit", "cross_vit", "CrossViT",
     "image_size=32, num_classes=10, depth=1, sm_dim=32, sm_patch_size=8, sm_enc_depth=1, sm_enc_heads=2, "
     "sm_enc_mlp_dim=64, lg_dim=32, lg_patch_size=16, lg_enc_depth=1, lg_enc_heads=2, lg_enc_mlp_dim=64, "
     "cross_attn_depth=1, cross_attn_heads=2", 32),
    ("t2t", "t2t", "T2TViT",
     "dim=32, image_size=64, depth=2, heads=2, mlp_dim=64, num_classes=10, t2t_layers=((7, 4), (3, 2), (3, "
     "2))", 32),
    ("cvt", "cvt", "CvT", "num_classes=10", 64),
    ("max_vit", "max_vit", "MaxViT",
     "num_classes=10, dim_conv_stem=16, dim=16, dim_head=8, depth=(1, 1), window_size=4", 32),
    ("nest", "nest", "NesT",
     "image_size=32, patch_size=4, dim=32, heads=2, num_hierarchies=2, block_repeats=(1, 1), "
     "num_classes=10", 32),
    ("twins_svt", "twins_svt", "TwinsSVT", "num_classes=10", 224),
    ("regionvit", "regionvit", "RegionViT",
     "dim=(16, 32, 64, 128), depth=(1, 1, 1, 1), window_size=2, num_classes=10", 64),
    ("crossformer", "crossformer", "CrossFormer", "num_classes=10, depth=(1, 1, 1, 1)", 224),
    ("sep_vit", "sep_vit", "SepViT", "num_classes=10, dim=16, dim_head=8, heads=(1, 2, 4, 8), depth=(1, 1, 1, 1)", 224),
    ("xcit", "xcit", "XCiT",
     "image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, cls_depth=1, heads=4, mlp_dim=64, "
     "local_patch_kernel_size=3", 32),
    ("mobile_vit", "mobile_vit", "MobileViT",
     "image_size=(64, 64), dims=[16, 24, 32], channels=[8, 8, 12, 12, 16, 16, 24, 24, 32, 32, 64], "
     "num_classes=10", 64),
    ("levit", "levit", "LeViT",
     "image_size=64, num_classes=10, stages=3, dim=(32, 48, 64), depth=1, heads=(2, 2, 2), mlp_mult=2", 64),
    ("pit", "pit", "PiT",
     "image_size=32, patch_size=4, dim=32, num_classes=10, depth=(1, 1, 1), heads=2, mlp_dim=64", 32),
    ("deepvit", "deepvit", "DeepViT",
     "image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, heads=4, mlp_dim=64", 32),
    ("cct", "cct", "CCT",
     "img_size=32, embedding_dim=32, n_conv_layers=1, kernel_size=3, stride=2, padding=1, "
     "pooling_kernel_size=3, pooling_stride=2, pooling_padding=1, num_layers=2, num_heads=2, mlp_ratio=2., "
     "num_classes=10", 32),
    ("scalable_vit", "scalable_vit", "ScalableViT",
     "num_classes=10, dim=16, heads=(1, 2, 4, 8), depth=(1, 1, 1, 1), ssa_dim_key=(8, 8, 8, 8), "
     "reduction_factor=(4, 2, 1, 1), window_size=(2, 2, None, None)", 64),
    ("rvt", "rvt", "RvT", "image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, heads=4, mlp_dim=64", 32),
    ("vit_with_patch_merger", "vit_with_patch_merger", "ViT",
     "image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, heads=4, mlp_dim=64, "
     "patch_merge_layer=1, patch_merge_num_tokens=4", 32),
    ("na_vit", "na_vit", "NaViT",
     "image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, heads=4, mlp_dim=64", None),
]
VIT_PYTORCH_SNIPPET = """
import torch
from vit_pytorch.{module} import {cls}
def run():
    model = {cls}({arguments}).eval()
    size = {size}
    if size is None:
        batch = [[torch.randn(3, 32, 32), torch.randn(3, 16, 24)], [torch.randn(3, 24, 16)]]
    else:
        batch = torch.randn(2, 3, size, size)
    with torch.no_grad():
        model(batch)
"""

TARGETS = [
    Target("timm", "huggingface/pytorch-image-models", TIMM_COMMIT, ["timm"],
           models={n: TIMM_SNIPPET.format(name=n) for n in TIMM_MODELS}),
    Target("dit", "facebookresearch/DiT", "ed81ce2229091fd4ecc9a223645f95cf379d582b", ["models.py"],
           extra=["timm"], models={"DiT-S/8": """
import torch
from models import DiT_models
def run():
    model = DiT_models["DiT-S/8"](input_size=16, num_classes=10).eval()
    with torch.no_grad():
        model(torch.randn(2, 4, 16, 16), torch.tensor([1, 5]), torch.tensor([3, 7]))
        model.forward_with_cfg(torch.randn(2, 4, 16, 16), torch.tensor([1, 5]), torch.tensor([3, 10]), 4.0)
"""}),
    Target("dinov2", "facebookresearch/dinov2", "b8931f7bf91576930313be2c6d6af376033b35f0", ["dinov2"],
           models={"vit_small_14": """
import torch
from dinov2.models.vision_transformer import vit_small
def run():
    model = vit_small(patch_size=14, img_size=56, num_register_tokens=4, block_chunks=0).eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 56, 56))
        model(torch.randn(2, 3, 70, 42))  # interpolated position embeddings
        model.get_intermediate_layers(torch.randn(2, 3, 56, 56), n=2, reshape=True)
"""}),
    Target("nanogpt", "karpathy/nanoGPT", "3adf61e154c3fe3fca428ad6bc3818b27a3b8291", ["model.py"],
           models={"gpt": """
import torch
from model import GPT, GPTConfig
def run():
    model = GPT(GPTConfig(block_size=32, vocab_size=100, n_layer=2, n_head=4, n_embd=32, dropout=0.0))
    idx = torch.randint(0, 100, (2, 16))
    model(idx, idx)
    model.eval()
    with torch.no_grad():
        model.generate(idx, 3, top_k=5)
"""}),
    Target("mingpt", "karpathy/minGPT", "37baab71b9abea1b76ab957409a1cc2fbfba8a26", ["mingpt"],
           models={"gpt-nano": """
import torch
from mingpt.model import GPT
def run():
    config = GPT.get_default_config()
    config.model_type = "gpt-nano"
    config.vocab_size = 100
    config.block_size = 32
    model = GPT(config)
    idx = torch.randint(0, 100, (2, 16))
    model(idx, idx)
    model.eval()
    with torch.no_grad():
        model.generate(idx, 3, do_sample=True, top_k=5)
"""}),
    Target("vit-pytorch", "lucidrains/vit-pytorch", "69d24fe9e3024c0d4b02761123b8583a24ebed1e", ["vit_pytorch"],
           models={key: VIT_PYTORCH_SNIPPET.format(module=module, cls=cls, arguments=arguments, size=size)
                   for key, module, cls, arguments, size in VIT_PYTORCH}),
    Target("guided-diffusion", "openai/guided-diffusion", "22e0df8183507e13a7813f8d38d51b072ca1e67c",
           ["guided_diffusion"], stubs=["torchvision", "PIL", "mpi4py", "blobfile"], models={"unet": """
import torch
from guided_diffusion.unet import UNetModel, EncoderUNetModel
def run():
    model = UNetModel(image_size=16, in_channels=3, model_channels=32, out_channels=6, num_res_blocks=1,
                      attention_resolutions=(2, 4), channel_mult=(1, 2, 2), num_heads=2, num_classes=10,
                      resblock_updown=True, use_scale_shift_norm=True).eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 16, 16), torch.tensor([3, 7]), y=torch.tensor([1, 2]))
    legacy = UNetModel(image_size=16, in_channels=3, model_channels=32, out_channels=3, num_res_blocks=1,
                       attention_resolutions=(2,), channel_mult=(1, 2), num_head_channels=16,
                       use_new_attention_order=True).eval()
    with torch.no_grad():
        legacy(torch.randn(2, 3, 16, 16), torch.tensor([3, 7]))
    enc = EncoderUNetModel(image_size=16, in_channels=3, model_channels=32, out_channels=5, num_res_blocks=1,
                           attention_resolutions=(2,), channel_mult=(1, 2), num_head_channels=16,
                           pool="attention").eval()
    with torch.no_grad():
        enc(torch.randn(2, 3, 16, 16), torch.tensor([3, 7]))
"""}),
    Target("diffusers", "huggingface/diffusers", "58eb52c0803ea9af3abec60841c2a093bdf1f951", ["src/diffusers", "tests"],
           sys_paths=["src", ""],
           stubs=["torchvision", "accelerate", "parameterized", "datasets", "peft", "requests_mock"],
           record=["src/"], models=DIFFUSERS_MODELS),
    Target("ddpm", "lucidrains/denoising-diffusion-pytorch", "faed4db28e724735323fa91c70aa9b28a6e1cbac",
           ["denoising_diffusion_pytorch"], stubs=["torchvision", "PIL", "ema_pytorch", "accelerate",
                                                   "pytorch_fid", "scipy"], models={
               "unet_gaussian": """
import torch
from denoising_diffusion_pytorch import Unet, GaussianDiffusion
def run():
    model = Unet(dim=8, dim_mults=(1, 2), flash_attn=False, full_attn=(False, True), attn_dim_head=4, attn_heads=2)
    diffusion = GaussianDiffusion(model, image_size=16, timesteps=10, sampling_timesteps=2)
    diffusion(torch.rand(2, 3, 16, 16))
    with torch.no_grad():
        diffusion.sample(batch_size=2)
""",
               "unet1d": """
import torch
from denoising_diffusion_pytorch import Unet1D, GaussianDiffusion1D
def run():
    model = Unet1D(dim=8, dim_mults=(1, 2), channels=2, attn_dim_head=4, attn_heads=2)
    diffusion = GaussianDiffusion1D(model, seq_length=16, timesteps=10, sampling_timesteps=2)
    diffusion(torch.rand(2, 2, 16))
""",
               "karras_unet": """
import torch
from denoising_diffusion_pytorch.karras_unet import KarrasUnet
def run():
    model = KarrasUnet(image_size=16, dim=8, dim_max=16, num_classes=4, channels=3, num_downsamples=2,
                       num_blocks_per_stage=1, attn_res=(8,), attn_dim_head=4).eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 16, 16), time=torch.rand(2), class_labels=torch.tensor([0, 2]))
""",
           }),
    Target("llms-from-scratch", "rasbt/LLMs-from-scratch", "28c65cdfbc3338e2e040016eea4b7fdf556e4d57",
           ["pkg/llms_from_scratch"], sys_paths=["pkg"], stubs=["tiktoken", "requests", "tokenizers"], models={
               "gpt": """
import torch
from llms_from_scratch.ch04 import GPTModel
def run():
    cfg = dict(vocab_size=100, context_length=16, emb_dim=32, n_heads=4, n_layers=2, drop_rate=0.0, qkv_bias=False)
    with torch.no_grad():
        GPTModel(cfg).eval()(torch.randint(0, 100, (2, 8)))
""",
               "llama3": """
import torch
from llms_from_scratch.llama3 import Llama3Model
def run():
    cfg = dict(vocab_size=100, context_length=16, emb_dim=32, n_heads=4, n_layers=2, hidden_dim=64, n_kv_groups=2,
               rope_base=10000.0, rope_freq=None, dtype=torch.float32)
    with torch.no_grad():
        Llama3Model(cfg).eval()(torch.randint(0, 100, (2, 8)))
""",
               "qwen3": """
import torch
from llms_from_scratch.qwen3 import Qwen3Model
def run():
    cfg = dict(vocab_size=100, context_length=16, emb_dim=32, n_heads=4, n_layers=2, hidden_dim=64, head_dim=8,
               qk_norm=True, n_kv_groups=2, rope_base=10000.0, dtype=torch.float32, num_experts=0,
               num_experts_per_tok=0, moe_intermediate_size=0)
    with torch.no_grad():
        Qwen3Model(cfg).eval()(torch.randint(0, 100, (2, 8)))
""",
           }),
    Target("clip", "openai/CLIP", "d05afc436d78f1c48dc0dbf8e5980a9d471f35f6", ["clip"],
           sys_paths=["clip"], models={"clip-vit": """
import torch
from model import CLIP
def run():
    for layers in (2, (1, 1, 1, 1)):
        model = CLIP(embed_dim=32, image_resolution=64 if layers != 2 else 32, vision_layers=layers, vision_width=64,
                     vision_patch_size=8, context_length=16, vocab_size=100, transformer_width=32,
                     transformer_heads=2, transformer_layers=2).eval()
        with torch.no_grad():
            size = 64 if layers != 2 else 32
            model(torch.randn(2, 3, size, size), torch.randint(0, 100, (2, 16)))
"""}),
]



# ---------------------------------------------------------------------------------------------------
# The traced side (runs in the worker subprocess; imports torch, never torchlint)
# ---------------------------------------------------------------------------------------------------

_NOT_DATA_WRITES = {"requires_grad_", "share_memory_", "set_", "resize_", "resize_as_", "as_strided_",
                    "squeeze_", "unsqueeze_", "transpose_", "t_", "swapaxes_", "swapdims_", "detach_",
                    "retain_grad", "record_stream"}
_INPLACE_DUNDERS = {"__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__",
                    "__imod__", "__ipow__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__"}
_EXPANDERS = {"expand", "expand_as", "broadcast_to"}


def _is_inplace_name(name: str) -> bool:
    return (name.endswith("_") and not name.startswith("_") and name not in _NOT_DATA_WRITES) or (
        name in _INPLACE_DUNDERS)


class CallSites:
    """Map a caller frame to (file, line, column) of the called method's name, from the bytecode."""

    def __init__(self, root: str, record: tuple[str, ...] = ("",)) -> None:
        self.root = os.path.realpath(root) + os.sep
        self.record = record
        self._code: dict = {}
        self._files: dict[str, str | None] = {}

    def relpath(self, filename: str) -> str | None:
        cached = self._files.get(filename)
        if cached is None and filename not in self._files:
            real = os.path.realpath(filename)
            cached = real[len(self.root):] if real.startswith(self.root) else None
            if cached is not None and not cached.startswith(self.record):
                cached = None
            self._files[filename] = cached
        return cached

    def source(self, site: tuple) -> str:
        """The source lines of a call site (its first to its last line)."""
        filename = os.path.join(self.root, site[0])
        return "".join(linecache.getline(filename, number) for number in range(site[3], site[4] + 1))

    def site(self, frame) -> tuple[int, int, int, int]:
        """(line, column, first line, last line) of the call now executing in `frame`.

        Python 3.11 places a method call at its method name (a chain spanning several lines is
        attributed to the line of `.reshape(`, where the rules report it); the span runs to the
        call's closing parenthesis.
        """
        code = frame.f_code
        positions = self._code.get(code)
        if positions is None:
            positions = self._code[code] = list(code.co_positions()) if hasattr(code, "co_positions") else []
        index = frame.f_lasti // 2  # one entry per 2-byte code unit
        line = frame.f_lineno
        if index < len(positions) and positions[index][0] is not None:
            _, end, col, _ = positions[index]
            return line, col or 0, line, max(end or line, line)
        return line, 0, line, line


@dataclass
class RepeatObs:
    site: tuple
    in_shape: tuple
    sizes: tuple
    expandable: bool
    equal: bool | None
    expanded: object = None  # the expand() equivalent, to replay later reshapes on
    written: bool = False
    later_copy: str | None = None  # the later call that would copy (or raise) on the expanded tensor
    later_reshape: str | None = None  # a later reshape-like call that is a view of the expanded tensor


class Census:
    """Per-site counters for one worker, filled by the two modes below."""

    def __init__(self, root: str, record: tuple[str, ...] = ("",)) -> None:
        self.calls = CallSites(root, record)
        self.sites: dict[tuple, dict] = {}
        self.repeats: list[RepeatObs] = []
        self.busy = 0  # >0 while the tracer measures: its own ops are not the program's
        self.repeat_storages: dict[int, list] = defaultdict(list)  # data_ptr -> [(weakref, RepeatObs)]
        self.repeat_outputs: dict[int, tuple] = {}  # id(out) -> (weakref(out), RepeatObs)
        self.expanded: dict[int, tuple] = {}  # id(t) -> (weakref(t), expand site)
        self.twins: dict[int, tuple] = {}  # id(t) -> (weakref(t), its counterfactual from a grown replay)

    def entry(self, site: tuple, kind: str) -> dict:
        key = (site[0], site[1], site[2], kind)  # two calls of a kind on one line are two sites
        record = self.sites.get(key)
        if record is None:
            record = self.sites[key] = {"path": site[0], "line": site[1], "col": site[2] + 1,
                                        "span": [site[3], site[4]], "kind": kind, "calls": 0,
                                        "positives": 0, "examples": []}
        return record

    def note(self, record: dict, positive: bool, example: str | None = None) -> None:
        record["calls"] += 1
        record["positives"] += int(positive)
        if example and len(record["examples"]) < 3 and example not in record["examples"]:
            record["examples"].append(example)

    def settle_repeats(self) -> None:
        """Judge the repeat calls of the model just run (their results are no longer used)."""
        for obs in self.repeats:
            record = self.entry(obs.site, "repeat")
            clean = obs.expandable and not obs.written and obs.later_copy is None and obs.later_reshape is None
            why = ("expand-equivalent" if clean else "not expandable" if not obs.expandable
                   else "result written in place" if obs.written
                   else f"later {obs.later_copy} copies (or raises) on the expanded tensor" if obs.later_copy
                   else f"later {obs.later_reshape}: a view of the expanded tensor at these sizes only")
            self.note(record, clean, f"{list(obs.in_shape)}.repeat{tuple(obs.sizes)}: {why}")
            record.setdefault("not_expandable", 0)
            record["not_expandable"] += int(not obs.expandable)
            record.setdefault("written", 0)
            record["written"] += int(obs.expandable and obs.written)
            record.setdefault("later_copy", 0)
            record["later_copy"] += int(obs.expandable and not obs.written and obs.later_copy is not None)
            record.setdefault("later_reshape", 0)
            record["later_reshape"] += int(obs.expandable and not obs.written and obs.later_copy is None
                                           and obs.later_reshape is not None)
            record.setdefault("unequal", 0)
            record["unequal"] += int(obs.equal is False)
        self.repeats.clear()
        self.repeat_storages.clear()
        self.repeat_outputs.clear()
        self.expanded.clear()
        self.twins.clear()


def _storage_ptr(tensor) -> int | None:
    try:
        return tensor.untyped_storage().data_ptr()
    except Exception:  # sparse, meta, tensor subclasses without storage
        return None


# ---------------------------------------------------------------------------------------------------
# Size-1 dims grown to 2: does a reshape that is a view only because a dim has size 1 copy at size 2?
# ---------------------------------------------------------------------------------------------------
# torch ignores the stride of a size-1 dim (`is_contiguous` and `computeStride` skip it), so a tiny
# configuration (batch 1, one frame, patch size 1) can make a merge of dims that are not adjacent in
# memory a view. The tracer replays such a call on a counterfactual input: the same rank, memory order
# and gaps, with each size-1 dim grown to 2 at the place in memory it would take.
#
# Where a size-1 dim sits in memory is read from its stride, but only when that stride marks a
# boundary of the memory order of the other dims: the dims larger than 1, sorted by stride (outer
# first), leave slots between them; the slot between `outer` and `inner` is marked by stride(outer)
# (the size-1 dim packed against `outer`) or stride(inner) * size(inner) (packed against `inner`);
# the innermost slot by 1, the outermost by the extent of the outermost dim (or more: a gap). Those
# are the strides torch's producers give a size-1 dim: an allocation in any memory format, a permute
# of one, `unsqueeze`/`None` indexing, `view`/`reshape` (computeStride packs a size-1 output dim
# against its chunk), a slice `x[:, :1]` of a wider dim, element-wise ops (TensorIterator sorts by
# stride). A stride that marks no boundary (set by `as_strided`, or by an op that leaves it
# unspecified) places nothing: that dim is not grown and the call records it (`unplaced`). Several
# size-1 dims on one boundary have no order among them: the replay tries every order and decides only
# when they agree. A tensor that a replayed call returned (or a permute/transpose/contiguous/unsqueeze
# of it) is not placed from its strides: its counterfactual is the replay's own result (its `twin`),
# since at size 2 the call that produced it may have copied, which changes the layout downstream.
# A size-1 input dim that a reshape writes as the literal 1 in its target (`reshape(B, 1, C)` of one
# class token) is 1 at every configuration: it is not grown (`grown_pinned` when nothing else is).

_MAX_ORDERS = 24  # orders of tied size-1 dims tried per call
_MAX_GROWN_BYTES = 1 << 24
_FORMAT_OPS = {"contiguous", "to"}
_TWIN_OPS = {"permute", "transpose", "swapaxes", "swapdims", "movedim", "moveaxis", "t", "contiguous", "unsqueeze"}


@dataclass(frozen=True)
class Placement:
    """Counterfactual layouts of one input: every order of the tied size-1 dims gives one (shape, strides)."""

    layouts: list  # [(shape, strides)] with the grown dims at size 2
    grown: tuple[int, ...]  # the size-1 dims grown
    unplaced: tuple[int, ...]  # the size-1 dims left at size 1: their stride marks no place in memory


def place_size_one_dims(shape: tuple[int, ...], strides: tuple[int, ...], pinned: frozenset = frozenset()
                        ) -> Placement | str:
    """Grow each size-1 dim whose stride places it in memory (not those `pinned` at 1); else a reason string."""
    from itertools import permutations, product

    if 0 in shape:
        return "empty input"
    big = sorted((d for d, n in enumerate(shape) if n != 1), key=lambda d: -strides[d])  # outer -> inner
    ones = [d for d, n in enumerate(shape) if n == 1 and d not in pinned]
    if not ones:
        return "every size-1 dim is pinned at 1 by the call"
    if not big:
        return "no dim larger than 1 to place the size-1 dims against"
    if any(strides[o] < strides[i] * shape[i] for o, i in zip(big, big[1:])) or strides[big[-1]] < 1:
        return "overlapping input (an expanded or self-overlapping layout)"
    m = len(big)

    def bounds(k: int) -> tuple[int | None, int]:  # slot k lies between big[k - 1] (outer) and big[k] (inner)
        return (strides[big[k - 1]] if k else None), (strides[big[k]] * shape[big[k]] if k < m else 1)

    ties: dict[tuple, list[int]] = defaultdict(list)  # (slot, side, stride) -> size-1 dims, no order among them
    unplaced = []
    for d in ones:
        t = strides[d]
        for k in range(m + 1):
            outer, inner = bounds(k)
            if t == inner:
                ties[(k, 0, t)].append(d)  # packed against the inner dim (a gap, if any, lies outside it)
                break
            if t == outer or (outer is None and t > inner):
                ties[(k, 1, t)].append(d)  # packed against the outer dim (a gap lies inside it)
                break
        else:
            unplaced.append(d)
    if not ties:
        return "no size-1 dim has a stride that places it in memory"
    keys = sorted(ties)
    orders = 1
    for key in keys:
        for n in range(2, len(ties[key]) + 1):
            orders *= n
    if orders > _MAX_ORDERS:
        return f"{orders} orders of the size-1 dims that share a place in memory"
    grown_shape = tuple(2 if any(d in dims for dims in ties.values()) else n for d, n in enumerate(shape))
    layouts = []
    for choice in product(*(permutations(ties[key]) for key in keys)):
        chosen = dict(zip(keys, choice))  # each tuple lists its dims outer -> inner
        new = list(strides)
        extent = 1
        for k in range(m, -1, -1):
            outer, inner = bounds(k)
            for key in sorted(key for key in chosen if key[0] == k):
                if key[1] == 1:  # the gap between the slot's two dims lies inside the dims packed outward
                    extent += (outer - inner) if outer is not None else 1
                    if outer is not None:
                        outer = inner  # the gap is spent
                for d in reversed(chosen[key]):
                    new[d] = extent
                    extent *= 2
            if k:
                if outer is not None:
                    extent += outer - inner
                new[big[k - 1]] = extent
                extent *= shape[big[k - 1]]
        layouts.append((grown_shape, tuple(new)))
    return Placement(layouts, tuple(sorted(d for dims in ties.values() for d in dims)), tuple(unplaced))


def group_dims(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[tuple[list[int], list[int]]] | None:
    """Input dims and the output dims they become, grouped by size products as torch's computeStride does.

    Walking both shapes from the innermost dim, a group closes when the products agree, never just
    before a size-1 input dim (it joins the group inside it), and takes the size-1 output dims at its
    outer end; a trailing size-1 input dim that no output dim matches joins the group outside it.
    """
    groups: list[tuple[list[int], list[int]]] = []
    view_d = len(out_shape) - 1
    tensor_numel = view_numel = 1
    in_dims: list[int] = []
    out_dims: list[int] = []
    for tensor_d in range(len(in_shape) - 1, -1, -1):
        tensor_numel *= in_shape[tensor_d]
        in_dims.append(tensor_d)
        if tensor_d == 0 or in_shape[tensor_d - 1] != 1:
            while view_d >= 0 and (view_numel < tensor_numel or out_shape[view_d] == 1):
                view_numel *= out_shape[view_d]
                out_dims.append(view_d)
                view_d -= 1
            if view_numel == tensor_numel:
                groups.append((sorted(in_dims), sorted(out_dims)))
                in_dims, out_dims, tensor_numel, view_numel = [], [], 1, 1
    if in_dims or view_d >= 0 or not groups:
        return None
    merged: list[tuple[list[int], list[int]]] = []
    for ins, outs in groups:  # innermost first
        if merged and not merged[-1][1]:
            merged[-1] = (sorted(merged[-1][0] + ins), outs)
        else:
            merged.append((ins, outs))
    if not merged[-1][1]:
        return None
    return merged


def grown_target(in_shape: tuple[int, ...], grown_in: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple | None:
    """The output shape of the same reshape on the grown input: each group's output grows by its input's growth.

    A grown size-1 input dim goes to a size-1 output dim of its group (in order), else to the group's
    outermost output dim larger than 1; growth of a dim larger than 1 (a replayed twin's) needs a group
    with one output dim. None when the growth has no single place.
    """
    groups = group_dims(tuple(in_shape), tuple(out_shape))
    if groups is None:
        return None
    target = list(out_shape)
    for ins, outs in groups:
        ones_out = [d for d in outs if out_shape[d] == 1]
        big_out = [d for d in outs if out_shape[d] != 1]
        for d in ins:
            if in_shape[d] == 1 and ones_out:  # paired in order, grown or not (as `pinned_inputs` pairs them)
                target[ones_out.pop(0)] *= grown_in[d]
                continue
            if grown_in[d] == in_shape[d]:
                continue
            if grown_in[d] % in_shape[d]:
                return None
            factor = grown_in[d] // in_shape[d]
            if in_shape[d] == 1 and big_out:
                target[big_out[0]] *= factor
            elif len(outs) == 1:
                target[outs[0]] *= factor
            else:
                return None
    return tuple(target)


_RESHAPE_CALL = re.compile(r"\.(?:reshape|view)\(")


def literal_one_dims(source: str, rank: int) -> frozenset:
    """Output dims that a `.reshape(...)`/`.view(...)` of `rank` sizes in `source` writes as the literal 1.

    Such a dim is 1 at every configuration (`reshape(B, 1, C)` of one class token): the input dim it
    takes cannot grow, so the replay leaves it at 1. Every such call in the source counts (a line
    rarely holds two reshapes of one rank).
    """
    pinned: set[int] = set()
    for match in _RESHAPE_CALL.finditer(source):
        depth, end = 1, match.end()
        while end < len(source) and depth:
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            end += 1
        try:
            call = ast.parse("f(" + source[match.end():end], mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(call, ast.Call):
            continue
        sizes = call.args
        if len(sizes) == 1 and isinstance(sizes[0], (ast.Tuple, ast.List)):
            sizes = sizes[0].elts
        if len(sizes) != rank or any(isinstance(a, ast.Starred) for a in sizes):
            continue
        pinned |= {j for j, a in enumerate(sizes) if isinstance(a, ast.Constant) and a.value == 1}
    return frozenset(pinned)


def pinned_inputs(in_shape: tuple[int, ...], out_shape: tuple[int, ...], pinned_out: frozenset) -> frozenset:
    """The size-1 input dims that go to pinned size-1 output dims (paired in order within their group)."""
    groups = group_dims(tuple(in_shape), tuple(out_shape)) if pinned_out else None
    pinned: set[int] = set()
    for ins, outs in groups or ():
        for d, j in zip([d for d in ins if in_shape[d] == 1], [j for j in outs if out_shape[j] == 1]):
            if j in pinned_out:
                pinned.add(d)
    return frozenset(pinned)


@dataclass
class GrownReplay:
    """What the same call did on the grown input: `copy`, `view`, or `unknown` (with the reason)."""

    verdict: str
    detail: str
    unplaced: int = 0  # size-1 dims left at size 1 (their stride places them nowhere)
    result: object = None  # the replay's result: the twin of the real call's output


def replay_grown(func, kind: str, receiver, args: tuple, kwargs: dict, out, twin=None,
                 pinned_out: frozenset = frozenset()) -> GrownReplay:
    """Replay a reshape/flatten call that returned a view on its counterfactual input (see above).

    `pinned_out`: output dims the call writes as the literal 1; the input dims they take stay at 1.
    """
    import torch

    base = twin if twin is not None and twin.dim() == receiver.dim() else receiver
    pinned = pinned_inputs(tuple(receiver.shape), tuple(out.shape), pinned_out) if base is receiver else frozenset()
    placed = place_size_one_dims(tuple(base.shape), tuple(base.stride()), pinned)
    if isinstance(placed, str) and pinned and not any(
            n == 1 and d not in pinned for d, n in enumerate(receiver.shape)):
        return GrownReplay("pinned", placed)
    if isinstance(placed, str):
        if base is receiver:
            return GrownReplay("unknown", placed, sum(1 for n in receiver.shape if n == 1))
        placed = Placement([(tuple(base.shape), tuple(base.stride()))], (), ())
    verdicts, first = set(), None
    for shape, strides in placed.layouts:
        size = 1 + sum((n - 1) * s for n, s in zip(shape, strides))
        if size > _MAX_GROWN_BYTES:
            return GrownReplay("unknown", f"grown input needs {size} bytes", len(placed.unplaced))
        grown = torch.empty(size, dtype=torch.uint8).as_strided(shape, strides)
        if kind == "flatten":
            result = func(grown, *args[1:], **kwargs)
        else:
            target = grown_target(tuple(receiver.shape), shape, tuple(out.shape))
            if target is None:
                return GrownReplay("unknown", f"no single output dim takes the growth of {list(receiver.shape)} "
                                   f"-> {list(out.shape)}", len(placed.unplaced))
            result = grown.reshape(target)
        verdicts.add(_storage_ptr(result) != _storage_ptr(grown))
        if first is None:
            first = (grown, result)
    grown, result = first
    detail = f"grown {_describe(grown)} -> {list(result.shape)}"
    if len(verdicts) > 1:
        return GrownReplay("unknown", f"{detail}: copy or view depending on the order of tied size-1 dims",
                           len(placed.unplaced))
    return GrownReplay("copy" if verdicts.pop() else "view", detail, len(placed.unplaced), result)


def _make_modes(census: Census):
    import weakref

    import torch
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    torch_dir = os.path.dirname(torch.__file__) + os.sep
    this_file = os.path.realpath(__file__)

    def caller(depth: int):
        """The innermost frame that is neither torch's nor this file's, and its path in the tree."""
        frame = sys._getframe(depth)
        while frame is not None:
            filename = frame.f_code.co_filename
            if not filename.startswith(torch_dir) and os.path.realpath(filename) != this_file:
                return frame, census.calls.relpath(filename)
            frame = frame.f_back
        return None, None

    def immediate_caller(depth: int):
        """The frame that called torch (skipping torch's dispatch plumbing only), if it is the model's."""
        frame = sys._getframe(depth)
        while frame is not None and frame.f_code.co_filename.endswith(("overrides.py", "_python_dispatch.py")):
            frame = frame.f_back
        if frame is None:
            return None, None
        if frame.f_code.co_filename.startswith(torch_dir):
            return None, None
        return frame, census.calls.relpath(frame.f_code.co_filename)

    def tracked_expanded(tensors):
        for t in tensors:
            entry = census.expanded.get(id(t))
            if entry is not None and entry[0]() is t:
                return entry[1]
        return None

    class FunctionTracer(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            if census.busy:
                return func(*args, **kwargs)
            frame, path = immediate_caller(2)
            kind = KIND_OF_CALL.get(name)
            site = None
            if path is not None:
                line, col, start, end = census.calls.site(frame)
                site = (path, line, col, start, end)
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            receiver = tensors[0] if tensors else None
            if census.expanded and site is not None and receiver is not None:
                origin = tracked_expanded([receiver])
                out_kw = kwargs.get("out")
                if origin is None and isinstance(out_kw, torch.Tensor):
                    origin = tracked_expanded([out_kw])
                written = _is_inplace_name(name) or kwargs.get("inplace") is True or isinstance(out_kw, torch.Tensor)
                if origin is not None and written:
                    census.note(census.entry(site, "expanded_write"), True,
                                f"{name} into a tensor expanded at line {origin[1]}")
            if census.repeat_outputs and receiver is not None and name in (
                    "view", "reshape", "flatten", "contiguous", "view_as", "reshape_as"):
                self._replay_on_expanded(receiver, func, args[1:], kwargs, name)
            try:
                out = func(*args, **kwargs)
            except Exception as error:
                if kind == "view" and site is not None:
                    census.note(census.entry(site, "view"), True,
                                f"{_describe(receiver)}.view raised: {str(error).splitlines()[0][:160]}")
                raise
            if site is None or not isinstance(out, torch.Tensor):
                if census.expanded and isinstance(out, (tuple, list)) and receiver is not None:
                    origin = tracked_expanded([receiver])
                    if origin is not None:
                        for item in out:
                            self._track_view(item, receiver, origin)
                return out
            census.busy += 1
            try:
                if kind == "reshape" or kind == "flatten":
                    copied = receiver is not None and receiver.numel() > 0 and (
                        _storage_ptr(out) != _storage_ptr(receiver))
                    example = None
                    record = census.entry(site, kind)
                    # A view only because a dim has size 1 here (batch 1, one head, patch size 1): with
                    # other sizes the same line may copy; the grown replay measures it.
                    size_one = not copied and receiver is not None and 1 in receiver.shape
                    record["size_one_views"] = record.get("size_one_views", 0) + int(size_one)
                    twin = self._twin_of(receiver)
                    grown = None
                    if not copied and receiver is not None and receiver.numel() > 0 and (
                            size_one or twin is not None):
                        grown = self._replay_grown(func, kind, site, receiver, args, kwargs, out, twin, record)
                    if copied:
                        example = f"{_describe(receiver)} -> {list(out.shape)}: copied"
                    elif size_one or grown is not None or (receiver is not None and not receiver.is_contiguous()):
                        example = f"{_describe(receiver)} -> {list(out.shape)}: view" + (
                            " (the input has a size-1 dim)" if size_one else "" if grown is not None
                            else " of a non-contiguous input")
                        if grown is not None:
                            example += f"; {grown.detail}: {grown.verdict}"
                    if grown is not None and grown.verdict == "copy" and len(record["examples"]) >= 3 and not any(
                            e.endswith(": copy") for e in record["examples"]):
                        record["examples"].pop()  # a grown copy is the example a reader needs
                    census.note(record, copied, example)
                elif receiver is not None and (name in _TWIN_OPS and census.twins or name in _FORMAT_OPS):
                    self._follow_twin(func, name, receiver, args, kwargs, out)
                elif kind == "view":
                    contiguous = receiver is None or receiver.is_contiguous()
                    census.note(census.entry(site, "view"), False,
                                None if contiguous else f"{_describe(receiver)}.view ok (non-contiguous input)")
                elif name == "repeat" and receiver is not None:
                    self._record_repeat(site, receiver, out, args[1:], kwargs)
                elif name in _EXPANDERS and receiver is not None:
                    census.expanded[id(out)] = (weakref.ref(out), site)
                if census.expanded and receiver is not None and name not in _EXPANDERS:
                    origin = tracked_expanded(tensors)
                    if origin is not None:
                        self._track_view(out, receiver, origin)
            finally:
                census.busy -= 1
            return out

        @staticmethod
        def _twin_of(tensor):
            entry = census.twins.get(id(tensor)) if tensor is not None else None
            return entry[1] if entry is not None and entry[0]() is tensor else None

        @staticmethod
        def _replay_grown(func, kind, site, receiver, args, kwargs, out, twin, record):
            """Replay the call on the grown input; count the verdict on the site; never raise."""
            try:
                pinned_out = frozenset()
                if kind == "reshape" and 1 in out.shape:
                    pinned_out = literal_one_dims(census.calls.source(site), out.dim())
                grown = replay_grown(func, kind, receiver, args, kwargs, out, twin, pinned_out)
            except Exception as error:  # the replay's failure is a result, never the census's
                grown = GrownReplay("unknown", f"replay raised {type(error).__name__}: {str(error)[:120]}")
            key = {"copy": "grown_copies", "view": "grown_views", "pinned": "grown_pinned"}.get(
                grown.verdict, "grown_unknown")
            record[key] = record.get(key, 0) + 1
            record["unplaced"] = record.get("unplaced", 0) + int(grown.unplaced > 0)
            if grown.result is not None:
                census.twins[id(out)] = (weakref.ref(out), grown.result)
            return grown

        def _follow_twin(self, func, name, receiver, args, kwargs, out) -> None:
            """A permute/transpose/contiguous/unsqueeze of a replayed result: the same op on its twin.

            `contiguous`/`to(memory_format=...)` of a tensor with size-1 dims starts a twin: they return
            their input when it is contiguous in the format asked for ignoring its size-1 dims, while at
            size 2 they may copy into that format, so what follows is measured on their result at size 2.
            """
            if not isinstance(out, torch.Tensor):
                return
            twin = self._twin_of(receiver)
            if twin is None and name in _FORMAT_OPS and out is receiver and 1 in receiver.shape and (
                    name == "contiguous" or "memory_format" in kwargs):
                placed = place_size_one_dims(tuple(receiver.shape), tuple(receiver.stride()))
                if isinstance(placed, str) or placed.unplaced:
                    return
                results = []
                for shape, strides in placed.layouts:  # tied size-1 dims: every order must give one layout
                    size = 1 + sum((n - 1) * s for n, s in zip(shape, strides))
                    if size > _MAX_GROWN_BYTES:
                        return
                    grown = torch.empty(size, dtype=torch.uint8).as_strided(shape, strides)
                    try:
                        results.append(func(grown, *args[1:], **kwargs))
                    except Exception:
                        return
                if len({(tuple(r.shape), tuple(r.stride())) for r in results}) == 1 and results[0].dim() == out.dim():
                    census.twins[id(out)] = (weakref.ref(out), results[0])
                return
            if twin is None:
                return
            try:
                result = func(twin, *args[1:], **kwargs)
            except Exception:
                return
            if isinstance(result, torch.Tensor) and result.dim() == out.dim():
                census.twins[id(out)] = (weakref.ref(out), result)

        @staticmethod
        def _track_view(out, receiver, origin) -> None:
            if isinstance(out, torch.Tensor) and out._base is not None and _storage_ptr(out) == _storage_ptr(receiver):
                census.expanded[id(out)] = (weakref.ref(out), origin)

        @staticmethod
        def _record_repeat(site, receiver, out, sizes, kwargs) -> None:
            if len(sizes) == 1 and isinstance(sizes[0], (tuple, list, torch.Size)):
                sizes = tuple(sizes[0])
            sizes = tuple(int(s) for s in (sizes or kwargs.get("repeats", ())))
            shape = (1,) * (len(sizes) - receiver.dim()) + tuple(receiver.shape)
            expandable = all(s == 1 or d == 1 for s, d in zip(sizes, shape))
            obs = RepeatObs(site, tuple(receiver.shape), sizes, expandable, None)
            if expandable:
                expanded = receiver.reshape(shape).expand(tuple(out.shape))
                obs.equal = bool(torch.equal(expanded, out))
                obs.expanded = expanded
            census.repeats.append(obs)
            census.repeat_outputs[id(out)] = (weakref.ref(out), obs)
            ptr = _storage_ptr(out)
            if ptr is not None and out.numel() > 0:
                census.repeat_storages[ptr].append((weakref.ref(out.untyped_storage()), obs))

        @staticmethod
        def _replay_on_expanded(receiver, func, rest, kwargs, name) -> None:
            entry = census.repeat_outputs.get(id(receiver))
            if entry is None or entry[0]() is not receiver or not entry[1].expandable:
                return
            obs = entry[1]
            if obs.later_copy is not None or obs.expanded is None:
                return
            census.busy += 1
            try:
                result = func(obs.expanded, *rest, **kwargs)
                if isinstance(result, torch.Tensor) and result.numel() > 1 and (
                        _storage_ptr(result) != _storage_ptr(obs.expanded)):
                    obs.later_copy = name
                elif obs.later_reshape is None:
                    # a view here, but the rule (and its user) cannot count on it: merging the grown
                    # dim with a dim that has size 1 only at these sizes would copy with others
                    obs.later_reshape = name
            except Exception:
                obs.later_copy = name
            finally:
                census.busy -= 1

    class DispatchWatcher(TorchDispatchMode):
        supports_higher_order_operators = True  # flex_attention & co. pass through unwatched

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            schema = getattr(func, "_schema", None)
            if schema is not None and not census.busy and schema.is_mutable:
                self._check_writes(func, args, kwargs)
            return func(*args, **kwargs)

        @staticmethod
        def _check_writes(func, args, kwargs) -> None:
            op = func._schema.name.split("::")[-1]
            if op.rstrip("_") in ("set", "resize", "resize_as", "as_strided", "detach", "squeeze", "unsqueeze",
                                  "transpose", "t", "swapaxes", "swapdims", "requires_grad", "record_stream"):
                return
            schema_args = func._schema.arguments
            written = []
            for index, argument in enumerate(schema_args):
                if argument.alias_info is None or not argument.alias_info.is_write:
                    continue
                value = args[index] if index < len(args) else kwargs.get(argument.name)
                if isinstance(value, torch.Tensor):
                    written.append(value)
            census.busy += 1
            try:
                for tensor in written:
                    ptr = _storage_ptr(tensor)
                    for ref, obs in census.repeat_storages.get(ptr, ()):
                        if ref() is not None:
                            obs.written = True
                    if tensor.numel() > 1 and torch._debug_has_internal_overlap(tensor) == 1:
                        frame, path = caller(3)
                        if path is not None:
                            line, col, start, end = frame.f_lineno, 0, frame.f_lineno, frame.f_lineno
                            census.note(census.entry((path, line, col, start, end), "expanded_write"), True,
                                        f"aten.{op} writes a tensor with internal overlap {_describe(tensor)}")
            finally:
                census.busy -= 1

    return FunctionTracer, DispatchWatcher


def _describe(tensor) -> str:
    if tensor is None:
        return "?"
    return f"{list(tensor.shape)}/stride{tuple(tensor.stride())}"


def install_stubs(names: list[str]) -> None:
    """Make `import name` (and its submodules) succeed with placeholder classes, for unused imports."""
    import importlib.abc
    import importlib.machinery
    import types

    class _Meta(type):
        def __getattr__(cls, attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _placeholder(attr)

    def _placeholder(attr):
        return _Meta(attr, (), {"__init__": lambda self, *a, **k: None, "__call__": lambda self, *a, **k: None})

    class _StubModule(types.ModuleType):
        def __getattr__(self, attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _placeholder(attr)

    class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path=None, target=None):
            if fullname.split(".")[0] in names:
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec):
            module = _StubModule(spec.name)
            module.__path__ = []
            module.__version__ = "0.0.0"
            return module

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _Finder())


def worker(spec_path: str, result_path: str) -> None:
    with open(spec_path) as handle:
        spec = json.load(handle)
    install_stubs(spec["stubs"])
    for entry in reversed(spec["sys_path"]):
        sys.path.insert(0, entry)
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    census = Census(spec["root"], tuple(spec.get("record", [""])))
    FunctionTracer, DispatchWatcher = _make_modes(census)
    statuses = []

    def dump() -> None:
        with open(result_path + ".tmp", "w") as handle:
            json.dump({"sites": list(census.sites.values()), "models": statuses}, handle)
        os.replace(result_path + ".tmp", result_path)

    for model_id, snippet in spec["models"].items():
        started = time.perf_counter()
        namespace: dict = {"__name__": f"census_{model_id}"}
        status = "ok"
        try:
            with DispatchWatcher(), FunctionTracer():
                exec(compile(snippet, f"<census {model_id}>", "exec"), namespace)
                namespace["run"]()
        except Exception as error:  # the model's failure is a result, never the census's
            where = traceback.extract_tb(error.__traceback__)[-1]
            status = (f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
                      f" (at {os.path.basename(where.filename)}:{where.lineno})")
        census.settle_repeats()
        statuses.append({"model": model_id, "status": status, "seconds": round(time.perf_counter() - started, 2)})
        print(f"  {model_id:40s} {statuses[-1]['seconds']:6.1f}s  {status}", flush=True)
        dump()
    dump()


# ---------------------------------------------------------------------------------------------------
# The parent: export trees, run workers, lint, join, report
# ---------------------------------------------------------------------------------------------------

def find_git_dir(root: str, repo: str) -> str | None:
    base = os.path.join(root, repo.replace("/", "+"))
    for directory, subdirs, files in os.walk(base):
        if "HEAD" in files and "objects" in subdirs:
            return directory
    return None


def export(target: Target, dest: str, mirror_root: str | None) -> str:
    tree = os.path.join(dest, target.name)
    if os.path.isdir(tree):
        return tree
    os.makedirs(tree)
    git_dir = find_git_dir(mirror_root, target.repo) if mirror_root else None
    if git_dir is None:
        git_dir = os.path.join(dest, target.name + ".git")
        subprocess.run(["git", "init", "-q", "--bare", git_dir], check=True)
        subprocess.run(["git", f"--git-dir={git_dir}", "fetch", "-q", "--depth", "1",
                        f"https://github.com/{target.repo}.git", target.commit], check=True)
    archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", target.commit, *target.paths],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    return tree


def run_target(target: Target, trees: dict[str, str], models: list[str] | None, timeout: float,
               scratch: str) -> dict:
    tree = trees[target.name]
    chosen = {k: v for k, v in target.models.items() if not models or k in models}
    sys_path = [os.path.join(tree, p) for p in target.sys_paths]
    for other in target.extra:
        sys_path.append(trees[other])
    spec = {"root": tree, "sys_path": sys_path, "stubs": target.stubs, "models": chosen, "record": target.record}
    spec_path = os.path.join(scratch, f"{target.name}.spec.json")
    result_path = os.path.join(scratch, f"{target.name}.result.json")
    with open(spec_path, "w") as handle:
        json.dump(spec, handle)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    print(f"== {target.name} ({target.repo} @ {target.commit[:12]}): {len(chosen)} model(s)", flush=True)
    try:
        subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", spec_path, result_path],
                       timeout=timeout, env=env, check=False, cwd=scratch)
    except subprocess.TimeoutExpired:
        print(f"  {target.name}: timed out after {timeout:.0f}s (results so far are kept)")
    if not os.path.exists(result_path):
        return {"sites": [], "models": [{"model": m, "status": "no result"} for m in chosen]}
    with open(result_path) as handle:
        return json.load(handle)


def lint(tree: str, files: list[str]) -> list[dict]:
    if not files:
        return []
    command = [sys.executable, "-m", "torchlint", "check", "--isolated", "--exit-zero", "--no-respect-gitignore",
               "--output-format", "json", "--select", ",".join(sorted(set(RULES.values()))), *files]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    try:
        return json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        print(f"  torchlint output unreadable: {done.stderr[-400:]}")
        return []


def join(target: str, tree: str, sites: list[dict], findings: list[dict]) -> list[dict]:
    """Attach static findings to runtime sites; add findings on lines no traced call reached."""
    by_column, by_line = {}, {}
    for site in sites:
        site["target"] = target
        site["rule"] = RULES.get(site["kind"])
        site["static"] = []
        if site["rule"]:
            by_column[(site["path"], site["line"], site["col"], site["kind"])] = site
            by_line.setdefault((site["path"], site["line"], site["kind"]), site)
    loose = []
    for finding in findings:
        path = os.path.relpath(os.path.join(tree, finding["filename"]), tree)
        row = finding["location"]["row"]
        kind = _finding_kind(finding)
        site = by_column.get((path, row, finding["location"]["column"], kind))
        if site is None:
            site = by_line.get((path, row, kind))
        if site is None:  # a finding placed elsewhere in the call's span
            site = next((s for s in sites if s["path"] == path and s["kind"] == kind
                         and s["span"][0] <= row <= s["span"][1]), None)
        if site is not None:
            site["static"].append(finding["message"])
        else:
            loose.append({"target": target, "path": path, "line": row, "col": finding["location"]["column"],
                          "kind": "not exercised", "rule": finding["code"], "calls": 0, "positives": 0,
                          "examples": [], "static": [finding["message"]]})
    return sites + loose


def _finding_kind(finding: dict) -> str:
    """The kind of call a finding is about: TL102 reports both `reshape` and `flatten` calls."""
    if finding["code"] == "TL102" and "flatten(" in finding["message"].split(" hides")[0]:
        return "flatten"
    return next(kind for kind, rule in RULES.items() if rule == finding["code"])


def tabulate(sites: list[dict]) -> list[dict]:
    """Per rule and call kind: the figures with grown replays (the main ones) and with real sizes only (`real_*`).

    With grown replays a reshape/flatten site is positive when some call copied or some call that was
    a view only at these sizes copies with its size-1 dims grown (`grown_positive_sites` counts those
    positive by a grown copy only); with real sizes only, just the copies count and `false_size_one`
    counts the false sites whose every call was a view with a size-1 dim in its input.
    """
    rows = []
    kinds = [("TL101", ("repeat",)), ("TL102", ("reshape",)), ("TL102", ("flatten",)),
             ("TL102", ("reshape", "flatten")), ("TL103", ("view",)), ("TL104", ("expanded_write",))]
    for rule, kinds_here in kinds:
        kind = "+".join(kinds_here)
        traced = [s for s in sites if s["kind"] in kinds_here]
        static_here = all(rule == RULES.get(k) for k in kinds_here)
        row = {"rule": rule if static_here else f"({rule})", "kind": kind,
               "calls": sum(s["calls"] for s in traced), "sites": len(traced),
               "positive_calls": sum(s["positives"] for s in traced),
               "grown_copy_calls": sum(s.get("grown_copies", 0) for s in traced),
               "grown_unknown_calls": sum(s.get("grown_unknown", 0) for s in traced)}
        for prefix, grown in (("", True), ("real_", False)):
            positive = [s for s in traced if _is_positive(s, grown)]
            false = [s for s in traced if _is_false(s, grown)] if static_here else []
            found = sum(1 for s in positive if s["static"]) if static_here else 0
            row[prefix + "positive_sites"] = len(positive)
            row[prefix + "found"] = found
            row[prefix + "missed"] = len(positive) - found
            row[prefix + "false"] = len(false)
            row[prefix + "recall"] = round(found / len(positive), 3) if positive and static_here else None
            row[prefix + "precision"] = round(found / (found + len(false)), 3) if found + len(false) else None
            if grown:
                row["grown_positive_sites"] = sum(1 for s in positive if not _is_positive(s, False))
                row["false_unmeasured"] = sum(1 for s in false if s.get("grown_unknown", 0))
            else:
                row["false_size_one"] = sum(1 for s in false if s.get("size_one_views", 0) == s["calls"])
        row["undecided"] = sum(1 for s in traced if _is_undecided(s))
        row["not_exercised"] = sum(1 for s in sites if s["kind"] == "not exercised" and s["rule"] == rule
                                   and _finding_kind({"code": rule, "message": s["static"][0]}) in kinds_here
                                   ) if static_here else 0
        rows.append(row)
    return rows


def _is_positive(site: dict, grown: bool = True) -> bool:
    if site["kind"] == "repeat":  # the static claim holds for every call the line makes
        return site["calls"] > 0 and site["positives"] == site["calls"]
    return site["positives"] > 0 or (grown and site.get("grown_copies", 0) > 0)


def _is_undecided(site: dict) -> bool:
    """A repeat whose result is later reshaped, and a view of the expanded tensor at these sizes.

    Whether that view survives other sizes (the grown dim merged with a dim that is 1 only here)
    is not decided by one run, so such a site counts neither as a positive nor as a negative.
    """
    return (site["kind"] == "repeat" and site.get("later_reshape", 0) > 0
            and site["positives"] + site["later_reshape"] == site["calls"])


def _is_false(site: dict, grown: bool = True) -> bool:
    return bool(site["static"]) and site["kind"] != "not exercised" and not _is_positive(site, grown) and (
        not _is_undecided(site))


def _previous_runs(out: str) -> dict[str, dict]:
    """The runtime half of an earlier run, per target: its traced sites without their static findings."""
    with open(os.path.join(out, "sites.json")) as handle:
        sites = json.load(handle)
    models: dict[str, list[dict]] = defaultdict(list)
    try:
        with open(os.path.join(out, "models.txt")) as handle:
            for line in handle:
                target, model, seconds, *status = line.split()
                models[target].append({"model": model, "seconds": float(seconds.rstrip("s")),
                                       "status": " ".join(status)})
    except OSError:
        pass
    runs: dict[str, dict] = {}
    for site in sites:
        if site["kind"] == "not exercised":
            continue
        fresh = {k: v for k, v in site.items() if k not in ("static", "rule", "target", "source")}
        runs.setdefault(site["target"], {"sites": [], "models": models.get(site["target"], [])})
        runs[site["target"]]["sites"].append(fresh)
    return runs


def print_table(rows: list[dict]) -> None:
    """The table twice for reshape/flatten: with grown replays (grown+: sites positive by a grown copy only),
    and with real sizes only ((size1): false sites whose every call was a view with a size-1 dim)."""
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    print(f"{'rule':7s} {'kind':15s} {'calls':>6s} {'sites':>6s} {'pos.calls':>9s} {'pos.sites':>9s} "
          f"{'grown+':>6s} {'found':>6s} {'missed':>6s} {'false':>6s} {'(unmeas.)':>9s} {'undec.':>6s} "
          f"{'unexerc.':>8s} {'prec':>6s} {'recall':>6s}   real sizes only: {'pos':>4s} {'found':>5s} "
          f"{'false':>5s} {'(size1)':>7s} {'prec':>5s} {'recall':>6s}")
    for r in rows:
        print(f"{r['rule']:7s} {r['kind']:15s} {r['calls']:6d} {r['sites']:6d} {r['positive_calls']:9d} "
              f"{r['positive_sites']:9d} {r['grown_positive_sites']:6d} {r['found']:6d} {r['missed']:6d} "
              f"{r['false']:6d} {r['false_unmeasured']:9d} {r['undecided']:6d} {r['not_exercised']:8d} "
              f"{fmt(r['precision']):>6s} {fmt(r['recall']):>6s}   {'':16s} {r['real_positive_sites']:4d} "
              f"{r['real_found']:5d} {r['real_false']:5d} {r['false_size_one']:7d} {fmt(r['real_precision']):>5s} "
              f"{fmt(r['real_recall']):>6s}")


def write_out(out: str, rows: list[dict], sites: list[dict], models: list[dict], trees: dict[str, str],
              command: str) -> None:
    os.makedirs(out, exist_ok=True)
    sources: dict[str, list[str]] = {}

    def text(site: dict) -> str:
        path = os.path.join(trees[site["target"]], site["path"])
        if path not in sources:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    sources[path] = handle.read().splitlines()
            except OSError:
                sources[path] = []
        lines = sources[path]
        return lines[site["line"] - 1].strip() if 0 < site["line"] <= len(lines) else ""

    for site in sites:
        if "source" not in site:
            site["source"] = text(site)
    missed = [s for s in sites if s["rule"] and RULES.get(s["kind"]) == s["rule"] and _is_positive(s)
              and not s["static"]]
    false = [s for s in sites if _is_false(s)]
    undecided = [s for s in sites if _is_undecided(s)]
    grown = [s for s in sites if _is_positive(s) and not _is_positive(s, False)]

    def listing(items: list[dict]) -> str:
        chunks = []
        for s in sorted(items, key=lambda s: (s["rule"] or "", s["target"], s["path"], s["line"])):
            replays = "".join(f" {key}={s[key]}" for key in ("grown_copies", "grown_views", "grown_unknown", "unplaced")
                              if s.get(key))
            chunks.append(f"{s['rule']} {s['kind']} {s['target']}:{s['path']}:{s['line']}:{s['col']}  "
                          f"calls={s['calls']} positives={s['positives']}{replays}\n    {s['source']}\n"
                          + "".join(f"    runtime: {e}\n" for e in s["examples"])
                          + "".join(f"    static: {m}\n" for m in s["static"]))
        return "\n".join(chunks)

    with open(os.path.join(out, "summary.json"), "w") as handle:
        json.dump({"command": command, "table": rows}, handle, indent=1)
    with open(os.path.join(out, "sites.json"), "w") as handle:
        json.dump(sites, handle, indent=0)
    with open(os.path.join(out, "missed.txt"), "w") as handle:
        handle.write(f"# runtime positives with no static finding on the line ({command})\n"
                     "# (TL102 covers flatten too: it has reshape's semantics)\n\n" + listing(missed))
    with open(os.path.join(out, "false.txt"), "w") as handle:
        handle.write(f"# static findings on traced lines where runtime saw no positive ({command})\n\n"
                     + listing(false))
    with open(os.path.join(out, "grown.txt"), "w") as handle:
        handle.write(f"# sites positive only because a call that was a view at these sizes copies with its size-1 "
                     f"dims grown to 2 ({command})\n\n" + listing(grown))
    with open(os.path.join(out, "undecided.txt"), "w") as handle:
        handle.write(f"# repeat results later reshaped as views of the expanded tensor at these sizes ({command})\n\n"
                     + listing(undecided))
    with open(os.path.join(out, "README.txt"), "w") as handle:
        handle.write(READ_ME.format(command=command))
    with open(os.path.join(out, "models.txt"), "w") as handle:
        for m in models:
            handle.write(f"{m['target']:18s} {m['model']:40s} {m.get('seconds', 0):7.1f}s  {m['status']}\n")


READ_ME = """Tensor census results ({command})

summary.json  the table: per rule and call kind, calls traced, sites (file, line, column), positive calls and
              sites at runtime, found (a finding on a positive site), missed, false (a finding on a traced
              site with no positive), not_exercised (findings on lines no traced call reached).
              With grown replays (the plain keys): grown_positive_sites (positive only by a grown copy),
              false_unmeasured (false sites with a replay that decided nothing). With real sizes only
              (the real_* keys): false_size_one (false sites whose every call was a view with a size-1
              dim in its input).
sites.json    every site: target, path, line, col, kind, calls, positives, examples (shapes/strides and
              what happened), static (the messages of the findings joined to it), and per kind counters:
              repeat: not_expandable, written, later_copy, later_reshape, unequal; reshape/flatten:
              size_one_views, grown_copies, grown_views, grown_unknown (replays on the grown input),
              grown_pinned (calls whose size-1 dims the call itself writes as the literal 1: not grown),
              unplaced (calls with a size-1 dim left at size 1: its stride places it nowhere).
missed.txt    runtime positives with no finding (TL101 repeat, TL102 reshape, TL103 view, TL104 write),
              (TL102 covers flatten, which has reshape's semantics).
false.txt     findings on traced sites where runtime saw no positive (grown copies count as positives).
grown.txt     reshape/flatten sites positive only by a grown copy, with or without a finding.
undecided.txt repeat sites whose result was later reshaped/flattened/viewed, which was a view of the
              expanded tensor at these sizes: one run does not tell whether other sizes copy, so they
              count neither way (column undecided).
models.txt    each model's status and seconds.

A repeat site is positive when every call only grew size-1 or new leading dims, its result was never
written (any aten op writing its storage) and never passed on to view/reshape/flatten/contiguous.
A reshape/flatten site is positive when some call returned new storage, or when some call that returned a
view while its input had a size-1 dim copies when replayed with those dims grown to 2 (a grown copy; the
real_* figures leave those out); a view site when some call raised.
"""


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror-root", help="a folder of local git mirrors named owner+name")
    parser.add_argument("--out", help="write summary.json, sites.json, missed.txt, false.txt, models.txt here")
    parser.add_argument("--target", action="append", help="run only these targets (repeatable)")
    parser.add_argument("--models", help="comma-separated model ids to run (default: all of each target)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per target subprocess")
    parser.add_argument("--list", action="store_true", help="list targets and models, run nothing")
    parser.add_argument("--rescore", metavar="DIR",
                        help="reuse the runtime observations in DIR/sites.json (an earlier --out) and only "
                             "lint and join again: seconds instead of a full run, for measuring a linter change")
    args = parser.parse_args()
    if args.list:
        for t in TARGETS:
            print(f"{t.name} ({t.repo} @ {t.commit[:12]}): {', '.join(t.models)}")
        return 0
    chosen = [t for t in TARGETS if not args.target or t.name in args.target]
    models = args.models.split(",") if args.models else None
    command = "python bench/tensor_census.py " + " ".join(
        a if a != args.mirror_root else "MIRRORS" for a in sys.argv[1:])
    started = time.perf_counter()
    all_sites, all_models = [], []
    with tempfile.TemporaryDirectory(prefix="tensor-census-") as scratch:
        trees: dict[str, str] = {}
        needed = {t.name for t in chosen} | {e for t in chosen for e in t.extra}
        for target in TARGETS:
            if target.name in needed:
                trees[target.name] = export(target, scratch, args.mirror_root)
        previous = _previous_runs(args.rescore) if args.rescore else None
        for target in chosen:
            if previous is not None:
                result = previous.get(target.name, {"sites": [], "models": []})
            else:
                result = run_target(target, trees, models, args.timeout, scratch)
            files = sorted({s["path"] for s in result["sites"]})
            findings = lint(trees[target.name], files)
            all_sites += join(target.name, trees[target.name], result["sites"], findings)
            all_models += [dict(m, target=target.name) for m in result["models"]]
        rows = tabulate(all_sites)
        ok = sum(1 for m in all_models if m["status"] == "ok")
        print(f"\n{ok} of {len(all_models)} models ran; {len({(s['target'], s['path']) for s in all_sites})} files; "
              f"{time.perf_counter() - started:.0f}s")
        print_table(rows)
        if args.out:
            write_out(args.out, rows, all_sites, all_models, trees, command)
            print(f"results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
