"""One-shot translation, OST (Benaim & Wolf, NeurIPS'18): many images of B, a single image x of A.

Each domain has an encoder E = E_shared . E_d and a decoder G = G_d . G_shared; the deep layers (E_shared, G_shared)
are one set of weights, the shallow ones (E_d: the pixel layer and the first `unshared` downsamplings; G_d: the
matching upsamplings and the pixel layer) one per domain.

Phase I, the first `one_shot_start` of the run: an auto-encoder of B, with a discriminator D_B on its output,

    L_B = lambda_B |G_B(E_B(b)) - b|_1 + lambda_KL mean(E_B(b)^2) + |D_B(G_B(E_B(b))) - 1|^2

Phase II: E_A, G_A start as copies of E_B, G_B (`clone`), and x's augmented copies (random crop, flip, rotation:
data.load_size, data.flip, data.rotate) train them while B's auto-encoder goes on (with |.|_1 at weight 1, as the
reference code has it):

    L_A = |G_A(E_A(x)) - x|_1 + lambda_cycle |G_A(E_B(G_B(E_A(x)))) - x|_1 + |D_B(G_B(E_A(x))) - 1|^2
    L_D = (|D_B(b) - 1|^2 + |D_B(pool(G_B(E_B(b))))|^2) / 2 + (|D_B(b) - 1|^2 + |D_B(pool(G_B(E_A(x))))|^2) / 2

Selective backpropagation: L_A updates E_A and G_A only; the shared layers learn from B's losses alone, so the one
image cannot pull the shared space away from B. Translation: x -> G_B(E_A(x)), A to B only.

Layers as the reference's ResNet encoder/decoder (c7s1-64, stride-2 3x3 convs, residual blocks at the deepest
width; `shared_blocks` of them in E_shared and as many in G_shared), instance norm, LSGAN, the PatchGAN for D_B.
The reference code trains E_A, G_A from their random initialisation; the paper and our `clone` copy B's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import ImagePool, gan_loss, make_norm, scaled
from xgan.models.nets import ResidualBlock, patch_discriminator


@dataclass
class OSTWeights:
    gan: float = 1.0
    reconstruction_b: float = 10.0  # lambda_B, phase I
    reconstruction_b_one_shot: float = 1.0  # B's |.|_1 in phase II (the reference's unweighted idt_B)
    kl: float = 0.1  # lambda_KL on the shared code of B
    reconstruction_a: float = 1.0
    cycle: float = 10.0  # lambda_A, x -> B -> A


@dataclass
class OSTConfig:
    name: str = "ost"
    width: float = 1.0  # multiplies every channel count (1.0: 64 filters in the first layer)
    downsamplings: int = 2
    unshared: int = 1  # downsamplings (and upsamplings) per domain, besides the pixel layers
    shared_blocks: int = 6  # residual blocks in E_shared, and as many in G_shared
    norm: str = "instance"
    pool_size: int = 50
    one_shot_start: float = 0.5  # the fraction of train.steps that pretrains B's auto-encoder (phase I)
    clone: bool = True  # phase II starts E_A, G_A as copies of E_B, G_B
    weights: OSTWeights = field(default_factory=OSTWeights)

    def __post_init__(self) -> None:
        if not 0 <= self.unshared <= self.downsamplings:
            raise ValueError(f"model.unshared must be in [0, model.downsamplings={self.downsamplings}], "
                             f"not {self.unshared}")
        if not 0 <= self.one_shot_start < 1:
            raise ValueError(f"model.one_shot_start must be in [0, 1), not {self.one_shot_start}")


def down_stage(c_in: int, c_out: int, norm: str) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 2, 1), make_norm(norm, c_out), nn.ReLU(inplace=True))


def up_stage(c_in: int, c_out: int, norm: str) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1), make_norm(norm, c_out),
                         nn.ReLU(inplace=True))


def encoder_decoder_parts(cfg: OSTConfig) -> tuple[nn.Sequential, nn.Sequential, nn.Sequential, nn.Sequential]:
    """(E_d, E_shared, G_shared, G_d): the reference's ResNet encoder and decoder cut at `unshared` stages."""
    n, norm = cfg.downsamplings, cfg.norm
    channels = [scaled(64 * 2 ** i, cfg.width) for i in range(n + 1)]
    pixels_in = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, channels[0], 7), make_norm(norm, channels[0]),
                              nn.ReLU(inplace=True))
    downs = [down_stage(channels[i], channels[i + 1], norm) for i in range(n)]
    ups = [up_stage(channels[n - i], channels[n - i - 1], norm) for i in range(n)]
    pixels_out = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(channels[0], 3, 7), nn.Tanh())
    blocks = [ResidualBlock(channels[n], norm) for _ in range(2 * cfg.shared_blocks)]
    cut = n - cfg.unshared  # stages on the shared side
    return (nn.Sequential(pixels_in, *downs[:cfg.unshared]),
            nn.Sequential(*downs[cfg.unshared:], *blocks[:cfg.shared_blocks]),
            nn.Sequential(*blocks[cfg.shared_blocks:], *ups[:cut]),
            nn.Sequential(*ups[cut:], pixels_out))


