"""CUT and FastCUT (Park, Efros, Zhang and Zhu, "Contrastive Learning for Unpaired Image-to-Image Translation",
ECCV'20): one generator G: A -> B, kept faithful to its input by patchwise contrastive learning instead of a cycle.

    L_GAN       = |D(G(x)) - 1|^2                                           least squares (LSGAN), on G(x) only
    L_PatchNCE(G, H, X) = E_x sum_l mean_s l(zhat_l^s, z_l^s, z_l^{S \\ s}) / |layers|
                  z_l = H_l(G_enc^l(x)), zhat_l = H_l(G_enc^l(G(x)))         (models/patchnce.py; tau = 0.07)
    CUT:     L_G = L_GAN + lambda_NCE (L_PatchNCE(G, H, X) + L_PatchNCE(G, H, Y)) / 2,  lambda_NCE = 1
    FastCUT: L_G = L_GAN + lambda_NCE L_PatchNCE(G, H, X),                  lambda_NCE = 10, flip-equivariance
    L_D     = (|D(y) - 1|^2 + |D(G(x))|^2) / 2

L_PatchNCE(G, H, Y), the identity term (nce_idt), runs the same loss on real B through G (G(y) should keep y's
patches). The paper writes lambda_X L(X) + lambda_Y L(Y) with lambda_X = lambda_Y = 1; the official code averages
the two, which is what the weights here do (0.5 lambda_NCE each). FastCUT's flip-equivariance: half of the steps
G translates the mirrored inputs, and the output's features are mirrored back before they are compared with the
unmirrored input's, so a patch must survive G(flip(x)) = flip(G(x)).

G is the ResNet generator of models/nets.py (c7s1-64, d128, d256, residual blocks, u128, u64, c7s1-3; 6 blocks up to
128 px, 9 above: the official resnet_9blocks at 256 px). H (PatchSampler) reads five of G's encoder layers, the
paper's "RGB pixels, the first and second downsampling convolution, and the first and the fifth residual block".
The official `--nce_layers 0,4,8,12,16` index those in its anti-aliased generator (a stride-1 conv, norm, ReLU and a
blur-pool per downsampling); ours downsamples with stride-2 convs (the official --no_antialias, CycleGAN's), so the
same five layers sit at other indices of our nn.Sequential:

    official   that layer                                               ours (model.nce_layers)
       0       the reflection-padded RGB input                              0
       4       first downsampling conv (64 -> 128), before its norm         4   (stride 2)
       8       second downsampling conv (128 -> 256), before its norm       7   (stride 2)
      12       first residual block's output                               10
      16       fifth residual block's output                               14

A residual-block index past the generator's last block reads the last block (with fewer than five blocks, e.g. the
tests' tiny generator, the deepest encoder layer there is) and a layer named twice is read once. The head is one
2-layer MLP per layer (C -> 256 -> 256) whose input widths C are those of G's layers: it is built from the first
batch in setup(), the official data_dependent_initialize, and trains with G in the generator's phase: the official
code gives it its own Adam with the same settings stepped after the same backward, which for Adam (per parameter)
is the same update. Phase order as the official optimize_parameters: one forward G(x) per step, then D's update on
it (detached), then G's and H's with the updated D.

Official defaults kept: Adam lr 2e-4, betas (0.5, 0.999) for G, H and D; LSGAN; 70x70 PatchGAN (one layer fewer at
32 px, as models/cyclegan.py) with instance norm; no image pool (pool_size 0); 256 patches per layer; a 256-d head;
tau = 0.07; negatives from the same image only. Where this differs: PyTorch's default initialisation (the official
uses Xavier with gain 0.02), stride-2 convs and transposed convs instead of blur-pool anti-aliasing (as this
library's CycleGAN, whose generator it shares), and the patch locations are drawn from torch's generator (numpy
there) so that a resumed run draws the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import gan_loss
from xgan.models.nets import ResidualBlock, patch_discriminator, resnet_generator
from xgan.models.patchnce import TEMPERATURE, PatchSampler, patch_nce_loss

# What --CUT_mode sets in the official code: lambda_NCE, the identity term, flip-equivariance
MODES: dict[str, dict[str, Any]] = {"cut": {"nce": 1.0, "nce_idt": True, "flip_equivariance": False},
                                    "fastcut": {"nce": 10.0, "nce_idt": False, "flip_equivariance": True}}
FIRST_BLOCK = 10  # index of resnet_generator's first residual block (stem 0-3, downsamplings 4-6 and 7-9)


@dataclass
class CUTWeights:
    gan: float = 1.0  # lambda_GAN
    nce: Optional[float] = None  # lambda_NCE; None: the mode's (CUT 1, FastCUT 10)


@dataclass
class CUTConfig:
    name: str = "cut"
    mode: str = "cut"  # cut | fastcut: the defaults of the three keys below that are left None
    nce_idt: Optional[bool] = None  # the identity term L_PatchNCE(G, H, Y); None: CUT yes, FastCUT no
    flip_equivariance: Optional[bool] = None  # None: FastCUT yes, CUT no
    nce_layers: list[int] = field(default_factory=lambda: [0, 4, 7, 10, 14])  # of G's nn.Sequential: see above
    num_patches: int = 256  # locations sampled per layer and image
    head_dim: int = 256  # the MLP head's width and output size (netF_nc)
    temperature: float = TEMPERATURE
    negatives_from_batch: bool = False  # the official single-image option; CUT and FastCUT use the image's own
    width: float = 1.0  # multiplies every channel count of G and D (1.0: 64 filters in the first layer)
    residual_blocks: int = 0  # 0: 6 up to 128 px, 9 above
    norm: str = "instance"
    weights: CUTWeights = field(default_factory=CUTWeights)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"model.mode must be one of {tuple(MODES)}, not '{self.mode}'")
        if not self.nce_layers or min(self.nce_layers) < 0:
            raise ValueError(f"model.nce_layers must be non-negative indices of G's layers, "
                             f"not {list(self.nce_layers)}")
        if self.num_patches < 1 or self.head_dim < 1 or self.temperature <= 0:
            raise ValueError("model.num_patches and model.head_dim must be >= 1 and model.temperature > 0")

    def resolved(self, key: str) -> Any:
        """A mode-dependent setting: the config's value, or the mode's where it is None."""
        value = self.weights.nce if key == "nce" else getattr(self, key)
        return MODES[self.mode][key] if value is None else value


def encoder_indices(layers: list[int], blocks: int) -> list[int]:
    """model.nce_layers as indices of the generator's encoder: a block past the last reads the last one; each once."""
    last = FIRST_BLOCK + blocks - 1
    return list(dict.fromkeys(min(i, last) for i in layers))