class OST(TranslationModel):
    config_class = OSTConfig
    directions = ("b",)

    def __init__(self, cfg: OSTConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.enc_b, self.enc_shared, self.dec_shared, self.dec_b = encoder_decoder_parts(cfg)
        self.enc_a, _, _, self.dec_a = encoder_decoder_parts(cfg)
        self.register_buffer("cloned", torch.zeros((), dtype=torch.bool))
        self._fakes: tuple[torch.Tensor, torch.Tensor | None] | None = None
        if not training:
            return
        self.d_b = patch_discriminator(image_size, cfg.width, cfg.norm)
        self.pool = ImagePool(cfg.pool_size, (3, image_size, image_size))  # one history for both fakes, as the reference

    def encode_domain(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.enc_shared((self.enc_a if domain == "a" else self.enc_b)(x))

    def decode_domain(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.dec_a if domain == "a" else self.dec_b)(self.dec_shared(z))

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if to != "b":
            raise ValueError("OST translates its one image of A into B only")
        return self.decode_domain(self.encode_domain(x, "a"), "b")

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.decode_domain(self.encode_domain(x, domain), domain)

    def phases(self) -> list[Phase]:
        return [Phase("one_shot_a", [*self.enc_a.parameters(), *self.dec_a.parameters()],
                      start=self.cfg.one_shot_start),
                Phase("autoencoder_b", [*self.enc_b.parameters(), *self.enc_shared.parameters(),
                                        *self.dec_shared.parameters(), *self.dec_b.parameters()]),
                Phase("discriminator_b", list(self.d_b.parameters()), critic=True)]

    @torch.no_grad()
    def clone_b(self) -> None:
        """Phase II's start: A's shallow layers become copies of B's (once; the flag is checkpointed)."""
        if self.cfg.clone and not self.cloned:
            for mine, theirs in ((self.enc_a, self.enc_b), (self.dec_a, self.dec_b)):
                for p, q in zip(mine.parameters(), theirs.parameters()):
                    p.copy_(q)
        self.cloned.fill_(True)

    def losses(self, phase: str, batch: Batch) -> Losses:
        w, a, b = self.cfg.weights, batch.a, batch.b
        if phase == "one_shot_a":
            self.clone_b()
            z = self.encode_domain(a, "a")
            shared = self.dec_shared(z)  # decoded into both domains
            fake_b = self.dec_b(shared)
            self._fakes = (None, fake_b.detach())
            return {"reconstruction_a": (w.reconstruction_a, F.l1_loss(self.dec_a(shared), a)),
                    "cycle": (w.cycle, F.l1_loss(self.decode_domain(self.encode_domain(fake_b, "b"), "a"), a)),
                    "gan_ab": (w.gan, gan_loss(self.d_b(fake_b), True, "lsgan"))}
        if phase == "autoencoder_b":
            z = self.encode_domain(b, "b")
            fake_bb = self.decode_domain(z, "b")
            fake_ab = self._fakes[1] if self._fakes is not None and self.cloned else None
            self._fakes = (fake_bb.detach(), fake_ab)
            weight = w.reconstruction_b_one_shot if self.cloned else w.reconstruction_b
            return {"reconstruction_b": (weight, F.l1_loss(fake_bb, b)),
                    "kl": (w.kl, z.pow(2).mean()),
                    "gan_bb": (w.gan, gan_loss(self.d_b(fake_bb), True, "lsgan"))}
        if self._fakes is None or self._fakes[0] is None:
            return {}
        fake_bb, fake_ab = self._fakes
        self._fakes = None
        real = gan_loss(self.d_b(b), True, "lsgan")
        losses = {"d_bb": (0.5, real + gan_loss(self.d_b(self.pool.query(fake_bb)), False, "lsgan"))}
        if fake_ab is not None:
            losses["d_ab"] = (0.5, real + gan_loss(self.d_b(self.pool.query(fake_ab)), False, "lsgan"))
        return losses