class CUT(TranslationModel):
    config_class = CUTConfig
    directions = ("b",)

    def __init__(self, cfg: CUTConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.g = resnet_generator(image_size, cfg.width, cfg.residual_blocks, cfg.norm)
        if not training:
            return  # translation needs G only
        blocks = sum(isinstance(m, ResidualBlock) for m in self.g)
        assert isinstance(self.g[FIRST_BLOCK], ResidualBlock), "resnet_generator's layout changed: see FIRST_BLOCK"
        self.layers = encoder_indices(cfg.nce_layers, blocks)
        self.lambda_nce = float(cfg.resolved("nce"))
        self.nce_idt, self.flip_equivariance = bool(cfg.resolved("nce_idt")), bool(cfg.resolved("flip_equivariance"))
        self.d = patch_discriminator(image_size, cfg.width, cfg.norm)
        self.head: PatchSampler | None = None  # H, built in setup() from G's layer widths
        self.register_load_state_dict_pre_hook(self._head_from_weights)
        # this step's G(x) (and G(y)), made in the discriminator's phase and used again in the generator's
        self._step: tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor | None, bool]] | None = None

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if to != "b":
            raise ValueError("CUT translates A to B only")
        return self.g(x)

    # -- the head -------------------------------------------------------------------------------------------
    def setup(self, batch: Batch) -> None:
        """Build H with one MLP per read layer, sized by that layer's channels on the first batch."""
        if not hasattr(self, "d") or self.head is not None:
            return
        with torch.no_grad():
            widths = [f.shape[1] for f in self.features(batch.a[:1])]
        self.build_head(widths, batch.a.device)

    def build_head(self, widths: list[int], device: torch.device | str) -> None:
        self.head = PatchSampler(widths, self.cfg.head_dim, self.cfg.num_patches).to(device)

    def _head_from_weights(self, module: nn.Module, state_dict: dict[str, torch.Tensor], prefix: str,
                           *args: Any) -> None:
        """A checkpoint loaded into a model that was not set up (load_trained(training=True): xgan eval
        --gan-bound) builds H from the widths its weights have."""
        first = [f"{prefix}head.mlps.{i}.0.weight" for i in range(len(self.layers))]
        if self.head is None and all(k in state_dict for k in first):
            self.build_head([state_dict[k].shape[1] for k in first], next(self.g.parameters()).device)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """G's feature maps at the read layers, running G no further than the deepest of them."""
        wanted, out = set(self.layers), {}
        for i, layer in enumerate(self.g[:max(self.layers) + 1]):
            x = layer(x)
            if i in wanted:
                following = self.g[i + 1]
                out[i] = x.clone() if isinstance(following, nn.ReLU) and following.inplace else x
        return [out[i] for i in self.layers]

    def patch_nce(self, source: torch.Tensor, output: torch.Tensor, flipped: bool) -> torch.Tensor:
        """L_PatchNCE between G's input `source` and its output, mean over the read layers; `flipped`: output was
        made from the mirrored source, so its features are mirrored back first."""
        queries = self.features(output)
        if flipped:
            queries = [q.flip(3) for q in queries]
        with torch.no_grad():  # the keys are targets: the loss detaches them, so nothing is kept for backward
            keys, locations = self.head(self.features(source))
        queries, _ = self.head(queries, locations)
        return sum(patch_nce_loss(q, k, self.cfg.temperature, self.cfg.negatives_from_batch)
                   for q, k in zip(queries, keys)) / len(queries)

    # -- training -------------------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        if self.head is None:
            raise RuntimeError("CUT.setup(batch) builds the patch head before the optimisers")
        return [Phase("discriminator", list(self.d.parameters()), critic=True),
                Phase("generator", [*self.g.parameters(), *self.head.parameters()])]

    def generate(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
        """(G(x), G(y) for the identity term or None, whether the inputs were mirrored): one pass of G over both."""
        real = torch.cat([batch.a, batch.b]) if self.nce_idt else batch.a
        flipped = self.flip_equivariance and bool(torch.rand(()) < 0.5)
        if flipped:
            real = real.flip(3)
        fake = self.g(real)
        n = len(batch.a)
        return fake[:n], (fake[n:] if self.nce_idt else None), flipped

    def losses(self, phase: str, batch: Batch) -> Losses:
        if phase == "discriminator":
            self._step = (batch.a, self.generate(batch))
            return self.discriminator_losses(batch.b, self._step[1][0].detach())
        # the same step's G(x) when the discriminator's phase just made it, as the official single forward
        step = self._step[1] if self._step is not None and self._step[0] is batch.a else self.generate(batch)
        self._step = None
        return self.generator_losses(batch, *step)

    def discriminator_losses(self, real_b: torch.Tensor, fake_b: torch.Tensor) -> Losses:
        return {"d": (0.5, gan_loss(self.d(real_b), True, "lsgan") + gan_loss(self.d(fake_b), False, "lsgan"))}

    def generator_losses(self, batch: Batch, fake_b: torch.Tensor, idt_b: torch.Tensor | None,
                         flipped: bool) -> Losses:
        losses: Losses = {"gan": (self.cfg.weights.gan, gan_loss(self.d(fake_b), True, "lsgan"))}
        if self.lambda_nce <= 0:
            return losses
        share = 0.5 if idt_b is not None else 1.0  # the official code averages L(X) and L(Y)
        losses["nce"] = (self.lambda_nce * share, self.patch_nce(batch.a, fake_b, flipped))
        if idt_b is not None:
            losses["nce_idt"] = (self.lambda_nce * share, self.patch_nce(batch.b, idt_b, flipped))
        return losses
